"""The generic JSON webhook: the full ``RunReport``, signed with Standard Webhooks."""

from __future__ import annotations

from dataclasses import dataclass

from geminidb_patcher.contract.report import RunReport
from geminidb_patcher.contract.signatures import sign_headers
from geminidb_patcher.notify.base import SignedChannel, json_body
from geminidb_patcher.notify.digest import Digest, NotifyOn


@dataclass(frozen=True, repr=False)
class JsonWebhookChannel(SignedChannel):
    """POSTs the report as JSON; ``webhook-id`` is the run ID, so receivers can de-duplicate."""

    notify_on: NotifyOn = "always"

    def send(self, report: RunReport, digest: Digest) -> int:
        """Sign and deliver the whole report."""
        if report.approval is None or report.approval.url is None:
            body = report.model_dump_json().encode()
        else:  # the only place the report's URL goes: added to its one serialisation
            dumped = report.model_dump(mode="json")
            dumped["approval"]["url"] = report.approval.url
            body = json_body(dumped)
        headers = sign_headers(self.secret, report.run_id, int(self.clock()), body) if self.secret else {}
        return self.sender.post(self.name, self.url, body, headers)
