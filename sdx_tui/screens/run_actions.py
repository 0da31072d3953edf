"""What the screens that watch runs share: live refresh, pause, and the run keys.

Test, launch, cancel and retry each ask for a confirmation, then call the
launch service in a thread worker; a refusal comes back as a toast.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from textual import events
from textual.app import RenderResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from sdx_tui.backend import launch
from sdx_tui.backend.db import Database
from sdx_tui.backend.lifecycle import EDITABLE_SCRIPTS
from sdx_tui.backend.models import OutcomeStatus, Role, RunKind, RunStatus, ScriptStatus
from sdx_tui.backend.monitoring import RunSummary
from sdx_tui.screens.base import DeskScreen, report_worker_failure
from sdx_tui.screens.confirm import ConfirmScreen

REFRESH_SECONDS = 0.5
"""How often a watching screen reads the database: changes show within a second."""

REFRESH_WORKER = "refresh"
ACTION_WORKER = "run-action"

RUN_KEYS = ("run_test", "launch_now", "cancel_run", "retry_failed")


class LiveState(Widget):
    """One line: live or paused, when the screen last read, and what it shows.

    It repaints alone: a Static would re-lay out the whole screen on each read.
    """

    text: reactive[str] = reactive("")
    """What the line says."""

    def render(self) -> RenderResult:
        return self.text


class LiveScreen(DeskScreen[None]):
    """A screen that re-reads the database on a timer, with pause and refresh keys.

    Subclasses implement :meth:`load` (runs in a thread; reads only) and
    :meth:`show` (runs on the UI thread with what :meth:`load` returned).
    """

    SECTION = "runs"
    CSS_PATH = "runs.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_pause", "Pause", id="pause", tooltip="Stop live updates"),
        Binding("r", "refresh", "Refresh", id="refresh", tooltip="Read again now"),
    ]

    paused: reactive[bool] = reactive(False)
    """Whether the timer skips its reads (``r`` still reads)."""

    def __init__(self) -> None:
        super().__init__()
        self._timer: Timer | None = None
        self._loading: Worker[Any] | None = None
        self._refresh_failed = False

    def load(self, database: Database) -> Any:
        """Read what the screen shows; called in a worker thread."""
        raise NotImplementedError

    def show(self, data: Any) -> None:
        """Paint what :meth:`load` read; only what changed should be repainted."""
        raise NotImplementedError

    def describe(self) -> str:
        """What the state line says about the data shown."""
        return ""

    @property
    def zone(self) -> ZoneInfo:
        """The zone the desk shows times in."""
        return ZoneInfo(self.desk.settings.time_zone)

    def show_state(self) -> None:
        """Say on the state line whether the screen is live, and when it read."""
        state = "‖ paused" if self.paused else "● live"
        now = self.desk.now().astimezone(self.zone).strftime("%H:%M:%S")
        parts = [state, f"read at {now}", self.describe()]
        self.query_one(LiveState).text = " · ".join(part for part in parts if part)

    def on_mount(self) -> None:
        self._timer = self.set_interval(REFRESH_SECONDS, self._tick)
        self.reload()

    def on_screen_suspend(self, _: events.ScreenSuspend) -> None:
        if self._timer is not None:
            self._timer.pause()

    def on_screen_resume(self, _: events.ScreenResume) -> None:
        if self._timer is not None:
            self._timer.resume()
        self.reload()

    def _tick(self) -> None:
        if not self.paused:
            self.reload()

    def reload(self) -> None:
        """Read again now, unless a read is still under way."""
        if self._loading is not None and self._loading.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        ):
            return
        self._loading = self.run_worker(
            partial(self.load, self.desk.database),
            name=REFRESH_WORKER,
            group=REFRESH_WORKER,
            thread=True,
            exit_on_error=False,
        )

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.notify("Live updates paused" if self.paused else "Live updates resumed")

    def action_refresh(self) -> None:
        self.reload()

    def watch_paused(self) -> None:
        if self.is_mounted:
            self.show_state()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Textual also calls DeskScreen's handler, which toasts every failure;
        # reads are handled here alone, so it is told to skip them.
        if event.worker.name != REFRESH_WORKER:
            return
        event.prevent_default()
        if event.state is WorkerState.SUCCESS:
            self._refresh_failed = False
            self.show(event.worker.result)
            self.show_state()
        elif event.state is WorkerState.ERROR and not self._refresh_failed:
            # One toast when reading starts to fail, not one per tick.
            self._refresh_failed = True
            report_worker_failure(self, event)


class RunActionsScreen(LiveScreen):
    """A live screen with a current run, and the keys that act on it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "t", "run_test", "Test", id="run-test", tooltip="Run on the test site now"
        ),
        Binding(
            "l",
            "launch_now",
            "Launch",
            id="launch-now",
            tooltip="Launch the script now",
        ),
        Binding("x", "cancel_run", "Cancel run", id="cancel-run"),
        Binding(
            "R",
            "retry_failed",
            "Retry failed",
            id="retry-failed",
            tooltip="Dispatch again to the failed and timed-out sites",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._keys_for: RunSummary | None = None

    def current_run(self) -> RunSummary | None:
        """The run the keys act on."""
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in RUN_KEYS:
            return super().check_action(action, parameters)
        actor = self.desk.actor
        run = self.current_run()
        if run is None or actor is None or not actor.has(Role.OPERATOR):
            return False
        return allowed(action, run)

    def refresh_run_keys(self) -> None:
        """Update the footer if the current run changed since it was drawn.

        Redrawing the footer re-lays out the screen, so it is not done per read.
        """
        run = self.current_run()
        if run != self._keys_for:
            self._keys_for = run
            self.refresh_bindings()

    def action_run_test(self) -> None:
        run, actor = self.current_run(), self.desk.actor
        if run is None or actor is None:
            return
        self._confirm(
            f"Run script {run.script_id} “{run.description}” on its test site now? "
            "No approval is needed for a test.",
            title="Run test",
            confirm="Run test",
            destructive=False,
            call=partial(
                launch.run_test,
                self.desk.database,
                actor,
                run.script_id,
                settings=self.desk.settings,
            ),
            done=lambda run_id: f"Test run {run_id} started",
        )

    def action_launch_now(self) -> None:
        run, actor = self.current_run(), self.desk.actor
        if run is None or actor is None:
            return
        self._confirm(
            f"Launch script {run.script_id} “{run.description}” on all its target "
            "sites now, instead of at its scheduled time?",
            title="Launch now",
            confirm="Launch",
            destructive=True,
            call=partial(
                launch.launch_now,
                self.desk.database,
                actor,
                run.script_id,
                settings=self.desk.settings,
            ),
            done=lambda run_id: f"Run {run_id} launched",
        )

    def action_cancel_run(self) -> None:
        run, actor = self.current_run(), self.desk.actor
        if run is None or actor is None:
            return
        waiting = run.count(OutcomeStatus.PENDING)
        self._confirm(
            f"Cancel run {run.run_id}? Its {waiting} undelivered site(s) will not "
            "get the job; sites that already fetched it carry on.",
            title="Cancel run",
            confirm="Cancel run",
            destructive=True,
            call=partial(launch.cancel_run, self.desk.database, actor, run.run_id),
            done=lambda count: f"Run {run.run_id}: {count} outcome(s) cancelled",
        )

    def action_retry_failed(self) -> None:
        run, actor = self.current_run(), self.desk.actor
        if run is None or actor is None:
            return
        self._confirm(
            f"Dispatch the same content again to the {run.unsuccessful} failed, "
            f"timed-out or expired site(s) of run {run.run_id}, as a new run?",
            title="Retry failed sites",
            confirm="Retry",
            destructive=False,
            call=partial(
                launch.retry_failed,
                self.desk.database,
                actor,
                run.run_id,
                settings=self.desk.settings,
            ),
            done=lambda run_id: f"Retry run {run_id} started",
        )

    def _confirm(
        self,
        question: str,
        *,
        title: str,
        confirm: str,
        destructive: bool,
        call: Callable[[], Any],
        done: Callable[[Any], str],
    ) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._act(call, done)

        self.app.push_screen(
            ConfirmScreen(
                question, title=title, confirm_label=confirm, destructive=destructive
            ),
            callback=answered,
        )

    def _act(self, call: Callable[[], Any], done: Callable[[Any], str]) -> None:
        def work() -> str:
            return done(call())

        self.run_worker(
            work,
            name=ACTION_WORKER,
            group=ACTION_WORKER,
            thread=True,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Failures go on to DeskScreen's handler, which shows them as toasts.
        if event.worker.name == ACTION_WORKER and event.state is WorkerState.SUCCESS:
            self.notify(str(event.worker.result))
            self.reload()


def allowed(action: str, run: RunSummary) -> bool:
    """Whether ``action`` can run on ``run`` now, as the launch service would judge."""
    if action == "run_test":
        return run.has_test_site and run.script_status in EDITABLE_SCRIPTS
    if action == "launch_now":
        return run.script_status is ScriptStatus.SCHEDULED
    if action == "cancel_run":
        return run.status is RunStatus.RUNNING
    if action == "retry_failed":
        return (
            run.status is not RunStatus.RUNNING
            and run.kind is not RunKind.TEST
            and run.script_status is not ScriptStatus.CANCELLED
            and run.unsuccessful > 0
        )
    return False
