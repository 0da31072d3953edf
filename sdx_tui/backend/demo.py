"""A demo organisation, so that a newcomer opens a living desk.

An MSP with two customers, four people, 36 sites in eleven time zones, and
scripts in every state with runs whose outcomes are in every state. Everything
goes through the services and the lifecycle; the only direct writes set times
(run, delivery and log times, sites' last poll) so the story reads as if it
happened around ``now``. The same seed and ``now`` give the same desk.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sdx_tui.backend import audit, lifecycle
from sdx_tui.backend.approvals import approve, reject, request_authorization
from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.identity import (
    Actor,
    add_organisation,
    add_user,
    current_actor,
    current_os_user,
    initialise,
    is_initialised,
)
from sdx_tui.backend.models import (
    LogEntry,
    Outcome,
    OutcomeStatus,
    Run,
    RunKind,
    Script,
    ScriptStatus,
    ScriptTarget,
    Site,
)
from sdx_tui.backend.runs import add_log, create_run, rollup_run
from sdx_tui.backend.scripts import cancel_script, create_script
from sdx_tui.backend.sites import add_site
from sdx_tui.config import Settings

log = logging.getLogger(__name__)

DEMO_SEED = 2026
MSP = "Northwind Networks"
CUSTOMERS = ("Contoso Retail", "Fabrikam Logistics")
DEADLINE = timedelta(minutes=60)

O = OutcomeStatus  # noqa: E741

# Default settings have no e-mail or WhatsApp, so approval requests made for the
# demo never send a message to anyone, whatever the desk's own settings say.
_QUIET = Settings(data_dir=Path("sdx-demo"), config_path=Path("sdx-demo.toml"))


@dataclass(frozen=True)
class _SiteSpec:
    name: str
    organisation: str
    time_zone: str
    tags: tuple[str, ...]


def _site_specs() -> list[_SiteSpec]:
    specs = [
        _SiteSpec("nw-core-ams", MSP, "Europe/Amsterdam", ("core", "noc")),
        _SiteSpec("nw-core-fra", MSP, "Europe/Berlin", ("core", "noc")),
        _SiteSpec("nw-lab-1", MSP, "Europe/Berlin", ("lab",)),
        _SiteSpec("nw-lab-2", MSP, "Europe/Berlin", ("lab",)),
    ]
    stores = [
        ("ber", "Europe/Berlin", "de"),
        ("muc", "Europe/Berlin", "de"),
        ("ham", "Europe/Berlin", "de"),
        ("lon", "Europe/London", "uk"),
        ("man", "Europe/London", "uk"),
        ("par", "Europe/Paris", "fr"),
        ("lyo", "Europe/Paris", "fr"),
        ("mad", "Europe/Madrid", "es"),
    ]
    for city, zone, country in stores:
        for number in (1, 2):
            tags: tuple[str, ...] = ("store", f"region-{country}")
            if number == 2:
                tags += ("lte-backup",)
            specs.append(
                _SiteSpec(f"contoso-{city}-{number:02}", CUSTOMERS[0], zone, tags)
            )
    warehouses = [
        ("nyc", "America/New_York", "us"),
        ("chi", "America/Chicago", "us"),
        ("dal", "America/Chicago", "us"),
        ("sea", "America/Los_Angeles", "us"),
        ("sgp", "Asia/Singapore", "apac"),
        ("syd", "Australia/Sydney", "apac"),
        ("mel", "Australia/Sydney", "apac"),
        ("tyo", "Asia/Tokyo", "apac"),
    ]
    for city, zone, region in warehouses:
        for number in (1, 2):
            tags = ("warehouse", f"region-{region}")
            if number == 1:
                tags += ("wifi",)
            specs.append(
                _SiteSpec(f"fabrikam-{city}-{number:02}", CUSTOMERS[1], zone, tags)
            )
    return specs


_VERSIONS = ["7.16.2", "7.16", "7.15.3", "7.14.3", "7.13.5"]
_VERSION_WEIGHTS = [8, 6, 4, 3, 2]
# Two old devices that have not polled for days; they are still on RouterOS 6.
_SILENT = {"contoso-mad-02": "6.49.10", "fabrikam-tyo-02": "6.48.6"}

SNMP_ROTATION = """\
# Rotate the SNMP community polled by the NOC collector
/snmp community
:if ([:len [find name="noc-2026"]] = 0) do={
    add name="noc-2026" addresses=10.20.0.0/24 read-access=yes write-access=no
}
set [find name="public"] disabled=yes
/snmp set enabled=yes trap-community="noc-2026" trap-version=2
"""

LEGACY_SERVICES = """\
# Close legacy management services on the warehouse routers
/ip service
set telnet disabled=yes
set ftp disabled=yes
set www disabled=yes
/ip firewall filter
:if ([:len [find comment="noc: drop legacy management"]] = 0) do={
    add chain=input protocol=tcp dst-port=21,23,80 action=drop \\
        comment="noc: drop legacy management"
}
"""

NTP_SERVERS = """\
# Point every warehouse at the same NTP pool
/system ntp client
set enabled=yes
/system ntp client servers
:foreach server in=[find where !dynamic] do={ remove $server }
add address=0.pool.ntp.org
add address=1.pool.ntp.org
/system clock set time-zone-autodetect=no
:log info "NOC: NTP servers updated"
"""

WEEKLY_EXPORT = """\
# Weekly configuration export, kept on the device for the NOC to collect
:local name ("weekly-" . [/system identity get name])
/export file=$name
:log info ("NOC: weekly export written to " . $name . ".rsc")
"""

DHCP_LEASES = """\
# Longer DHCP leases on the store VLANs: fewer renewals during opening hours
/ip dhcp-server
:foreach server in=[find where interface~"vlan"] do={
    set $server lease-time=8h
}
:put ("lease time 8h on " . [:len [find where lease-time=8h]] . " server(s)")
"""

SYSLOG_TARGET = """\
# Send warnings and errors to the NOC syslog collector
/system logging action
:if ([:len [find name="noc-syslog"]] = 0) do={
    add name=noc-syslog target=remote remote=10.20.0.15 remote-port=514
}
/system logging
:if ([:len [find action=noc-syslog]] = 0) do={
    add topics=critical,error,warning action=noc-syslog
}
"""

PCI_ISOLATION = """\
# Isolate the card-terminal VLAN (PCI zone) from the rest of the store
/ip firewall address-list
add list=pci-zone address=10.40.0.0/24 comment="card terminals"
/ip firewall filter
add chain=forward src-address-list=pci-zone dst-address-list=!pci-allowed \\
    action=drop comment="noc: isolate PCI zone"
"""

IPV6_UPLINK = """\
# Enable IPv6 on the store uplinks (prefix delegation from the ISP)
/ipv6 settings set disable-ipv6=no
/ipv6 dhcp-client
:if ([:len [find interface=ether1]] = 0) do={
    add interface=ether1 pool-name=wan6 request=prefix add-default-route=yes
}
"""

WIFI_PASSPHRASE = """\
# Quarterly change of the staff Wi-Fi passphrase
:local passphrase "Harbour-Lantern-42"
/interface wifi security
set [find name="fabrikam-staff"] passphrase=$passphrase
:log info "NOC: staff Wi-Fi passphrase changed"
"""

GUEST_BANDWIDTH = """\
# Cap the guest Wi-Fi at 20 Mbit/s per store
/queue simple
:if ([:len [find name="guest-cap"]] = 0) do={
    add name=guest-cap target=192.168.88.0/24 max-limit=20M/20M
}
"""

HEALTH_REPORT = """\
# Hourly health line in the log, collected by the NOC
:local cpu [/system resource get cpu-load]
:local free ([/system resource get free-memory] / 1048576)
:local uptime [/system resource get uptime]
:put ("cpu-load=" . $cpu . "% free-memory=" . $free . "MiB uptime=" . $uptime)
"""

LogWriter = Callable[[str, str, datetime], None]


@dataclass
class _Demo:
    database: Database
    now: datetime
    rng: random.Random
    admin: Actor
    operator: Actor
    approvers: list[Actor]
    organisations: dict[str, int] = field(default_factory=dict)
    sites: list[str] = field(default_factory=list)

    def sites_like(self, *prefixes: str) -> list[str]:
        return [name for name in self.sites if name.startswith(prefixes)]


def populate_demo(
    database: Database,
    *,
    now: datetime | None = None,
    seed: int = DEMO_SEED,
    admin: str | None = None,
) -> None:
    """Fill an empty, migrated database with the demo organisation.

    ``admin`` (default: the OS user running the desk) becomes the MSP's admin, so
    the desk opens as them. Raises :class:`InvalidInput` on a database that
    already has an organisation.
    """
    if is_initialised(database):
        raise InvalidInput("demo data goes into an empty database only")
    demo = _people(database, now or utcnow(), random.Random(seed), admin)
    _organisations_and_sites(demo)
    _drafts(demo)
    _scheduled(demo)
    _launched(demo)
    _finished(demo)
    _cancelled(demo)
    log.info("demo desk populated with %d sites", len(demo.sites))


def _people(
    database: Database, now: datetime, rng: random.Random, admin: str | None
) -> _Demo:
    admin_actor = initialise(
        database,
        organisation=MSP,
        admin=admin or current_os_user(),
        email="noc-admin@northwind.example",
    )
    people = [
        ("olivia", "Olivia Grant", "operator", "+4915112340001"),
        ("arthur", "Arthur Brandt", "approver", "+4915112340002"),
        ("priya", "Priya Nair", "approver", ""),
    ]
    names: list[str] = []
    for os_user, display, role, whatsapp in people:
        # The person running the demo may well be called olivia.
        name = os_user if os_user != admin_actor.name else f"{os_user}-demo"
        add_user(
            database,
            admin_actor,
            name,
            roles=role,
            display_name=display,
            email=f"{os_user}@northwind.example",
            whatsapp=whatsapp,
            time_zone="Europe/Berlin",
        )
        names.append(name)
    return _Demo(
        database=database,
        now=now,
        rng=rng,
        admin=admin_actor,
        operator=current_actor(database, "tui", names[0]),
        approvers=[current_actor(database, "tui", name) for name in names[1:]],
    )


def _organisations_and_sites(demo: _Demo) -> None:
    demo.organisations[MSP] = demo.admin.organisation_id
    for name in CUSTOMERS:
        organisation = add_organisation(demo.database, demo.admin, name)
        demo.organisations[name] = organisation.id

    for number, spec in enumerate(_site_specs()):
        add_site(
            demo.database,
            demo.admin,
            spec.name,
            routeros_version=_SILENT.get(spec.name)
            or demo.rng.choices(_VERSIONS, weights=_VERSION_WEIGHTS)[0],
            time_zone=spec.time_zone,
            tags=spec.tags,
            address=f"10.30.{number}.1",
            organisation_id=demo.organisations[spec.organisation],
        )
        demo.sites.append(spec.name)

    # Most devices polled a moment ago.
    with demo.database.session() as session:
        for name in demo.sites:
            ago = (
                timedelta(days=demo.rng.randint(2, 6))
                if name in _SILENT
                else timedelta(seconds=demo.rng.randint(3, 90))
            )
            session.execute(
                update(Site)
                .where(Site.name == name)
                .values(last_seen_at=demo.now - ago)
            )


def _new_script(
    demo: _Demo,
    description: str,
    content: str,
    targets: Sequence[str],
    *,
    launch_at: datetime | None = None,
    time_zone: str = "Europe/Berlin",
    recurrence: str = "",
    make_backup: bool = False,
    test_site: str | None = None,
    author: Actor | None = None,
) -> Script:
    return create_script(
        demo.database,
        author or demo.operator,
        description=description,
        content=content,
        targets=targets,
        launch_at=launch_at,
        time_zone=time_zone,
        recurrence=recurrence,
        make_backup=make_backup,
        test_site=test_site,
    )


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def _occurrences(expression: str, time_zone: str, around: datetime) -> list[datetime]:
    """The two occurrences before ``around`` and the one after, in UTC."""
    local = around.astimezone(ZoneInfo(time_zone))
    before = croniter(expression, local)
    previous = [before.get_prev(datetime) for _ in range(2)]
    following = croniter(expression, local).get_next(datetime)
    return [moment.astimezone(UTC) for moment in (previous[1], previous[0], following)]


def _approve(
    demo: _Demo,
    script: Script,
    approver: Actor,
    ago: timedelta,
    *,
    reject_because: str = "",
) -> None:
    """The author asks for approval and ``approver`` decides, ``ago`` before now."""
    decided = demo.now - ago
    requester = demo.admin if script.author_id == demo.admin.user_id else demo.operator
    request = request_authorization(
        demo.database,
        requester,
        script.id,
        settings=_QUIET,
        now=decided - timedelta(minutes=25),
    )
    if reject_because:
        reject(demo.database, approver, request.request_id, reject_because, now=decided)
    else:
        approve(demo.database, approver, request.request_id, now=decided)


@dataclass(frozen=True)
class _Target:
    outcome_id: int
    site_id: int
    site: str


def _run(
    session: Session,
    script_id: int,
    kind: RunKind,
    occurred: datetime,
    sites: Sequence[str],
) -> tuple[int, list[_Target]]:
    """A run created as the scheduler would, its times moved to ``occurred``."""
    site_ids = dict(
        session.execute(select(Site.name, Site.id).where(Site.name.in_(sites))).all()
    )
    approved = session.scalar(
        select(Script.approved_hash).where(Script.id == script_id)
    )
    run_id = create_run(
        session,
        script_id=script_id,
        kind=kind,
        site_ids=[site_ids[name] for name in sorted(sites)],
        occurrence_at=occurred,
        deadline=DEADLINE,
        content_hash=approved or "",
    )
    session.execute(update(Run).where(Run.id == run_id).values(created_at=occurred))
    session.execute(
        update(Outcome)
        .where(Outcome.run_id == run_id)
        .values(deadline=occurred + DEADLINE)
    )
    rows = session.execute(
        select(Outcome.id, Outcome.site_id).where(Outcome.run_id == run_id)
    ).all()
    session.execute(
        update(LogEntry)
        .where(LogEntry.outcome_id.in_([outcome_id for outcome_id, _ in rows]))
        .values(at=occurred)
    )
    names = {site_id: name for name, site_id in site_ids.items()}
    targets = [
        _Target(outcome_id, site_id, names[site_id]) for outcome_id, site_id in rows
    ]
    return run_id, sorted(targets, key=lambda target: target.site)


def _launch(
    session: Session,
    script_id: int,
    occurred: datetime,
    *,
    next_launch_at: datetime | None = None,
) -> tuple[int, list[_Target]]:
    """Launch a scheduled script at ``occurred``, as the scheduler would."""
    lifecycle.transition_script(
        session,
        script_id,
        ScriptStatus.LAUNCHED,
        expected=ScriptStatus.SCHEDULED,
        values={"next_launch_at": next_launch_at},
    )
    sites = session.scalars(
        select(Site.name)
        .join(ScriptTarget, ScriptTarget.site_id == Site.id)
        .where(ScriptTarget.script_id == script_id)
    ).all()
    return _run(session, script_id, RunKind.LAUNCH, occurred, sites)


_ERRORS = (
    "failure: already have such entry",
    "no such item (4)",
    "input does not match any value of interface",
)


def _play(
    session: Session,
    demo: _Demo,
    target: _Target,
    state: OutcomeStatus,
    occurred: datetime,
    *,
    output: str = "",
    backup: bool | None = None,
) -> None:
    """Move one outcome to ``state`` the way a device and the sweeps would."""
    write = _log_writer(session, target)
    if state is O.PENDING:
        return
    delivered = occurred + timedelta(seconds=demo.rng.randint(5, 240))
    finished = delivered + timedelta(seconds=demo.rng.randint(2, 40))
    if state in (O.EXPIRED, O.CANCELLED, O.SKIPPED):
        at = occurred + DEADLINE if state is O.EXPIRED else delivered
        detail = {
            O.EXPIRED: "never polled before the deadline",
            O.CANCELLED: "cancelled before delivery",
            O.SKIPPED: "skipped: the site is in a change freeze",
        }[state]
        lifecycle.transition_outcome(
            session, target.outcome_id, state, values={"finished_at": at}
        )
        write(state.value, detail, at)
        return

    lifecycle.transition_outcome(
        session,
        target.outcome_id,
        O.DELIVERED,
        values={"delivered_at": delivered, "attempts": 1},
    )
    write("polled", "", delivered)
    write("delivered", "attempt 1", delivered)
    if backup is not None:
        write(
            "backup uploaded" if backup else "error",
            "backup and export uploaded by SFTP"
            if backup
            else "backup upload failed: connection timed out",
            delivered + timedelta(seconds=8),
        )
    if state is O.DELIVERED:
        return

    values: dict[str, object] = {"finished_at": finished}
    if backup is not None:
        values["backup_ok"] = backup
    if state is O.TIMED_OUT:
        values["finished_at"] = occurred + DEADLINE
        lifecycle.transition_outcome(session, target.outcome_id, state, values=values)
        write("timed out", "no result before the deadline", occurred + DEADLINE)
        return

    write("result received", state.value, finished)
    if state is O.COMPLETED:
        values["output"] = output
        if output:
            write("output", output, finished)
    else:
        error = "backup failed; the job did not run" if backup is False else ""
        values["error"] = error or demo.rng.choice(_ERRORS)
        write("error", str(values["error"]), finished)
    lifecycle.transition_outcome(session, target.outcome_id, state, values=values)


def _log_writer(session: Session, target: _Target) -> LogWriter:
    def write(event: str, detail: str, at: datetime) -> None:
        add_log(
            session,
            site_id=target.site_id,
            outcome_id=target.outcome_id,
            event=event,
            detail=detail,
            at=at,
        )

    return write


def _plan(demo: _Demo, counts: Sequence[tuple[OutcomeStatus, int]]) -> list[O]:
    states = [state for state, count in counts for _ in range(count)]
    demo.rng.shuffle(states)
    return states


def _drafts(demo: _Demo) -> None:
    """Unauthorized scripts: one tested and waiting for approval (by you, too),
    one rejected, one still a draft."""
    stores = demo.sites_like("contoso-")
    snmp = _new_script(
        demo,
        "Rotate the SNMP community on Contoso stores",
        SNMP_ROTATION,
        stores,
        launch_at=_minute(demo.now + timedelta(days=3)),
        test_site="contoso-ber-01",
    )
    tested = demo.now - timedelta(hours=2)
    with demo.database.session() as session:
        run_id, [target] = _run(
            session, snmp.id, RunKind.TEST, tested, ["contoso-ber-01"]
        )
        _play(session, demo, target, O.COMPLETED, tested, output="community added")
        rollup_run(session, run_id)
        audit.record(
            session,
            demo.operator,
            "script.tested",
            subject_type="script",
            subject_id=snmp.id,
            detail=target.site,
        )
    request_authorization(
        demo.database,
        demo.operator,
        snmp.id,
        settings=_QUIET,
        now=demo.now - timedelta(minutes=90),
    )

    _new_script(
        demo,
        "Close legacy management services on Fabrikam warehouses",
        LEGACY_SERVICES,
        demo.sites_like("fabrikam-"),
        time_zone="America/Chicago",
        test_site="fabrikam-chi-02",
    )
    guest = _new_script(
        demo,
        "Cap guest Wi-Fi bandwidth in UK stores",
        GUEST_BANDWIDTH,
        demo.sites_like("contoso-lon-", "contoso-man-"),
        launch_at=_minute(demo.now + timedelta(days=5)),
        time_zone="Europe/London",
    )
    _approve(
        demo,
        guest,
        demo.approvers[1],
        timedelta(hours=20),
        reject_because="Not before the January sales are over; please move it.",
    )


def _scheduled(demo: _Demo) -> None:
    """Approved scripts waiting for their time, one of them weekly."""
    arthur, priya = demo.approvers
    ntp = _new_script(
        demo,
        "Point Fabrikam warehouses at the NTP pool",
        NTP_SERVERS,
        demo.sites_like("fabrikam-"),
        launch_at=_minute(demo.now + timedelta(days=1, hours=6)),
        time_zone="America/Chicago",
        make_backup=True,
        test_site="fabrikam-chi-01",
    )
    _approve(demo, ntp, arthur, timedelta(hours=3))

    weekly = "0 3 * * 0"
    _, _, next_sunday = _occurrences(weekly, "Europe/Amsterdam", demo.now)
    export = _new_script(
        demo,
        "Weekly configuration export on the NOC core",
        WEEKLY_EXPORT,
        demo.sites_like("nw-core-"),
        launch_at=next_sunday,
        time_zone="Europe/Amsterdam",
        recurrence=weekly,
        author=demo.admin,
    )
    _approve(demo, export, priya, timedelta(days=1))


def _launched(demo: _Demo) -> None:
    """A one-off launch in progress, and an hourly script on its second run."""
    arthur, priya = demo.approvers
    started = _minute(demo.now - timedelta(minutes=12))
    dhcp = _new_script(
        demo,
        "Raise DHCP lease time on store VLANs",
        DHCP_LEASES,
        demo.sites_like("contoso-"),
        launch_at=started,
        make_backup=True,
        test_site="contoso-ber-01",
    )
    _approve(demo, dhcp, arthur, timedelta(hours=5))
    plan = _plan(
        demo,
        [
            (O.COMPLETED, 7),
            (O.FAILED, 2),
            (O.DELIVERED, 3),
            (O.SKIPPED, 1),
            (O.PENDING, 3),
        ],
    )
    failures = 0
    with demo.database.session() as session:
        _, targets = _launch(session, dhcp.id, started)
        for target, state in zip(targets, plan, strict=True):
            # The first failure is a backup that did not upload: the job stopped.
            backup = state is not O.FAILED or failures > 0
            failures += state is O.FAILED
            _play(
                session,
                demo,
                target,
                state,
                started,
                output="lease time 8h on 3 server(s)",
                backup=None if state in (O.PENDING, O.SKIPPED) else backup,
            )

    hourly = "5 * * * *"
    earlier, latest, following = _occurrences(hourly, "Asia/Singapore", demo.now)
    health = _new_script(
        demo,
        "Hourly health report from Fabrikam warehouses",
        HEALTH_REPORT,
        demo.sites_like("fabrikam-"),
        launch_at=earlier,
        time_zone="Asia/Singapore",
        recurrence=hourly,
    )
    _approve(demo, health, priya, timedelta(days=2))
    settled = _plan(
        demo, [(O.COMPLETED, 12), (O.FAILED, 1), (O.TIMED_OUT, 2), (O.EXPIRED, 1)]
    )
    running = _plan(demo, [(O.COMPLETED, 9), (O.DELIVERED, 3), (O.PENDING, 4)])
    with demo.database.session() as session:
        run_id, targets = _launch(session, health.id, earlier, next_launch_at=latest)
        for target, state in zip(targets, settled, strict=True):
            _play(session, demo, target, state, earlier, output=_health(demo))
        rollup_run(session, run_id)
        # A recurring script waits for its next occurrence between runs.
        lifecycle.transition_script(
            session, health.id, ScriptStatus.SCHEDULED, expected=ScriptStatus.LAUNCHED
        )
        _, targets = _launch(session, health.id, latest, next_launch_at=following)
        for target, state in zip(targets, running, strict=True):
            _play(session, demo, target, state, latest, output=_health(demo))


def _health(demo: _Demo) -> str:
    return (
        f"cpu-load={demo.rng.randint(2, 38)}% "
        f"free-memory={demo.rng.randint(180, 900)}MiB "
        f"uptime={demo.rng.randint(1, 9)}w{demo.rng.randint(0, 6)}d"
    )


def _finished(demo: _Demo) -> None:
    """A launch that completed everywhere and one that failed on some sites."""
    arthur, priya = demo.approvers
    yesterday = _minute(demo.now - timedelta(days=1, hours=3))
    syslog = _new_script(
        demo,
        "Send warnings to the NOC syslog collector",
        SYSLOG_TARGET,
        demo.sites_like("nw-core-", "contoso-ber-", "contoso-lon-"),
        launch_at=yesterday,
        author=demo.admin,
    )
    _approve(demo, syslog, arthur, timedelta(days=1, hours=5))
    with demo.database.session() as session:
        run_id, targets = _launch(session, syslog.id, yesterday)
        for target in targets:
            _play(session, demo, target, O.COMPLETED, yesterday)
        rollup_run(session, run_id)
        lifecycle.transition_script(session, syslog.id, ScriptStatus.COMPLETED)

    two_days = _minute(demo.now - timedelta(days=2, hours=1))
    pci = _new_script(
        demo,
        "Isolate the PCI zone in German stores",
        PCI_ISOLATION,
        demo.sites_like("contoso-ber-", "contoso-muc-", "contoso-ham-"),
        launch_at=two_days,
        make_backup=True,
        test_site="contoso-muc-01",
    )
    _approve(demo, pci, priya, timedelta(days=2, hours=4))
    plan = [O.COMPLETED, O.FAILED, O.COMPLETED, O.FAILED, O.COMPLETED, O.TIMED_OUT]
    with demo.database.session() as session:
        run_id, targets = _launch(session, pci.id, two_days)
        for number, (target, state) in enumerate(zip(targets, plan, strict=True)):
            _play(session, demo, target, state, two_days, backup=number != 3)
        rollup_run(session, run_id)
        lifecycle.transition_script(session, pci.id, ScriptStatus.FAILED)


def _cancelled(demo: _Demo) -> None:
    """One script cancelled before approval, one cancelled part-way through."""
    arthur, _ = demo.approvers
    ipv6 = _new_script(
        demo,
        "Enable IPv6 on French and Spanish store uplinks",
        IPV6_UPLINK,
        demo.sites_like("contoso-par-", "contoso-lyo-", "contoso-mad-"),
        launch_at=_minute(demo.now + timedelta(days=4)),
        time_zone="Europe/Paris",
    )
    cancel_script(demo.database, demo.operator, ipv6.id)

    started = _minute(demo.now - timedelta(minutes=40))
    wifi = _new_script(
        demo,
        "Change the staff Wi-Fi passphrase at Fabrikam",
        WIFI_PASSPHRASE,
        [name for name in demo.sites_like("fabrikam-") if name.endswith("-01")],
        launch_at=started,
        time_zone="America/New_York",
    )
    _approve(demo, wifi, arthur, timedelta(hours=1))
    plan = _plan(demo, [(O.COMPLETED, 3), (O.DELIVERED, 1), (O.PENDING, 4)])
    with demo.database.session() as session:
        _, targets = _launch(session, wifi.id, started)
        for target, state in zip(targets, plan, strict=True):
            _play(session, demo, target, state, started)
    # Stopped part-way: the sites not reached yet never get it.
    cancel_script(demo.database, demo.operator, wifi.id)
