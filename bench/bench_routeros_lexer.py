"""RouterOS lexing and editor highlighting speed, against baselines from the same run.

1. Lexer: lines per second of our lexer and of Pygments' BashLexer over the same
   ~5,000-line text built from the corpus. Target: ratio >= 1.
2. Editor: time from a keystroke to the updated highlight of what is on screen,
   in a headless app editing a 5,000-line script, for the incremental editor and
   for a full re-lex of the document per keystroke. Target: median < 16 ms.

Usage: python bench/bench_routeros_lexer.py [--corpus PATH] [--lines N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from pygments.lexer import Lexer
from pygments.lexers import BashLexer
from textual.app import App, ComposeResult

from sdx_tui.backend.routeros.lexer import RouterOSLexer, Token
from sdx_tui.widgets.routeros_editor import (
    Highlight,
    RouterOSEditor,
    line_highlights,
)

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
TYPED = ' comment="rule $n" disabled=no'


def corpus_text(corpus: Path, lines: int) -> str:
    """Corpus scripts, in a fixed order, repeated until ``lines`` lines."""
    scripts = [p.read_text(encoding="utf-8") for p in sorted(corpus.rglob("*.rsc"))]
    pool = "\n".join(scripts).split("\n")
    if not pool:
        raise SystemExit(f"no .rsc files under {corpus}")
    return "\n".join(pool[i % len(pool)] for i in range(lines))


def timed(work: Callable[[], object]) -> float:
    """How long ``work`` takes, in seconds."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def lex_all(lexer: Lexer, text: str) -> None:
    for _ in lexer.get_tokens_unprocessed(text):
        pass


def bench_lexer(text: str, rounds: int) -> None:
    lines = text.count("\n") + 1
    # Alternate the two lexers so drift in machine load hits both alike.
    ours, bash = [], []
    for _ in range(rounds):
        ours.append(timed(lambda: lex_all(RouterOSLexer(), text)))
        bash.append(timed(lambda: lex_all(BashLexer(), text)))
    ours_rate = lines / statistics.median(ours)
    bash_rate = lines / statistics.median(bash)
    print(f"lexer: {lines} lines, median of {rounds} rounds")
    print(f"  RouterOSLexer {ours_rate:>10,.0f} lines/s")
    print(f"  BashLexer     {bash_rate:>10,.0f} lines/s")
    ratio = ours_rate / bash_rate
    print(f"  ratio {ratio:.2f}x (target >= 1): {'met' if ratio >= 1 else 'MISSED'}")


class TimedEditor(RouterOSEditor):
    """Times each highlight update, including the lines on screen."""

    def __init__(self, text: str) -> None:
        self.timings: list[float] = []
        super().__init__(text)

    def _build_highlight_map(self) -> None:
        start = time.perf_counter()
        self._update_highlights()
        self.timings.append(time.perf_counter() - start)

    def _update_highlights(self) -> None:
        super()._build_highlight_map()
        top = self.scroll_offset.y
        for row in range(top, top + self.size.height):
            self._highlights[row]


class FullRelexEditor(TimedEditor):
    """The baseline: every keystroke lexes the whole document again."""

    def _update_highlights(self) -> None:
        self._line_cache.clear()
        highlights: dict[int, list[Highlight]] = {}
        line_tokens: list[Token] = []
        row = 0
        for token in RouterOSLexer().get_tokens_unprocessed(self.text):
            line_tokens.append(token)
            if token[2].endswith("\n"):
                highlights[row] = line_highlights(line_tokens)
                line_tokens, row = [], row + 1
        highlights[row] = line_highlights(line_tokens)
        self._highlights = highlights


class EditorApp(App[None]):
    def __init__(self, editor: TimedEditor) -> None:
        super().__init__()
        self.editor = editor

    def compose(self) -> ComposeResult:
        yield self.editor


async def keystroke_timings(editor: TimedEditor, keys: int) -> list[float]:
    app = EditorApp(editor)
    async with app.run_test(size=(120, 40)) as pilot:
        middle = editor.document.line_count // 2
        editor.move_cursor((middle, len(editor.document.get_line(middle))), center=True)
        editor.focus()
        await pilot.pause()
        editor.timings.clear()
        for index in range(keys):
            await pilot.press(TYPED[index % len(TYPED)])
        await pilot.pause()
        return list(editor.timings)


def describe(name: str, timings: list[float]) -> float:
    median = statistics.median(timings) * 1000
    p90 = statistics.quantiles(timings, n=10)[-1] * 1000
    print(f"  {name:<22} median {median:7.2f} ms  p90 {p90:7.2f} ms  n={len(timings)}")
    return median


def bench_editor(text: str, keys: int) -> None:
    lines = text.count("\n") + 1
    print(f"editor: keystroke to updated highlight, {lines}-line script")
    incremental = asyncio.run(keystroke_timings(TimedEditor(text), keys))
    full = asyncio.run(keystroke_timings(FullRelexEditor(text), max(10, keys // 6)))
    ours = describe("incremental", incremental)
    baseline = describe("full re-lex baseline", full)
    print(f"  speed-up {baseline / ours:.1f}x over the full re-lex")
    print(f"  target median < 16 ms: {'met' if ours < 16 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--keys", type=int, default=120)
    args = parser.parse_args()

    text = corpus_text(args.corpus, args.lines)
    bench_lexer(text, args.rounds)
    bench_editor(text, args.keys)


if __name__ == "__main__":
    main()
