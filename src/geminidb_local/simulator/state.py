"""What the simulator's handler threads share: the backends, the gateway, the clock, faults, and every exchange."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from geminidb_local.simulator.backend import Backend
from geminidb_local.simulator.clock import SimClock
from geminidb_local.simulator.faults import FaultPlan
from geminidb_local.simulator.gateway import Gateway
from geminidb_local.simulator.receivers import ReceiverConfig


@dataclass
class Exchange:
    """One request as the simulator received it, and the status it answered."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    body: Any
    header_names: list[str]
    status: int = 0


@dataclass
class SimulatorState:
    """Everything the handler threads share."""

    backend: Backend
    gateway: Gateway
    clock: SimClock
    faults: FaultPlan = field(default_factory=FaultPlan)
    exchanges: list[Exchange] = field(default_factory=list)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    receivers: ReceiverConfig = field(default_factory=ReceiverConfig)
    latency: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    peak_in_flight: int = 0
    """The most API calls (not control or channel calls) ever being answered at once."""
