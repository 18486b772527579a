"""Configuration: a pure function of the environment, read once per cold start."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import TypeAdapter, ValidationError

from geminidb_patcher.aws.dynamodb import dynamodb_endpoint
from geminidb_patcher.contract.problems import describe_problems
from geminidb_patcher.contract.request import (
    MAX_BLACKOUTS,
    MAX_INSTANCE_IDS,
    MAX_TARGETS,
    SUPPORTED_ENGINES,
    TAG_KEY_PATTERN,
    Blackout,
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
ENV_MAX_BODY_BYTES = "MAX_BODY_BYTES"
ENV_MAX_INSTANCE_IDS = "MAX_INSTANCE_IDS"
ENV_MAX_TARGETS = "MAX_TARGETS"
WEBHOOK_AUTH_MODES = ("signature", "iam")
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
_BLACKOUTS = TypeAdapter(list[Blackout])


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


def _number(environ: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}")
    return value


def _region_endpoints(environ: Mapping[str, str]) -> dict[str, str]:
    raw = environ.get(ENV_ENDPOINTS) or ""
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{ENV_ENDPOINTS} must be a JSON object of region to URL") from None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise ConfigError(f"{ENV_ENDPOINTS} must be a JSON object of region to URL")
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


def _patch_engines(environ: Mapping[str, str]) -> dict[str, frozenset[str]]:
    raw = environ.get(ENV_PATCH_ENGINES)
    if not raw:
        return {}
    problem = (
        f'{ENV_PATCH_ENGINES} must be a JSON object of region → list of engines, e.g. {{"ap-southeast-1": '
        f'["cassandra", "influxdb"]}}; engines from {", ".join(sorted(SUPPORTED_ENGINES))}'
    )
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise ConfigError(problem) from None
    if not isinstance(document, dict):
        raise ConfigError(problem)
    engines: dict[str, frozenset[str]] = {}
    for region, names in document.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and n in SUPPORTED_ENGINES for n in names):
            raise ConfigError(problem)
        try:
            check_region(str(region))
        except ValueError:
            raise ConfigError(problem) from None
        engines[str(region)] = frozenset(names)
    return engines


def _blackouts(environ: Mapping[str, str]) -> tuple[Blackout, ...]:
    raw = environ.get(ENV_BLACKOUTS) or ""
    if not raw.strip():
        return ()
    try:
        parsed = _BLACKOUTS.validate_json(raw)
    except ValidationError as exc:
        first = describe_problems(exc.errors(include_input=False, include_url=False), whole="value")[0]
        raise ConfigError(
            f"{ENV_BLACKOUTS} is not a JSON list of {{start, end, reason}}: {first['field']}: {first['message']}"
        ) from None
    if len(parsed) > MAX_BLACKOUTS:
        raise ConfigError(f"{ENV_BLACKOUTS} holds more than {MAX_BLACKOUTS} blackouts")
    return tuple(parsed)


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


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = (environ.get(name) or "false").strip().lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name} must be true or false")
    return raw in ("true", "1", "yes")


def _webhook_auth(environ: Mapping[str, str]) -> str:
    mode = (environ.get(ENV_WEBHOOK_AUTH) or "signature").strip().lower()
    if mode not in WEBHOOK_AUTH_MODES:
        raise ConfigError(f"{ENV_WEBHOOK_AUTH} must be 'signature' or 'iam'")
    return mode


def _lock(environ: Mapping[str, str]) -> LockSettings | None:
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
        term_seconds=_number(environ, ENV_LOCK_TERM, 120, 5, 900),
        wait_seconds=_number(environ, ENV_LOCK_WAIT, 10, 0, 60),
    )


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Validate the environment into ``Settings``; ``ConfigError`` names the first bad variable."""
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
    return Settings(
        default_target=target,
        endpoint_override=check_url(ENV_ENDPOINT, endpoint) if endpoint else None,
        region_endpoints=_region_endpoints(environ),
        iam_endpoint_override=check_url(ENV_IAM_ENDPOINT, iam_endpoint) if iam_endpoint else None,
        secret_id=environ.get(ENV_SECRET_ID) or None,
        submit_concurrency=int(_number(environ, ENV_SUBMIT_CONCURRENCY, 2, 1, 16)),
        deadline_margin_ms=int(_number(environ, ENV_DEADLINE_MARGIN_MS, 20_000, 0, 600_000)),
        connect_timeout=_number(environ, ENV_CONNECT_TIMEOUT, 3.05, 0.1, 60),
        read_timeout=_number(environ, ENV_READ_TIMEOUT, 20, 0.1, 120),
        webhook_tolerance_seconds=int(_number(environ, ENV_WEBHOOK_TOLERANCE, 300, 1, 3600)),
        blackouts=_blackouts(environ),
        channels=channel_configs(environ, checked_notify_url),
        notify_failure_fails_run=_flag(environ, ENV_NOTIFY_FAILS_RUN),
        webhook_auth=_webhook_auth(environ),
        max_body_bytes=int(_number(environ, ENV_MAX_BODY_BYTES, 65_536, 1024, 1_048_576)),
        max_instance_ids=int(_number(environ, ENV_MAX_INSTANCE_IDS, MAX_INSTANCE_IDS, 1, MAX_INSTANCE_IDS)),
        max_targets=int(_number(environ, ENV_MAX_TARGETS, MAX_TARGETS, 1, MAX_TARGETS)),
        dr_role_tag=_dr_role_tag(environ),
        patch_engines=_patch_engines(environ),
        lock=_lock(environ),
    )
