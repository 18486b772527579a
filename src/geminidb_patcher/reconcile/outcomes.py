"""One outcome per instance in scope: from the plan's holds and batches; act adds the submitted ones."""

from __future__ import annotations

from typing import Any

from geminidb_patcher.models import Outcome, Target
from geminidb_patcher.reconcile.plan import Plan
from geminidb_patcher.reconcile.snapshot import InstanceView


def outcome_for(target: Target, instance_id: str, instance: InstanceView | None, **fields: Any) -> Outcome:
    """The outcome of one instance of ``target``; ``instance`` is ``None`` when the API does not know it."""
    return Outcome(
        instance_id=instance_id,
        instance_name=instance.name if instance else None,
        engine=instance.engine if instance else None,
        version=instance.version or None if instance else None,
        maintenance_window=instance.maintenance_window or None if instance else None,
        region=target.region,
        project_id=target.project_id,
        **fields,
    )


def held_and_planned(result: Plan) -> tuple[list[Outcome], list[Outcome]]:
    """Outcomes of the plan's holds, and ``planned`` outcomes for what the batches would submit."""
    held = [
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
    planned = [
        outcome_for(
            batch.target,
            instance.id,
            instance,
            outcome="planned",
            wave=batch.waves[index] if index < len(batch.waves) else None,
            detail=f"Would be submitted in batch {number} of {len(result.batches)} ({batch.engine}).",
        )
        for number, batch in enumerate(result.batches, start=1)
        for index, instance in enumerate(batch.instances)
    ]
    return held, planned
