"""What the docs promise about the local tools holds: defaults, the example fleet, the request limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from geminidb_local.simulator.fleet import DEFAULT_PROJECT_ID, DEFAULT_REGION, DEMO_AK, DEMO_SK, load_fleet
from geminidb_patcher.contract.request import MAX_INSTANCE_IDS, RunRequest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_simulator_doc_gives_the_default_credentials() -> None:
    text = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    for value in (DEMO_AK, DEMO_SK, DEFAULT_PROJECT_ID, DEFAULT_REGION):
        assert f"`{value}`" in text


def test_every_fleet_file_the_docs_name_exists_and_loads() -> None:
    named = set(re.findall(r"docs/[\w-]+\.json", README + (ROOT / "docs" / "simulator.md").read_text()))
    assert named == {"docs/fleet-example.json"}
    fleet = load_fleet(ROOT / "docs" / "fleet-example.json")
    assert len(fleet.instances) == 7 and fleet.dr_roles and fleet.scheduled_tasks


def test_no_local_command_in_the_readme_needs_uv_on_path() -> None:
    rows = [line for line in README.splitlines() if line.startswith("| `") and "uv run" in line]
    assert rows == []


def test_the_documented_instance_id_limit_counts_entries() -> None:
    """The docs say '1000 entries': a list of 1001 with one duplicate is refused, 1000 with duplicates is not."""
    assert "at most 1000 entries, and at most `MAX_INSTANCE_IDS` distinct" in README
    ids = [f"{i:032x}in06" for i in range(MAX_INSTANCE_IDS)]
    with pytest.raises(ValidationError):
        RunRequest(instance_ids=[*ids, ids[0]])
    assert len(set(RunRequest(instance_ids=[*ids[:-1], ids[0]]).instance_ids or [])) == MAX_INSTANCE_IDS - 1
