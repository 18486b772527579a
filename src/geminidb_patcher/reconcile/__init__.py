"""Observe the fleet, plan what may be patched now, act on the plan."""
