"""Deterministic run reports for digest and channel tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from geminidb_patcher.contract.report import OUTCOME_KINDS, JobRecord, Outcome, Rollout, RunReport, TargetError
from geminidb_patcher.contract.request import Target

TARGET = Target(region="ap-southeast-1", project_id="0123456789abcdef0123456789abcdef")
STARTED = datetime(2026, 11, 27, 2, 5, tzinfo=UTC)
ENGINES = ("cassandra", "influxdb", "redis")


def _outcome(number: int, kind: str, **fields: object) -> Outcome:
    return Outcome(
        instance_id=f"{number:032x}in06",
        instance_name=f"{ENGINES[number % 3]}-{number:04d}",
        engine=ENGINES[number % 3],
        region=TARGET.region,
        project_id=TARGET.project_id,
        outcome=kind,  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def ended_job(number: int, status: str, minutes_ago: int, fail_reason: str | None = None) -> JobRecord:
    """An upgrade job of instance ``number`` that ended ``minutes_ago`` before the run started."""
    return JobRecord(
        job_id=f"job-{number:04d}",
        instance_id=f"{number:032x}in06",
        instance_name=f"{ENGINES[number % 3]}-{number:04d}",
        region=TARGET.region,
        project_id=TARGET.project_id,
        status=status,
        started_at=STARTED - timedelta(minutes=minutes_ago + 20),
        ended_at=STARTED - timedelta(minutes=minutes_ago),
        fail_reason=fail_reason,
    )


def report(outcomes: list[Outcome], jobs: list[JobRecord] | None = None, **fields: object) -> RunReport:
    counts = {kind: sum(1 for o in outcomes if o.outcome == kind) for kind in OUTCOME_KINDS}
    return RunReport(
        run_id="5f0c3d9e-1b2a-4c6d-8e7f-0a1b2c3d4e5f",
        trigger="schedule",
        mode="apply",
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=12),
        targets=[TARGET],
        counts=counts,
        outcomes=outcomes,
        upgrade_results=[],
        plan_id="p-3f0c2a9be1d47a65",
        jobs=jobs or [],
        **fields,  # type: ignore[arg-type]
    )


def small_run() -> RunReport:
    """Three submitted, two skipped, one deferred, one job completed."""
    outcomes = [_outcome(n, "submitted", job_id=f"job-{n:04d}") for n in range(3)]
    outcomes += [_outcome(10, "skipped", reason="no_patch_available"), _outcome(11, "skipped", reason="busy")]
    outcomes.append(_outcome(12, "deferred", reason="max_in_flight"))
    job = ended_job(99, "Completed", 30)
    return report(outcomes, [job])


def failing_run() -> RunReport:
    """A rejection, a failed batch, a failed job with its reason, a spent error budget."""
    outcomes = [
        _outcome(0, "submitted", job_id="job-0000"),
        _outcome(1, "rejected", error_code="DBS.200018", error_message="A node's status does not allow it."),
        _outcome(2, "failed", error_code="DBS.200998", error_message="500 DBS.200998: Injected fault."),
        _outcome(3, "deferred", reason="error_budget_exhausted"),
        _outcome(4, "skipped", reason="last_upgrade_failed"),
    ]
    job = ended_job(4, "Failed", 5, "Node restart timed out.")
    rollout = Rollout(
        in_scope=5,
        in_flight_before=0,
        max_in_flight=5,
        errors_before=1,
        errors_this_run=2,
        max_errors=0,
        error_budget_exhausted=True,
    )
    error = TargetError(region="eu-west-101", project_id="f" * 32, error_code="APIG.0301", error_message="401")
    return report(outcomes, [job], rollout=rollout, errors=[error], notes=["The error budget is spent."])


def large_run(count: int = 2000) -> RunReport:
    """``count`` submitted instances with long names, as a big apply would report."""
    outcomes = [_outcome(n, "submitted", job_id=f"{n:08x}-7d3e-4c1a-9b2f-5e6d7c8b9a0f") for n in range(count)]
    return report(outcomes)
