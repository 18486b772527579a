"""The invocation's answer stays under Lambda's response limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from geminidb_patcher.contract.report import ANSWER_JOBS, ANSWER_OUTCOMES, JobRecord, Outcome
from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.notify.dispatch import Notifier
from geminidb_patcher.run.publish import Publisher
from geminidb_patcher.telemetry import logger, metrics
from tests.reports import TARGET, failing_run, report, small_run

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
CLOUDWATCH_EVENT_LIMIT = 256 * 1024


def _many(count: int) -> list[Outcome]:
    kinds = ("submitted", "skipped", "failed", "planned")
    return [
        Outcome(
            instance_id=f"{n:032x}in06",
            instance_name=f"db-{n:06d}",
            engine="cassandra",
            region=TARGET.region,
            project_id=TARGET.project_id,
            outcome=kinds[n % 4],  # type: ignore[arg-type]
            job_id=f"{n:08x}-0000-4000-8000-000000000000" if n % 4 == 0 else None,
            reason="no_patch_available" if n % 4 == 1 else None,
            error_code="DBS.200998" if n % 4 == 2 else None,
            detail="Would be submitted in batch 1 of 5000 (cassandra)." if n % 4 == 3 else None,
            maintenance_window="02:00-06:00",
            version="3.11.5.4",
        )
        for n in range(count)
    ]


def test_a_small_report_answers_in_full() -> None:
    for run in (small_run(), failing_run()):
        assert run.as_answer() == run.model_dump(mode="json")


def test_a_big_report_answers_under_the_lambda_limit_with_what_needs_attention_first() -> None:
    outcomes = _many(50_000)
    results = [{"instance_id": o.instance_id, "job_id": o.job_id} for o in outcomes if o.job_id]
    results += [{"instance_id": o.instance_id, "error_code": "DBS.200998"} for o in outcomes if o.error_code]
    big = report(outcomes).model_copy(update={"upgrade_results": results})

    answer = big.as_answer()

    assert len(json.dumps(answer).encode()) < LAMBDA_RESPONSE_LIMIT
    assert answer["counts"] == big.model_dump(mode="json")["counts"]
    assert len(answer["outcomes"]) == ANSWER_OUTCOMES
    assert {o["outcome"] for o in answer["outcomes"]} == {"failed"}  # 12,500 failed, more than the answer holds
    assert answer["upgrade_results"][0]["error_code"] == "DBS.200998"
    assert answer["omitted"]["outcomes"] == 50_000 - ANSWER_OUTCOMES
    assert answer["omitted"]["upgrade_results"] == len(results) - ANSWER_OUTCOMES
    assert big.run_id in answer["omitted"]["where"]


def _running_jobs(count: int) -> list[JobRecord]:
    started = datetime(2026, 11, 27, 2, tzinfo=UTC)
    return [
        JobRecord(
            job_id=f"{n:08x}-1111-4000-8000-000000000000",
            instance_id=f"{n:032x}in06",
            instance_name=f"db-{n:06d}",
            region=TARGET.region,
            project_id=TARGET.project_id,
            status="Failed" if n % 1000 == 0 else "Running",
            started_at=started,
            ended_at=None,
            progress="40%",
            fail_reason="Node restart timed out during the patch." if n % 1000 == 0 else None,
        )
        for n in range(count)
    ]


def test_fifty_thousand_instances_with_12500_running_upgrades_answer_under_6_mb_failed_jobs_first() -> None:
    big = report(_many(50_000), _running_jobs(12_500))
    answer = big.as_answer()
    assert len(json.dumps(answer).encode()) < LAMBDA_RESPONSE_LIMIT
    assert len(answer["jobs"]) == ANSWER_JOBS and answer["omitted"]["jobs"] == 12_500 - ANSWER_JOBS
    assert [job["status"] for job in answer["jobs"][:13]] == ["Failed"] * 13
    assert "run_jobs" in answer["omitted"]["where"]


def test_every_log_record_of_that_run_is_under_cloudwatchs_256_kb(capsys: pytest.CaptureFixture[str]) -> None:
    big = report(_many(50_000), _running_jobs(12_500))
    Publisher(Notifier([]), logger, metrics).publish(big, RunRequest())
    metrics.flush_metrics()
    lines = capsys.readouterr().out.splitlines()
    assert lines and max(len(line.encode()) for line in lines) < CLOUDWATCH_EVENT_LIMIT
    records = [json.loads(line) for line in lines]
    jobs = [job for record in records if record.get("message") == "run_jobs" for job in record["jobs"]]
    outcomes = [o for record in records if record.get("message") == "run_outcomes" for o in record["outcomes"]]
    assert len(jobs) == 12_500 and len(outcomes) == 50_000
