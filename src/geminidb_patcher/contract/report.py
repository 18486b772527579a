"""The report every run produces (``RunReport``): outcomes, errors, the rollout, jobs, compliance, next steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from geminidb_patcher.contract.base import Strict
from geminidb_patcher.contract.reasons import ANOTHER_RUN, WaitingFor, reason_of
from geminidb_patcher.contract.request import (
    Mode,
    Target,
    Trigger,
)

OutcomeKind = Literal["submitted", "rejected", "failed", "skipped", "deferred", "planned"]

OUTCOME_KINDS: tuple[OutcomeKind, ...] = ("submitted", "rejected", "failed", "skipped", "deferred", "planned")


class Outcome(Strict):
    """What happened to one instance in scope."""

    instance_id: str
    instance_name: str | None = None
    engine: str | None = None
    region: str | None
    """``None`` only for ``not_found`` in a run over several targets: an ID found in none belongs to none."""
    project_id: str | None
    outcome: OutcomeKind
    job_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    reason: str | None = None
    """A code of the reasons table (``contract/reasons.py``); ``status`` reads ``status_<status>``."""
    detail: str | None = None
    wave: str | None = None
    next_window_at: datetime | None = None
    version: str | None = None
    maintenance_window: str | None = None
    estimate_minutes: int | None = None
    """How long its upgrade may take, as the window checks judged it (planned and window-held instances)."""

    @field_validator("reason")
    @classmethod
    def _a_known_reason(cls, value: str | None) -> str | None:
        if value is not None and reason_of(value) is None:
            raise ValueError(f"{value!r} is not a reason of the table")
        return value


class TargetError(Strict):
    """A target the run could not observe; its instances have no outcome, the run is not ok."""

    region: str
    project_id: str
    error_code: str | None
    error_message: str


class JobRecord(Strict):
    """An upgrade job the run saw: running now, or ended within ``lookback``."""

    job_id: str
    instance_id: str
    instance_name: str | None
    region: str
    project_id: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    progress: str | None = None
    fail_reason: str | None = None


class WaveStatus(Strict):
    """Where one wave stands."""

    name: str
    instances: int
    pending: int
    """Instances of the wave that still need the patch."""
    failed: int
    ready: bool
    """Whether this wave may submit in this run."""
    detail: str
    waits_for: str | None = None
    """The earlier wave this one waits for, when it is not ready."""
    opens_at: datetime | None = None
    """When this wave opens, when all it waits for is a bake to end."""


class Rollout(Strict):
    """The limits of the run and how much of them is used."""

    in_scope: int
    in_flight_before: int
    max_in_flight: int
    errors_before: int
    errors_this_run: int
    max_errors: int
    error_budget_exhausted: bool
    waves: list[WaveStatus] = []


class TriggerSource(Strict):
    """Where a scheduled run came from: EventBridge's event or execution ID, the schedule or rule, the time."""

    kind: str
    """``aws.scheduler`` (EventBridge Scheduler) or ``aws.events`` (an EventBridge rule)."""
    event_id: str | None = None
    schedule_arn: str | None = None
    scheduled_time: str | None = None


class DurationEstimate(Strict):
    """How long an upgrade of one engine and node count takes here: the history the run read, the estimate used."""

    engine: str
    nodes: int
    samples: int
    """Completed upgrade jobs of such instances within the rollout's lookback."""
    p90_minutes: int | None
    guide_minutes: int
    """Huawei's documented figure."""
    estimate_minutes: int
    source: str


class ApprovalSource(Strict):
    """The approval link an apply came from: which link (its ID, never the token), for which plan, and who pressed."""

    kind: Literal["approval_link"] = "approval_link"
    token_id: str
    plan_id: str
    issued_at: datetime
    expires_at: datetime
    caller_ip: str | None = None
    user_agent: str | None = None


class ApprovalOffer(Strict):
    """A plan run's approval link: its ID and expiry, or why there is none. The URL itself is never dumped (logs,
    answers): it is a bearer capability, carried only to the notification channels and the CLI."""

    token_id: str | None = None
    expires_at: datetime | None = None
    unavailable: str | None = None
    """Why this plan has no link (the request does not fit in one)."""
    url: str | None = Field(default=None, exclude=True, repr=False)


class EngineCompliance(Strict):
    """How far one engine of one target is behind: every instance the run read, in scope or not."""

    region: str
    project_id: str
    engine: str
    instances: int
    current: int
    """No patch offered (``patch_available`` false: Huawei allows no patch now), and not on a version older than the
    newest of the same engine and major version that the run read."""
    behind: int
    """A patch is offered, or the instance is on an older version than one the fleet shows (``older_version``)."""
    behind_not_patchable: int
    """Behind, and held for something only an operator can change (engine, status, nodes, a failed upgrade)."""
    ratio: float
    """``current / instances``."""
    versions: dict[str, int]
    """``whole_version`` (Cassandra's only), else the major ``version``, else ``unknown`` → instances."""
    no_patch_offered: int = 0
    """``patch_available`` false: what the API says, which is "patching is not allowed", not "up to date"."""
    older_version: int = 0
    """No patch offered, yet on an older ``whole_version`` than another instance of the engine and major version."""


class NextStep(Strict):
    """Instances behind that this run held back for one thing, and when they are expected to go."""

    waiting_for: WaitingFor
    instances: int
    earliest_at: datetime | None = None
    """The first moment one of them may go (a window opening, a blackout or a bake ending), when known."""
    latest_at: datetime | None = None
    within_a_day: int = 0
    """How many of them may go within 24 hours of the run (only those with a known moment)."""
    wave: str | None = None
    """For ``wave``: the earlier wave they wait for."""


ANSWER_OUTCOMES = 5_000
"""Outcomes an invocation's answer carries at most: about 2.7 MB of JSON, under Lambda's 6 MB response limit.

The log's ``run_outcomes`` records always hold every outcome; only the answer is bounded.
"""

ANSWER_JOBS = 2_000
"""Jobs an answer carries at most (about 0.7 MB of JSON); the log's ``run_jobs`` records hold every one."""

_JOBS_FIRST = {"Failed": 0, "Running": 1}

_ATTENTION_FIRST = {"failed": 0, "rejected": 1, "deferred": 2, "skipped": 3, "submitted": 4, "planned": 5}


class RunReport(Strict):
    """The record of one run: every instance in scope with exactly one outcome."""

    run_id: str
    trigger: Trigger
    mode: Mode
    started_at: datetime
    finished_at: datetime
    targets: list[Target]
    counts: dict[OutcomeKind, int]
    outcomes: list[Outcome]
    upgrade_results: list[dict[str, Any]]
    errors: list[TargetError] = []
    notes: list[str] = []
    plan_id: str | None = None
    rollout: Rollout | None = None
    jobs: list[JobRecord] = []
    source: TriggerSource | ApprovalSource | None = None
    approval: ApprovalOffer | None = None
    """A plan run's link to review and apply exactly this plan (when approvals are configured)."""
    durations: list[DurationEstimate] = []
    """The upgrade durations learned from the jobs the run read, per engine and node count (empty: no history)."""
    compliance: list[EngineCompliance] = []
    next_steps: list[NextStep] = []
    complete: bool = True
    """False when a target could not be observed or a batch met an unexpected fault; ``notes`` says which."""

    @property
    def held_by_another_run(self) -> bool:
        """Whether another run's apply lease kept something of this run from being sent (busy: try again later)."""
        return any(outcome.reason == ANOTHER_RUN for outcome in self.outcomes)

    def as_answer(self, limit: int = ANSWER_OUTCOMES, job_limit: int = ANSWER_JOBS) -> dict[str, Any]:
        """The report as an invocation's JSON answer: at most ``limit`` outcomes and upgrade results, and at most
        ``job_limit`` jobs, whatever the fleet's size.

        A bigger run answers with every count and field but those lists cut, what needs attention first (failed,
        rejected, deferred, skipped, then submitted and planned outcomes; failed jobs, then running, then the
        rest), and an ``omitted`` block saying how many are left out and where every one of them is.
        """
        if len(self.outcomes) <= limit and len(self.upgrade_results) <= limit and len(self.jobs) <= job_limit:
            return self.model_dump(mode="json")
        body = self.model_dump(mode="json", exclude={"outcomes", "upgrade_results", "jobs"})
        kept = sorted(self.outcomes, key=lambda outcome: _ATTENTION_FIRST.get(outcome.outcome, 6))[:limit]
        failed_first = sorted(self.upgrade_results, key=lambda result: not result.get("error_code"))[:limit]
        jobs = sorted(self.jobs, key=lambda job: _JOBS_FIRST.get(job.status, 3))[:job_limit]
        body["outcomes"] = [outcome.model_dump(mode="json") for outcome in kept]
        body["upgrade_results"] = failed_first
        body["jobs"] = [job.model_dump(mode="json") for job in jobs]
        body["omitted"] = {
            "outcomes": len(self.outcomes) - len(kept),
            "upgrade_results": len(self.upgrade_results) - len(failed_first),
            "jobs": len(self.jobs) - len(jobs),
            "where": (
                f"every outcome is in the run_outcomes log records of run {self.run_id}, every job in its "
                "run_jobs records"
            ),
        }
        return body
