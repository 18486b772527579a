"""The lease store over HTTP against a DynamoDB API emulator, exactly as against AWS: SigV4, JSON, conditions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from geminidb_patcher.aws.dynamodb import DynamoDB
from geminidb_patcher.aws.lease_table import DynamoLeaseStore
from geminidb_patcher.aws.sigv4 import AwsCredentials
from geminidb_patcher.contract.request import Target
from geminidb_patcher.run.lease import Holder, LeasePolicy, LeaseUnavailableError, RunLeases, lease_key
from geminidb_patcher.transport import Deadline
from tests.helpers import lease_table

NOW = 1_800_000_000.0
TARGET = Target(region="ap-southeast-1", project_id="0" * 32)
OTHER_TARGET = Target(region="ap-southeast-1", project_id="1" * 32)
KEY = lease_key(TARGET)


def _holder(run_id: str, trigger: str = "schedule") -> Holder:
    return Holder.for_run(run_id, trigger, datetime(2026, 11, 28, 3, 0, tzinfo=UTC))


@pytest.fixture
def store(dynamodb_endpoint: str) -> DynamoLeaseStore:
    return DynamoLeaseStore(lease_table(dynamodb_endpoint))


def _item(store: DynamoLeaseStore, key: str) -> dict[str, Any]:
    table: DynamoDB = store._table
    found: dict[str, Any] = table.call("GetItem", {"Key": {"pk": {"S": key}}, "ConsistentRead": True}).get("Item", {})
    return found


def test_the_first_take_wins_and_the_second_learns_who_holds_it(store: DynamoLeaseStore) -> None:
    first, second = _holder("run-a"), _holder("run-b", "webhook")
    assert store.take(KEY, first, NOW, 120) is None
    holder = store.take(KEY, second, NOW + 1, 120)
    assert holder is not None
    assert (holder.run_id, holder.trigger, holder.since, holder.token) == (
        "run-a", "schedule", first.since, first.token,
    )  # fmt: skip
    item = _item(store, KEY)
    assert item["expires_at"] == {"N": str(int(NOW + 120))}
    assert item["run_id"] == {"S": "run-a"}


def test_taking_again_with_the_same_token_is_a_retry_not_a_loss(store: DynamoLeaseStore) -> None:
    holder = _holder("run-a")
    assert store.take(KEY, holder, NOW, 120) is None
    assert store.take(KEY, holder, NOW + 1, 120) is None


def test_an_expired_lease_is_taken_even_before_the_ttl_deletes_it(store: DynamoLeaseStore) -> None:
    killed, next_run = _holder("killed"), _holder("next")
    assert store.take(KEY, killed, NOW, 60) is None
    assert store.take(KEY, next_run, NOW + 59, 60) is not None  # not before it expires
    assert store.take(KEY, next_run, NOW + 61, 60) is None  # after
    assert _item(store, KEY)["run_id"] == {"S": "next"}


def test_renewal_extends_only_the_holders_own_lease(store: DynamoLeaseStore) -> None:
    holder, other = _holder("run-a"), _holder("run-b")
    store.take(KEY, holder, NOW, 60)
    assert store.renew(KEY, holder, NOW + 50, 60)
    assert _item(store, KEY)["expires_at"] == {"N": str(int(NOW + 110))}
    assert store.take(KEY, other, NOW + 100, 60) is not None  # the renewal kept it
    assert not store.renew(KEY, other, NOW + 100, 60)


def test_a_holder_whose_lease_was_taken_meanwhile_cannot_renew_it(store: DynamoLeaseStore) -> None:
    slow, fast = _holder("slow"), _holder("fast")
    store.take(KEY, slow, NOW, 60)
    store.take(KEY, fast, NOW + 61, 60)
    assert not store.renew(KEY, slow, NOW + 62, 60)
    store.release(KEY, slow)  # must not remove the other run's lease
    assert _item(store, KEY)["run_id"] == {"S": "fast"}


def test_release_frees_the_lease_for_the_next_run(store: DynamoLeaseStore) -> None:
    holder = _holder("run-a")
    store.take(KEY, holder, NOW, 120)
    store.release(KEY, holder)
    assert _item(store, KEY) == {}
    assert store.take(KEY, _holder("run-b"), NOW + 1, 120) is None
    assert not store.renew(KEY, holder, NOW + 2, 120)  # a released holder's renewal fails: it must not act


def test_a_claim_is_refused_while_live_and_free_after_its_term_or_when_undone(store: DynamoLeaseStore) -> None:
    token = store.claim("webhook#abc", NOW, 600)
    assert token is not None
    assert store.claim("webhook#abc", NOW + 599, 600) is None
    store.unclaim("webhook#abc", token)
    second = store.claim("webhook#abc", NOW + 599, 600)
    assert second is not None
    assert store.claim("webhook#abc", NOW + 599 + 601, 600) is not None


def test_a_missing_table_is_unavailable_and_named(dynamodb_endpoint: str) -> None:
    table = lease_table(dynamodb_endpoint)
    missing = DynamoLeaseStore(
        DynamoDB(
            session=requests.Session(),
            endpoint=dynamodb_endpoint,
            region="eu-west-1",
            table="no-such-table",
            credentials=table.credentials,
            deadline=Deadline(),
        )
    )
    with pytest.raises(LeaseUnavailableError, match=r"no-such-table.*ResourceNotFoundException"):
        missing.take(KEY, _holder("run-a"), NOW, 120)


def test_an_unreachable_endpoint_is_unavailable_and_named_without_a_secret() -> None:
    credentials = AwsCredentials("AKIAEXAMPLE", "secret-never-shown", "token-never-shown")
    store = DynamoLeaseStore(
        DynamoDB(
            session=requests.Session(),
            endpoint="http://127.0.0.1:9",
            region="eu-west-1",
            table="patcher-leases",
            credentials=lambda: credentials,
            deadline=Deadline(),
        )
    )
    with pytest.raises(LeaseUnavailableError) as raised:
        store.take(KEY, _holder("run-a"), NOW, 120)
    assert "patcher-leases" in str(raised.value)
    assert "secret-never-shown" not in str(raised.value) and "token-never-shown" not in str(raised.value)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_run_waits_briefly_then_reports_the_holder_and_renews_its_own_half_way(store: DynamoLeaseStore) -> None:
    clock = Clock()
    other = _holder("other-run", "webhook")
    store.take(lease_key(OTHER_TARGET), other, NOW, 120)
    leases = RunLeases(store, _holder("this-run"), LeasePolicy(term=60, wait=0), clock=clock, sleep=clock.sleep)
    assert leases.take([OTHER_TARGET, TARGET]) == {}
    assert leases.busy() == {OTHER_TARGET: other}
    busy = leases.hold_reason(OTHER_TARGET)
    assert busy is not None and busy[0] == "another_run_applying" and "other-run (webhook)" in busy[1]

    assert leases.hold_reason(TARGET) is None
    clock.now += 31  # past half the term: the next check renews
    assert leases.hold_reason(TARGET) is None
    assert _item(store, KEY)["expires_at"] == {"N": str(int(NOW + 31 + 60))}
    leases.release()
    assert _item(store, KEY) == {}
    assert _item(store, lease_key(OTHER_TARGET))["run_id"] == {"S": "other-run"}  # not ours to release


def test_a_run_whose_lease_was_taken_while_it_observed_submits_nothing(store: DynamoLeaseStore) -> None:
    clock = Clock()
    leases = RunLeases(store, _holder("slow-run"), LeasePolicy(term=60, wait=0), clock=clock, sleep=clock.sleep)
    leases.take([TARGET])
    clock.now += 61
    store.take(KEY, _holder("fresh-run"), clock.now, 60)
    lost = leases.hold_reason(TARGET)
    assert lost is not None and lost[0] == "lease_unavailable" and "stale" in lost[1]
