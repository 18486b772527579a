"""The state checks, one at a time: the first failed check names the reason, in the table's order."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

from geminidb_patcher.contract.reasons import SKIP_REASONS
from geminidb_patcher.reconcile.eligibility import PeerState, dr_check, failure_check, pre_check
from geminidb_patcher.reconcile.snapshot import InstanceView
from tests.helpers import NOW, api_item, job, make_instance, snapshot

RNG = random.Random(23)


def _view(**fields: object) -> InstanceView:
    return InstanceView.from_api(api_item(make_instance(RNG, **fields)))


def test_the_first_failed_check_wins_in_the_order_of_the_reasons_table() -> None:
    frozen_and_busy = _view(status="frozen", actions=["REBOOT"])
    reason, detail = pre_check(frozen_and_busy, snapshot([]), None, NOW - timedelta(days=1)) or ("", "")
    assert reason == "status" and "frozen" in detail
    assert SKIP_REASONS.index("status") < SKIP_REASONS.index("busy")


def test_an_instance_whose_state_allows_a_patch_passes_every_state_check() -> None:
    assert pre_check(_view(), snapshot([]), None, NOW - timedelta(days=1)) is None


def test_a_patch_not_offered_is_no_patch_available_not_a_failure() -> None:
    reason, _ = pre_check(_view(patch_available=False), snapshot([]), None, NOW) or ("", "")
    assert reason == "no_patch_available"


def test_a_recent_failure_holds_the_instance_unless_a_person_named_it() -> None:
    item = make_instance(RNG)
    failed = job(item, "Failed", NOW - timedelta(hours=2), NOW - timedelta(hours=1), fail_reason="Disk.")
    held = failure_check(failed, NOW - timedelta(days=1), explicit=False)
    assert held is not None and held[0] == "last_upgrade_failed"
    assert failure_check(failed, NOW - timedelta(days=1), explicit=True) is None
    assert failure_check(failed, NOW, explicit=False) is None  # older than the rollout lookback


def test_a_dr_primary_waits_while_its_standby_still_needs_the_patch_and_goes_once_it_is_done() -> None:
    primary = dataclasses.replace(_view(name="primary"), pair="dr", dr_peer_id="standby-1", dr_role="primary")
    held = dr_check(primary, {"standby-1": PeerState(patch_available=True, upgrading=False)})
    assert held is not None and held[0] == "waiting_for_dr_standby"
    assert dr_check(primary, {"standby-1": PeerState(patch_available=False, upgrading=False)}) is None
    unknown = dataclasses.replace(primary, dr_role="unknown")
    assert (dr_check(unknown, {}) or ("",))[0] == "dr_role_unknown"
