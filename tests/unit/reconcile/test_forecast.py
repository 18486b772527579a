"""What happens next: instances behind and held back, grouped by what they wait for and when they may go."""

from __future__ import annotations

import random
from datetime import timedelta

from geminidb_patcher.contract.report import NextStep, Outcome
from geminidb_patcher.contract.request import ExplicitWindow, RunRequest, Selector, Wave
from geminidb_patcher.notify.digest import build_digest, forecast_line
from geminidb_patcher.reconcile.forecast import forecast
from tests.helpers import NOW, TARGET, job, make_instance, plan_of, snapshot, waves_request
from tests.reports import small_run


def _by_kind(steps: list[NextStep]) -> dict[str, NextStep]:
    return {step.waiting_for: step for step in steps}


def test_instances_outside_their_windows_go_when_the_windows_open() -> None:
    rng = random.Random(151)
    fleet = [
        make_instance(rng, name="tonight", maintenance_window="20:00-21:00"),
        make_instance(rng, name="early", maintenance_window="02:00-06:00"),
        make_instance(rng, name="nowindow", maintenance_window=""),
        make_instance(rng, name="current", maintenance_window="20:00-21:00", patch_available=False),
        make_instance(rng, name="frozen", status="frozen"),
    ]
    result = plan_of(snapshot(fleet), trigger="schedule")

    steps = _by_kind(forecast(result, [], NOW))

    assert list(steps) == ["window", "no_window"]  # the current one waits for nothing, the frozen one for a person
    window = steps["window"]
    assert (window.instances, window.within_a_day) == (2, 2)
    assert window.earliest_at == NOW.replace(hour=20)
    assert window.latest_at == NOW.replace(hour=2) + timedelta(days=1)
    assert steps["no_window"].instances == 1


def test_a_window_beyond_a_day_is_counted_later() -> None:
    rng = random.Random(152)
    fleet = [make_instance(rng) for _ in range(3)]
    saturdays = ExplicitWindow.model_validate({"start": "02:00", "end": "06:00", "timezone": "UTC", "days": ["sat"]})
    result = plan_of(snapshot(fleet), RunRequest(window=saturdays))  # NOW is a Thursday noon

    (window,) = forecast(result, [], NOW)

    assert (window.instances, window.within_a_day) == (3, 0)
    assert window.earliest_at == NOW.replace(day=3, hour=2)
    assert forecast_line([window]) == "3 in their windows after 24 h (first 2026-01-03 02:00 UTC)"


def test_a_later_wave_waits_for_the_wave_before_it_to_be_patched_then_to_bake() -> None:
    rng = random.Random(153)
    canary = make_instance(rng, name="canary-1")
    prod = make_instance(rng, name="prod-1")
    pending = forecast(plan_of(snapshot([canary, prod]), waves_request()), [], NOW)
    assert pending == [NextStep(waiting_for="wave", instances=1, wave="canary")]
    assert forecast_line(pending) == "1 after wave 'canary' is patched"

    patched = make_instance(rng, name="canary-2", patch_available=False)
    ended = NOW - timedelta(minutes=30)
    jobs = (job(patched, "Completed", ended - timedelta(minutes=20), ended),)
    baking = forecast(plan_of(snapshot([patched, prod], jobs=jobs), waves_request()), [], NOW)
    assert baking == [
        NextStep(
            waiting_for="wave",
            instances=1,
            wave="canary",
            earliest_at=ended + timedelta(hours=1),
            latest_at=ended + timedelta(hours=1),
            within_a_day=1,
        )
    ]
    assert forecast_line(baking) == "1 after wave 'canary' bakes (until 2026-01-01 12:30 UTC)"
    held = plan_of(snapshot([patched, prod], jobs=jobs), waves_request()).holds
    waiting = [(hold.reason, hold.next_opening) for hold in held if hold.outcome == "deferred"]
    assert waiting == [("wave_not_ready", ended + timedelta(hours=1))]  # the outcome's next_window_at


def test_rollout_limits_running_upgrades_and_the_deadline_each_get_a_group() -> None:
    rng = random.Random(154)
    fleet = [make_instance(rng, name=f"db-{n}") for n in range(4)]
    running = make_instance(rng, name="upgrading")
    result = plan_of(snapshot([*fleet, running], running={running["id"]: "job-1"}), RunRequest(max_in_flight=3))
    deadline = Outcome(
        instance_id=fleet[0]["id"], region=TARGET.region, project_id=TARGET.project_id, outcome="deferred",
        reason="deadline",
    )  # fmt: skip

    steps = _by_kind(forecast(result, [deadline], NOW))

    assert {kind: step.instances for kind, step in steps.items()} == {"upgrading": 1, "in_flight": 2, "next_run": 1}
    assert forecast_line(list(steps.values())) == (
        "1 upgrading or scheduled now · 2 as running upgrades finish (max_in_flight) · 1 on the next run"
    )


def test_a_spent_error_budget_holds_everything_until_someone_acts() -> None:
    rng = random.Random(155)
    failed = make_instance(rng, name="failed")
    others = [make_instance(rng) for _ in range(2)]
    jobs = (job(failed, "Failed", NOW - timedelta(hours=3), NOW - timedelta(hours=2)),)

    steps = forecast(plan_of(snapshot([failed, *others], jobs=jobs), RunRequest(max_errors=0)), [], NOW)

    assert [(step.waiting_for, step.instances) for step in steps] == [("error_budget", 2)]


def test_nothing_to_forecast_without_a_plan_and_the_digest_says_next_after_compliance() -> None:
    assert forecast(None, [], NOW) == []
    step = NextStep(waiting_for="blackout", instances=4, earliest_at=NOW, latest_at=NOW, within_a_day=4)
    report = small_run().model_copy(update={"next_steps": [step]})

    sections = {section.heading: section.lines for section in build_digest(report).sections}

    assert sections["Next"] == ("4 after the blackout (ends 2026-01-01 12:00 UTC)",)
    assert "Next" not in {section.heading for section in build_digest(small_run()).sections}


def test_a_window_too_short_for_the_upgrade_is_no_window_at_all() -> None:
    rng = random.Random(156)
    fleet = [make_instance(rng, name="tiny", maintenance_window="20:00-20:10")]  # 10 min, the upgrade needs 16

    (step,) = forecast(plan_of(snapshot(fleet), trigger="schedule"), [], NOW)

    assert (step.waiting_for, step.instances, step.earliest_at) == ("no_window", 1, None)


def test_only_the_wave_right_after_a_baking_one_knows_when_it_opens() -> None:
    rng = random.Random(157)
    canary = make_instance(rng, name="canary-1", patch_available=False)
    middle, last = make_instance(rng, name="mid-1"), make_instance(rng, name="last-1")
    ended = NOW - timedelta(minutes=30)
    jobs = (job(canary, "Completed", ended - timedelta(minutes=20), ended),)
    waves = [
        Wave(name="canary", selector=Selector(name="*canary")),
        Wave(name="mid", selector=Selector(name="*mid")),
        Wave(name="last", selector=Selector(engines=["cassandra"])),
    ]
    request = RunRequest(max_in_flight="100%", bake=timedelta(hours=1), waves=waves)

    steps = forecast(plan_of(snapshot([canary, middle, last], jobs=jobs), request), [], NOW)

    assert [(step.wave, step.instances, step.earliest_at) for step in steps] == [
        ("canary", 1, ended + timedelta(hours=1)),  # mid opens when canary has baked
        ("mid", 1, None),  # last waits for mid to be patched and baked too: no moment yet
    ]
