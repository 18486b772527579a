"""Waves: an instance joins the first wave that selects it; a wave opens when the ones before are done and baked."""

from __future__ import annotations

import random
from datetime import timedelta

from geminidb_patcher.contract.request import Selector, Wave
from geminidb_patcher.reconcile.snapshot import InstanceView
from geminidb_patcher.reconcile.waves import wave_of, wave_statuses
from tests.helpers import NOW, api_item, job, make_instance, snapshot

RNG = random.Random(29)
WAVES = [Wave(name="canary", selector=Selector(name="*canary")), Wave(name="rest", selector=Selector())]


def _view(**fields: object) -> InstanceView:
    return InstanceView.from_api(api_item(make_instance(RNG, **fields)))


def test_an_instance_joins_the_first_wave_whose_selector_matches() -> None:
    canary, other = _view(name="orders-canary"), _view(name="orders-1")
    assert wave_of(WAVES, canary, snapshot([])) == 0
    assert wave_of(WAVES, other, snapshot([])) == 1
    assert wave_of(WAVES[:1], other, snapshot([])) is None


def test_a_later_wave_waits_while_an_earlier_one_still_needs_the_patch() -> None:
    statuses = wave_statuses(WAVES, {0: [_view(name="a-canary")], 1: [_view()]}, {}, NOW, timedelta(hours=1))
    assert [s.ready for s in statuses] == [True, False]
    assert statuses[1].waits_for == "canary" and "still has 1 instance(s) to patch" in statuses[1].detail


def test_a_patched_wave_bakes_then_the_next_opens_when_the_bake_ends() -> None:
    item = make_instance(RNG, name="a-canary", patch_available=False)
    done = job(item, "Completed", NOW - timedelta(minutes=50), NOW - timedelta(minutes=30))
    members = {0: [InstanceView.from_api(api_item(item))], 1: [_view()]}
    baking = wave_statuses(WAVES, members, {item["id"]: done}, NOW, timedelta(hours=1))
    assert not baking[1].ready and baking[1].opens_at == NOW + timedelta(minutes=30)
    baked = wave_statuses(WAVES, members, {item["id"]: done}, NOW + timedelta(minutes=31), timedelta(hours=1))
    assert baked[1].ready


def test_a_failed_upgrade_in_a_wave_holds_every_later_wave_until_an_operator_acts() -> None:
    item = make_instance(RNG, name="a-canary")
    failed = job(item, "Failed", NOW - timedelta(hours=2), NOW - timedelta(hours=1), fail_reason="Disk.")
    members = {0: [InstanceView.from_api(api_item(item))], 1: [_view()]}
    statuses = wave_statuses(WAVES, members, {item["id"]: failed}, NOW + timedelta(days=3), timedelta(hours=1))
    assert statuses[0].failed == 1 and not statuses[1].ready and "an operator must act" in statuses[1].detail
