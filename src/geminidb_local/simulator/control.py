"""The reserved control API under ``/_sim/``: requests seen, faults, the clock, tokens, state, the inbox."""

from __future__ import annotations

from typing import Any

from geminidb_local.simulator.faults import Fault
from geminidb_local.simulator.state import SimulatorState

CONTROL_PREFIX = "/_sim/"


def control(state: SimulatorState, method: str, action: str, body: Any) -> tuple[int, Any]:
    """The reserved control API: requests, faults, clock, tokens, state, fleet, notification inbox."""
    if action == "requests" and method == "GET":
        with state.lock:
            return 200, {
                "requests": [exchange.__dict__ for exchange in state.exchanges],
                "peak_in_flight": state.peak_in_flight,
            }
    if action == "requests" and method == "DELETE":
        with state.lock:
            state.exchanges.clear()
            state.peak_in_flight = state.in_flight
        return 200, {}
    if action == "faults" and method == "POST":
        state.faults.add(*(Fault.from_json(item) for item in body.get("faults", [])))
        return 200, {}
    if action == "faults" and method == "DELETE":
        state.faults.clear()
        return 200, {}
    if action == "clock" and method == "POST":
        now = state.clock.advance(float(body.get("advance_seconds", 0)))
        state.backend.tick()
        return 200, {"now": now.isoformat()}
    if action == "tokens/revoke" and method == "POST":
        return 200, {"revoked": state.gateway.revoke_tokens()}
    if action == "state" and method == "GET":
        state.backend.tick()
        return 200, state.backend.snapshot()
    if action.startswith("inbox/") and method == "POST":
        with state.lock:
            state.inbox.append({"channel": action.removeprefix("inbox/"), "body": body})
        return 200, {"ok": True}
    if action == "inbox" and method == "GET":
        with state.lock:
            return 200, {"messages": list(state.inbox)}
    return 404, {"error": f"no control route {method} {CONTROL_PREFIX}{action}"}
