"""The report step: counts, notes, completeness, and every upstream text scrubbed and capped once."""

from __future__ import annotations

from datetime import timedelta

from geminidb_patcher.contract.report import Outcome, TargetError
from geminidb_patcher.contract.request import RunRequest, Target
from geminidb_patcher.run.report import MAX_UPSTREAM_TEXT, RunRecord, build_report, sealed
from tests.helpers import NOW

TARGET = Target(region="ap-southeast-1", project_id="0" * 32)


def _record(**fields: object) -> RunRecord:
    values: dict[str, object] = {
        "run_id": "run-1", "trigger": "schedule", "source": None, "request": RunRequest(mode="apply"),
        "started_at": NOW, "targets": [TARGET], "errors": [], "plan": None, "outcomes": [], "upgrade_results": [],
        "compliance": [], "next_steps": [],
    }  # fmt: skip
    return RunRecord(**{**values, **fields})  # type: ignore[arg-type]


def _outcome(kind: str, **fields: object) -> Outcome:
    return Outcome(instance_id="i-1", region=TARGET.region, project_id=TARGET.project_id, outcome=kind, **fields)  # type: ignore[arg-type]


def test_counts_cover_every_outcome_kind_and_a_target_not_read_makes_the_run_incomplete() -> None:
    error = TargetError(region="r", project_id="p", error_code="APIG.0308", error_message="throttled")
    report = build_report(_record(outcomes=[_outcome("submitted", job_id="j")], errors=[error]), NOW, [])
    assert report.counts == {"submitted": 1, "rejected": 0, "failed": 0, "skipped": 0, "deferred": 0, "planned": 0}
    assert not report.complete and report.notes[0].startswith("The run is incomplete: 1 target(s)")


def test_the_lease_notes_and_unknown_channels_reach_the_notes() -> None:
    record = _record(request=RunRequest(mode="apply", notify=["pager"]), lease_notes=["Overlapping applies …"])
    report = build_report(record, NOW + timedelta(seconds=3), ["slack"])
    assert report.complete and report.notes == [
        "notify names channels that are not configured: pager.",
        "Overlapping applies …",
    ]


def test_sealed_scrubs_each_upstream_text_and_caps_it() -> None:
    secret = "AKIAVERYSECRET"
    long_text = f"echo {secret} " + "x" * (2 * MAX_UPSTREAM_TEXT)
    record = _record(outcomes=[_outcome("failed", error_code="E", error_message=long_text)])
    report = sealed(build_report(record, NOW, []), lambda text: text.replace(secret, "****"))
    message = report.outcomes[0].error_message or ""
    assert secret not in message and len(message) <= MAX_UPSTREAM_TEXT and message.startswith("echo ****")
