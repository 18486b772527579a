"""Error translation, configuration, and the runtime dependency closure."""

from __future__ import annotations

import re
from importlib.metadata import distribution
from pathlib import Path

import pytest

from geminidb_patcher.config.settings import ConfigError, load_settings
from geminidb_patcher.huawei.errors import (
    ApiError,
    AuthenticationError,
    ForbiddenError,
    ServerError,
    ThrottledError,
    error_for_status,
    parse_error_body,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error_code": "DBS.200019", "error_msg": "busy"}', ("DBS.200019", "busy")),
        (b'{"errCode": "DBS.1", "externalMessage": "ext"}', ("DBS.1", "ext")),
        (b'{"code": "APIG.0308", "message": "throttled"}', ("APIG.0308", "throttled")),
        (b'{"error": {"code": "X.1", "message": "nested"}}', ("X.1", "nested")),
        (b"<html>gateway</html>", (None, None)),
        (b"[1, 2]", (None, None)),
    ],
)
def test_parse_error_body_reads_every_huawei_shape(body: bytes, expected: tuple[str | None, str | None]) -> None:
    assert parse_error_body(body) == expected


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ApiError),
        (401, AuthenticationError),
        (403, ForbiddenError),
        (429, ThrottledError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_error_for_status_maps_status_to_type(status: int, kind: type[ApiError]) -> None:
    error = error_for_status(status, b"{}", "req-1", "2")
    assert type(error) is kind
    assert (error.status, error.error_code, error.request_id) == (status, str(status), "req-1")


def test_throttled_error_carries_retry_after() -> None:
    error = error_for_status(429, b'{"error_code": "APIG.0308", "error_msg": "limit"}', None, "3")
    assert isinstance(error, ThrottledError)
    assert error.retry_after == 3.0
    assert str(error) == "429 APIG.0308: limit"


def test_load_settings_defaults_and_default_target() -> None:
    settings = load_settings(
        {"HUAWEICLOUD_REGION": "eu-west-101", "HUAWEICLOUD_SDK_PROJECT_ID": "0123456789abcdef0123456789abcdef"}
    )
    assert settings.default_target is not None
    assert settings.default_target.region == "eu-west-101"
    assert (settings.submit_concurrency, settings.webhook_tolerance_seconds) == (2, 300)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HUAWEICLOUD_REGION": "ap-southeast-1"}, "set both"),
        ({"HUAWEICLOUD_REGION": "../x", "HUAWEICLOUD_SDK_PROJECT_ID": "0" * 32}, "region"),
        ({"GEMINIDB_ENDPOINT": "http://gaussdb.example.com"}, "GEMINIDB_ENDPOINT must be an https"),
        ({"NOTIFY_WEBHOOK_URL": "ftp://x"}, "NOTIFY_WEBHOOK_URL"),
        ({"SUBMIT_CONCURRENCY": "lots"}, "SUBMIT_CONCURRENCY must be a number"),
        ({"SUBMIT_CONCURRENCY": "99"}, "between 1 and 16"),
        (
            {"PATCHER_BLACKOUTS": '[{"start": "2030-01-01T00:00:00Z", "end": "9999-12-31T23:59:59-23:59"}]'},
            "PATCHER_BLACKOUTS is not a JSON list of {start, end, reason}: 0.end: must lie between 2000-01-01",
        ),
        (
            {"PATCHER_BLACKOUTS": '[{"start": "0001-01-01T00:00:00+14:00", "end": "2030-01-01T00:00:00Z"}]'},
            "0.start: must lie between 2000-01-01 and 9000-01-01 UTC",
        ),
    ],
)
def test_load_settings_rejects_bad_values_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(environ)


def test_load_settings_allows_plain_http_only_to_loopback() -> None:
    assert load_settings({"GEMINIDB_ENDPOINT": "http://127.0.0.1:8080/"}).endpoint_override == "http://127.0.0.1:8080"


def _runtime_closure(name: str, seen: set[str]) -> set[str]:
    """Every distribution ``name`` needs at run time (extras excluded)."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return seen
    seen.add(key)
    for requirement in distribution(name).requires or []:
        if "extra ==" in requirement:
            continue
        dependency = re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]
        _runtime_closure(dependency, seen)
    return seen


def test_runtime_dependency_closure_has_no_boto() -> None:
    closure = _runtime_closure("geminidb-patcher", set())
    assert {"requests", "pydantic", "aws-lambda-powertools"} <= closure
    assert not {"boto3", "botocore", "aws-xray-sdk", "s3transfer"} & closure


def test_the_http_session_reads_proxy_and_ca_settings_once_and_keeps_them_when_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from geminidb_patcher.config.wiring import http_session

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert http_session({}).trust_env is False  # nothing to read: requests need not look on every call
    assert http_session({"REQUESTS_CA_BUNDLE": "/etc/ca.pem"}).trust_env is True
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert http_session({}).trust_env is True


def test_a_403_about_the_instances_state_is_no_permission_problem() -> None:
    assert type(error_for_status(403, b'{"error_code": "DBS.200019", "error_msg": "busy"}', None, None)) is ApiError


def test_the_lease_table_takes_its_region_and_endpoint_as_aws_tools_do() -> None:
    assert load_settings({}).lock is None
    lock = load_settings({"PATCHER_LOCK_TABLE": "patcher-leases", "AWS_REGION": "eu-west-1"}).lock
    assert lock is not None and (lock.table, lock.endpoint) == (
        "patcher-leases",
        "https://dynamodb.eu-west-1.amazonaws.com",
    )
    assert (lock.term_seconds, lock.wait_seconds) == (120, 10)
    china = load_settings({"PATCHER_LOCK_TABLE": "t-1", "AWS_DEFAULT_REGION": "cn-north-1"}).lock
    assert china is not None and china.endpoint == "https://dynamodb.cn-north-1.amazonaws.com.cn"
    both = {
        "PATCHER_LOCK_TABLE": "t-1",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "https://all.example",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4566/",
    }
    specific = load_settings(both).lock
    assert specific is not None and specific.endpoint == "http://127.0.0.1:4566"
    general = load_settings({**both, "AWS_ENDPOINT_URL_DYNAMODB": ""}).lock
    assert general is not None and general.endpoint == "https://all.example"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PATCHER_LOCK_TABLE": "no spaces allowed", "AWS_REGION": "eu-west-1"}, "not a DynamoDB table name"),
        ({"PATCHER_LOCK_TABLE": "patcher-leases"}, "needs the table's AWS region"),
        (
            {"PATCHER_LOCK_TABLE": "t-1", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_DYNAMODB": "http://ddb.example"},
            "AWS_ENDPOINT_URL_DYNAMODB must be an https:// URL",
        ),
        ({"PATCHER_LOCK_TABLE": "t-1", "AWS_REGION": "eu-west-1", "PATCHER_LOCK_TERM_SECONDS": "1"}, "between 5"),
        ({"PATCHER_LOCK_TABLE": "t-1", "AWS_REGION": "eu-west-1", "PATCHER_LOCK_WAIT_SECONDS": "x"}, "a number"),
    ],
)
def test_a_bad_lease_setting_names_its_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HTTP_READ_TIMEOUT": "inf"}, "HTTP_READ_TIMEOUT must be"),
        ({"MAX_TARGETS": "nan"}, "MAX_TARGETS must be"),
        ({"DEADLINE_MARGIN_MS": "-1"}, "DEADLINE_MARGIN_MS must be between 0 and 600000"),
        ({"NOTIFY_FAILURE_FAILS_RUN": "sometimes"}, "NOTIFY_FAILURE_FAILS_RUN must be true or false"),
        ({"WEBHOOK_AUTH": "basic"}, "WEBHOOK_AUTH must be 'signature' or 'iam'"),
        ({"GEMINIDB_ENDPOINTS": "[1]"}, "GEMINIDB_ENDPOINTS must be a JSON object of region to URL"),
        ({"GEMINIDB_PATCH_ENGINES": '{"ap-southeast-1": ["mongodb"]}'}, "GEMINIDB_PATCH_ENGINES must be a JSON"),
        ({"GEMINIDB_PATCH_ENGINES": '{"../x": ["redis"]}'}, "GEMINIDB_PATCH_ENGINES must be a JSON"),
        (
            {
                "PATCHER_BLACKOUTS": "["
                + ",".join(['{"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}'] * 51)
                + "]"
            },
            "holds more than 50 blackouts",
        ),
    ],
)
def test_the_environment_model_names_the_variable_and_what_it_must_be_never_the_value(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ)
    assert message in str(raised.value)
    assert all(value not in str(raised.value) for value in environ.values() if len(value) > 3)


def test_values_are_read_as_their_types_and_an_empty_variable_is_unset() -> None:
    settings = load_settings(
        {"SUBMIT_CONCURRENCY": "4", "NOTIFY_FAILURE_FAILS_RUN": "Yes", "WEBHOOK_AUTH": " IAM ", "MAX_TARGETS": ""}
    )
    assert (settings.submit_concurrency, settings.notify_failure_fails_run, settings.webhook_auth) == (4, True, "iam")
    assert settings.max_targets == 20
