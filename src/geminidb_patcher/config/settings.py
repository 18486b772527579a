"""Configuration: a pure function of the environment, read once per cold start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Json, ValidationError

from geminidb_patcher.aws.dynamodb import dynamodb_endpoint
from geminidb_patcher.contract.problems import describe_problems
from geminidb_patcher.contract.request import (
    MAX_BLACKOUTS,
    MAX_INSTANCE_IDS,
    MAX_TARGETS,
    SUPPORTED_ENGINES,
    TAG_KEY_PATTERN,
    Blackout,
    Engine,
    Target,
)
from geminidb_patcher.errors import ConfigError
from geminidb_patcher.ids import check_project_id, check_region
from geminidb_patcher.notify.config import ChannelConfig, ChannelConfigError, parse_channels
from geminidb_patcher.reconcile.observe import DEFAULT_DR_ROLE_TAG
from geminidb_patcher.urls import check_url

ENV_REGION = "HUAWEICLOUD_REGION"
ENV_PROJECT_ID = "HUAWEICLOUD_SDK_PROJECT_ID"
ENV_ENDPOINT = "GEMINIDB_ENDPOINT"
ENV_ENDPOINTS = "GEMINIDB_ENDPOINTS"
ENV_IAM_ENDPOINT = "HUAWEICLOUD_SDK_IAM_ENDPOINT"
ENV_SECRET_ID = "PATCHER_SECRET_ID"
ENV_NOTIFY_URL = "NOTIFY_WEBHOOK_URL"
ENV_NOTIFY_CHANNELS = "NOTIFY_CHANNELS"
ENV_NOTIFY_FAILS_RUN = "NOTIFY_FAILURE_FAILS_RUN"
NOTIFY_WEBHOOK_SECRET_NAME = "NOTIFY_WEBHOOK_SECRET"
ENV_WEBHOOK_AUTH = "WEBHOOK_AUTH"
ENV_WEBHOOK_API_URL = "WEBHOOK_API_URL"
ENV_APPROVAL_TTL = "APPROVAL_TTL"
ENV_TARGETS = "PATCHER_TARGETS"
ENV_MAX_BODY_BYTES = "MAX_BODY_BYTES"
ENV_MAX_INSTANCE_IDS = "MAX_INSTANCE_IDS"
ENV_MAX_TARGETS = "MAX_TARGETS"
ENV_SUBMIT_CONCURRENCY = "SUBMIT_CONCURRENCY"
ENV_DEADLINE_MARGIN_MS = "DEADLINE_MARGIN_MS"
ENV_CONNECT_TIMEOUT = "HTTP_CONNECT_TIMEOUT"
ENV_READ_TIMEOUT = "HTTP_READ_TIMEOUT"
ENV_WEBHOOK_TOLERANCE = "WEBHOOK_TOLERANCE_SECONDS"
ENV_BLACKOUTS = "PATCHER_BLACKOUTS"
ENV_DR_ROLE_TAG = "PATCHER_DR_ROLE_TAG"
ENV_PATCH_ENGINES = "GEMINIDB_PATCH_ENGINES"
ENV_LOCK_TABLE = "PATCHER_LOCK_TABLE"
ENV_LOCK_TERM = "PATCHER_LOCK_TERM_SECONDS"
ENV_LOCK_WAIT = "PATCHER_LOCK_WAIT_SECONDS"
ENV_AWS_REGIONS = ("AWS_REGION", "AWS_DEFAULT_REGION")
ENV_DYNAMODB_ENDPOINTS = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL")
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_TAG_KEY = re.compile(TAG_KEY_PATTERN)


@dataclass(frozen=True)
class LockSettings:
    """The DynamoDB table of the apply lease and the webhook IDs, and the lease's timing."""

    table: str
    region: str
    endpoint: str
    term_seconds: float = 120.0
    wait_seconds: float = 10.0


@dataclass(frozen=True)
class Settings:
    """Everything configurable, validated."""

    default_target: Target | None
    endpoint_override: str | None
    region_endpoints: dict[str, str]
    iam_endpoint_override: str | None
    secret_id: str | None
    submit_concurrency: int
    deadline_margin_ms: int
    connect_timeout: float
    read_timeout: float
    webhook_tolerance_seconds: int
    blackouts: tuple[Blackout, ...] = ()
    channels: tuple[ChannelConfig, ...] = ()
    notify_failure_fails_run: bool = False
    webhook_auth: str = "signature"
    max_body_bytes: int = 65_536
    max_instance_ids: int = MAX_INSTANCE_IDS
    max_targets: int = MAX_TARGETS
    dr_role_tag: str = DEFAULT_DR_ROLE_TAG
    patch_engines: dict[str, frozenset[str]] = field(default_factory=dict)
    """region → the engines its batch patch API accepts, where configured (overrides the site table)."""
    lock: LockSettings | None = None
    """Where the apply lease lives; ``None``: applies are not guarded against each other (local runs, the demo)."""
    webhook_api_url: str | None = None
    """The webhook API's public base URL: approval links are made under it (``None``: no links)."""
    approval_ttl: timedelta = timedelta(hours=12)
    """How long an approval link works."""
    discover_targets: bool = False
    """``PATCHER_TARGETS=all``: a request without ``targets`` runs on every project IAM lists (``"all"``)."""


def _bounded(default: float, low: float, high: float, alias: str) -> Any:
    """A number variable: a finite value from ``low`` to ``high``, ``default`` when unset."""
    return Field(default, ge=low, le=high, allow_inf_nan=False, validation_alias=alias)


PATCH_ENGINES_PROBLEM = (
    'must be a JSON object of region → list of engines, e.g. {"ap-southeast-1": ["cassandra", "influxdb"]}; '
    f"engines from {', '.join(sorted(SUPPORTED_ENGINES))}"
)
SHAPES = {
    ENV_ENDPOINTS: "must be a JSON object of region to URL",
    ENV_PATCH_ENGINES: PATCH_ENGINES_PROBLEM,
    ENV_NOTIFY_FAILS_RUN: "must be true or false",
    ENV_WEBHOOK_AUTH: "must be 'signature' or 'iam'",
    ENV_APPROVAL_TTL: "must be an ISO 8601 duration from PT5M to P7D, e.g. PT12H",
    ENV_TARGETS: "must be 'all' (every project IAM lists) or 'default' (HUAWEICLOUD_REGION and project)",
}
"""What a variable of a fixed shape must look like, said whatever pydantic found wrong with it."""


class Environment(BaseModel):
    """The variables with a plain shape (numbers, flags, choices, JSON documents), validated by pydantic under
    their own names; the ones that depend on each other are assembled in ``load_settings``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    submit_concurrency: float = _bounded(2, 1, 16, ENV_SUBMIT_CONCURRENCY)
    deadline_margin_ms: float = _bounded(20_000, 0, 600_000, ENV_DEADLINE_MARGIN_MS)
    connect_timeout: float = _bounded(3.05, 0.1, 60, ENV_CONNECT_TIMEOUT)
    read_timeout: float = _bounded(20, 0.1, 120, ENV_READ_TIMEOUT)
    webhook_tolerance_seconds: float = _bounded(300, 1, 3600, ENV_WEBHOOK_TOLERANCE)
    max_body_bytes: float = _bounded(65_536, 1024, 1_048_576, ENV_MAX_BODY_BYTES)
    max_instance_ids: float = _bounded(MAX_INSTANCE_IDS, 1, MAX_INSTANCE_IDS, ENV_MAX_INSTANCE_IDS)
    max_targets: float = _bounded(MAX_TARGETS, 1, MAX_TARGETS, ENV_MAX_TARGETS)
    lock_term_seconds: float = _bounded(120, 5, 900, ENV_LOCK_TERM)
    lock_wait_seconds: float = _bounded(10, 0, 60, ENV_LOCK_WAIT)
    notify_failure_fails_run: bool = Field(False, validation_alias=ENV_NOTIFY_FAILS_RUN)
    webhook_auth: Annotated[Literal["signature", "iam"], BeforeValidator(lambda v: str(v).strip().lower())] = Field(
        "signature", validation_alias=ENV_WEBHOOK_AUTH
    )
    region_endpoints: Json[dict[str, str]] = Field(default_factory=dict, validation_alias=ENV_ENDPOINTS)
    patch_engines: Json[dict[str, list[Engine]]] = Field(default_factory=dict, validation_alias=ENV_PATCH_ENGINES)
    blackouts: Json[Annotated[list[Blackout], Field(max_length=MAX_BLACKOUTS)]] = Field(
        default_factory=list, validation_alias=ENV_BLACKOUTS
    )
    targets: Literal["all", "default"] = Field("default", validation_alias=ENV_TARGETS)
    approval_ttl: timedelta = Field(
        timedelta(hours=12), ge=timedelta(minutes=5), le=timedelta(days=7), validation_alias=ENV_APPROVAL_TTL
    )

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> Environment:
        """The variables that are set (an empty value is unset); ``ConfigError`` names the first bad one."""
        aliases = {str(info.validation_alias) for info in cls.model_fields.values()}
        given = {name: value for name, value in environ.items() if name in aliases and value.strip()}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            raise ConfigError(_problem(exc)) from None


def _problem(exc: ValidationError) -> str:
    """The first error as ``NAME <what it must be>``; never the value."""
    first = exc.errors(include_input=False, include_url=False)[0]
    name, kind = str(first["loc"][0]), first["type"]
    if name == ENV_BLACKOUTS:
        if kind == "too_long":
            return f"{ENV_BLACKOUTS} holds more than {MAX_BLACKOUTS} blackouts"
        inner = describe_problems([{**first, "loc": first["loc"][1:]}], whole="value")[0]
        return f"{ENV_BLACKOUTS} is not a JSON list of {{start, end, reason}}: {inner['field']}: {inner['message']}"
    if name in SHAPES:
        return f"{name} {SHAPES[name]}"
    if kind in ("greater_than_equal", "less_than_equal"):
        field = next(info for info in Environment.model_fields.values() if info.validation_alias == name)
        low, high = (next(getattr(m, bound) for m in field.metadata if hasattr(m, bound)) for bound in ("ge", "le"))
        return f"{name} must be between {low:g} and {high:g}"
    return f"{name} must be a number"


def _region_endpoints(parsed: dict[str, str]) -> dict[str, str]:
    endpoints = {}
    for region, url in parsed.items():
        try:
            check_region(region)
        except ValueError:
            raise ConfigError(f"{ENV_ENDPOINTS} has a key that is not a region") from None
        endpoints[region] = check_url(ENV_ENDPOINTS, url)
    return endpoints


def _dr_role_tag(environ: Mapping[str, str]) -> str:
    tag = environ.get(ENV_DR_ROLE_TAG) or DEFAULT_DR_ROLE_TAG
    if not _TAG_KEY.fullmatch(tag) or len(tag) > 36:  # the tag query takes keys of at most 36 characters
        raise ConfigError(f"{ENV_DR_ROLE_TAG} is not a tag key (1 to 36 letters, digits or _ . : = + @ / -)")
    return tag


def _patch_engines(parsed: dict[str, list[Engine]]) -> dict[str, frozenset[str]]:
    engines: dict[str, frozenset[str]] = {}
    for region, names in parsed.items():
        try:
            check_region(region)
        except ValueError:
            raise ConfigError(f"{ENV_PATCH_ENGINES} {PATCH_ENGINES_PROBLEM}") from None
        engines[region] = frozenset(names)
    return engines


def channel_configs(environ: Mapping[str, str], notify_url: str | None) -> tuple[ChannelConfig, ...]:
    """``NOTIFY_CHANNELS`` (JSON), plus the single ``NOTIFY_WEBHOOK_URL`` as a channel named ``webhook``."""
    raw = environ.get(ENV_NOTIFY_CHANNELS) or ""
    try:
        configured = parse_channels(raw, ENV_NOTIFY_CHANNELS) if raw.strip() else []
    except ChannelConfigError as exc:
        raise ConfigError(str(exc)) from None
    if notify_url:
        if any(channel.name == "webhook" for channel in configured):
            raise ConfigError(f"{ENV_NOTIFY_URL} adds a channel named 'webhook'; {ENV_NOTIFY_CHANNELS} has one too")
        configured.append(
            ChannelConfig(
                name="webhook", type="webhook", url=notify_url, secret=NOTIFY_WEBHOOK_SECRET_NAME, notify_on="always"
            )
        )
    return tuple(configured)


def _lock(environ: Mapping[str, str], values: Environment) -> LockSettings | None:
    table = (environ.get(ENV_LOCK_TABLE) or "").strip()
    if not table:
        return None
    if not _TABLE_NAME.fullmatch(table):
        raise ConfigError(f"{ENV_LOCK_TABLE} is not a DynamoDB table name (3 to 255 letters, digits, '_', '-', '.')")
    region = next((environ[name] for name in ENV_AWS_REGIONS if environ.get(name)), "")
    if not _AWS_REGION.fullmatch(region):
        raise ConfigError(f"{ENV_LOCK_TABLE} needs the table's AWS region in AWS_REGION (Lambda sets it)")
    configured = next((name for name in ENV_DYNAMODB_ENDPOINTS if environ.get(name)), None)
    endpoint = check_url(configured, environ[configured]) if configured else dynamodb_endpoint(region)
    return LockSettings(
        table=table,
        region=region,
        endpoint=endpoint,
        term_seconds=values.lock_term_seconds,
        wait_seconds=values.lock_wait_seconds,
    )


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Validate the environment into ``Settings``; ``ConfigError`` names the first bad variable, never its value."""
    values = Environment.read(environ)
    region, project_id = environ.get(ENV_REGION), environ.get(ENV_PROJECT_ID)
    target = None
    if region or project_id:
        if not (region and project_id):
            raise ConfigError(f"set both {ENV_REGION} and {ENV_PROJECT_ID}, or neither")
        try:
            check_region(region)
        except ValueError:
            raise ConfigError(f"{ENV_REGION} is not a region ID such as ap-southeast-1") from None
        try:
            check_project_id(project_id)
        except ValueError:
            raise ConfigError(f"{ENV_PROJECT_ID} is not a project ID (32 lower-case hex digits)") from None
        target = Target(region=region, project_id=project_id)
    endpoint = environ.get(ENV_ENDPOINT) or None
    iam_endpoint = environ.get(ENV_IAM_ENDPOINT) or None
    notify_url = environ.get(ENV_NOTIFY_URL) or None
    checked_notify_url = check_url(ENV_NOTIFY_URL, notify_url) if notify_url else None
    api_url = environ.get(ENV_WEBHOOK_API_URL, "").strip() or None
    return Settings(
        default_target=target,
        endpoint_override=check_url(ENV_ENDPOINT, endpoint) if endpoint else None,
        region_endpoints=_region_endpoints(values.region_endpoints),
        iam_endpoint_override=check_url(ENV_IAM_ENDPOINT, iam_endpoint) if iam_endpoint else None,
        secret_id=environ.get(ENV_SECRET_ID) or None,
        submit_concurrency=int(values.submit_concurrency),
        deadline_margin_ms=int(values.deadline_margin_ms),
        connect_timeout=values.connect_timeout,
        read_timeout=values.read_timeout,
        webhook_tolerance_seconds=int(values.webhook_tolerance_seconds),
        blackouts=tuple(values.blackouts),
        channels=channel_configs(environ, checked_notify_url),
        notify_failure_fails_run=values.notify_failure_fails_run,
        webhook_auth=values.webhook_auth,
        max_body_bytes=int(values.max_body_bytes),
        max_instance_ids=int(values.max_instance_ids),
        max_targets=int(values.max_targets),
        dr_role_tag=_dr_role_tag(environ),
        patch_engines=_patch_engines(values.patch_engines),
        lock=_lock(environ, values),
        webhook_api_url=check_url(ENV_WEBHOOK_API_URL, api_url) if api_url else None,
        approval_ttl=values.approval_ttl,
        discover_targets=values.targets == "all",
    )
