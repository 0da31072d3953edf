"""The state machines of scripts and outcomes (DESIGN.md section 3).

Every change of state is one ``UPDATE ... WHERE id = :id AND status = :expected``:
whichever process's update matches the row wins, every other one sees zero rows
changed and gets :class:`IllegalTransition` (or ``False`` from the bulk forms).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sdx_tui.backend.db import utcnow
from sdx_tui.backend.errors import IllegalTransition, NotFound
from sdx_tui.backend.models import Outcome, OutcomeStatus, Script, ScriptStatus

log = logging.getLogger(__name__)

S = ScriptStatus
O = OutcomeStatus  # noqa: E741

SCRIPT_TRANSITIONS: dict[ScriptStatus, frozenset[ScriptStatus]] = {
    S.UNAUTHORIZED: frozenset({S.UNAUTHORIZED, S.SCHEDULED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.UNAUTHORIZED, S.LAUNCHED, S.CANCELLED}),
    S.LAUNCHED: frozenset({S.SCHEDULED, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}
"""Which script states each state may move to. ``unauthorized -> unauthorized`` is
an edit; ``launched -> scheduled`` is a recurring script between occurrences."""

OUTCOME_TRANSITIONS: dict[OutcomeStatus, frozenset[OutcomeStatus]] = {
    O.PENDING: frozenset({O.DELIVERED, O.EXPIRED, O.CANCELLED, O.SKIPPED}),
    O.DELIVERED: frozenset({O.DELIVERED, O.COMPLETED, O.FAILED, O.TIMED_OUT}),
    O.COMPLETED: frozenset(),
    O.FAILED: frozenset(),
    O.TIMED_OUT: frozenset(),
    O.EXPIRED: frozenset(),
    O.CANCELLED: frozenset(),
    O.SKIPPED: frozenset(),
}
"""Which outcome states each state may move to; ``delivered -> delivered`` is a
repeated hand-out of the same delivery."""

FINAL_OUTCOMES = frozenset(
    state for state, nxt in OUTCOME_TRANSITIONS.items() if not nxt
)
OPEN_OUTCOMES = frozenset(OutcomeStatus) - FINAL_OUTCOMES
EDITABLE_SCRIPTS = frozenset({S.UNAUTHORIZED, S.SCHEDULED})


def can_transition_script(current: ScriptStatus, wanted: ScriptStatus) -> bool:
    """Whether the script state machine has the edge ``current -> wanted``."""
    return wanted in SCRIPT_TRANSITIONS[current]


def can_transition_outcome(current: OutcomeStatus, wanted: OutcomeStatus) -> bool:
    """Whether the outcome state machine has the edge ``current -> wanted``."""
    return wanted in OUTCOME_TRANSITIONS[current]


def _transition(
    session: Session,
    model: type[Script] | type[Outcome],
    edges: Mapping[Any, frozenset[Any]],
    ident: int,
    wanted: Any,
    expected: Any,
    values: dict[str, Any] | None,
) -> Any:
    """The compare-and-set shared by scripts and outcomes."""
    kind = model.__tablename__.rstrip("s")
    if expected is None:
        sources = {state for state, nxt in edges.items() if wanted in nxt}
    elif isinstance(expected, str):
        sources = {expected}
    else:
        sources = set(expected)
    sources = {state for state in sources if wanted in edges[state]}

    current = session.scalar(select(model.status).where(model.id == ident))
    if current is None:
        raise NotFound(f"{kind} {ident} does not exist")
    if current not in sources:
        raise IllegalTransition(kind, ident, current, wanted)

    changed = session.execute(
        update(model)
        .where(model.id == ident, model.status == current)
        .values(status=wanted, updated_at=utcnow(), **(values or {}))
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        latest = session.scalar(select(model.status).where(model.id == ident))
        raise IllegalTransition(kind, ident, latest or current, wanted)
    log.debug("%s %s: %s -> %s", kind, ident, current, wanted)
    return current


def transition_script(
    session: Session,
    script_id: int,
    wanted: ScriptStatus,
    *,
    expected: ScriptStatus | Collection[ScriptStatus] | None = None,
    values: dict[str, Any] | None = None,
) -> ScriptStatus:
    """Move one script to ``wanted`` atomically and return the state it left.

    ``expected`` narrows the states the caller accepts to start from; by default
    any state with an edge to ``wanted`` will do. ``values`` are other columns
    written by the same statement. Raises :class:`IllegalTransition` naming the
    current and the wanted state when no edge exists or another writer won.
    """
    left: ScriptStatus = _transition(
        session, Script, SCRIPT_TRANSITIONS, script_id, wanted, expected, values
    )
    return left


def transition_outcome(
    session: Session,
    outcome_id: int,
    wanted: OutcomeStatus,
    *,
    expected: OutcomeStatus | Collection[OutcomeStatus] | None = None,
    values: dict[str, Any] | None = None,
) -> OutcomeStatus:
    """Move one outcome to ``wanted`` atomically; as :func:`transition_script`."""
    left: OutcomeStatus = _transition(
        session, Outcome, OUTCOME_TRANSITIONS, outcome_id, wanted, expected, values
    )
    return left


def transition_outcomes(
    session: Session,
    outcome_ids: Iterable[int],
    wanted: OutcomeStatus,
    *,
    expected: Collection[OutcomeStatus],
    values: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Move many outcomes at once; returns the ids that did move.

    Outcomes in any other state are left alone: this is for sweeps (expiry,
    cancellation) where losing a race to a device's result is expected.
    """
    sources = [s for s in expected if can_transition_outcome(s, wanted)]
    if not sources:
        raise ValueError(f"no state in {sorted(expected)} may become {wanted}")
    ids = list(outcome_ids)
    moved: list[int] = []
    # Chunks keep the IN list under every database's parameter limit.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        result = session.execute(
            update(Outcome)
            .where(Outcome.id.in_(chunk), Outcome.status.in_(sources))
            .values(status=wanted, updated_at=now or utcnow(), **(values or {}))
            .returning(Outcome.id)
            .execution_options(synchronize_session=False)
        )
        moved.extend(result.scalars())
    return moved


def transition_scripts(
    session: Session,
    script_ids: Iterable[int],
    wanted: ScriptStatus,
    *,
    expected: Collection[ScriptStatus],
    values: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Move many scripts at once; returns the ids that did move.

    Each row is its own compare-and-set, so of two backends launching the same
    scripts together each script moves for exactly one of them.
    """
    sources = [s for s in expected if can_transition_script(s, wanted)]
    if not sources:
        raise ValueError(f"no state in {sorted(expected)} may become {wanted}")
    ids = list(script_ids)
    moved: list[int] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        result = session.execute(
            update(Script)
            .where(Script.id.in_(chunk), Script.status.in_(sources))
            .values(status=wanted, updated_at=now or utcnow(), **(values or {}))
            .returning(Script.id)
            .execution_options(synchronize_session=False)
        )
        moved.extend(result.scalars())
    return moved
