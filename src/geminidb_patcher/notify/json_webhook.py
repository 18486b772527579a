"""The generic JSON webhook: the full ``RunReport``, signed with Standard Webhooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from geminidb_patcher.models import RunReport
from geminidb_patcher.notify.base import Sender
from geminidb_patcher.webhook_auth import sign_headers


@dataclass(frozen=True)
class JsonWebhookChannel:
    """POSTs the report as JSON; ``webhook-id`` is the run ID, so receivers can de-duplicate."""

    name: str
    url: str
    secret: str | None
    sender: Sender
    clock: Callable[[], float]

    def __repr__(self) -> str:
        return f"JsonWebhookChannel(name={self.name!r})"

    def send(self, report: RunReport, report_json: bytes) -> None:
        """Sign and deliver."""
        headers = {"Content-Type": "application/json", "User-Agent": "geminidb-patcher/0.1"}
        if self.secret:
            headers |= sign_headers(self.secret, report.run_id, int(self.clock()), report_json)
        self.sender.post(self.name, self.url, report_json, headers)
