"""Channel configuration: what is accepted, and errors that name the field but never a value."""

from __future__ import annotations

import json

import pytest

from geminidb_patcher.config.settings import ConfigError, load_settings

KEYED = "https://hooks.slack.com/services/T000/B000/very-secret-token"


def settings_with(channels: object) -> object:
    return load_settings({"NOTIFY_CHANNELS": json.dumps(channels)})


def test_a_valid_list_and_the_webhook_shorthand_become_channels() -> None:
    loaded = load_settings(
        {
            "NOTIFY_CHANNELS": json.dumps(
                [
                    {"name": "ops", "type": "slack", "url_secret": "NOTIFY_SLACK_URL"},
                    {
                        "name": "pager",
                        "type": "smn",
                        "topic_urn": "urn:smn:ap-southeast-1:0123456789abcdef0123456789abcdef:patching",
                        "notify_on": "failures",
                    },
                ]
            ),
            "NOTIFY_WEBHOOK_URL": "https://audit.example.com/hook",
        }
    )
    assert [(c.name, c.type, c.notify_on) for c in loaded.channels] == [
        ("ops", "slack", "changes"),
        ("pager", "smn", "failures"),
        ("webhook", "webhook", "always"),
    ]


@pytest.mark.parametrize(
    ("channels", "names"),
    [
        ([{"name": "ops", "type": "slack"}], "0"),
        ([{"name": "ops", "type": "slack", "url": KEYED, "url_secret": "NOTIFY_X"}], "0"),
        ([{"name": "ops", "type": "pager", "url": KEYED}], "0.type"),
        ([{"name": "Ops!", "type": "slack", "url": KEYED}], "0.name"),
        ([{"name": "ops", "type": "slack", "url_secret": "SLACK_URL"}], "0.url_secret"),
        ([{"name": "ops", "type": "smn", "topic_urn": "urn:smn:x"}], "0.topic_urn"),
        ([{"name": "ops", "type": "slack", "url": KEYED, "extra": 1}], "0.extra"),
        ([{"name": "a", "type": "wecom", "url": KEYED}, {"name": "a", "type": "slack", "url": KEYED}], "unique"),
        ("not a list", "NOTIFY_CHANNELS"),
    ],
)
def test_invalid_channel_lists_are_refused_naming_the_place_not_the_value(channels: object, names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_with(channels)
    assert names in str(caught.value) and "very-secret-token" not in str(caught.value)


def test_unparsable_json_is_refused() -> None:
    with pytest.raises(ConfigError, match="NOTIFY_CHANNELS is not JSON"):
        load_settings({"NOTIFY_CHANNELS": "[{"})


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_the_fail_switch_accepts_only_booleans(value: str) -> None:
    with pytest.raises(ConfigError, match="NOTIFY_FAILURE_FAILS_RUN"):
        load_settings({"NOTIFY_FAILURE_FAILS_RUN": value})
