"""The fleet simulator, end to end against the endpoint."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from agent_endpoint.app import EndpointTiming, create_endpoint, endpoint_of
from sdx_tui.backend import lifecycle
from sdx_tui.backend.db import utcnow
from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.models import (
    AuditEvent,
    LogEntry,
    Outcome,
    OutcomeStatus,
    RunKind,
    ScriptStatus,
    Site,
)
from sdx_tui.backend.runs import create_run
from sdx_tui.backend.simulator import (
    SIMULATED_TAG,
    FleetSimulator,
    SimulatedDevice,
    SimulatedSite,
    provision_sites,
)
from sdx_tui.backend.sites import token_matches
from sdx_tui.config import load_settings
from tests.conftest import Desk
from tests.delivery.conftest import new_script


def launch_to(desk: Desk, sites: list[SimulatedSite], content: str) -> int:
    script_id = new_script(desk, content)
    names = [site.name for site in sites]
    with desk.db.session() as session:
        site_ids = list(session.scalars(select(Site.id).where(Site.name.in_(names))))
        lifecycle.transition_script(session, script_id, ScriptStatus.SCHEDULED)
        lifecycle.transition_script(session, script_id, ScriptStatus.LAUNCHED)
        return create_run(
            session,
            script_id=script_id,
            kind=RunKind.LAUNCH,
            site_ids=site_ids,
            occurrence_at=utcnow(),
            deadline=timedelta(hours=1),
        )


def open_outcomes(desk: Desk, run_id: int) -> int:
    with desk.db.reading() as session:
        return (
            session.scalar(
                select(func.count(Outcome.id)).where(
                    Outcome.run_id == run_id,
                    Outcome.status.in_(
                        [OutcomeStatus.PENDING, OutcomeStatus.DELIVERED]
                    ),
                )
            )
            or 0
        )


async def simulate_until_final(
    desk: Desk, fleet_sites: list[SimulatedSite], run_id: int, **options: float
) -> FleetSimulator:
    app = create_endpoint(
        load_settings(), desk.db, timing=EndpointTiming(refresh_seconds=3600)
    )
    endpoint_of(app).refresh()
    simulator = FleetSimulator(
        fleet_sites,
        server="http://desk.test",
        interval=30,
        transport=httpx.ASGITransport(app=app),
        **options,  # type: ignore[arg-type]
    )
    async with simulator:
        for _ in range(100):
            await simulator.tick()
            if not open_outcomes(desk, run_id):
                break
    return simulator


async def test_a_launch_to_200_flapping_sites_ends_as_the_devices_decided(
    desk: Desk,
) -> None:
    sites = provision_sites(desk.db, desk.admin, 200)
    run_id = launch_to(desk, sites, ":put hello")

    simulator = await simulate_until_final(
        desk, sites, run_id, fail_rate=0.2, flap_rate=0.3, seed=11
    )

    with desk.db.reading() as session:
        outcomes = session.execute(
            select(Outcome.delivery_id, Outcome.status, Site.name)
            .join(Site, Outcome.site_id == Site.id)
            .where(Outcome.run_id == run_id)
        ).all()
        answers = Counter(
            session.scalars(
                select(LogEntry.outcome_id).where(LogEntry.event == "result received")
            )
        )
    decisions = simulator.decisions
    assert len(outcomes) == 200
    assert {row.delivery_id for row in outcomes} == set(decisions)
    for row in outcomes:
        decision = decisions[row.delivery_id]
        assert (row.status.value, row.name) == (decision.status, decision.site)
        assert decision.runs == 1
    assert set(answers.values()) == {1} and len(answers) == 200
    statuses = Counter(row.status for row in outcomes)
    assert statuses[OutcomeStatus.FAILED] > 0 and statuses[OutcomeStatus.COMPLETED] > 0
    # The flapping links made the desk hand some jobs out more than once.
    assert simulator.stats.dropped > 0 and simulator.stats.repeats > 0


async def test_a_script_with_error_fails_everywhere(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    sites = provision_sites(desk.db, desk.admin, 5)
    run_id = launch_to(desk, sites, ':put "about to fail"\n:error "stop here"')

    simulator = await simulate_until_final(desk, sites, run_id, seed=3)

    assert {d.status for d in simulator.decisions.values()} == {"failed"}
    with desk.db.reading() as session:
        errors = set(
            session.scalars(select(Outcome.error).where(Outcome.run_id == run_id))
        )
    assert errors == {"simulated failure"}


def test_provisioning_creates_then_reuses_sites_with_new_tokens(
    sqlite_desk: Desk,
) -> None:
    desk = sqlite_desk
    first = provision_sites(desk.db, desk.admin, 3, prefix="lab")
    again = provision_sites(desk.db, desk.admin, 4, prefix="lab")

    assert [site.name for site in again] == [
        "lab-00001",
        "lab-00002",
        "lab-00003",
        "lab-00004",
    ]
    with desk.db.reading() as session:
        stored = {s.name: s for s in session.scalars(select(Site))}
        actions = list(session.scalars(select(AuditEvent.action)))
    for old, new in zip(first, again, strict=False):
        assert not token_matches(old.token, stored[old.name].token_hash)
        assert token_matches(new.token, stored[new.name].token_hash)
    assert all(site.tags == [SIMULATED_TAG] for site in stored.values())
    assert actions.count("simulator.sites_added") == 2
    assert actions.count("simulator.tokens_rotated") == 1


def test_provisioning_is_for_admins_and_checks_its_input(sqlite_desk: Desk) -> None:
    from sdx_tui.backend.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        provision_sites(sqlite_desk.db, sqlite_desk.operator, 1)
    with pytest.raises(InvalidInput):
        provision_sites(sqlite_desk.db, sqlite_desk.admin, 0)
    with pytest.raises(InvalidInput):
        provision_sites(sqlite_desk.db, sqlite_desk.admin, 1, prefix="bad name")


def test_a_device_decides_the_same_way_for_the_same_seed() -> None:
    site = SimulatedSite("sim-00001", "t" * 43)
    wrapper = ":put hello"

    def decisions(seed: int) -> list[str]:
        device = SimulatedDevice(site, seed=seed)
        return [device.decide(wrapper, 0.5) for _ in range(40)]

    def links(seed: int) -> list[str]:
        device = SimulatedDevice(site, seed=seed)
        return [device.flaps(0.5) for _ in range(40)]

    assert decisions(1) == decisions(1) and links(1) == links(1)
    assert decisions(1) != decisions(2)
    assert set(links(1)) == {"up", "out", "back"}


def test_the_backup_prelude_does_not_count_as_a_job_error() -> None:
    from sdx_tui.backend.routeros.render import (
        BackupTarget,
        render_backup_prelude,
        render_job_wrapper,
    )

    prelude = render_backup_prelude(job_name="x", sftp=BackupTarget("h", "u", "p"))
    device = SimulatedDevice(SimulatedSite("sim-00001", "t" * 43), seed=0)
    for major in (6, 7):
        clean, failing = (
            render_job_wrapper(
                delivery_id="a" * 32,
                body=body,
                base_url="http://desk.test",
                token="t" * 43,
                routeros_major=major,
                backup_prelude=prelude,
            )
            for body in (":put ok", ':error "no"')
        )
        assert device.decide(clean, 0.0) == "completed"
        assert device.decide(failing, 0.0) == "failed"


@pytest.mark.parametrize(
    "options",
    [{"fail_rate": 1.5}, {"flap_rate": -0.1}, {"interval": 0}],
)
def test_simulator_options_are_checked(options: dict[str, float]) -> None:
    arguments = {"server": "http://desk.test", "interval": 1.0, **options}
    with pytest.raises(InvalidInput):
        FleetSimulator([], **arguments)  # type: ignore[arg-type]


def test_progress_lines_read_well() -> None:
    simulator = FleetSimulator([], server="http://desk.test", interval=1)
    simulator.stats.polls = 1234
    line = simulator.stats.line()
    assert re.search(r"s: 1,234 polls \(0 idle\), 0 jobs run", line)
