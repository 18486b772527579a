"""The request both triggers share and the report every run produces."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from geminidb_patcher.ids import INSTANCE_ID_PATTERN, PROJECT_ID_PATTERN, REGION_PATTERN

Engine = Literal["cassandra", "influxdb", "redis"]
SUPPORTED_ENGINES: frozenset[str] = frozenset({"cassandra", "influxdb", "redis"})
Mode = Literal["plan", "apply"]
Trigger = Literal["schedule", "webhook", "direct"]
OutcomeKind = Literal["submitted", "rejected", "failed", "skipped", "deferred", "planned"]
OUTCOME_KINDS: tuple[OutcomeKind, ...] = ("submitted", "rejected", "failed", "skipped", "deferred", "planned")

InstanceId = Annotated[str, StringConstraints(pattern=INSTANCE_ID_PATTERN)]
ProjectId = Annotated[str, StringConstraints(pattern=PROJECT_ID_PATTERN)]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN, max_length=32)]
MAX_INSTANCE_IDS = 1000
MAX_TARGETS = 20


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
    exclude_ids: Annotated[list[InstanceId], Field(max_length=MAX_INSTANCE_IDS)] = []


class RunRequest(_Strict):
    """What to do in one run; the schedule's Input and the webhook's body."""

    mode: Mode = "plan"
    targets: Annotated[list[Target], Field(min_length=1, max_length=MAX_TARGETS)] | None = None
    instance_ids: Annotated[list[InstanceId], Field(min_length=1, max_length=MAX_INSTANCE_IDS)] | None = None
    selector: Selector | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> Self:
        if self.instance_ids is not None and self.selector is not None:
            raise ValueError("give instance_ids or selector, not both")
        return self


class Outcome(_Strict):
    """What happened to one instance in scope."""

    instance_id: str
    instance_name: str | None = None
    engine: str | None = None
    region: str
    project_id: str
    outcome: OutcomeKind
    job_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    reason: str | None = None
    detail: str | None = None


class TargetError(_Strict):
    """A target the run could not observe; its instances have no outcome, the run is not ok."""

    region: str
    project_id: str
    error_code: str | None
    error_message: str


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


def describe_problems(
    errors: Iterable[Mapping[str, Any]], *, skip_loc: int = 0, whole: str = "body"
) -> list[dict[str, str]]:
    """Validation errors as ``{field, rule, message}``, without the offending input (it may hold secrets)."""
    return [
        {
            "field": ".".join(str(part) for part in tuple(error.get("loc", ()))[skip_loc:]) or whole,
            "rule": str(error.get("type", "invalid")),
            "message": str(error.get("msg", "")),
        }
        for error in errors
    ]
