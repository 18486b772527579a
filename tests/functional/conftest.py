"""A fresh simulator per test, and clients wired to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from geminidb_local.simulator import Simulator
from geminidb_patcher.huawei.client import GeminiDBClient
from tests.helpers import Sleeps, dynamodb_emulator, fleet_document, make_client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def simulator(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    marker = request.node.get_closest_marker("fleet")
    document = marker.args[0] if marker else fleet_document()
    with Simulator(document) as running:
        yield running


@pytest.fixture
def client(simulator: Simulator, sleeps: Sleeps) -> GeminiDBClient:
    return make_client(simulator, sleeps)


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    with dynamodb_emulator() as endpoint:
        yield endpoint
