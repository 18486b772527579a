"""Outcomes are built from typed, already-validated values and share one field-name set."""

from __future__ import annotations

from datetime import UTC, datetime

from geminidb_patcher.contract.report import Outcome
from geminidb_patcher.reconcile.outcomes import outcome_for
from geminidb_patcher.reconcile.snapshot import InstanceView
from tests.reports import TARGET


def test_outcomes_share_one_field_name_set_and_equal_what_validation_of_their_dump_gives() -> None:
    view = InstanceView(
        id="d" * 32,
        name="orders-db",
        engine="cassandra",
        status="abnormal",
        patch_available=True,
        version="3.11",
        actions=(),
        maintenance_window="02:00-06:00",
    )
    built = [
        outcome_for(TARGET, "a" * 32, None, outcome="skipped", reason="busy"),
        outcome_for(TARGET, "b" * 32, view, "status", outcome="skipped", detail="not healthy"),
        outcome_for(None, "c" * 32, None, outcome="failed", error_code="DBS.200998", error_message="no"),
        outcome_for(TARGET, view.id, view, outcome="deferred", wave="canary", next_window_at=datetime.now(UTC)),
    ]

    assert len({id(outcome.model_fields_set) for outcome in built}) == 1
    assert built[1].reason == "status_abnormal"
    assert built[2].region is None
    for outcome in built:
        assert Outcome.model_validate(outcome.model_dump()) == outcome
        assert outcome.model_dump(exclude_unset=True) == outcome.model_dump()
    changed = built[0].model_copy(update={"detail": "copied"})
    assert changed.detail == "copied"
    assert built[1].detail == "not healthy"
    assert changed.model_fields_set is not built[0].model_fields_set
