"""Deliver one run's digest to every channel that wants it, concurrently; a failing channel stops no other."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit

from geminidb_patcher.contract.report import RunReport
from geminidb_patcher.errors import NotificationsFailedError
from geminidb_patcher.notify.base import Channel, NotificationError
from geminidb_patcher.notify.digest import build_digest, worth_sending
from geminidb_patcher.telemetry import logger, metrics

MAX_PARALLEL = 8


@dataclass(frozen=True)
class Delivery:
    """What happened on one channel."""

    channel: str
    delivered: bool
    attempts: int
    problem: str | None = None


def chosen_channels(channels: Sequence[Channel], notify: list[str] | bool) -> list[Channel]:
    """The channels a request keeps: it may only narrow the configured set by name, or turn it off."""
    if isinstance(notify, bool):
        return list(channels) if notify else []
    return [channel for channel in channels if channel.name in notify]


class Notifier:
    """Sends the digest of a report to the channels; logs and counts each delivery."""

    def __init__(self, channels: Sequence[Channel], *, all_failed_fails_run: bool = False) -> None:
        self._channels = list(channels)
        self._all_failed_fails_run = all_failed_fails_run

    @property
    def names(self) -> list[str]:
        """The configured channel names."""
        return [channel.name for channel in self._channels]

    def deliver(self, report: RunReport, notify: list[str] | bool = True) -> list[Delivery]:
        """Send to every chosen channel whose ``notify_on`` matches the run."""
        chosen = chosen_channels(self._channels, notify)
        due = [channel for channel in chosen if worth_sending(report, channel.notify_on)]
        if not due:
            return []
        digest = build_digest(report)

        def one(channel: Channel) -> Delivery:
            try:
                attempts = channel.send(report, digest)
            except NotificationError as error:
                return Delivery(channel.name, False, error.attempts, error.problem)
            except Exception as unexpected:  # one channel's fault never costs the run its report or other channels
                return Delivery(channel.name, False, 1, f"unexpected {type(unexpected).__name__}")
            return Delivery(channel.name, True, attempts)

        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(due)), thread_name_prefix="notify") as pool:
            deliveries = list(pool.map(one, due))
        for delivery in deliveries:
            fields = {"channel": delivery.channel, "attempts": delivery.attempts, "run_id": report.run_id}
            if delivery.delivered:
                logger.info("notification_sent", extra=fields)
            else:
                logger.warning("notification_failed", extra={**fields, "problem": delivery.problem})
                metrics.add_metric(name="NotificationFailures", unit=MetricUnit.Count, value=1)
        failed = [d.channel for d in deliveries if not d.delivered]
        if self._all_failed_fails_run and len(failed) == len(deliveries):
            raise NotificationsFailedError(report, failed)
        return deliveries
