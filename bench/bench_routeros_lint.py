"""RouterOS linting speed, with baselines from the same run.

1. Corpus: lint every ``.rsc`` file of the shared corpus, as ``sdx lint`` would
   (syntax, destructive, idempotency and version rules, plus the command-tree
   rules when ``--schema`` names a restraml file). Target: under 5 s. For
   scale, Pygments' BashLexer tokenising the same files is timed too.
2. Linearity: time per line on the largest corpus file, and on a script of
   ``--lines`` lines made by repeating corpus scripts, against the time per
   line over the small files (under 100 lines). Target: ratio <= 2.

Each figure is the best of ``--rounds`` runs. Usage:
python bench/bench_routeros_lint.py [--corpus PATH] [--schema FILE] [--lines N]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from pygments.lexers import BashLexer

from sdx_tui.backend.routeros.lint import lint
from sdx_tui.backend.routeros.schema import CommandTree, load_schema

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def best_of(rounds: int, work: Callable[[], object]) -> float:
    """The shortest wall time of ``rounds`` calls, in seconds."""
    times = []
    for _ in range(rounds):
        gc.collect()  # every case starts from the same heap state
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def lint_all(texts: Sequence[str], schema: CommandTree | None) -> None:
    for text in texts:
        lint(text, routeros_version="7.13", schema=schema)


def lex_all(texts: Sequence[str]) -> None:
    lexer = BashLexer()
    for text in texts:
        for _ in lexer.get_tokens_unprocessed(text):
            pass


def lines_of(text: str) -> int:
    return text.count("\n") + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument(
        "--schema",
        type=Path,
        default=SHARED / "schema" / "routeros-7.22.3-inspect.json",
        help="restraml JSON for the command-tree rules ('' to skip them)",
    )
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    texts = [
        path.read_bytes().decode("utf-8", errors="replace")
        for path in sorted(args.corpus.rglob("*.rsc"))
    ]
    schema = (
        load_schema(args.schema) if str(args.schema) and args.schema.is_file() else None
    )
    total_lines = sum(lines_of(text) for text in texts)
    print(
        f"corpus: {len(texts)} files, {total_lines:,} lines, "
        f"command tree: {'yes' if schema else 'no'}"
    )

    lint_time = best_of(args.rounds, lambda: lint_all(texts, schema))
    bash_time = best_of(args.rounds, lambda: lex_all(texts))
    verdict = "ok" if lint_time < 5 else "TOO SLOW"
    print(
        f"  lint whole corpus      {lint_time:7.3f} s  "
        f"({total_lines / lint_time:,.0f} lines/s)  target < 5 s: {verdict}"
    )
    print(
        f"  BashLexer same files   {bash_time:7.3f} s  "
        f"(lint / BashLexer = {lint_time / bash_time:.2f})"
    )

    small = [text for text in texts if lines_of(text) < 100]
    largest = max(texts, key=len)
    pool = "\n".join(text for text in texts if text is not largest).split("\n")
    repeated = "\n".join(pool[i % len(pool)] for i in range(args.lines))
    cases = {
        "small files": small,
        "largest corpus file": [largest],
        "repeated corpus": [repeated],
    }
    # Interleaved rounds, so a load change on the machine hits every case alike.
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.rounds):
        for name, case in cases.items():
            best[name] = min(best[name], best_of(1, partial(lint_all, case, schema)))

    per_line = {
        name: best[name] / sum(lines_of(text) for text in case)
        for name, case in cases.items()
    }
    print(
        f"  small files            {len(small)} files, "
        f"{sum(lines_of(text) for text in small):,} lines, "
        f"{per_line['small files'] * 1e6:6.2f} us/line (baseline)"
    )
    for name in ("largest corpus file", "repeated corpus"):
        ratio = per_line[name] / per_line["small files"]
        verdict = "ok" if ratio <= 2 else "NOT LINEAR"
        print(
            f"  {name:<22} {lines_of(cases[name][0]):,} lines, "
            f"{per_line[name] * 1e6:6.2f} us/line, "
            f"ratio to small files {ratio:.2f}  target <= 2: {verdict}"
        )


if __name__ == "__main__":
    main()
