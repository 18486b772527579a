"""One outcome per instance in scope: the plan's holds, and its batches as planned (a plan) or as acted on (act)."""

from __future__ import annotations

from typing import Any

from geminidb_patcher.contract.reasons import Reason, reason_code
from geminidb_patcher.contract.report import Outcome
from geminidb_patcher.contract.request import Target
from geminidb_patcher.reconcile.plan import Plan
from geminidb_patcher.reconcile.snapshot import InstanceView

_FIELDS_SET: dict[frozenset[str], set[str]] = {}


def _share_fields_set(outcome: Outcome) -> Outcome:
    """``outcome`` with its set of given field names shared with every outcome given the same names.

    pydantic keeps that set per object (about 700 bytes, half an outcome's memory: 35 MB at 50,000 instances).
    ``Outcome`` is frozen, so the set is never changed after validation, and ``model_copy`` copies it.
    """
    names = outcome.__pydantic_fields_set__
    shared = _FIELDS_SET.setdefault(frozenset(names), set(names))
    object.__setattr__(outcome, "__pydantic_fields_set__", shared)
    return outcome


def outcome_for(
    target: Target | None, instance_id: str, instance: InstanceView | None, reason: Reason | None = None, **fields: Any
) -> Outcome:
    """The outcome of one instance of ``target``; ``instance`` is ``None`` when the API does not know it.

    ``reason`` is a row of the reasons table; the outcome carries its code (``status_<status>`` for ``status``).
    """
    return _share_fields_set(
        Outcome(
            instance_id=instance_id,
            instance_name=instance.name if instance else None,
            engine=instance.engine if instance else None,
            version=instance.version or None if instance else None,
            maintenance_window=instance.maintenance_window or None if instance else None,
            reason=reason_code(reason, instance.status if instance else "") if reason else None,
            region=target.region if target else None,
            project_id=target.project_id if target else None,
            **fields,
        )
    )


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
            )
            for index, instance in enumerate(batch.instances)
        )
    return found
