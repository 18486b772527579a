"""The README's IAM policies hold every action the client's calls need, in both of Huawei's policy models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from geminidb_patcher.huawei.permissions import CALL_PERMISSIONS, SMN_PUBLISH, permission_for

README = Path(__file__).resolve().parents[3] / "README.md"


def policy(kind: str) -> dict[str, object]:
    found = re.search(rf"<!-- policy:{kind} -->\s*```json\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert found, f"the README has no {kind} policy block"
    document: dict[str, object] = json.loads(found.group(1))
    return document


def actions(document: dict[str, object]) -> set[str]:
    return {action for statement in document["Statement"] for action in statement["Action"]}  # type: ignore[attr-defined]


def test_the_identity_policy_is_version_5_and_names_every_documented_action_and_no_other() -> None:
    document = policy("identity")
    needed = {p.identity_action for p in [*CALL_PERMISSIONS.values(), SMN_PUBLISH] if p.identity_action}
    assert document["Version"] == "5.0" and actions(document) == needed
    assert "gaussdbfornosql:instance:upgradeDatabaseVersion" not in actions(document)  # the single-instance API


def test_the_role_policy_is_version_1_1_and_names_every_alias_and_no_other() -> None:
    document = policy("role")
    needed = {action for p in [*CALL_PERMISSIONS.values(), SMN_PUBLISH] for action in p.role_actions}
    assert document["Version"] == "1.1" and actions(document) == needed
    assert not any(action.startswith("gaussdbfornosql:") for action in actions(document))  # identity names


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/instances"),
        ("POST", "/instances/db-upgrade"),
        ("GET", "/jobs"),
        ("GET", "/scheduled-jobs"),
        ("POST", "/instances/resource-instances/action"),
        ("GET", "/instances/054e292c9880d4992f02c0196d3ein12/instance-role"),
    ],
)
def test_every_call_the_client_makes_has_its_permission(method: str, path: str) -> None:
    assert permission_for(method, path) is not None
