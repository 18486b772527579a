"""An ``upgrade_results`` item keeps its documented fields, each text bounded, whatever Huawei put in it."""

from __future__ import annotations

from geminidb_patcher.huawei.client import MAX_ITEM_TEXT, upgrade_result


def test_an_item_with_a_huge_message_and_undocumented_fields_is_kept_bounded() -> None:
    item = {
        "instance_id": "a" * 32 + "in06",
        "error_code": "DBS.200019",
        "error_message": "x" * 1_000_000,
        "debug": {"trace": "y" * 1_000_000},
    }
    result = upgrade_result(item)
    assert set(result.raw) == {"instance_id", "error_code", "error_message"}
    assert len(result.raw["error_message"]) == MAX_ITEM_TEXT and result.error_message == result.raw["error_message"]
