"""The Lambda entry points, one per SAM function: ``scheduled_handler`` and ``webhook_handler``.

Each is thin. Lambda's init phase runs at burst CPU while an invocation gets only its memory's share of a vCPU, so
in Lambda (``_HANDLER`` names the function's handler) the module does at import everything the first invocation
would otherwise do that depends on nothing the invocation brings: the modules of that function's path, the
validated settings, the HTTP session and (for the webhook) its API. Secrets are read in the first invocation: the
Parameters and Secrets extension answers only then. A configuration error found at import is raised by each
invocation, as before. Elsewhere (tests, local tools) the wiring is built on first use. No handler guesses what
kind of event it got.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from geminidb_patcher.errors import PatcherError
from geminidb_patcher.telemetry import logger, metrics

if TYPE_CHECKING:
    from geminidb_patcher.config.wiring import Wiring
    from geminidb_patcher.entrypoints.webhook import WebhookApi

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
"""Any object with the attributes of a Lambda context will do (the local runner passes its own)."""


def _entry_point(answer: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Handler:
    """A Lambda handler with Powertools' logging context and metrics around ``answer``."""

    @metrics.log_metrics(capture_cold_start_metric=True)
    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return answer(event, context)

    typed: Handler = handler
    return typed


def _wiring(environ: Mapping[str, str], given: Wiring | None) -> Callable[[], Wiring]:
    """The container's wiring, validated on first use and kept for the container's life."""

    @functools.cache
    def wired() -> Wiring:
        from geminidb_patcher.config.wiring import Wiring

        return given or Wiring.from_environ(environ)

    return wired


def _prepared(build: Callable[[], object]) -> None:
    """Build now what the first invocation needs; a configuration error is left for each invocation to raise (the
    build is not cached when it fails, so every invocation meets it again, with its answer, as without it)."""
    with contextlib.suppress(PatcherError):
        build()
    gc.collect()  # what init allocated (modules, pydantic schemas, the API) is collected now, at init's speed,
    gc.freeze()  # and never scanned again: otherwise the first invocation's collections walk all of it


def make_scheduled_handler(environ: Mapping[str, str], wiring: Wiring | None = None, *, early: bool = False) -> Handler:
    """The scheduled function's handler: the event is a RunRequest, or an EventBridge schedule's envelope.

    ``early``: import its modules and build the wiring now (Lambda's init), not in the first invocation."""
    wired = _wiring(environ, wiring)
    if early:
        from geminidb_patcher.entrypoints import events  # noqa: F401  (the first invocation's imports, now)

        _prepared(wired)

    def answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from geminidb_patcher.entrypoints.events import run_scheduled

        return run_scheduled(wired(), event, context)

    return _entry_point(answer)


def make_webhook_handler(environ: Mapping[str, str], wiring: Wiring | None = None, *, early: bool = False) -> Handler:
    """The webhook function's handler: an API Gateway HTTP API (payload v2) event.

    ``early``: build the wiring and the API (its resolver and routes) now (Lambda's init)."""
    wired = _wiring(environ, wiring)

    @functools.cache
    def api() -> WebhookApi:
        from geminidb_patcher.entrypoints.webhook import WebhookApi

        return WebhookApi.for_wiring(wired())

    if early:
        _prepared(api)

    def answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
        resolved: dict[str, Any] = api().resolve(event, context)
        return resolved

    return _entry_point(answer)


_LAMBDA_HANDLER = os.environ.get("_HANDLER", "")
"""The handler Lambda was told to run (``_HANDLER``): only its function's path is prepared at import."""
scheduled_handler = make_scheduled_handler(os.environ, early=_LAMBDA_HANDLER.endswith(".scheduled_handler"))
webhook_handler = make_webhook_handler(os.environ, early=_LAMBDA_HANDLER.endswith(".webhook_handler"))
