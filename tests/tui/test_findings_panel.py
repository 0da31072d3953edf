"""The findings panel on its own, in a tiny app."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import OptionList, Static

from sdx_tui.backend.routeros.lint import Finding
from sdx_tui.widgets.findings import FindingsPanel, finding_line, summary_text

ERROR = Finding("RSC003", "error", 2, 7, "unterminated string")
WARNING = Finding("RSC102", "warning", 1, 1, "/system reboot restarts the device")
INFO = Finding("RSC999", "info", 3, 1, "a note")


class PanelApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.chosen: list[Finding] = []

    def compose(self) -> ComposeResult:
        yield FindingsPanel()

    def on_findings_panel_finding_selected(
        self, event: FindingsPanel.FindingSelected
    ) -> None:
        assert event.control is self.query_one(FindingsPanel)
        self.chosen.append(event.finding)


def summary(app: App[None]) -> Static:
    return app.query_one("#findings-summary", Static)


def test_summary_counts_each_severity() -> None:
    assert summary_text([]) == "No findings"
    assert summary_text([ERROR]) == "1 error"
    assert summary_text([WARNING, ERROR, ERROR, INFO]) == (
        "2 errors, 1 warning, 1 info"
    )
    assert summary_text([WARNING, WARNING]) == "2 warnings"


def test_a_finding_reads_line_column_code_severity_message() -> None:
    assert finding_line(ERROR).plain == "2:7     RSC003 error   unterminated string"


async def test_the_panel_shows_counts_and_posts_the_chosen_finding() -> None:
    app = PanelApp()
    async with app.run_test() as pilot:
        panel = app.query_one(FindingsPanel)
        panel.show([WARNING, ERROR], note="RouterOS 7.16")
        await pilot.pause()
        assert str(summary(app).render()) == "1 error, 1 warning · RouterOS 7.16"
        assert summary(app).has_class("-errors")
        assert app.query_one(OptionList).option_count == 2

        app.query_one(OptionList).focus()
        await pilot.press("end", "enter")
        await pilot.pause()
        assert app.chosen == [ERROR]

        panel.show([WARNING])
        await pilot.pause()
        assert summary(app).has_class("-warnings")
        assert not summary(app).has_class("-errors")
        # The cursor stays inside the shorter list.
        assert app.query_one(OptionList).highlighted == 0

        panel.show([])
        await pilot.pause()
        assert str(summary(app).render()) == "No findings"
        assert app.query_one(OptionList).option_count == 0
