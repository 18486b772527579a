"""The report step: one ``RunReport`` from what the run observed, planned and did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from geminidb_patcher.contract.report import (
    OUTCOME_KINDS,
    ApprovalSource,
    DurationEstimate,
    EngineCompliance,
    NextStep,
    Outcome,
    RunReport,
    TargetError,
    TriggerSource,
)
from geminidb_patcher.contract.request import RunRequest, Target, Trigger
from geminidb_patcher.errors import InternalError
from geminidb_patcher.reconcile.budget import settle
from geminidb_patcher.reconcile.durations import Durations
from geminidb_patcher.reconcile.plan import Plan
from geminidb_patcher.reconcile.windows import minutes_up
from geminidb_patcher.redaction import clip

INTERNAL_ERROR_CODE = InternalError.error_code


@dataclass(frozen=True)
class RunRecord:
    """Everything one run produced, before it is a report."""

    run_id: str
    trigger: Trigger
    source: TriggerSource | ApprovalSource | None
    request: RunRequest
    started_at: datetime
    targets: list[Target]
    errors: list[TargetError]
    plan: Plan | None
    outcomes: list[Outcome]
    upgrade_results: list[dict[str, Any]]
    compliance: list[EngineCompliance]
    next_steps: list[NextStep]
    lease_notes: list[str] = field(default_factory=list)
    """What the apply lease meant for this run: targets another run held, or that applies were not guarded."""


def notes(request: RunRequest, channels: Collection[str], budget_spent: bool) -> list[str]:
    """What the reader of the report should know that no outcome says."""
    found = []
    if request.instance_ids and len(set(request.instance_ids)) != len(request.instance_ids):
        found.append("Duplicate instance_ids were removed.")
    if isinstance(request.targets, list) and len(set(request.targets)) != len(request.targets):
        found.append("Duplicate targets were removed.")
    if isinstance(request.notify, list):
        unknown = sorted(set(request.notify) - set(channels))
        if unknown:
            found.append(f"notify names channels that are not configured: {', '.join(unknown)}.")
    if budget_spent:
        found.append("The error budget is spent: nothing more is submitted until an operator acts.")
    return found


def incompleteness(errors: Sequence[TargetError], outcomes: Sequence[Outcome]) -> str | None:
    """Why the run did not see or decide everything it should have, in a sentence; ``None`` when it did."""
    internal = sum(1 for outcome in outcomes if outcome.error_code == INTERNAL_ERROR_CODE)
    parts = []
    if errors:
        parts.append(f"{len(errors)} target(s) could not be observed (see errors)")
    if internal:
        parts.append(f"{internal} instance(s) met an unexpected fault while being submitted")
    return f"The run is incomplete: {'; '.join(parts)}." if parts else None


def build_report(record: RunRecord, finished_at: datetime, channels: Sequence[str]) -> RunReport:
    """The ``RunReport``: counts per outcome, the rollout with this run's errors settled, notes."""
    counts = Counter(outcome.outcome for outcome in record.outcomes)
    rollout = settle(record.plan.rollout, record.outcomes) if record.plan else None
    incomplete = incompleteness(record.errors, record.outcomes)
    return RunReport(
        run_id=record.run_id,
        trigger=record.trigger,
        mode=record.request.mode,
        started_at=record.started_at,
        finished_at=finished_at,
        targets=record.targets,
        counts={kind: counts.get(kind, 0) for kind in OUTCOME_KINDS},
        outcomes=record.outcomes,
        upgrade_results=record.upgrade_results,
        errors=record.errors,
        notes=[
            *([incomplete] if incomplete else []),
            *notes(record.request, channels, bool(rollout and rollout.error_budget_exhausted)),
            *record.lease_notes,
        ],
        complete=incomplete is None,
        plan_id=record.plan.plan_id if record.plan else None,
        rollout=rollout,
        jobs=list(record.plan.jobs) if record.plan else [],
        source=record.source,
        compliance=record.compliance,
        next_steps=record.next_steps,
        durations=duration_estimates(record.plan.durations) if record.plan else [],
    )


def duration_estimates(durations: Durations) -> list[DurationEstimate]:
    """The learned durations for the report, by engine and node count."""
    return [
        DurationEstimate(
            engine=bucket.engine,
            nodes=bucket.nodes,
            samples=bucket.samples,
            p90_minutes=minutes_up(bucket.quantile) if bucket.quantile is not None else None,
            guide_minutes=minutes_up(bucket.guide),
            estimate_minutes=minutes_up(bucket.estimate.duration),
            source=bucket.estimate.source,
        )
        for _, bucket in sorted(durations.buckets.items())
    ]


MAX_UPSTREAM_TEXT = 1_000
"""The longest upstream text a report carries in one field (an error message, a fail reason, a detail)."""


def sealed(report: RunReport, scrub: Callable[[str], str]) -> RunReport:
    """``report`` with every text that may carry upstream words scrubbed and capped.

    Huawei's, IAM's and the channels' error texts reach outcomes, errors, notes, jobs and upgrade results; any of
    them may echo a credential. Each distinct text is scrubbed once (fleets repeat a few texts many times).
    """
    seen: dict[str, str] = {}

    def clean(text: str | None) -> str | None:
        if text is None:
            return None
        if text not in seen:
            seen[text] = clip(scrub(text), MAX_UPSTREAM_TEXT)
        return seen[text]

    def clean_any(value: Any) -> Any:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, dict):
            return {key: clean_any(item) for key, item in value.items()}
        if isinstance(value, list):
            return [clean_any(item) for item in value]
        return value

    def outcome(item: Outcome) -> Outcome:
        texts = (item.error_message, item.detail)
        cleaned = tuple(clean(text) for text in texts)
        if cleaned == texts:
            return item
        return item.model_copy(update={"error_message": cleaned[0], "detail": cleaned[1]})

    return report.model_copy(
        update={
            "outcomes": [outcome(item) for item in report.outcomes],
            "errors": [e.model_copy(update={"error_message": clean(e.error_message)}) for e in report.errors],
            "notes": [clean(note) or "" for note in report.notes],
            "jobs": [
                job if job.fail_reason is None else job.model_copy(update={"fail_reason": clean(job.fail_reason)})
                for job in report.jobs
            ],
            "upgrade_results": [
                item if "error_message" not in item and "error_msg" not in item else clean_any(item)
                for item in report.upgrade_results
            ],
        }
    )
