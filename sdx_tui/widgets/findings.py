"""The linter's findings on a script, one per line, that lead to where they are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static

from sdx_tui.backend.routeros.lint import Finding, Severity

SEVERITY_STYLES: dict[str, str] = {
    "error": "bold $text-error",
    "warning": "$text-warning",
    "info": "$text-accent",
}
"""How each severity is drawn; the words say it too, for those who cannot see
colour."""

_SEVERITY_ORDER: tuple[Severity, ...] = ("error", "warning", "info")


def _counted(count: int, severity: str) -> str:
    return f"{count} {severity}" + ("" if count == 1 else "s")


def summary_text(findings: Sequence[Finding]) -> str:
    """``2 errors, 1 warning``, or ``No findings``."""
    counts = Counter(finding.severity for finding in findings)
    parts = [
        _counted(counts[severity], severity)
        for severity in _SEVERITY_ORDER
        if counts[severity]
    ]
    return ", ".join(parts) if parts else "No findings"


def finding_line(finding: Finding) -> Content:
    """``line:col CODE severity message``, the severity in its colour."""
    style = SEVERITY_STYLES.get(finding.severity, "")
    return Content.assemble(
        (f"{finding.line}:{finding.column}".ljust(8), "$text-muted"),
        (finding.code, style),
        " ",
        (finding.severity.ljust(8), style),
        finding.message,
    )


class FindingsPanel(Vertical):
    """A summary of the findings above the list of them.

    Choosing a finding (``enter`` or a click) posts :class:`FindingSelected`;
    the screen moves its editor there.
    """

    DEFAULT_CSS = """
    FindingsPanel {
        height: 8;
    }
    FindingsPanel > #findings-summary {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    FindingsPanel > #findings-summary.-errors {
        color: $text-error;
        text-style: bold;
    }
    FindingsPanel > #findings-summary.-warnings {
        color: $text-warning;
    }
    FindingsPanel > OptionList {
        height: 1fr;
    }
    """

    class FindingSelected(Message):
        """A finding was chosen in the list."""

        def __init__(self, panel: FindingsPanel, finding: Finding) -> None:
            super().__init__()
            self.panel = panel
            self.finding = finding

        @property
        def control(self) -> FindingsPanel:
            """The panel the finding was chosen in."""
            return self.panel

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._findings: tuple[Finding, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        """What the panel shows, in the linter's order."""
        return self._findings

    def compose(self) -> ComposeResult:
        yield Static("Not checked yet", id="findings-summary", markup=False)
        yield OptionList(id="findings-list")

    def show(self, findings: Sequence[Finding], *, note: str = "") -> None:
        """Show ``findings``; ``note`` follows the summary (what was checked)."""
        summary = self.query_one("#findings-summary", Static)
        severities = {finding.severity for finding in findings}
        summary.set_class("error" in severities, "-errors")
        summary.set_class(severities == {"warning"}, "-warnings")
        summary.update(" · ".join(filter(None, (summary_text(findings), note))))

        if tuple(findings) == self._findings:
            return
        self._findings = tuple(findings)
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.set_options(finding_line(finding) for finding in findings)
        if findings and highlighted is not None:
            # Keep the cursor in place while the list changes under it.
            options.highlighted = min(highlighted, len(findings) - 1)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self._findings):
            finding = self._findings[event.option_index]
            self.post_message(self.FindingSelected(self, finding))
