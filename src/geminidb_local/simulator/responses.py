"""The GeminiDB API's (and IAM's) HTTP answers: the path and method routed to the backend, errors in Huawei's shape."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from geminidb_local.simulator.backend import Backend
from geminidb_local.simulator.errors import SimError
from geminidb_local.simulator.smn import SMN_PATH, publish
from geminidb_local.simulator.state import SimulatorState

API_PATH = re.compile(
    r"^/(?P<version>v3|v4)/(?P<project>[^/]+)"
    r"(?P<suffix>/instances|/instances/db-upgrade|/instances/resource-instances/action|/jobs|/scheduled-jobs"
    r"|/backups|/instances/(?P<instance>[^/]+)/(?P<action>instance-role|backups))$"
)


def route_name(api: re.Match[str]) -> str:
    """The route a fault names: the path after the project, with an instance ID as ``{id}`` (``/v4`` before a v4
    API's path)."""
    if api["instance"]:
        return f"/instances/{{id}}/{api['action']}"
    return f"/v4{api['suffix']}" if api["version"] == "v4" else api["suffix"]


def answer(
    state: SimulatorState,
    method: str,
    headers: dict[str, str],
    path: str,
    raw_query: str,
    query: dict[str, str],
    raw: bytes,
    body: Any,
    api: re.Match[str] | None,
) -> tuple[int, Any, dict[str, str]]:
    try:
        if method == "POST" and path == "/v3/auth/tokens":
            token, expires, project = state.gateway.issue_token(body, headers)
            answer = {
                "token": {
                    "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                    "methods": ["password"],
                    "project": {"id": project},
                }
            }
            return 201, answer, {"X-Subject-Token": token}
        if path == "/v3/auth/projects":
            if method != "GET":
                raise SimError(405, "APIG.0102", "Method not allowed.")
            state.gateway.check_account(method, path, raw_query, headers, raw)
            return 200, auth_projects(state), {}
        smn = SMN_PATH.match(path)
        if smn is not None:
            return publish(state, method, smn, path, raw_query, raw, body, headers)
        if api is None:
            raise SimError(404, "APIG.0101", "The API does not exist or has not been published.")
        state.gateway.check(method, path, raw_query, headers, raw, api["project"])
        state.backend.tick()
        route = route_name(api)
        if (api["version"] == "v4") != (route == "/v4/backups"):  # each API lives under its own version only
            raise SimError(404, "APIG.0101", "The API does not exist or has not been published.")
        if api["instance"]:
            instance = unquote(api["instance"])
            if (method, api["action"]) == ("GET", "instance-role"):
                return 200, state.backend.instance_role(instance), {}
            if (method, api["action"]) == ("POST", "backups"):
                return 202, state.backend.create_backup(instance, body), {}
            raise SimError(405, "APIG.0102", "Method not allowed.")
        return _route(state.backend, method, route, query, body)
    except SimError as error:
        return error.status, {"error_code": error.code, "error_msg": error.message}, {}


ACCOUNT_ID = "a" * 32
"""The simulated account's (domain's) ID: the parent of its region projects."""


def auth_projects(state: SimulatorState) -> dict[str, Any]:
    """KeystoneListAuthProjects: ``projects`` (``AuthProjectResult``) and ``links``."""
    fleet = state.backend.fleet
    credentials = fleet.credentials
    listed = fleet.iam_projects
    if listed is None:
        listed = [
            {"id": ACCOUNT_ID, "name": "account", "parent_id": ACCOUNT_ID, "is_domain": True},
            {"id": credentials.project_id, "name": credentials.region, "parent_id": ACCOUNT_ID},
        ]
    projects = [
        {
            "domain_id": ACCOUNT_ID,
            "is_domain": False,
            "parent_id": ACCOUNT_ID,
            "name": "",
            "description": "",
            "links": {"self": f"https://iam.myhuaweicloud.com/v3/projects/{item['id']}"},
            "id": "",
            "enabled": True,
            **item,
        }
        for item in listed
    ]
    return {"projects": projects, "links": {"self": "https://iam.myhuaweicloud.com/v3/auth/projects"}}


def _route(
    backend: Backend, method: str, suffix: str, query: dict[str, str], body: Any
) -> tuple[int, Any, dict[str, str]]:
    handlers: dict[tuple[str, str], Callable[[], tuple[int, Any]]] = {
        ("GET", "/instances"): lambda: (200, backend.list_instances(query)),
        ("POST", "/instances/db-upgrade"): lambda: (202, backend.batch_upgrade(body)),
        ("GET", "/jobs"): lambda: (200, backend.list_jobs(query)),
        ("GET", "/scheduled-jobs"): lambda: (200, backend.list_scheduled_tasks(query)),
        ("GET", "/v4/backups"): lambda: (200, backend.list_backups(query)),
        ("POST", "/instances/resource-instances/action"): lambda: (200, backend.query_by_tags(body)),
    }
    handler = handlers.get((method, suffix))
    if handler is None:
        raise SimError(405, "APIG.0102", "Method not allowed.")
    status, answer = handler()
    return status, answer, {}
