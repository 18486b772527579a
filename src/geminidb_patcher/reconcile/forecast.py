"""What happens next: for instances behind that a run held back on timing or rollout limits, when they may go."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from geminidb_patcher.contract.reasons import REASONS, WAITING_FOR, WaitingFor, reason_of
from geminidb_patcher.contract.report import NextStep, Outcome, WaveStatus
from geminidb_patcher.reconcile.plan import Plan

"""Hold reasons that time or the rollout clears, and what each waits for; the others need an operator."""
A_DAY = timedelta(hours=24)


@dataclass(frozen=True)
class _Waiting:
    waiting_for: WaitingFor
    at: datetime | None
    wave: str | None


def _waits(plan: Plan, acted: Iterable[Outcome]) -> list[_Waiting]:
    """One entry per behind instance held for a reason time or the rollout clears."""
    statuses: dict[str, WaveStatus] = {status.name: status for status in plan.rollout.waves}
    found = []
    for hold in plan.holds:
        waiting_for = REASONS[hold.reason].waits_for
        if waiting_for is None or hold.instance is None or not hold.instance.patch_available:
            continue
        at, wave = hold.next_opening, None
        if waiting_for == "window" and at is None:  # a window that never fits the upgrade
            waiting_for = "no_window"
        if waiting_for == "wave" and hold.wave in statuses:  # the plan gave the hold its wave's opening already
            wave = statuses[hold.wave].waits_for
        found.append(_Waiting(waiting_for, at, wave))
    for outcome in acted:  # deferred while acting: every batched instance is behind
        reason = reason_of(outcome.reason)
        waits_for = REASONS[reason].waits_for if reason else None
        if outcome.outcome == "deferred" and waits_for is not None:
            found.append(_Waiting(waits_for, None, None))
    return found


def forecast(plan: Plan | None, acted: Sequence[Outcome], now: datetime) -> list[NextStep]:
    """Groups by what they wait for (and the wave), in ``WAITING_FOR`` order, with their first and last moment."""
    if plan is None:
        return []
    groups: dict[tuple[WaitingFor, str | None], list[datetime | None]] = {}
    for waiting in _waits(plan, acted):
        groups.setdefault((waiting.waiting_for, waiting.wave), []).append(waiting.at)
    steps = []
    ordered = sorted(groups.items(), key=lambda group: (WAITING_FOR.index(group[0][0]), group[0][1] or ""))
    for (waiting_for, wave), moments in ordered:
        known = [moment for moment in moments if moment is not None]
        steps.append(
            NextStep(
                waiting_for=waiting_for,
                instances=len(moments),
                earliest_at=min(known, default=None),
                latest_at=max(known, default=None),
                within_a_day=sum(1 for moment in known if moment <= now + A_DAY),
                wave=wave,
            )
        )
    return steps
