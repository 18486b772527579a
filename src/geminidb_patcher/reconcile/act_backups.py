"""Start the manual backups a plan asks for (``backup.create``): once each, never resent, bounded in time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from geminidb_patcher.contract.report import Outcome
from geminidb_patcher.contract.request import Target
from geminidb_patcher.errors import UpstreamError
from geminidb_patcher.reconcile.backups import BackupOrder
from geminidb_patcher.reconcile.outcomes import outcome_for
from geminidb_patcher.reconcile.ports import GeminiDBPort


def backup_name(now: datetime) -> str:
    """CreateBack's ``name``: 4-64 characters from a letter; the time keeps the names of one instance apart."""
    return f"before-patch-{now.astimezone(UTC):%Y%m%d-%H%M%S}"


def start_backups(
    ports: Callable[[Target], GeminiDBPort],
    orders: Sequence[BackupOrder],
    now: datetime,
    run_id: str,
    concurrency: int,
) -> dict[str, Outcome]:
    """instance ID → its outcome: ``backup_running`` once CreateBack answered (or may have arrived), else
    ``backup_failed``. A failed backup is not a failed upgrade: it never counts against ``max_errors``."""
    name, description = backup_name(now), f"Before a GeminiDB patch (geminidb-patcher run {run_id})"[:256]

    def one(order: BackupOrder) -> Outcome:
        instance = order.instance
        try:
            started = ports(order.target).create_backup(instance.id, name, description)
        except UpstreamError as error:
            if error.may_have_arrived:
                detail = (
                    f"CreateBack failed after it was sent ({error.error_code or type(error).__name__}); the next run "
                    "sees whether the backup began and never starts a second one while it is BUILDING."
                )
                return outcome_for(order.target, instance.id, instance, "backup_running", outcome="skipped",
                                   wave=order.wave, detail=detail)  # fmt: skip
            return outcome_for(
                order.target, instance.id, instance, "backup_failed", outcome="skipped", wave=order.wave,
                error_code=error.error_code or type(error).__name__, error_message=str(error.message),
                detail="The manual backup could not be started; a later run tries again. Not counted against "
                "max_errors.",
            )  # fmt: skip
        detail = (
            f"Started manual backup {started.backup_id or '?'} (job {started.job_id}); patched on the first run after "
            "it has COMPLETED."
        )
        return outcome_for(order.target, instance.id, instance, "backup_running", outcome="skipped",
                           wave=order.wave, detail=detail)  # fmt: skip

    if not orders:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(orders))), thread_name_prefix="backup") as pool:
        return {order.instance.id: outcome for order, outcome in zip(orders, pool.map(one, orders), strict=True)}
