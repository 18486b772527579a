"""One run as a straight pass: leases, observe, plan, act, report; then publish once."""
