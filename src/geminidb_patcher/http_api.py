"""The webhook: ``POST /runs`` and ``GET /openapi.json`` on an API Gateway HTTP API (payload v2)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit

from geminidb_patcher.models import RunReport, RunRequest
from geminidb_patcher.service import NoTargetError, RunContext
from geminidb_patcher.telemetry import logger, metrics
from geminidb_patcher.webhook_auth import WebhookAuthError, verify

MAX_SEEN_IDS = 10_000


class ReplayGuard:
    """Webhook IDs this container accepted within the tolerance; a second use is a replay."""

    def __init__(self, tolerance: int) -> None:
        self._tolerance = tolerance
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, msg_id: str, now: float) -> bool:
        """Record ``msg_id``; ``False`` when it was already seen within the tolerance."""
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now - 2 * self._tolerance or len(self._seen) > MAX_SEEN_IDS
            ):
                self._seen.popitem(last=False)
            if msg_id in self._seen:
                return False
            self._seen[msg_id] = now
            return True


def _error(status: int, code: str, message: str, **extra: Any) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": code, "message": message, **extra},
    )


def build_http_app(
    run: Callable[[RunRequest, RunContext], RunReport],
    webhook_secrets: Callable[[], list[str]],
    *,
    tolerance: int,
    clock: Callable[[], float] = time.time,
) -> APIGatewayHttpResolver:
    """The resolver; ``run`` executes a validated request, ``webhook_secrets`` yields accepted secrets."""
    app = APIGatewayHttpResolver(enable_validation=True)
    replays = ReplayGuard(tolerance)

    def authenticate(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        event = resolver.current_event
        body = event.decoded_body or ""
        try:
            verified = verify(
                webhook_secrets(), event.headers or {}, body.encode(), now=int(clock()), tolerance=tolerance
            )
            if not replays.first_use(verified.msg_id, clock()):
                raise WebhookAuthError("replayed_id")
        except WebhookAuthError as failure:
            logger.warning("webhook_rejected", extra={"reason": failure.reason})
            metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
            return _error(401, "unauthorized", "The request is not signed with a valid webhook signature.")
        logger.set_correlation_id(verified.msg_id)
        return next_middleware(resolver)

    @app.post("/runs", middlewares=[authenticate])
    def create_run(request: RunRequest) -> dict[str, Any]:
        context = RunContext(
            run_id=app.lambda_context.aws_request_id,
            trigger="webhook",
            remaining_ms=app.lambda_context.get_remaining_time_in_millis,
        )
        return run(request, context).model_dump(mode="json")

    @app.get("/openapi.json")
    def openapi() -> Response[str]:
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=app.get_openapi_json_schema(title="geminidb-patcher", version="0.1.0"),
        )

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
        problems = [
            {
                "field": ".".join(str(part) for part in item.get("loc", ())[1:]) or "body",
                "rule": item.get("type", "invalid"),
                "message": item.get("msg", ""),
            }
            for item in error.errors()
        ]
        return _error(422, "invalid_request", "The request body does not match RunRequest.", problems=problems)

    @app.exception_handler(NoTargetError)  # type: ignore[untyped-decorator]
    def no_target(error: NoTargetError) -> Response[dict[str, Any]]:
        return _error(422, "no_target", str(error))

    return app
