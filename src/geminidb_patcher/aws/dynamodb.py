"""DynamoDB's JSON API over HTTPS, signed with SigV4: the few item calls the lease needs, each bounded."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from geminidb_patcher import __version__
from geminidb_patcher.aws.sigv4 import AwsCredentials, SigV4Signer
from geminidb_patcher.transport import BodyTooLargeError, CallExpiredError, Deadline, bounded_call, read_capped

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
MAX_ANSWER_BYTES = 64 * 1024
"""An item call's answer is an item of a few hundred bytes or an error; anything larger is refused unread."""
CONDITION_FAILED = "ConditionalCheckFailedException"
CALL_SECONDS = 5.0
"""The longest one item call may take (connect and answer): a lease that cannot be had quickly is not had."""


class DynamoDBError(Exception):
    """A call failed: unreachable, refused, or an answer that is not DynamoDB's; the message names the table."""


class ConditionFailedError(DynamoDBError):
    """The write's condition did not hold; ``item`` is the item as it stood (when DynamoDB returned it)."""

    def __init__(self, message: str, item: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.item = item


def dynamodb_endpoint(region: str) -> str:
    """The region's public DynamoDB endpoint (``AWS_ENDPOINT_URL_DYNAMODB`` or ``AWS_ENDPOINT_URL`` override it)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://dynamodb.{region}.{suffix}"


def _error_type(body: bytes) -> tuple[str, str]:
    """(type, message) of a DynamoDB error answer: ``__type`` is ``com.amazonaws…#Name``."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if not isinstance(document, dict):
        return "", ""
    kind = str(document.get("__type") or "").rpartition("#")[2][:100]
    message = str(document.get("message") or document.get("Message") or "")[:300]
    return kind, message


@dataclass(frozen=True)
class DynamoDB:
    """One table's item calls; credentials are read on every call (Lambda's may be replaced between runs)."""

    session: requests.Session
    endpoint: str
    region: str
    table: str
    credentials: Callable[[], AwsCredentials | None]
    deadline: Deadline
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``action`` (``PutItem`` …) on the table; the answer's JSON object, or ``DynamoDBError``."""
        credentials = self.credentials()
        if credentials is None:
            raise DynamoDBError(f"no AWS credentials to call DynamoDB table {self.table}")
        body = json.dumps({"TableName": self.table, **payload}, separators=(",", ":")).encode()
        url = self.endpoint + "/"
        headers = SigV4Signer(self.region, "dynamodb").sign(
            credentials,
            "POST",
            url,
            {
                "Content-Type": CONTENT_TYPE,
                "X-Amz-Target": TARGET_PREFIX + action,
                "User-Agent": f"geminidb-patcher/{__version__}",
            },
            body,
            self.clock(),
        )
        left = self.deadline.left()
        seconds = CALL_SECONDS if left is None else max(0.1, min(CALL_SECONDS, left))
        host = urlsplit(url).netloc.rpartition("@")[2]
        try:
            with bounded_call(seconds):
                response = self.session.post(
                    url, data=body, headers=headers, timeout=(seconds, seconds), allow_redirects=False, stream=True
                )
                with response:
                    raw = read_capped(response, MAX_ANSWER_BYTES)
        except (CallExpiredError, BodyTooLargeError, requests.RequestException) as exc:
            raise DynamoDBError(f"{action} on table {self.table} at {host} failed: {type(exc).__name__}") from None
        if response.status_code == 400:
            kind, message = _error_type(raw)
            if kind == CONDITION_FAILED:
                item = _json_object(raw).get("Item")
                raise ConditionFailedError(f"{action} on table {self.table}: condition failed", item)
            raise DynamoDBError(f"{action} on table {self.table} refused: {kind or 'HTTP 400'} {message}".strip())
        if response.status_code != 200:
            kind, message = _error_type(raw)
            raise DynamoDBError(
                f"{action} on table {self.table} failed: HTTP {response.status_code} {kind} {message}".strip()
            )
        return _json_object(raw)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return document if isinstance(document, dict) else {}
