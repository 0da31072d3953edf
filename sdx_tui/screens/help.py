"""F1: what the screen underneath is for, and the keys that work on it now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown, Static

GENERAL_HELP = """\
`tab` moves between fields, `ctrl+p` finds any command, `ctrl+q` quits.
"""


_FRAMEWORK_ACTIONS = frozenset(
    binding.action for binding in Screen.BINDINGS if isinstance(binding, Binding)
)


def screen_keys(screen: Screen[object]) -> list[tuple[str, str]]:
    """(key, what it does) for the bindings a person of ``screen`` should know.

    That is what the footer shows, plus the hidden keys of the screen itself and
    of the app; the cursor keys of every list are left out.
    """
    app = screen.app
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        wanted = binding.show or active.node in (screen, app)
        if (
            not wanted
            or not binding.description
            or binding.action in _FRAMEWORK_ACTIONS
            or binding.action in seen
        ):
            continue
        seen.add(binding.action)
        rows.append((app.get_key_display(binding), binding.description))
    return rows


class HelpScreen(ModalScreen[None]):
    """Help for the screen underneath; ``escape`` or ``F1`` closes it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("f1", "dismiss", "Close", show=False),
    ]

    def __init__(self, target: Screen[object]) -> None:
        super().__init__(classes="dialog-screen")
        self.target = target

    def compose(self) -> ComposeResult:
        title = getattr(self.target, "HELP_TITLE", "")
        keys = screen_keys(self.target)
        width = max((len(key) for key, _ in keys), default=0)
        lines = [
            Content.assemble((key.rjust(width), "bold $text-accent"), "  ", text)
            for key, text in keys
        ]
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(f"Help: {title or 'SDX desk'}", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Markdown(self.target.HELP or "", id="help-text")
                yield Static("Keys", classes="help-heading")
                yield Static(Content("\n").join(lines), id="help-keys")
                yield Markdown(GENERAL_HELP, id="help-general")
