"""The lease store in a DynamoDB table: conditional writes on one item per key, expiring through its TTL attribute.

Item: ``pk`` (the key), ``token``, ``run_id``, ``trigger``, ``since`` and ``expires_at`` (epoch seconds, the table's
TTL attribute). DynamoDB deletes expired items only eventually, so every condition compares ``expires_at`` with
the writer's clock itself; the TTL only tidies the table.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from geminidb_patcher.aws.dynamodb import ConditionFailedError, DynamoDB, DynamoDBError
from geminidb_patcher.run.lease import Holder, LeaseUnavailableError

FREE = "attribute_not_exists(pk) OR expires_at < :now"
OWN = "#token = :token"


def _epoch(seconds: float) -> dict[str, str]:
    return {"N": str(math.ceil(seconds))}


def _holder(item: dict[str, Any] | None) -> Holder:
    """The holder an item names; an item without the fields is an unknown holder (still a holder)."""
    item = item or {}

    def text(name: str) -> str:
        value = item.get(name)
        return str(value.get("S", "")) if isinstance(value, dict) else ""

    try:
        since = datetime.fromisoformat(text("since"))
    except ValueError:
        since = datetime.fromtimestamp(0, UTC)
    return Holder(text("run_id")[:128] or "unknown", text("trigger")[:32] or "unknown", since, text("token"))


class DynamoLeaseStore:
    """``LeaseStore`` on one DynamoDB table; every failure becomes ``LeaseUnavailableError`` naming the table."""

    def __init__(self, table: DynamoDB) -> None:
        self._table = table

    @property
    def name(self) -> str:
        """The table's name."""
        return self._table.table

    def _call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._table.call(action, payload)
        except ConditionFailedError:
            raise
        except DynamoDBError as error:
            raise LeaseUnavailableError(f"the lease table {self.name} is unavailable: {error}") from None

    def take(self, key: str, holder: Holder, now: float, term: float) -> Holder | None:
        """PutItem if absent or expired; the item's holder when the condition fails (our own token: a retry)."""
        item = {
            "pk": {"S": key},
            "token": {"S": holder.token},
            "run_id": {"S": holder.run_id},
            "trigger": {"S": holder.trigger},
            "since": {"S": holder.since.astimezone(UTC).isoformat(timespec="seconds")},
            "expires_at": _epoch(now + term),
        }
        try:
            self._call(
                "PutItem",
                {
                    "Item": item,
                    "ConditionExpression": FREE,
                    "ExpressionAttributeValues": {":now": _epoch(now)},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                },
            )
        except ConditionFailedError as refused:
            current = _holder(refused.item)
            return None if current.token == holder.token else current
        return None

    def renew(self, key: str, holder: Holder, now: float, term: float) -> bool:
        """UpdateItem ``expires_at`` while the item is still ``holder``'s."""
        try:
            self._call(
                "UpdateItem",
                {
                    "Key": {"pk": {"S": key}},
                    "UpdateExpression": "SET expires_at = :expires",
                    "ConditionExpression": OWN,
                    "ExpressionAttributeNames": {"#token": "token"},
                    "ExpressionAttributeValues": {":token": {"S": holder.token}, ":expires": _epoch(now + term)},
                },
            )
        except ConditionFailedError:
            return False
        return True

    def release(self, key: str, holder: Holder) -> None:
        """DeleteItem while the item is still ``holder``'s; someone else's is left alone."""
        self._delete_own(key, holder.token)

    def _delete_own(self, key: str, token: str) -> None:
        try:
            self._call(
                "DeleteItem",
                {
                    "Key": {"pk": {"S": key}},
                    "ConditionExpression": OWN,
                    "ExpressionAttributeNames": {"#token": "token"},
                    "ExpressionAttributeValues": {":token": {"S": token}},
                },
            )
        except ConditionFailedError:
            return

    def claim(self, key: str, now: float, term: float) -> str | None:
        """PutItem if absent or expired; a token to undo it, or ``None`` when the key is live."""
        token = uuid.uuid4().hex
        try:
            self._call(
                "PutItem",
                {
                    "Item": {"pk": {"S": key}, "token": {"S": token}, "expires_at": _epoch(now + term)},
                    "ConditionExpression": FREE,
                    "ExpressionAttributeValues": {":now": _epoch(now)},
                },
            )
        except ConditionFailedError:
            return None
        return token

    def unclaim(self, key: str, token: str) -> None:
        """DeleteItem while it is still this claim."""
        self._delete_own(key, token)
