"""The webhook: ``POST /runs``, ``GET /openapi.json`` and the approval pages on an API Gateway HTTP API (payload v2)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from geminidb_patcher import __version__
from geminidb_patcher.config.wiring import Wiring, remember_capability
from geminidb_patcher.contract.problems import describe_problems
from geminidb_patcher.contract.reasons import ANOTHER_RUN
from geminidb_patcher.contract.report import RunReport
from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.contract.signatures import WebhookAuthError, verify
from geminidb_patcher.entrypoints.approvals import ApprovalPages, is_approval_path
from geminidb_patcher.errors import ANSWERS, PatcherError, UnauthorizedError, answer_for
from geminidb_patcher.run.lease import LeaseStore, LeaseUnavailableError
from geminidb_patcher.run.patcher import RunContext
from geminidb_patcher.telemetry import logger, metrics

MAX_SEEN_IDS = 10_000
RUNS_PATH = "/runs"
OPENAPI_PATH = "/openapi.json"
PUBLIC_ROUTES = frozenset({("GET", OPENAPI_PATH)})
"""The only requests answered without authentication: the API's own description."""
BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
UTF8_BOM = b"\xef\xbb\xbf"
UNAUTHORIZED = {"error": ANSWERS[UnauthorizedError].code, "message": ANSWERS[UnauthorizedError].message}
BUSY_RETRY_AFTER_SECONDS = 60
"""What a busy answer's ``Retry-After`` says: the holder renews its lease while it acts, so a minute is a guess."""


_TOKEN_PARAMETER = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The approval token from a plan's link (about 200-2,000 characters; a bearer capability).",
    "schema": {"type": "string", "maxLength": 4096},
}
_PAGE = {"content": {"text/html": {"schema": {"type": "string"}}}}
APPROVAL_PATHS: dict[str, Any] = {
    "/approvals/{token}": {
        "get": {
            "summary": "The approval page of a reviewed plan",
            "description": "Renders the plan as the fleet shows it now (a plan run with notifications off: nothing "
            "is sent, no lease is taken) with one 'Apply this plan' button; no script, no external asset.",
            "parameters": [_TOKEN_PARAMETER],
            "responses": {
                "200": {"description": "The plan and its button.", **_PAGE},
                "404": {"description": "Not a token of this deployment (no detail).", **_PAGE},
                "409": {"description": "The plan has changed: no button, a link to the current plan.", **_PAGE},
                "410": {"description": "The link has expired.", **_PAGE},
            },
        },
        "post": {
            "summary": "Apply exactly the reviewed plan",
            "description": "Runs apply with the token's request and expected_plan_id. Refused from another site "
            "(Sec-Fetch-Site, Origin). The report's source records the link's ID, the caller's IP and user agent.",
            "parameters": [_TOKEN_PARAMETER],
            "responses": {
                "200": {"description": "Applied: the outcome per instance and the run ID.", **_PAGE},
                "403": {"description": "A cross-site post: nothing was run.", **_PAGE},
                "404": {"description": "Not a token of this deployment (no detail).", **_PAGE},
                "409": {"description": "The plan has changed, or another run is applying: nothing was sent.", **_PAGE},
                "410": {"description": "The link has expired.", **_PAGE},
            },
        },
    }
}
"""The approval routes in the OpenAPI document (they are answered before the resolver, by ``ApprovalPages``)."""


def shared_id_key(msg_id: str) -> str:
    """The lease table's key for an accepted webhook ID (hashed: any 256 printable characters make one short key)."""
    return "webhook#" + hashlib.sha256(msg_id.encode()).hexdigest()


class ReplayGuard:
    """Webhook IDs this container accepted within the tolerance; a second use is a replay.

    An ID is recorded only once its request was accepted (anything but a 4xx answer), so a sender may retry
    after a 4xx with the same ID.
    """

    def __init__(self, tolerance: int) -> None:
        self._tolerance = tolerance
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, msg_id: str, now: float) -> bool:
        """Whether ``msg_id`` was accepted within the tolerance."""
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now - 2 * self._tolerance or len(self._seen) > MAX_SEEN_IDS
            ):
                self._seen.popitem(last=False)
            return msg_id in self._seen

    def record(self, msg_id: str, now: float) -> None:
        """Remember an accepted ``msg_id``."""
        with self._lock:
            self._seen[msg_id] = now


def _error(status: int, code: str, message: str, **extra: Any) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": code, "message": message, **extra},
    )


@dataclass(frozen=True)
class HttpRequest:
    """What authentication reads of an HTTP API (payload v2) event, through Powertools' ``APIGatewayProxyEventV2``:
    the method, the path as the resolver will match it (a named stage's prefix removed), case-insensitive headers,
    the body's exact bytes (the signature covers them, so base64 is decoded here, not to text) and whether API
    Gateway's IAM authorizer named a principal. A malformed event reads as empty parts, never as an exception."""

    method: str
    path: str
    headers: Mapping[str, str]
    raw: bytes
    iam_principal: bool

    @classmethod
    def of(cls, event: dict[str, Any]) -> HttpRequest:
        """Read ``event``."""
        view = APIGatewayProxyEventV2(event)
        method = _or_empty(lambda: str(view.request_context.http.method or "").upper())
        path = _or_empty(lambda: view.path) or "/"
        headers = _or_empty(lambda: view.headers) or {}
        iam = _or_empty(lambda: view.request_context.authorizer.iam.raw_event)
        return cls(method, path, headers, _raw_body(view), isinstance(iam, dict) and bool(iam))


def _or_empty(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except (KeyError, TypeError, AttributeError, ValueError):
        return ""


def _raw_body(view: APIGatewayProxyEventV2) -> bytes:
    body = view.get("body") or ""
    if view.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return b""
    return str(body).encode()


def _reject(status: int, code: str, message: str) -> dict[str, Any]:
    logger.warning("webhook_refused", extra={"status": status, "error": code})
    return _json_response(status, {"error": code, "message": message})


def _json_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


class WebhookApi:
    """Verifies the signature of ``POST /runs`` before anything parses the body, then routes."""

    @classmethod
    def for_wiring(cls, wiring: Wiring) -> WebhookApi:
        """The webhook of a deployment: a fresh patcher per run, the current secrets, the shared webhook IDs."""
        settings = wiring.settings

        def run(request: RunRequest, context: RunContext) -> RunReport:
            return wiring.patcher().run(request, context)

        return cls(
            run,
            wiring.webhook_secrets,
            tolerance=settings.webhook_tolerance_seconds,
            auth_mode=settings.webhook_auth,
            max_body_bytes=settings.max_body_bytes,
            shared_ids=wiring.lease_store,
            approvals=ApprovalPages(
                run, wiring.approval_keys, wiring.approval_issuer().mint, remember=remember_capability
            ),
        )

    def __init__(
        self,
        run: Callable[[RunRequest, RunContext], RunReport],
        webhook_secrets: Callable[[], list[str]],
        *,
        tolerance: int,
        auth_mode: str = "signature",
        max_body_bytes: int = 65_536,
        clock: Callable[[], float] = time.time,
        shared_ids: LeaseStore | None = None,
        approvals: ApprovalPages | None = None,
    ) -> None:
        self._secrets = webhook_secrets
        self._approvals = approvals
        """The approval pages, authenticated by their token (``None``: those paths are refused like any other)."""
        self._shared_ids = shared_ids
        """With the lease table: every container's accepted IDs, so a replay to another container is refused too."""
        self._tolerance = tolerance
        self._auth_mode = auth_mode
        self._max_body_bytes = max_body_bytes
        self._clock = clock
        self._replays = ReplayGuard(tolerance)
        self.app = _build_resolver(run)

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Answer one HTTP API v2 event: every request is authenticated first, whatever its route or spelling.

        Only ``GET /openapi.json`` (public documentation) is exempt; the resolver then sees a normalised copy
        of the event (upper-case method, lower-case media type, no byte-order mark).
        """
        request = HttpRequest.of(event)
        method, raw = request.method, request.raw
        if self._approvals is not None and is_approval_path(request.path):
            return self._approvals.answer(method, request.path, request.headers, raw, event, context)
        accepted_id: str | None = None
        claim: str | None = None
        if (method, request.path) not in PUBLIC_ROUTES:
            refused = self._refuse_size(event, raw)
            if refused is not None:
                return refused
            try:
                accepted_id = self._authenticate(request)
                claim = self._claim(accepted_id)
            except WebhookAuthError as failure:
                logger.warning("webhook_rejected", extra={"reason": failure.reason})
                metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
                if failure.reason == "replayed_id":  # signed, so the sender holds the secret: tell it what happened
                    return _reject(
                        409, "already_used", "This webhook-id was already accepted: a new run needs a new webhook-id."
                    )
                return _json_response(401, UNAUTHORIZED)
            except LeaseUnavailableError as error:
                logger.error("webhook_replay_guard_unavailable", extra={"error": str(error)})
                refused = _reject(
                    503, "replay_guard_unavailable", "The replay guard cannot be reached: nothing was run; retry later."
                )
                refused["headers"]["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
                return refused
            if request.path == RUNS_PATH and method != "POST":
                refused = _reject(405, "method_not_allowed", "Use POST to start a run.")
                refused["headers"]["Allow"] = "POST"
                return self._unclaimed(accepted_id, claim, refused)
            if method not in BODILESS_METHODS:
                refused = _refuse_body(request)
                if refused is not None:
                    return self._unclaimed(accepted_id, claim, refused)
        resolved: dict[str, Any] = self.app.resolve(_normalised(event, method, raw), context)
        if accepted_id is not None and not 400 <= int(resolved.get("statusCode", 500)) < 500:
            self._replays.record(accepted_id, self._clock())
        return self._unclaimed(accepted_id, claim, resolved)

    def _claim(self, msg_id: str | None) -> str | None:
        """Record ``msg_id`` in the shared table (when configured); ``replayed_id`` if any container accepted it."""
        if msg_id is None or self._shared_ids is None:
            return None
        claim = self._shared_ids.claim(shared_id_key(msg_id), self._clock(), 2 * self._tolerance)
        if claim is None:
            raise WebhookAuthError("replayed_id")
        return claim

    def _unclaimed(self, msg_id: str | None, claim: str | None, answer: dict[str, Any]) -> dict[str, Any]:
        """``answer``; after a 4xx the shared record of ``msg_id`` is removed, so the sender may retry with it."""
        refused = 400 <= int(answer.get("statusCode", 500)) < 500
        if refused and msg_id is not None and claim is not None and self._shared_ids is not None:
            try:
                self._shared_ids.unclaim(shared_id_key(msg_id), claim)
            except LeaseUnavailableError:
                logger.warning("webhook_id_not_released", extra={"status": answer.get("statusCode")})
        return answer

    def _refuse_size(self, event: dict[str, Any], raw: bytes) -> dict[str, Any] | None:
        if len(raw) > self._max_body_bytes or len(str(event.get("body") or "")) > 2 * self._max_body_bytes:
            return _reject(413, "body_too_large", f"The body exceeds {self._max_body_bytes} bytes.")
        return None

    def _authenticate(self, request: HttpRequest) -> str | None:
        """The verified webhook ID (``None`` under IAM auth); ``WebhookAuthError`` when refused."""
        if self._auth_mode == "iam":
            if not request.iam_principal:
                raise WebhookAuthError("no_iam_principal")
            return None
        now = self._clock()
        verified = verify(self._secrets(), request.headers, request.raw, now=int(now), tolerance=self._tolerance)
        if self._replays.seen(verified.msg_id, now):
            raise WebhookAuthError("replayed_id")
        logger.set_correlation_id(verified.msg_id)
        return verified.msg_id


def _refuse_body(request: HttpRequest) -> dict[str, Any] | None:
    """Content type, then JSON: the answer that refuses, or ``None``."""
    media_type = str(request.headers.get("content-type", "")).split(";")[0].strip().lower()
    if media_type != content_types.APPLICATION_JSON:
        return _reject(415, "unsupported_media_type", "Send the RunRequest as application/json.")
    try:
        json.loads(request.raw.removeprefix(UTF8_BOM), object_pairs_hook=_unique_keys)
    except DuplicateKeyError as duplicate:
        return _reject(422, "duplicate_key", f"The body repeats the key {duplicate.key!r}; each key may appear once.")
    except (ValueError, RecursionError):
        return _reject(422, "invalid_json", "The body is not a JSON document.")
    return None


class DuplicateKeyError(ValueError):
    """A JSON object names a key twice: parsers disagree on which value wins, so the body is refused."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key[:64]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKeyError(key)
        found[key] = value
    return found


def _normalised(event: dict[str, Any], method: str, raw: bytes) -> dict[str, Any]:
    """The event as the resolver should see it: media types are case-insensitive, a UTF-8 BOM is not JSON."""
    copy = dict(event)
    context = dict(copy.get("requestContext") or {})
    context["http"] = {**(context.get("http") or {}), "method": method}
    copy["requestContext"] = context
    headers = {str(k).lower(): str(v) for k, v in (copy.get("headers") or {}).items()}
    if "content-type" in headers:
        kind, _, params = headers["content-type"].partition(";")
        headers["content-type"] = kind.strip().lower() + (f";{params}" if params else "")
    copy["headers"] = headers
    if raw.startswith(UTF8_BOM):
        copy["body"], copy["isBase64Encoded"] = base64.b64encode(raw.removeprefix(UTF8_BOM)).decode(), True
    return copy


def _build_resolver(run: Callable[[RunRequest, RunContext], RunReport]) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.post(RUNS_PATH)
    def create_run(request: RunRequest) -> Response[dict[str, Any]]:
        report = run(request, RunContext.for_invocation(app.lambda_context, "webhook"))
        answer = report.as_answer()
        if not report.held_by_another_run:
            return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=answer)
        return Response(  # the run happened, but part of it waits for another: busy, try later
            status_code=409,
            content_type=content_types.APPLICATION_JSON,
            body={
                "error": ANOTHER_RUN,
                "message": "Another run is applying to a target of this request; what it held back is in the report. "
                "Send the request again later (a new webhook-id, or the same one).",
                **answer,
            },
            headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
        )

    @app.get(OPENAPI_PATH)
    def openapi() -> Response[str]:
        document = json.loads(app.get_openapi_json_schema(title="geminidb-patcher", version=__version__))
        document["paths"] |= APPROVAL_PATHS  # answered before the resolver: their token authenticates them
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=json.dumps(document))

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
        problems = describe_problems(error.errors(), skip_loc=1)
        return _error(422, "invalid_request", "The request body does not match RunRequest.", problems=problems)

    @app.exception_handler(PatcherError)  # type: ignore[untyped-decorator]
    def patcher_error(error: PatcherError) -> Response[dict[str, Any]]:
        answer = answer_for(error)
        return _error(answer.http_status, answer.code, answer.message, **error.details())

    return app
