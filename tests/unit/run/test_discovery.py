"""Which of IAM's projects ``targets: "all"`` takes: enabled region projects with GeminiDB, and their sub-projects."""

from __future__ import annotations

import pytest

from geminidb_patcher.contract.request import Target
from geminidb_patcher.errors import NoTargetError, RequestLimitError
from geminidb_patcher.huawei.endpoints import GEMINIDB_REGIONS
from geminidb_patcher.huawei.projects import ProjectView
from geminidb_patcher.run.discovery import Discovery, discover, targets_of

ACCOUNT = "a" * 32


def project(id_: str, name: str, parent: str = ACCOUNT, *, enabled: bool = True, domain: bool = False) -> ProjectView:
    return ProjectView(id=id_ * 32 if len(id_) == 1 else id_, name=name, parent_id=parent, enabled=enabled,
                       is_domain=domain)  # fmt: skip


PROJECTS = [
    project("a", "acme", domain=True),
    project("1", "ap-southeast-1"),
    project("2", "ap-southeast-1_staging", parent="1" * 32),  # a sub-project: its parent is the region project
    project("3", "cn-north-4"),
    project("4", "cn-north-4_old", parent="3" * 32, enabled=False),
    project("5", "ap-southeast-2", enabled=False),
    project("6", "ap-southeast-2_dev", parent="5" * 32),  # its region project is disabled
    project("7", "xx-nowhere-9"),  # no GeminiDB there
    project("8", "MOS"),  # a global-service project, not a region
    project("not-a-project-id", "ap-southeast-3"),
]


def test_enabled_region_projects_with_geminidb_and_their_enabled_sub_projects() -> None:
    assert targets_of(PROJECTS, GEMINIDB_REGIONS.__contains__) == [
        Target(region="ap-southeast-1", project_id="1" * 32),
        Target(region="ap-southeast-1", project_id="2" * 32),
        Target(region="cn-north-4", project_id="3" * 32),
    ]


def test_none_found_and_too_many_found_say_so() -> None:
    with pytest.raises(NoTargetError, match="no enabled project"):
        discover(Discovery(lambda: [PROJECTS[0]], GEMINIDB_REGIONS.__contains__), 20)
    with pytest.raises(RequestLimitError, match="'all' found 3 projects with GeminiDB; at most 2"):
        discover(Discovery(lambda: PROJECTS, GEMINIDB_REGIONS.__contains__), 2)


def test_answers_that_are_not_projects_are_dropped() -> None:
    assert ProjectView.from_api({"id": "", "name": "x"}) is None
    assert ProjectView.from_api("text") is None
    loose = ProjectView.from_api({"id": "1" * 32, "name": "ap-southeast-1", "enabled": "true"})
    assert loose is not None and loose.enabled is False  # only a JSON true enables
