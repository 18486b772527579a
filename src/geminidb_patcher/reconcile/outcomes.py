"""One outcome per instance in scope: the plan's holds, and its batches as planned (a plan) or as acted on (act)."""

from __future__ import annotations

from datetime import datetime
from typing import Required, TypedDict, Unpack

from geminidb_patcher.contract.reasons import Reason, reason_code
from geminidb_patcher.contract.report import Outcome, OutcomeKind
from geminidb_patcher.contract.request import Target
from geminidb_patcher.reconcile.plan import Plan
from geminidb_patcher.reconcile.snapshot import InstanceView
from geminidb_patcher.reconcile.windows import minutes_up

_EVERY_FIELD = set(Outcome.model_fields)
"""The field names every outcome gives, one set for all: pydantic keeps one per object otherwise (35 MB at 50,000)."""


class OutcomeFields(TypedDict, total=False):
    """What a step says about an instance beyond who it is: the outcome and its particulars."""

    outcome: Required[OutcomeKind]
    detail: str | None
    wave: str | None
    next_window_at: datetime | None
    job_id: str | None
    error_code: str | None
    error_message: str | None
    estimate_minutes: int | None


_UNSAID: OutcomeFields = {
    "outcome": "planned",
    "detail": None,
    "wave": None,
    "next_window_at": None,
    "job_id": None,
    "error_code": None,
    "error_message": None,
    "estimate_minutes": None,
}
"""Unless a step says otherwise."""


def outcome_for(
    target: Target | None,
    instance_id: str,
    instance: InstanceView | None,
    reason: Reason | None = None,
    **fields: Unpack[OutcomeFields],
) -> Outcome:
    """The outcome of one instance of ``target``; ``instance`` is ``None`` when the API does not know it.

    ``reason`` is a row of the reasons table; the outcome carries its code (``status_<status>`` for ``status``).
    Every value is already typed (the view was validated at the adapter, mypy checks these parameters), so the
    outcome is built with pydantic's ``model_construct``, giving every field and sharing one field-name set.
    """
    return Outcome.model_construct(
        _EVERY_FIELD,
        instance_id=instance_id,
        instance_name=instance.name if instance else None,
        engine=instance.engine if instance else None,
        region=target.region if target else None,
        project_id=target.project_id if target else None,
        reason=reason_code(reason, instance.status if instance else "") if reason else None,
        version=instance.version or None if instance else None,
        maintenance_window=instance.maintenance_window or None if instance else None,
        **(_UNSAID | fields),
    )


WINDOW_REASONS = frozenset({"outside_maintenance_window", "window_too_short", "blackout"})
"""Holds the upgrade's estimated duration decided: their outcomes carry it."""


def _minutes(result: Plan, instance: InstanceView) -> int:
    return minutes_up(result.durations.for_instance(instance).duration)


def held(result: Plan) -> list[Outcome]:
    """Outcomes of the plan's holds."""
    return [
        outcome_for(
            hold.target,
            hold.instance_id,
            hold.instance,
            outcome=hold.outcome,
            reason=hold.reason,
            detail=hold.detail,
            wave=hold.wave,
            next_window_at=hold.next_opening,
            estimate_minutes=_minutes(result, hold.instance)
            if hold.instance is not None and hold.reason in WINDOW_REASONS
            else None,
        )
        for hold in result.holds
    ]


def planned(result: Plan) -> list[Outcome]:
    """``planned`` outcomes for what the batches would submit (a plan run's; an apply builds submitted ones)."""
    found: list[Outcome] = []
    for number, batch in enumerate(result.batches, start=1):
        detail = f"Would be submitted in batch {number} of {len(result.batches)} ({batch.engine})."
        found.extend(
            outcome_for(
                batch.target,
                instance.id,
                instance,
                outcome="planned",
                wave=batch.waves[index] if index < len(batch.waves) else None,
                detail=detail,
                estimate_minutes=_minutes(result, instance),
            )
            for index, instance in enumerate(batch.instances)
        )
    return found
