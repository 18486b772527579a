"""What each Huawei site's batch patch API accepts, and how a deployment overrides it."""

from __future__ import annotations

import pytest

from geminidb_patcher.config.settings import load_settings
from geminidb_patcher.errors import ConfigError
from geminidb_patcher.huawei.endpoints import patchable_engines


def test_the_eu_site_patches_cassandra_only_and_the_main_site_three_engines() -> None:
    assert patchable_engines("eu-west-101", {}) == ("EU site", frozenset({"cassandra"}))
    assert patchable_engines("ap-southeast-1", {}) == ("main site", frozenset({"cassandra", "influxdb", "redis"}))


def test_a_configured_region_overrides_its_site() -> None:
    overrides = load_settings({"GEMINIDB_PATCH_ENGINES": '{"la-north-2": ["cassandra", "influxdb"]}'}).patch_engines
    assert patchable_engines("la-north-2", overrides) == ("configured for la-north-2", {"cassandra", "influxdb"})
    assert patchable_engines("eu-west-101", overrides)[0] == "EU site"


@pytest.mark.parametrize(
    "value",
    ['["cassandra"]', '{"la-north-2": ["dynamodb"]}', '{"LA": ["redis"]}', '{"la-north-2": "redis"}', "{", "[" * 5000],
)
def test_a_malformed_engine_table_is_a_configuration_error_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="GEMINIDB_PATCH_ENGINES must be a JSON object"):
        load_settings({"GEMINIDB_PATCH_ENGINES": value})


@pytest.mark.parametrize("value", ["has space", "x" * 37, "tag,comma"])
def test_a_dr_role_tag_that_is_no_tag_key_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigError, match="PATCHER_DR_ROLE_TAG"):
        load_settings({"PATCHER_DR_ROLE_TAG": value})
