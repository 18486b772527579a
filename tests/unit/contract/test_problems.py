"""Validation problems in the user's words: the field paths they wrote, plain sentences, no pydantic internals."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from geminidb_patcher.contract.problems import describe_problems
from geminidb_patcher.contract.request import RunRequest


def problems(body: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as raised:
        RunRequest.model_validate(body)
    return describe_problems(raised.value.errors(include_input=False, include_url=False))


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"window": {"start": "01:00", "end": "02:00", "timezone": "Mars/Olympus"}},
            "window.timezone",
            "'Mars/Olympus' is not an IANA time zone such as 'Europe/Berlin' or 'UTC'",
        ),
        ({"window": {"start": "01:00", "end": "01:00"}}, "window", "start and end must differ"),
        ({"window": "sometimes"}, "window", "must be 'instance', 'anytime', or an object with start, end (HH:MM)"),
        ({"max_in_flight": "30x%"}, "max_in_flight", "must be a whole number from 0 to 100000, or a percentage"),
        ({"max_errors": -1}, "max_errors", "must be a whole number from 0 to 100000, or a percentage"),
        ({"notify": 3}, "notify", "must be true, false, or a list of configured channel names"),
        ({"notify": [1]}, "notify.0", "Input should be a valid string"),
        ({"instance_ids": ["a/b"]}, "instance_ids.0", "must be an instance ID"),
        ({"targets": [{"region": "x", "project_id": "0" * 32}]}, "targets.0.region", "must be a region ID"),
        ({"selector": {"tags": {"bad key!": []}}}, "selector.tags.bad key!", "must be a tag key"),
        ({"mode": "apply", "surprise": 1}, "surprise", "is not a known field"),
        ({"instance_ids": ["0" * 32 + "in01"], "selector": {}}, "body", "give instance_ids or selector, not both"),
        ({"bake": "P31D"}, "body", "bake must be between 0 and 30 days"),
    ],
)
def test_each_problem_names_the_field_as_written_in_a_sentence(body: dict[str, Any], field: str, message: str) -> None:
    found = problems(body)
    assert len(found) == 1, found
    assert found[0]["field"] == field and found[0]["message"].startswith(message), found


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules", "right/UTC", "posix/Europe/Berlin", ""])
def test_zone_database_files_that_are_not_zones_are_refused(zone: str) -> None:
    (found,) = problems({"window": {"start": "01:00", "end": "02:00", "timezone": zone}})
    assert found["field"] == "window.timezone"


@pytest.mark.parametrize(
    "blackout",
    [
        {"start": "2030-01-01T00:00:00Z", "end": "9999-12-31T23:59:59-23:59"},
        {"start": "0001-01-01T00:00:00+14:00", "end": "2030-01-01T00:00:00Z"},
        {"start": "1999-12-31T23:00:00Z", "end": "2030-01-01T00:00:00Z"},
    ],
)
def test_blackouts_outside_the_representable_range_are_refused_not_crashing(blackout: dict[str, str]) -> None:
    found = problems({"blackouts": [blackout]})
    assert {p["field"] for p in found} <= {"blackouts.0.start", "blackouts.0.end"}
    assert all("must lie between 2000-01-01 and 9000-01-01 UTC" in p["message"] for p in found)


def test_no_pydantic_internals_reach_a_message_or_a_path() -> None:
    bodies: list[dict[str, Any]] = [
        {"window": {"start": "x", "end": "02:00", "timezone": "localtime"}},
        {"max_in_flight": "lots", "max_errors": [1], "notify": 3, "window": 5},
        {"waves": [{"name": "a", "selector": {"tags": {"k": [1]}}}], "blackouts": [{"start": 1}]},
    ]
    for body in bodies:
        for problem in problems(body):
            text = problem["field"] + " " + problem["message"]
            for internal in ("function-after", "constrained-", "literal[", "Value error", "list[", "[key]"):
                assert internal not in text, problem
