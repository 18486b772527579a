"""Upgrade durations learned from the fleet's own job history, through the real handler and the simulator."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import LocalContext
from geminidb_local.simulator import Simulator
from tests.helpers import handler_on, make_instance

SECRET = new_webhook_secret()
SUBMIT = "POST /instances/db-upgrade"


def window_closing_in(minutes: int, now: datetime) -> str:
    """A four-hour UTC window (on the minute) that closes ``minutes`` from ``now``."""
    end = (now + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    start = end - timedelta(hours=4)
    return f"{start:%H:%M}-{end:%H:%M}"


def fleet(history_minutes: list[float], now: datetime, running_for: float | None = None) -> dict[str, Any]:
    """One patchable 3-node Cassandra instance whose window closes in an hour, and done ones with that history."""
    rng = random.Random(28)
    target = make_instance(rng, "cassandra", name="target", maintenance_window=window_closing_in(61, now))
    done = [make_instance(rng, "cassandra", patch_available=False) for _ in history_minutes]
    jobs = [
        {
            "instance_id": item["id"],
            "status": "Completed",
            "minutes": minutes,
            "start_time": (now - timedelta(days=2, hours=n)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        }
        for n, (item, minutes) in enumerate(zip(done, history_minutes, strict=True))
    ]
    if running_for is not None:
        busy = make_instance(rng, "cassandra", patch_available=False, actions=["UPGRADE_DATABASE"])
        done.append(busy)
        start = now - timedelta(minutes=running_for)
        started = start.strftime("%Y-%m-%dT%H:%M:%S+0000")
        jobs.append({"instance_id": busy["id"], "status": "Running", "start_time": started, "minutes": 240})
    return {"instances": [target, *done], "jobs": jobs}


REQUEST = {"mode": "apply", "window": "instance", "max_in_flight": "100%"}


def run(document: dict[str, Any]) -> tuple[dict[str, Any], Simulator]:
    with Simulator(document) as simulator:
        report = handler_on(simulator, SECRET)(dict(REQUEST), LocalContext())
        return report, simulator


def test_history_of_100_minute_upgrades_keeps_an_instance_with_an_hour_left_from_being_submitted() -> None:
    now = datetime.now(UTC)
    report, simulator = run(fleet([95, 100, 102, 98, 105, 99], now))

    (target,) = [o for o in report["outcomes"] if o["instance_name"] == "target"]
    assert (target["outcome"], target["reason"]) == ("skipped", "window_too_short")
    assert "observed p90 of 6 upgrades of 3-node Cassandra instances, +20%" in target["detail"]
    assert target["estimate_minutes"] == 126  # p90 (nearest rank) 105 min x 1.2
    assert not [e for e in simulator.exchanges if e.route == SUBMIT]
    (cassandra,) = report["durations"]
    assert cassandra == {
        "engine": "cassandra", "nodes": 3, "samples": 6, "p90_minutes": 105, "guide_minutes": 16,
        "estimate_minutes": 126, "source": "observed p90 of 6 upgrades of 3-node Cassandra instances, +20%",
    }  # fmt: skip


def test_without_history_the_same_instance_is_submitted_as_before() -> None:
    now = datetime.now(UTC)
    report, simulator = run(fleet([], now))
    (target,) = [o for o in report["outcomes"] if o["instance_name"] == "target"]
    assert target["outcome"] == "submitted" and report["durations"] == []
    assert [e for e in simulator.exchanges if e.route == SUBMIT]


def test_a_few_short_upgrades_never_lower_huaweis_figure_but_many_do() -> None:
    now = datetime.now(UTC)
    few, _ = run(fleet([5, 6, 7], now))
    assert few["durations"][0]["estimate_minutes"] == 16 and few["durations"][0]["source"] == "Huawei's guide"
    many, _ = run(fleet([5, 6, 7, 6, 5], now))
    assert many["durations"][0]["estimate_minutes"] == 9  # 7 min x 1.2, rounded up: below the guide's 16


def test_an_upgrade_running_longer_than_the_estimate_raises_it() -> None:
    now = datetime.now(UTC)
    report, simulator = run(fleet([], now, running_for=80))
    (target,) = [o for o in report["outcomes"] if o["instance_name"] == "target"]
    assert (target["outcome"], target["reason"]) == ("skipped", "window_too_short")
    assert re.search(r"an upgrade of a 3-node Cassandra instance running 8[01] min, \+20%", target["detail"])
    assert not [e for e in simulator.exchanges if e.route == SUBMIT]
