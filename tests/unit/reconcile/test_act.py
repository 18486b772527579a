"""The act step against a fake port: the error budget stops submissions mid-run; busy rejections do not count."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from geminidb_patcher.contract.report import Outcome
from geminidb_patcher.contract.request import Target
from geminidb_patcher.reconcile.act import ActSettings, Submitter
from geminidb_patcher.reconcile.budget import ErrorBudget, counts_as_error
from geminidb_patcher.reconcile.plan import Batch
from geminidb_patcher.reconcile.ports import UpgradeResult
from geminidb_patcher.reconcile.snapshot import InstanceView, JobView, ScheduledTask
from tests.helpers import NOW, TARGET, make_instance


class RejectingPort:
    """Answers every batch with the same per-item error code and records what it was sent."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.sent: list[list[str]] = []

    def batch_upgrade(self, instance_ids: Sequence[str]) -> list[UpgradeResult]:
        self.sent.append(list(instance_ids))
        return [UpgradeResult(i, None, self.code, None) for i in instance_ids]

    def list_instance_views(self) -> list[InstanceView]:
        return []

    def list_jobs(self, **_: Any) -> list[JobView]:
        return []

    def list_scheduled_tasks(self, **_: Any) -> list[ScheduledTask]:
        return []

    def show_instance_role(self, instance_id: str) -> str:
        return ""

    def list_instance_ids_by_tags(self, tags: Mapping[str, Sequence[str]]) -> list[str]:
        return []


def batches(count: int) -> tuple[Batch, ...]:
    rng = random.Random(count)
    return tuple(
        Batch(TARGET, "cassandra", (InstanceView.from_api(make_instance(rng) | {"datastore": {"type": "cassandra"}}),))
        for _ in range(count)
    )


def run(port: RejectingPort, allowed: int) -> list[Outcome]:
    def clock() -> datetime:
        return NOW

    def ports(target: Target) -> RejectingPort:
        return port

    submitter = Submitter(
        ports,  # type: ignore[arg-type]
        ActSettings(concurrency=1, deadline_margin_ms=0),
        ErrorBudget(allowed),
        clock=clock,
        remaining_ms=lambda: 60_000,
        on_batch=lambda record: None,
    )
    outcomes, _ = submitter.run(batches(4))
    return outcomes


def test_counted_rejections_stop_later_batches() -> None:
    port = RejectingPort("DBS.200001")
    outcomes = run(port, allowed=1)
    assert len(port.sent) == 2  # the second error exceeds max_errors 1
    assert [o.outcome for o in outcomes] == ["rejected", "rejected", "deferred", "deferred"]
    assert {o.reason for o in outcomes if o.outcome == "deferred"} == {"error_budget_exhausted"}


def test_busy_rejections_do_not_spend_the_budget() -> None:
    port = RejectingPort("DBS.200019")
    outcomes = run(port, allowed=0)
    assert len(port.sent) == 4 and not any(counts_as_error(o) for o in outcomes)
