"""Fixtures every tier shares: events, a Lambda context, fleets."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from geminidb_local.lambda_shim import LocalContext
from geminidb_local.simulator.fleet import instance_id

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    """One file of ``events/``."""
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


@pytest.fixture
def lambda_context() -> LocalContext:
    """A context with a 60 s deadline."""
    return LocalContext(timeout_ms=60_000)


def make_instance(rng: random.Random, engine: str = "cassandra", **fields: Any) -> dict[str, Any]:
    """A ListInstances item (the simulator fills the rest)."""
    patch = fields.pop("patch_available", True)
    return {
        "id": instance_id(rng),
        "name": fields.pop("name", f"{engine}-{rng.randrange(10**6):06d}"),
        "datastore": {"type": engine, "patch_available": patch},
        **fields,
    }
