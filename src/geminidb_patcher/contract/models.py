"""The request both triggers share and the report every run produces."""

from __future__ import annotations

import functools
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from geminidb_patcher.contract.reasons import WaitingFor, reason_of
from geminidb_patcher.errors import RequestLimitError
from geminidb_patcher.ids import INSTANCE_ID_PATTERN, PROJECT_ID_PATTERN, REGION_PATTERN

Engine = Literal["cassandra", "influxdb", "redis"]
SUPPORTED_ENGINES: frozenset[str] = frozenset(get_args(Engine))
"""The engines the batch API patches, from the one ``Engine`` literal."""
Mode = Literal["plan", "apply"]
Trigger = Literal["schedule", "webhook", "direct", "cli"]
OutcomeKind = Literal["submitted", "rejected", "failed", "skipped", "deferred", "planned"]
OUTCOME_KINDS: tuple[OutcomeKind, ...] = ("submitted", "rejected", "failed", "skipped", "deferred", "planned")

InstanceId = Annotated[str, StringConstraints(pattern=INSTANCE_ID_PATTERN)]
ProjectId = Annotated[str, StringConstraints(pattern=PROJECT_ID_PATTERN)]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN, max_length=32)]
TAG_KEY_PATTERN = r"^[A-Za-z0-9_.:=+@/-]{1,128}$"
TAG_VALUE_PATTERN = r"^[A-Za-z0-9_.:=+@/ -]{0,255}$"
TagKey = Annotated[str, StringConstraints(pattern=TAG_KEY_PATTERN)]
TagValue = Annotated[str, StringConstraints(pattern=TAG_VALUE_PATTERN)]
Limit = Annotated[int, Field(ge=0, le=100_000)] | Annotated[str, StringConstraints(pattern=r"^(100|[1-9]?[0-9])%$")]
"""A count, or a percentage of the instances in scope such as ``"25%"``."""
ChannelName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MAX_INSTANCE_IDS = 1000
MAX_TARGETS = 20
MAX_WAVES = 10
MAX_BLACKOUTS = 50
MAX_JOB_HISTORY = timedelta(days=30)


EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(9000, 1, 1, tzinfo=UTC)
"""Blackouts lie in this range, so time arithmetic on them can never overflow."""
NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})
"""Files in the zone database that are not time zones (the host's own zone, a placeholder, a rule file)."""


@functools.cache
def iana_zones() -> frozenset[str]:
    """The IANA time zone names this interpreter knows (system zones or the bundled ``tzdata``)."""
    return frozenset(zoneinfo.available_timezones()) - NOT_ZONES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """One project in one region."""

    region: Region
    project_id: ProjectId


class Selector(_Strict):
    """Which instances of a target are in scope when no explicit IDs are given."""

    engines: Annotated[list[Engine], Field(min_length=1, max_length=3)] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="Exact instance name, or '*text' for names containing 'text' (Huawei's rule)."
    )
    modes: (
        Annotated[list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{1,32}$")]], Field(max_length=8)] | None
    ) = Field(default=None, description="Instance modes such as 'Cluster', 'RedisCluster', 'Replication'.")
    tags: Annotated[dict[TagKey, list[TagValue]], Field(max_length=20)] | None = Field(
        default=None,
        description="Every key must be present with one of the listed values; an empty list accepts any value.",
    )
    exclude_ids: Annotated[list[InstanceId], Field(max_length=MAX_INSTANCE_IDS)] = []


class ExplicitWindow(_Strict):
    """A daily window in an IANA time zone, optionally on some weekdays only; may wrap past midnight."""

    start: time
    end: time
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "UTC"
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7)] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in iana_zones():
            raise ValueError(f"'{value[:64]}' is not an IANA time zone such as 'Europe/Berlin' or 'UTC'")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("give start and end as local HH:MM and the zone in 'timezone'")
        return self


WindowSpec = Literal["instance", "anytime"] | ExplicitWindow


class Blackout(_Strict):
    """A period during which nothing is submitted, whatever the trigger."""

    start: AwareDatetime
    end: AwareDatetime
    reason: Annotated[str, StringConstraints(max_length=200)] = ""

    @field_validator("start", "end")
    @classmethod
    def _in_range(cls, value: datetime) -> datetime:
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            utc = None
        if utc is None or not EARLIEST_MOMENT <= utc <= LATEST_MOMENT:
            raise ValueError(f"must lie between {EARLIEST_MOMENT:%Y-%m-%d} and {LATEST_MOMENT:%Y-%m-%d} UTC")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Wave(_Strict):
    """One step of a rollout: the instances its selector matches that no earlier wave took."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    selector: Selector = Selector()


class RunRequest(_Strict):
    """What to do in one run; the schedule's Input and the webhook's body."""

    mode: Mode = "plan"
    targets: Annotated[list[Target], Field(min_length=1, max_length=MAX_TARGETS)] | None = None
    instance_ids: Annotated[list[InstanceId], Field(min_length=1, max_length=MAX_INSTANCE_IDS)] | None = None
    selector: Selector | None = None
    window: WindowSpec | None = Field(
        default=None, description="Default: 'instance' for schedules, 'anytime' for webhook and direct runs."
    )
    blackouts: Annotated[list[Blackout], Field(max_length=MAX_BLACKOUTS)] = []
    max_in_flight: Limit = Field(default="25%", description="Upgrades running at once, fleet-wide.")
    max_errors: Limit = Field(default=0, description="Errors tolerated before submissions stop.")
    waves: Annotated[list[Wave], Field(min_length=1, max_length=MAX_WAVES)] | None = None
    bake: timedelta = Field(default=timedelta(hours=1), description="Wait after a wave's last job completed.")
    lookback: timedelta = Field(
        default=timedelta(hours=1), description="Jobs that ended this recently are reported (the schedule's period)."
    )
    rollout_lookback: timedelta = Field(
        default=timedelta(days=7), description="How far back failed jobs count against max_errors (≤ 30 days)."
    )
    reverify_after: timedelta = Field(
        default=timedelta(days=1),
        description="After this long since its last upgrade completed, a patch still offered is taken for a new one.",
    )
    expected_plan_id: Annotated[str, StringConstraints(pattern=r"^p-[0-9a-f]{16}$")] | None = None
    notify: Annotated[list[ChannelName], Field(max_length=20)] | bool = Field(
        default=True, description="false: no notifications; a list: only these configured channels."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.instance_ids is not None and self.selector is not None:
            raise ValueError("give instance_ids or selector, not both")
        for name in ("bake", "lookback", "rollout_lookback", "reverify_after"):
            value: timedelta = getattr(self, name)
            if not timedelta(0) <= value <= MAX_JOB_HISTORY:
                raise ValueError(f"{name} must be between 0 and 30 days")
        if self.waves is not None and len({wave.name for wave in self.waves}) != len(self.waves):
            raise ValueError("wave names must be unique")
        if self.expected_plan_id is not None and self.mode != "apply":
            raise ValueError("expected_plan_id is only meaningful with mode 'apply'")
        return self


class Outcome(_Strict):
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

    @field_validator("reason")
    @classmethod
    def _a_known_reason(cls, value: str | None) -> str | None:
        if value is not None and reason_of(value) is None:
            raise ValueError(f"{value!r} is not a reason of the table")
        return value


class TargetError(_Strict):
    """A target the run could not observe; its instances have no outcome, the run is not ok."""

    region: str
    project_id: str
    error_code: str | None
    error_message: str


class JobRecord(_Strict):
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


class WaveStatus(_Strict):
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


class Rollout(_Strict):
    """The limits of the run and how much of them is used."""

    in_scope: int
    in_flight_before: int
    max_in_flight: int
    errors_before: int
    errors_this_run: int
    max_errors: int
    error_budget_exhausted: bool
    waves: list[WaveStatus] = []


class TriggerSource(_Strict):
    """Where a scheduled run came from: EventBridge's event or execution ID, the schedule or rule, the time."""

    kind: str
    """``aws.scheduler`` (EventBridge Scheduler) or ``aws.events`` (an EventBridge rule)."""
    event_id: str | None = None
    schedule_arn: str | None = None
    scheduled_time: str | None = None


class EngineCompliance(_Strict):
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


class NextStep(_Strict):
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


FLEET = "all"
"""The engine name of a fleet-wide compliance total."""


def _engine(entry: EngineCompliance) -> str:
    return entry.engine


def compliance_totals(
    entries: Iterable[EngineCompliance],
    *,
    with_fleet: bool = False,
    by: Callable[[EngineCompliance], str] = _engine,
) -> dict[str, Counter[str]]:
    """``instances``, ``current``, ``behind``, ``stuck`` (behind, needing an operator), ``no_patch`` (no patch
    offered) and ``older`` (no patch offered, older version) summed per engine (or per
    ``by`` of each entry, e.g. its target), keys sorted; with ``with_fleet``, also the whole fleet under ``FLEET``."""
    totals: dict[str, Counter[str]] = {}
    for entry in entries:
        for key in (by(entry), FLEET) if with_fleet else (by(entry),):
            totals.setdefault(key, Counter()).update(
                instances=entry.instances,
                current=entry.current,
                behind=entry.behind,
                stuck=entry.behind_not_patchable,
                no_patch=entry.no_patch_offered,
                older=entry.older_version,
            )
    return dict(sorted(totals.items()))


def current_share(tally: Counter[str]) -> float:
    """``current / instances`` of a ``compliance_totals`` tally; 1.0 when it counts no instance."""
    return tally["current"] / tally["instances"] if tally["instances"] else 1.0


ANSWER_OUTCOMES = 5_000
"""Outcomes an invocation's answer carries at most: about 2.7 MB of JSON, under Lambda's 6 MB response limit.

The log's ``run_outcomes`` records always hold every outcome; only the answer is bounded.
"""
ANSWER_JOBS = 2_000
"""Jobs an answer carries at most (about 0.7 MB of JSON); the log's ``run_jobs`` records hold every one."""
_JOBS_FIRST = {"Failed": 0, "Running": 1}
_ATTENTION_FIRST = {"failed": 0, "rejected": 1, "deferred": 2, "skipped": 3, "submitted": 4, "planned": 5}


class RunReport(_Strict):
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
    source: TriggerSource | None = None
    compliance: list[EngineCompliance] = []
    next_steps: list[NextStep] = []
    complete: bool = True
    """False when a target could not be observed or a batch met an unexpected fault; ``notes`` says which."""

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


def enforce_limits(request: RunRequest, *, max_instance_ids: int, max_targets: int) -> None:
    """Raise ``RequestLimitError`` when the request names more IDs or targets than configured (after de-duplication)."""
    problems = []
    if request.instance_ids is not None and len(set(request.instance_ids)) > max_instance_ids:
        problems.append(
            {"field": "instance_ids", "rule": "limit", "message": f"at most {max_instance_ids} distinct IDs"}
        )
    if request.targets is not None and len(set(request.targets)) > max_targets:
        problems.append({"field": "targets", "rule": "limit", "message": f"at most {max_targets} distinct targets"})
    if problems:
        raise RequestLimitError(problems)
