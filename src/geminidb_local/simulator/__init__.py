"""A stateful, wire-faithful fake of the GeminiDB and IAM APIs, for tests and the local demo."""

from geminidb_local.simulator.faults import Fault
from geminidb_local.simulator.fleet import Credentials, Fleet, demo_fleet, load_fleet, parse_fleet
from geminidb_local.simulator.server import Simulator

__all__ = ["Credentials", "Fault", "Fleet", "Simulator", "demo_fleet", "load_fleet", "parse_fleet"]
