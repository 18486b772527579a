"""``python -m geminidb_local.simulator --port 0 --fleet FLEET.json``: serve until killed."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from geminidb_local.simulator.fleet import demo_fleet, load_fleet, parse_fleet
from geminidb_local.simulator.server import Simulator


def main(argv: list[str] | None = None) -> int:
    """Bind 127.0.0.1, print the address as the first line of stdout, serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m geminidb_local.simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--fleet", type=Path, help="fleet file; the demo fleet when omitted")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API answer")
    args = parser.parse_args(argv)
    try:
        fleet = load_fleet(args.fleet) if args.fleet else parse_fleet(demo_fleet())
    except (OSError, ValueError) as exc:
        print(f"error: cannot load fleet: {exc}", file=sys.stderr)
        return 2
    simulator = Simulator(fleet, port=args.port, latency=args.latency)
    try:
        address = simulator.bind()
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"listening on {address}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        simulator.serve_bound()
    return 0


if __name__ == "__main__":
    sys.exit(main())
