"""Maintenance windows, the cutoff, DST, weekdays, blackouts and duration estimates."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from geminidb_patcher.contract.request import Blackout, ExplicitWindow, RunRequest
from geminidb_patcher.reconcile.plan import Policy
from geminidb_patcher.reconcile.windows import (
    check_blackouts,
    check_window,
    estimated_duration,
    explicit_window,
    merged_blackouts,
    parse_maintenance_window,
)
from tests.helpers import make_instance, plan_of, snapshot

CASSANDRA_3_NODES = timedelta(seconds=600 + 3 * 120)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)


def test_instance_window_inside_and_outside() -> None:
    window = parse_maintenance_window("02:00-06:00")
    assert window is not None
    assert check_window(window, at(3), CASSANDRA_3_NODES, "w") is None
    outside = check_window(window, at(7), CASSANDRA_3_NODES, "w")
    assert outside is not None and outside.reason == "outside_maintenance_window"
    assert outside.next_opening == at(2, day=2)


def test_window_wrapping_past_midnight() -> None:
    window = parse_maintenance_window("22:00-02:00")
    assert window is not None
    assert check_window(window, at(1), timedelta(minutes=30), "w") is None
    assert check_window(window, at(23), timedelta(minutes=30), "w") is None
    verdict = check_window(window, at(3), timedelta(minutes=30), "w")
    assert verdict is not None and verdict.next_opening == at(22)


def test_cutoff_boundary_is_exact() -> None:
    window = parse_maintenance_window("02:00-06:00")
    assert window is not None
    last_start = at(6) - CASSANDRA_3_NODES
    assert check_window(window, last_start, CASSANDRA_3_NODES, "w") is None
    too_late = check_window(window, last_start + timedelta(seconds=1), CASSANDRA_3_NODES, "w")
    assert too_late is not None and too_late.reason == "window_too_short"
    assert too_late.next_opening == at(2, day=2)


@pytest.mark.parametrize("text", ["", "2-6", "02:00-02:00", "25:00-03:00", "02:00 - 06:00"])
def test_unreadable_instance_windows_are_none(text: str) -> None:
    assert parse_maintenance_window(text) is None


def test_dst_spring_forward_shortens_an_explicit_window() -> None:
    # Berlin springs forward at 02:00 local on 2026-03-29: 01:00-05:00 local is 00:00-03:00 UTC, three hours
    window = explicit_window(ExplicitWindow(start=time(1), end=time(5), timezone="Europe/Berlin"))
    opening = next(o for o in window.openings(datetime(2026, 3, 29, 1, tzinfo=UTC)) if o.start.day == 29)
    assert (opening.start, opening.end) == (
        datetime(2026, 3, 29, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 3, tzinfo=UTC),
    )
    assert check_window(window, datetime(2026, 3, 29, 2, 50, tzinfo=UTC), CASSANDRA_3_NODES, "w") is not None


def test_dst_fall_back_lengthens_an_explicit_window() -> None:
    # Berlin falls back at 03:00 local on 2026-10-25: 01:00-05:00 local is 23:00-04:00 UTC, five hours
    window = explicit_window(ExplicitWindow(start=time(1), end=time(5), timezone="Europe/Berlin"))
    opening = next(o for o in window.openings(datetime(2026, 10, 25, 1, tzinfo=UTC)) if o.end.day == 25)
    assert opening.end - opening.start == timedelta(hours=5)


def test_weekday_window_opens_next_on_an_allowed_day() -> None:
    spec = ExplicitWindow(start=time(9), end=time(17), timezone="Asia/Shanghai", days=["sat", "sun"])
    window = explicit_window(spec)
    thursday = datetime(2026, 1, 1, 4, tzinfo=UTC)  # 12:00 in Shanghai
    verdict = check_window(window, thursday, CASSANDRA_3_NODES, "w")
    assert verdict is not None
    assert verdict.next_opening == datetime(2026, 1, 3, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_blackouts_cover_now_and_upgrades_that_would_run_into_them() -> None:
    spans = merged_blackouts(
        [
            Blackout(start=at(10), end=at(12), reason="release"),
            Blackout(start=at(11), end=at(13), reason="freeze"),
        ]
    )
    assert spans == [(at(10), at(13), "release; freeze")]
    inside = check_blackouts(spans, at(11), CASSANDRA_3_NODES)
    assert inside is not None and inside.reason == "blackout" and inside.next_opening == at(13)
    approaching = check_blackouts(spans, at(9, 50), CASSANDRA_3_NODES)
    assert approaching is not None and "begins" in approaching.detail
    assert check_blackouts(spans, at(9, 44), CASSANDRA_3_NODES) is None
    assert check_blackouts(spans, at(13), CASSANDRA_3_NODES) is None


def test_estimates_follow_the_documented_formulas() -> None:
    rng = random.Random(1)
    plan = snapshot(
        [
            make_instance(rng, "cassandra", node_count=9),
            make_instance(rng, "redis", node_count=3),
            make_instance(rng, "influxdb", node_count=0),
        ]
    )
    cassandra, redis, influx = plan.instances
    assert estimated_duration(cassandra) == timedelta(seconds=600 + 9 * 120)
    assert estimated_duration(redis) == timedelta(seconds=900 + 3 * 120)
    assert estimated_duration(influx) == timedelta(seconds=600 + 3 * 120)  # no nodes reported: assume three


def test_policy_defaults_by_trigger_and_merges_configured_blackouts() -> None:
    request = RunRequest(blackouts=[Blackout(start=at(1), end=at(2))])
    configured = [Blackout(start=at(5), end=at(6))]
    assert Policy.resolve(request, "schedule", configured).window == "instance"
    assert Policy.resolve(request, "webhook").window == "anytime"
    assert len(Policy.resolve(request, "direct", configured).blackouts) == 2


def test_planner_skips_outside_the_window_with_the_next_opening() -> None:
    rng = random.Random(2)
    fleet = [make_instance(rng, name="in", maintenance_window="10:00-14:00"), make_instance(rng, name="out")]
    result = plan_of(snapshot(fleet), RunRequest(max_in_flight="100%"), trigger="schedule")
    (hold,) = result.holds
    assert (hold.instance.name if hold.instance else "", hold.reason) == ("out", "outside_maintenance_window")
    assert hold.next_opening == at(2, day=2)


def test_explicit_window_and_blackout_in_a_request() -> None:
    rng = random.Random(3)
    fleet = [make_instance(rng, name="a")]
    window = ExplicitWindow(start=time(20), end=time(23), timezone="Asia/Shanghai")
    during = plan_of(snapshot(fleet), RunRequest(window=window, max_in_flight="100%"))
    assert not during.holds  # 12:00 UTC is 20:00 in Shanghai
    blackout = Blackout(start=at(11), end=at(15))
    blocked = plan_of(snapshot(fleet), RunRequest(window="anytime", blackouts=[blackout]))
    assert [h.reason for h in blocked.holds] == ["blackout"]


@pytest.mark.parametrize(
    "fields",
    [
        {"window": {"start": "02:00", "end": "02:00"}},
        {"window": {"start": "02:00", "end": "04:00", "timezone": "Mars/Olympus"}},
        {"window": "sometimes"},
        {"blackouts": [{"start": "2026-01-01T10:00:00Z", "end": "2026-01-01T09:00:00Z"}]},
        {"blackouts": [{"start": "2026-01-01T10:00:00", "end": "2026-01-01T11:00:00"}]},
        {"max_in_flight": "101%"},
        {"max_errors": -1},
        {"bake": "P31D"},
        {"expected_plan_id": "p-0123456789abcdef"},
        {"waves": [{"name": "a"}, {"name": "a"}]},
        {"selector": {"tags": {"bad key!": []}}},
    ],
)
def test_bad_rollout_fields_are_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RunRequest.model_validate(fields)


def test_a_window_shorter_than_the_upgrade_never_fits_and_names_no_next_opening() -> None:
    window = parse_maintenance_window("02:00-02:30")
    assert window is not None
    needed = timedelta(minutes=45)
    for moment in (at(10), at(2) + timedelta(minutes=5)):  # outside it, and inside it
        verdict = check_window(window, moment, needed, "w")
        assert verdict is not None and (verdict.reason, verdict.next_opening) == ("window_too_short", None)
        assert "lasts 30 min; the upgrade may take up to 45 min, so it never fits" in verdict.detail
    fits = check_window(window, at(10), timedelta(minutes=20), "w")
    assert fits is not None and (fits.reason, fits.next_opening) == ("outside_maintenance_window", at(2, day=2))


def test_the_next_opening_named_is_the_next_one_long_enough() -> None:
    # Berlin springs forward on 2026-03-29: that night 01:00-05:00 local lasts three hours, the next night four
    window = explicit_window(ExplicitWindow(start=time(1), end=time(5), timezone="Europe/Berlin"))
    verdict = check_window(window, datetime(2026, 3, 28, 12, tzinfo=UTC), timedelta(hours=3, minutes=30), "w")
    assert verdict is not None and verdict.next_opening == datetime(2026, 3, 29, 23, tzinfo=UTC)


def test_a_window_ending_in_the_dst_gap_ends_at_its_local_end_not_an_hour_later() -> None:
    # 01:00-02:30 Berlin on 2026-03-29: the clock jumps from 02:00 CET to 03:00 CEST (01:00 UTC), passing 02:30
    window = explicit_window(ExplicitWindow(start=time(1), end=time(2, 30), timezone="Europe/Berlin"))
    opening = next(o for o in window.openings(datetime(2026, 3, 29, 0, tzinfo=UTC)) if o.start.day == 29)
    assert (opening.start, opening.end) == (datetime(2026, 3, 29, 0, tzinfo=UTC), datetime(2026, 3, 29, 1, tzinfo=UTC))


def test_the_next_opening_is_never_inside_a_blackout() -> None:
    rng = random.Random(31)
    fleet = [make_instance(rng, name="night", maintenance_window="02:00-06:00")]
    blackout = Blackout(start=at(1, day=2), end=at(5, day=2), reason="freeze")
    result = plan_of(snapshot(fleet), RunRequest(blackouts=[blackout], max_in_flight="100%"), trigger="schedule")
    (hold,) = result.holds
    assert hold.reason == "outside_maintenance_window"
    assert hold.next_opening == at(5, day=2)  # not 02:00, inside the blackout; 05:00 still leaves 16 min to spare
    assert "both allow is 2026-01-02 05:00 UTC" in hold.detail


def test_the_moment_a_blackout_ends_is_named_only_if_the_window_is_open_then() -> None:
    rng = random.Random(32)
    fleet = [make_instance(rng, name="night", maintenance_window="02:00-06:00")]
    blackout = Blackout(start=at(11), end=at(20), reason="release")
    result = plan_of(snapshot(fleet), RunRequest(blackouts=[blackout], max_in_flight="100%"), trigger="schedule")
    (hold,) = result.holds
    assert hold.reason == "blackout" and hold.next_opening == at(2, day=2)  # the window's next opening, not 20:00
