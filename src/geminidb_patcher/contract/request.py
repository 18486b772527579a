"""The request both triggers share (``RunRequest``), its parts, and this deployment's limits on it."""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    AwareDatetime,
    Discriminator,
    Field,
    PlainValidator,
    StringConstraints,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from geminidb_patcher.contract.base import Strict
from geminidb_patcher.errors import RequestLimitError
from geminidb_patcher.ids import INSTANCE_ID_PATTERN, PROJECT_ID_PATTERN, REGION_PATTERN

Engine = Literal["cassandra", "influxdb", "redis"]

SUPPORTED_ENGINES: frozenset[str] = frozenset(get_args(Engine))
"""The engines the batch API patches, from the one ``Engine`` literal."""
ENGINE_NAMES = {
    "cassandra": "Cassandra",
    "influxdb": "Influx",
    "redis": "Redis",
    "mongodb": "MongoDB",
    "dynamodb": "DynamoDB",
    "hbase": "HBase",
}
"""GeminiDB's own names for the engines ListInstances reports in lower case."""


def engine_name(engine: str | None) -> str:
    """How a person reads ``engine``: GeminiDB's name, else the value capitalised."""
    return ENGINE_NAMES.get(engine or "", (engine or "unknown").capitalize())


Mode = Literal["plan", "apply"]

Trigger = Literal["schedule", "webhook", "direct", "cli", "approval"]

InstanceId = Annotated[str, StringConstraints(pattern=INSTANCE_ID_PATTERN)]

ProjectId = Annotated[str, StringConstraints(pattern=PROJECT_ID_PATTERN)]

Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN, max_length=32)]

TAG_KEY_PATTERN = r"^[A-Za-z0-9_.:=+@/-]{1,128}$"

TAG_VALUE_PATTERN = r"^[A-Za-z0-9_.:=+@/ -]{0,255}$"

TagKey = Annotated[str, StringConstraints(pattern=TAG_KEY_PATTERN)]

TagValue = Annotated[str, StringConstraints(pattern=TAG_VALUE_PATTERN)]

LIMIT_MESSAGE = "must be a whole number from 0 to 100000, or a percentage from 0% to 100% such as '25%'"
_PERCENT = re.compile(r"^(100|[1-9]?[0-9])%$")


def _limit(value: Any) -> int | str:
    """A count from 0 to 100,000, or a percentage such as ``"25%"``; one sentence for anything else."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100_000:
        return value
    if isinstance(value, str) and _PERCENT.fullmatch(value):
        return value
    raise PydanticCustomError("limit", LIMIT_MESSAGE)


Limit = Annotated[
    int | str,
    PlainValidator(_limit),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 100_000},
                {"type": "string", "pattern": _PERCENT.pattern},
            ]
        }
    ),
]
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


class Target(Strict):
    """One project in one region."""

    region: Region
    project_id: ProjectId


class Selector(Strict):
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


class ExplicitWindow(Strict):
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


WINDOW_MESSAGE = "must be 'instance', 'anytime', or an object with start, end (HH:MM), timezone and optional days"


def _named_window(value: Any) -> Literal["instance", "anytime"]:
    if value == "instance" or value == "anytime":
        return "instance" if value == "instance" else "anytime"
    raise PydanticCustomError("window", WINDOW_MESSAGE)


UNION_TAGS = frozenset({"named", "explicit", "channels", "flag", "listed", "discovered"})
"""The shapes of the fields written in several shapes; an error's path names the shape, which a user never wrote."""


def _window_shape(value: Any) -> str | None:
    """Which shape a window was written in; ``None`` (a number, a list…) is refused with one sentence."""
    if isinstance(value, str):
        return "named"
    return "explicit" if isinstance(value, dict | ExplicitWindow) else None


WindowSpec = Annotated[
    Annotated[
        Literal["instance", "anytime"],
        PlainValidator(_named_window),
        WithJsonSchema({"type": "string", "enum": ["instance", "anytime"]}),
        Tag("named"),
    ]
    | Annotated[ExplicitWindow, Tag("explicit")],
    Discriminator(_window_shape, custom_error_type="window", custom_error_message=WINDOW_MESSAGE),
]


NOTIFY_MESSAGE = "must be true, false, or a list of configured channel names"
TARGETS_MESSAGE = "must be a list of {region, project_id} or 'all' (every project the credentials reach)"


def _targets_shape(value: Any) -> str | None:
    """``listed`` for a list, ``discovered`` for ``"all"``; anything else is refused with one sentence."""
    if isinstance(value, list):
        return "listed"
    return "discovered" if value == "all" else None


def _notify_shape(value: Any) -> str | None:
    """``flag`` for true/false, ``channels`` for a list; ``None`` is refused with one sentence."""
    if isinstance(value, bool):
        return "flag"
    return "channels" if isinstance(value, list) else None


class Blackout(Strict):
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


MIN_BACKUP_AGE = timedelta(hours=1)


class BackupRequirement(Strict):
    """A fresh full backup before each patch: the last COMPLETED one must have ended within ``within``."""

    within: timedelta = Field(description="How recent the last completed full backup must be (PT1H to P30D).")
    create: bool = Field(
        default=False,
        description="Start a manual backup (apply only) for an instance that lacks one; it is patched on the first "
        "run after that backup has completed.",
    )

    @field_validator("within")
    @classmethod
    def _in_range(cls, value: timedelta) -> timedelta:
        if not MIN_BACKUP_AGE <= value <= MAX_JOB_HISTORY:
            raise ValueError("must be between 1 hour and 30 days")
        return value


class Wave(Strict):
    """One step of a rollout: the instances its selector matches that no earlier wave took."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    selector: Selector = Selector()


class RunRequest(Strict):
    """What to do in one run; the schedule's Input and the webhook's body."""

    mode: Mode = "plan"
    targets: (
        Annotated[
            Annotated[list[Target], Field(min_length=1, max_length=MAX_TARGETS), Tag("listed")]
            | Annotated[Literal["all"], Tag("discovered")],
            Discriminator(_targets_shape, custom_error_type="targets", custom_error_message=TARGETS_MESSAGE),
        ]
        | None
    ) = Field(
        default=None,
        description="'all': every region project (and sub-project) the credentials reach, found through IAM.",
    )
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
    backup: BackupRequirement | None = Field(
        default=None, description="Patch only instances with a recent completed full backup (ListBackups v4)."
    )
    expected_plan_id: Annotated[str, StringConstraints(pattern=r"^p-[0-9a-f]{16}$")] | None = None
    notify: Annotated[
        Annotated[list[ChannelName], Field(max_length=20), Tag("channels")] | Annotated[bool, Tag("flag")],
        Discriminator(_notify_shape, custom_error_type="notify", custom_error_message=NOTIFY_MESSAGE),
    ] = Field(default=True, description="false: no notifications; a list: only these configured channels.")

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


def enforce_limits(request: RunRequest, *, max_instance_ids: int, max_targets: int) -> None:
    """Raise ``RequestLimitError`` when the request names more IDs or targets than configured (after de-duplication)."""
    problems = []
    if request.instance_ids is not None and len(set(request.instance_ids)) > max_instance_ids:
        problems.append(
            {"field": "instance_ids", "rule": "limit", "message": f"at most {max_instance_ids} distinct IDs"}
        )
    if isinstance(request.targets, list) and len(set(request.targets)) > max_targets:
        problems.append({"field": "targets", "rule": "limit", "message": f"at most {max_targets} distinct targets"})
    if problems:
        raise RequestLimitError(problems)
