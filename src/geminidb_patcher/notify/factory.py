"""Build channels from their configuration and the secret values they refer to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from geminidb_patcher.contract.request import Target
from geminidb_patcher.contract.secret_values import SecretValues
from geminidb_patcher.contract.signatures import is_webhook_secret
from geminidb_patcher.errors import ConfigError
from geminidb_patcher.huawei.auth import Authenticator
from geminidb_patcher.huawei.endpoints import smn_endpoint
from geminidb_patcher.huawei.http import JsonHttp
from geminidb_patcher.notify import slack, teams, wecom
from geminidb_patcher.notify.base import Channel, Sender, UrlChannel, json_code_check
from geminidb_patcher.notify.config import ChannelConfig
from geminidb_patcher.notify.dingtalk import DingTalkChannel
from geminidb_patcher.notify.feishu import FeishuChannel
from geminidb_patcher.notify.json_webhook import JsonWebhookChannel
from geminidb_patcher.notify.smn import SmnChannel, topic_parts
from geminidb_patcher.urls import check_url


@dataclass(frozen=True)
class ChannelTools:
    """What channels are built with."""

    sender: Sender
    http: JsonHttp
    auth_for: Callable[[Target], Authenticator]
    clock: Callable[[], float]


def _url(config: ChannelConfig, values: SecretValues) -> str:
    raw = config.url or (values.notify_value(config.url_secret) if config.url_secret else None)
    if not raw:
        raise ConfigError(f"channel {config.name}: secret {config.url_secret} is not set")
    return check_url(f"channel {config.name} url", raw)


def _secret(config: ChannelConfig, values: SecretValues) -> str | None:
    if config.secret is None:
        return None
    value = values.notify_value(config.secret)
    if not value:
        raise ConfigError(f"channel {config.name}: secret {config.secret} is not set")
    return value


def build_channel(config: ChannelConfig, values: SecretValues, tools: ChannelTools) -> Channel:
    """One channel; ``ConfigError`` names what is missing, never a value."""
    name, on = config.name, config.notify_on
    if config.type == "smn":
        assert config.topic_urn is not None
        region, project_id = topic_parts(config.topic_urn)
        endpoint = check_url(f"channel {name} endpoint", config.endpoint) if config.endpoint else smn_endpoint(region)
        auth = tools.auth_for(Target(region=region, project_id=project_id))
        return SmnChannel(
            name, config.topic_urn, endpoint, tools.http, auth, on, tools.sender.sleep, time_left=tools.sender.time_left
        )
    url, secret = _url(config, values), _secret(config, values)
    if config.type == "slack":
        return UrlChannel(name, url, tools.sender, slack.render, slack.slack_ok, on)
    if config.type == "teams":
        return UrlChannel(name, url, tools.sender, teams.render, None, on)
    if config.type == "feishu":
        return FeishuChannel(name, url, secret, tools.sender, tools.clock, on)
    if config.type == "dingtalk":
        return DingTalkChannel(name, url, secret, tools.sender, tools.clock, on)
    if config.type == "wecom":
        check = json_code_check("errcode", throttled=wecom.THROTTLED)
        return UrlChannel(name, url, tools.sender, wecom.render, check, on)
    if secret is not None and not is_webhook_secret(secret):  # checked now: signing must not fail after submitting
        raise ConfigError(
            f"channel {name}: secret {config.secret} is not 'whsec_' followed by base64 key bytes; "
            "the channel is disabled until it is fixed"
        )
    return JsonWebhookChannel(name, url, secret, tools.sender, tools.clock, on)


def build_channels(
    configs: list[ChannelConfig], values: SecretValues, tools: ChannelTools
) -> tuple[list[Channel], list[tuple[str, str]]]:
    """Every buildable channel, and ``(name, problem)`` for those that are not."""
    channels: list[Channel] = []
    problems: list[tuple[str, str]] = []
    for config in configs:
        try:
            channels.append(build_channel(config, values, tools))
        except (ConfigError, ValueError) as error:
            problems.append((config.name, str(error)))
    return channels, problems
