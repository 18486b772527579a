"""GeminiDB API calls: instances, batch upgrade, jobs and scheduled tasks, plus IAM token issuance."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from geminidb_patcher.huawei.auth import SUBJECT_TOKEN_HEADER, Authenticator, IssuedToken
from geminidb_patcher.huawei.errors import (
    AuthenticationError,
    DeadlineError,
    ForbiddenError,
    HuaweiError,
    ProtocolError,
    TransportError,
)
from geminidb_patcher.huawei.http import JsonHttp, JsonResponse, require_object
from geminidb_patcher.huawei.permissions import grant_advice
from geminidb_patcher.huawei.retry import RetryPolicy, may_retry_read, may_retry_submission
from geminidb_patcher.ids import check_project_id
from geminidb_patcher.reconcile.ports import MAX_BATCH_SIZE, UPGRADE_TASK_NAME, BackupStarted, UpgradeResult
from geminidb_patcher.reconcile.snapshot import BackupView, InstanceView, JobView, ScheduledTask
from geminidb_patcher.redaction import clip
from geminidb_patcher.retry import call_with_retries

INSTANCE_PAGE_SIZE = 100
JOB_PAGE_SIZE = 50
SCHEDULE_PAGE_SIZE = 100
BACKUP_PAGE_SIZE = 100
"""ListBackups v4's largest ``limit``."""
BACKUP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{3,63}")
"""CreateBack's ``name``: 4-64 characters starting with a letter (letters, digits, hyphens, underscores)."""
MAX_BACKUP_DESCRIPTION = 256
TAG_PAGE_SIZE = 100
MAX_PAGES = 1000
SETTLE_ATTEMPTS = 3
"""Readings of a paged list that shifted while it was read, before the list is refused as unsettled."""
UNREACHABLE_ATTEMPTS = 2
"""Attempts at a host that could not be connected to (refused, unresolvable, connect timeout), or that took the
request and never answered in time."""


def upgrade_result(item: Any) -> UpgradeResult:
    """Parse one ``upgrade_results`` item; a malformed item is a ``ProtocolError``."""
    if not isinstance(item, dict) or not isinstance(item.get("instance_id"), str):
        raise ProtocolError("upgrade_results item without instance_id")
    job_id, code = item.get("job_id"), item.get("error_code")
    if not (isinstance(job_id, str) and job_id) and not (isinstance(code, str) and code):
        raise ProtocolError("upgrade_results item with neither job_id nor error_code")
    message = item.get("error_message", item.get("error_msg"))
    return UpgradeResult(
        instance_id=item["instance_id"],
        job_id=job_id if isinstance(job_id, str) and job_id else None,
        error_code=code if isinstance(code, str) and code else None,
        error_message=clip(str(message), MAX_ITEM_TEXT) if message is not None else None,
        raw={
            key: clip(value, MAX_ITEM_TEXT) if isinstance(value, str) else value
            for key, value in item.items()
            if key in ITEM_KEYS
        },
    )


ITEM_KEYS = ("instance_id", "job_id", "error_code", "error_message", "error_msg")
"""The documented fields of an ``upgrade_results`` item (SDK ``UpgradeResult``): only these are kept, so an item
cannot carry an unbounded payload into the logs and the answer."""
MAX_ITEM_TEXT = 1_000


def huawei_time(moment: datetime) -> str:
    """Format a moment the way the jobs APIs expect: ``yyyy-mm-ddThh:mm:ss+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class GeminiDBClient:
    """The GeminiDB calls this function needs, for one project at one endpoint."""

    def __init__(
        self,
        *,
        http: JsonHttp,
        endpoint: str,
        project_id: str,
        auth: Authenticator,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        page_concurrency: int = 1,
        time_left: Callable[[], float] | None = None,
    ) -> None:
        self._http = http
        self._host = urlsplit(endpoint).netloc or endpoint
        self._time_left = time_left
        self._endpoint = endpoint.rstrip("/")
        self._project_id = check_project_id(project_id)
        self._base = f"{self._endpoint}/v3/{self._project_id}"
        self._auth = auth
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._page_concurrency = page_concurrency

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        may_retry: Callable[[HuaweiError], bool],
        version: str = "v3",
    ) -> JsonResponse:
        refreshed = [False]
        url = self._base + path if version == "v3" else f"{self._endpoint}/{version}/{self._project_id}{path}"
        named = path if version == "v3" else f"/{version}{path}"

        def time_left() -> float | None:
            return self._time_left() if self._time_left else None

        def once() -> JsonResponse:
            left = time_left()
            if left is not None and left <= 0:
                raise DeadlineError(f"no time left to call {self._host} before the invocation's deadline")
            try:
                return self._http.request(method, url, auth=self._auth, query=query, body=body, time_left=left)
            except ForbiddenError as error:
                error.missing_permission = grant_advice(method, named)
                error.message = f"{error.message} ({error.missing_permission})"
                raise

        def wait_after(error: Exception, attempt: int) -> float | None:
            if isinstance(error, AuthenticationError):  # a token may have expired: fetch one, then ask once more
                if refreshed[0] or not self._auth.refresh():
                    return None
                refreshed[0] = True
                return 0.0
            assert isinstance(error, HuaweiError)
            unreachable = isinstance(error, TransportError) and (not error.request_sent or error.silent)
            if not may_retry(error) or (unreachable and attempt >= UNREACHABLE_ATTEMPTS):
                return None  # a host that refuses connections, or never answers, fails fast: one retry, not four
            return self._retry.delay(attempt, getattr(error, "retry_after", None))

        return call_with_retries(once, wait_after, time_left=time_left, sleep=self._sleep, retry_on=HuaweiError)

    def _page(
        self,
        path: str,
        items_key: str,
        query: list[tuple[str, str]],
        offset: int,
        size: int,
        keep: Callable[[dict[str, Any]], Any] | None = None,
        version: str = "v3",
    ) -> tuple[list[tuple[str | None, Any]], int | None]:
        """One page as ``(key, item)`` pairs (``keep`` applied at once, so raw pages are not held), and its total."""
        page_query = [*query, ("offset", str(offset)), ("limit", str(size))]
        answer = self._call("GET", path, query=page_query, may_retry=may_retry_read, version=version)
        body = require_object(answer, items_key)
        page = body[items_key]
        if not isinstance(page, list):
            raise ProtocolError(f"{items_key} is not a list")
        total = body.get("total_count")
        kept = []
        for item in page:
            if isinstance(item, dict):
                key = item.get("id") or item.get("job_id")
                kept.append((str(key) if key is not None else None, keep(item) if keep else item))
        return kept, int(total) if isinstance(total, int | str) and str(total).isdigit() else None

    def _paged(
        self,
        path: str,
        items_key: str,
        query: list[tuple[str, str]],
        page_size: int,
        keep: Callable[[dict[str, Any]], Any] | None = None,
        *,
        union_if_unsettled: bool = False,
        version: str = "v3",
    ) -> list[Any]:
        """Every item of a paged list, read again while the list shifts under the paging.

        Offsets are fixed from the first page's ``total_count``, so an item created or deleted meanwhile shifts
        the later pages: one item is read twice, another never. A reading is settled when every page gave the
        same total and the distinct items number exactly that; up to ``SETTLE_ATTEMPTS`` readings are made.
        Then a list of jobs or tasks (``union_if_unsettled``) is every item any reading saw, the latest copy of
        each (a job that ended meanwhile may still count as running: the side that blocks); any other list is
        refused (the target's error) rather than returned with an item silently missing.
        """
        problem = ""
        seen: dict[str, Any] = {}
        for _ in range(SETTLE_ATTEMPTS):
            items, problem = self._read_pages(path, items_key, query, page_size, keep, version)
            if not problem:
                return [item for key, item in items]
            seen.update((key or f"#{len(seen)}", item) for key, item in items)
        if union_if_unsettled:
            return list(seen.values())
        raise ProtocolError(f"{items_key} kept changing while it was paged ({problem}); not every item was seen")

    def _read_pages(
        self,
        path: str,
        items_key: str,
        query: list[tuple[str, str]],
        page_size: int,
        keep: Callable[[dict[str, Any]], Any] | None,
        version: str = "v3",
    ) -> tuple[list[tuple[str | None, Any]], str]:
        """One reading as ``(key, item)``: the first page, then the rest ``page_concurrency`` at a time; and what
        looked shifted ("" when nothing did)."""
        first, total = self._page(path, items_key, query, 0, page_size, keep, version)
        pages = [first]
        totals = {total}
        if total is None:  # no total: walk until an empty page
            offset = page_size
            for _ in range(MAX_PAGES):
                if not pages[-1]:
                    break
                page, _ = self._page(path, items_key, query, offset, page_size, keep, version)
                pages.append(page)
                offset += page_size
            else:
                raise ProtocolError(f"more than {MAX_PAGES} pages of {items_key}")
        else:
            offsets = list(range(page_size, total, page_size))
            if len(offsets) >= MAX_PAGES:
                raise ProtocolError(f"more than {MAX_PAGES} pages of {items_key}")
            if offsets:
                workers = max(1, min(self._page_concurrency, len(offsets)))
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page") as pool:
                    for page, page_total in pool.map(
                        lambda o: self._page(path, items_key, query, o, page_size, keep, version), offsets
                    ):
                        pages.append(page)
                        totals.add(page_total)
        items: list[tuple[str | None, Any]] = []
        seen: set[str] = set()
        repeated = 0
        for page in pages:
            for key, item in page:
                if key is not None and key in seen:
                    repeated += 1
                    continue
                if key is not None:
                    seen.add(key)
                items.append((key, item))
        if len(totals) > 1:
            return items, f"total_count went from {total} to {', '.join(sorted(str(t) for t in totals - {total}))}"
        if repeated:
            return items, f"{repeated} item(s) appeared on two pages"
        if total is not None and len(items) != total:
            return items, f"{len(items)} item(s) read of total_count {total}"
        return items, ""

    def list_instance_views(self) -> list[InstanceView]:
        """Every instance, parsed page by page into the fields planning needs (large fleets stay small)."""
        return self._paged("/instances", "instances", [], INSTANCE_PAGE_SIZE, InstanceView.from_api)

    def list_instance_ids_by_tags(self, tags: Mapping[str, Sequence[str]]) -> list[str]:
        """IDs of the instances carrying every tag key with one of its values (all pages); empty values = any.

        Read again while the matches shift under the paging, as ``_paged`` does; refused if they never settle.
        """
        body: dict[str, Any] = {
            "action": "filter",
            "limit": str(TAG_PAGE_SIZE),
            "tags": [{"key": key, "values": list(values)} for key, values in tags.items()],
        }
        problem = ""
        for _ in range(SETTLE_ATTEMPTS):
            ids, problem = self._read_tagged(body)
            if not problem:
                return ids
        raise ProtocolError(f"tagged instances kept changing while they were paged ({problem})")

    def _read_tagged(self, body: dict[str, Any]) -> tuple[list[str], str]:
        ids: list[str] = []
        totals: set[int | None] = set()
        for _ in range(MAX_PAGES):
            page_body = {**body, "offset": str(len(ids))}
            response = self._call(
                "POST", "/instances/resource-instances/action", body=page_body, may_retry=may_retry_read
            )
            page = require_object(response, "instances")["instances"]
            if not isinstance(page, list):
                raise ProtocolError("instances is not a list", status=response.status)
            ids.extend(str(item["instance_id"]) for item in page if isinstance(item, dict) and item.get("instance_id"))
            total = response.body.get("total_count") if isinstance(response.body, dict) else None
            totals.add(total if isinstance(total, int) else None)
            if not page or not isinstance(total, int) or len(ids) >= total:
                break
        else:
            raise ProtocolError(f"more than {MAX_PAGES} pages of tagged instances")
        unique = list(dict.fromkeys(ids))
        if len(totals) > 1:
            return unique, "total_count changed between pages"
        if len(unique) != len(ids):
            return unique, f"{len(ids) - len(unique)} instance(s) appeared on two pages"
        return unique, ""

    def batch_upgrade(self, instance_ids: Sequence[str]) -> list[UpgradeResult]:
        """Patch up to ten instances of one engine now (BatchUpgradeDatabaseVersion).

        Never repeated after the request may have reached the server: the caller re-observes instead. The IDs are
        the API's own (data, sent in the body), so no format is imposed on them.
        """
        ids = list(instance_ids)
        if not 0 < len(ids) <= MAX_BATCH_SIZE or len(set(ids)) != len(ids):
            raise ValueError(f"a batch holds 1 to {MAX_BATCH_SIZE} distinct instance IDs")
        response = self._call(
            "POST", "/instances/db-upgrade", body={"instance_ids": ids}, may_retry=may_retry_submission
        )
        results = require_object(response, "upgrade_results")["upgrade_results"]
        if not isinstance(results, list):
            raise ProtocolError("upgrade_results is not a list", status=response.status)
        return [upgrade_result(item) for item in results]

    def list_jobs(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> list[JobView]:
        """Jobs matching the filters (ListJobs, all pages), parsed; jobs naming no instance are left out."""
        query = [
            (key, value)
            for key, value in (
                ("name", name),
                ("status", status),
                ("start_time", huawei_time(start_time) if start_time else None),
                ("end_time", huawei_time(end_time) if end_time else None),
            )
            if value is not None
        ]
        jobs = self._paged("/jobs", "jobs", query, JOB_PAGE_SIZE, JobView.from_api, union_if_unsettled=True)
        return [job for job in jobs if job]

    def list_scheduled_tasks(
        self,
        *,
        job_name: str = UPGRADE_TASK_NAME,
        job_status: str | None = None,
        created_since: datetime | None = None,
        created_until: datetime | None = None,
    ) -> list[ScheduledTask]:
        """Tasks scheduled into maintenance windows (ListNosqlTaskList, all pages).

        ``start_time``/``end_time`` filter on the task's creation time; without ``created_since`` the API
        shows only tasks created in the last 7 days, so a pending task created earlier would be missed.
        """
        query = [
            (key, value)
            for key, value in (
                ("job_name", job_name),
                ("job_status", job_status),
                ("start_time", huawei_time(created_since) if created_since else None),
                ("end_time", huawei_time(created_until) if created_until else None),
            )
            if value
        ]
        tasks = self._paged(
            "/scheduled-jobs", "schedules", query, SCHEDULE_PAGE_SIZE, ScheduledTask.from_api, union_if_unsettled=True
        )
        return [task for task in tasks if task]

    def list_backups(self, *, began_since: datetime, began_until: datetime) -> list[BackupView]:
        """Full instance backups that began in the span (ListBackups v4, every page, newest first); ``begin_time`` and
        ``end_time`` filter on a backup's start and are sent together, as the API requires."""
        query = [("begin_time", huawei_time(began_since)), ("end_time", huawei_time(began_until))]
        backups = self._paged(
            "/backups", "backups", query, BACKUP_PAGE_SIZE, BackupView.from_api, union_if_unsettled=True, version="v4"
        )
        return [backup for backup in backups if backup]

    def create_backup(self, instance_id: str, name: str, description: str) -> BackupStarted:
        """Start a manual full backup (CreateBack); never repeated once it may have reached the server."""
        if not BACKUP_NAME.fullmatch(name) or len(description) > MAX_BACKUP_DESCRIPTION:
            raise ValueError(
                "a backup name is 4-64 letters, digits, - or _ starting with a letter; a description ≤ 256"
            )
        path = f"/instances/{quote(instance_id, safe='')}/backups"  # an ID from the API: escaped, not judged
        body = {"name": name, "description": description}
        answer = require_object(self._call("POST", path, body=body, may_retry=may_retry_submission), "job_id")
        job_id, backup_id = answer.get("job_id"), answer.get("backup_id")
        if not isinstance(job_id, str) or not job_id:
            raise ProtocolError("CreateBack answered no job_id")
        return BackupStarted(job_id=job_id, backup_id=str(backup_id or ""))

    def show_instance_role(self, instance_id: str) -> str:
        """The instance's role in its DR pair (ShowInstanceRole): ``master`` or ``slave``; ``""`` if unsaid."""
        path = f"/instances/{quote(instance_id, safe='')}/instance-role"  # an ID from the API: escaped, not judged
        role = require_object(self._call("GET", path, may_retry=may_retry_read), "role")["role"]
        return role if isinstance(role, str) else ""


def issue_iam_token(
    http: JsonHttp,
    iam_endpoint: str,
    body: dict[str, Any],
    *,
    expires_default: datetime,
    delegate: Authenticator | None = None,
) -> IssuedToken:
    """``POST /v3/auth/tokens``: the token comes in ``X-Subject-Token``, its expiry in the body."""
    response = http.request(
        "POST",
        f"{iam_endpoint.rstrip('/')}/v3/auth/tokens",
        auth=delegate,
        query=[("nocatalog", "true")],
        body=body,
    )
    token = response.headers.get(SUBJECT_TOKEN_HEADER)
    if not token:
        raise ProtocolError("IAM answered without X-Subject-Token", status=response.status)
    expires_at = expires_default
    token_body = response.body.get("token") if isinstance(response.body, dict) else None
    if isinstance(token_body, dict) and isinstance(token_body.get("expires_at"), str):
        with contextlib.suppress(ValueError):  # unparsable: keep the conservative default
            expires_at = datetime.fromisoformat(token_body["expires_at"].replace("Z", "+00:00"))
    return IssuedToken(token, expires_at)
