"""A small SMN backend: topics of the fleet's project, message templates, and PublishMessage into the inbox."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import unquote

from geminidb_local.simulator.receivers import check_smn_publish
from geminidb_local.simulator.state import SimulatorState

SMN_PATH = re.compile(r"^/v2/(?P<project>[0-9a-f]{32})/notifications/topics/(?P<urn>[^/]+)/publish$")
_TOPIC_URN = re.compile(r"^urn:smn:(?P<region>[a-z0-9-]+):(?P<project>[0-9a-f]{32}):(?P<name>[A-Za-z0-9_-]{1,255})$")


def publish(
    state: SimulatorState, method: str, smn: re.Match[str], path: str, raw_query: str, raw: bytes, body: Any,
    headers: dict[str, str],
) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
    """SMN PublishMessage, authenticated like the GeminiDB API; accepted messages land in the inbox."""
    state.gateway.check(method, path, raw_query, headers, raw, smn["project"])
    fleet = state.backend.fleet
    topic = unquote(smn["urn"])
    request_id = uuid.uuid4().hex
    urn = _TOPIC_URN.match(topic)
    if urn is None:
        return 400, {"request_id": request_id, "code": "SMN.0005", "message": "invalid topic_urn"}, {}
    known = (fleet.credentials.region, fleet.credentials.project_id)
    if (urn["region"], urn["project"]) != known or urn["name"] not in fleet.smn_topics:
        return 404, {"request_id": request_id, "code": "SMN.0006", "message": "topic not found"}, {}
    status, answer = check_smn_publish(body, frozenset(fleet.smn_templates))
    if status != 200:
        return status, {"request_id": request_id, **answer}, {}
    with state.lock:
        state.inbox.append({"channel": f"smn:{topic}", "kind": "smn", "status": 200, "body": body})
    return 200, {"request_id": request_id, "message_id": uuid.uuid4().hex}, {}
