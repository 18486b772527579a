"""``targets: "all"``: the region projects (and their sub-projects) IAM lists, in regions with a GeminiDB API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from geminidb_patcher.contract.request import Target
from geminidb_patcher.errors import NoTargetError, RequestLimitError
from geminidb_patcher.ids import check_project_id, check_region


class Project(Protocol):
    """What discovery reads of one project IAM lists."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def parent_id(self) -> str: ...

    @property
    def enabled(self) -> bool: ...

    @property
    def is_domain(self) -> bool: ...


@dataclass(frozen=True)
class Discovery:
    """How a run finds its targets when asked for all: IAM's project list, and which regions have GeminiDB."""

    list_projects: Callable[[], Sequence[Project]]
    has_geminidb: Callable[[str], bool]


def _region(name: str) -> str | None:
    try:
        return check_region(name)
    except ValueError:
        return None


def _project_id(value: str) -> str | None:
    try:
        return check_project_id(value)
    except ValueError:
        return None


def targets_of(projects: Sequence[Project], has_geminidb: Callable[[str], bool]) -> list[Target]:
    """Enabled region projects whose name is a region with a GeminiDB endpoint, then the enabled sub-projects of
    those (a sub-project's ``parent_id`` is its region project); the account itself (``is_domain``) never."""
    regions = {
        project.id: region
        for project in projects
        if project.enabled and not project.is_domain and (region := _region(project.name)) and has_geminidb(region)
    }
    found = [
        Target(region=regions[project.id], project_id=project.id)
        for project in projects
        if project.id in regions and _project_id(project.id)
    ]
    found += [
        Target(region=regions[project.parent_id], project_id=project.id)
        for project in projects
        if project.enabled
        and not project.is_domain
        and project.id not in regions
        and project.parent_id in regions
        and _project_id(project.id)
    ]
    return sorted(found, key=lambda target: (target.region, target.project_id))


def discover(discovery: Discovery, max_targets: int) -> list[Target]:
    """The targets of ``"all"``; ``RequestLimitError`` naming how many were found when more than ``max_targets``,
    ``NoTargetError`` when none was."""
    found = targets_of(discovery.list_projects(), discovery.has_geminidb)
    if not found:
        raise NoTargetError(
            "targets 'all': IAM lists no enabled project in a region with GeminiDB for these credentials"
        )
    if len(found) > max_targets:
        problem = {
            "field": "targets",
            "rule": "limit",
            "message": f"'all' found {len(found)} projects with GeminiDB; at most {max_targets} targets per run "
            "(MAX_TARGETS): name them in groups instead",
        }
        raise RequestLimitError([problem])
    return found
