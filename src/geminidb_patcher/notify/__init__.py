"""Notification channels: each turns a run report into one message for its receiver."""
