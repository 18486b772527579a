"""Channel configuration: set by the operator (environment or secret), never by a request."""

from __future__ import annotations

import json
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, model_validator

from geminidb_patcher.contract.request import ChannelName
from geminidb_patcher.errors import ConfigError
from geminidb_patcher.notify.digest import NotifyOn

ChannelType = Literal["slack", "teams", "feishu", "dingtalk", "wecom", "smn", "webhook"]
SecretRef = Annotated[str, StringConstraints(pattern=r"^NOTIFY_[A-Z0-9_]{1,64}$")]
TopicUrn = Annotated[str, StringConstraints(pattern=r"^urn:smn:[a-z0-9-]+:[0-9a-f]{32}:[A-Za-z0-9_-]{1,255}$")]
MAX_CHANNELS = 20


class ChannelConfig(BaseModel):
    """One destination. URLs that embed a key (Slack, Teams, WeCom…) belong in the secret: use ``url_secret``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ChannelName
    type: ChannelType
    url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    url_secret: SecretRef | None = Field(default=None, description="Secret key holding the URL.")
    secret: SecretRef | None = Field(default=None, description="Secret key holding the signing secret.")
    notify_on: NotifyOn = "changes"
    topic_urn: TopicUrn | None = Field(default=None, description="SMN only.")
    endpoint: Annotated[str, StringConstraints(max_length=2048)] | None = Field(
        default=None, description="SMN only: override of https://smn.{region}.myhuaweicloud.com."
    )

    @model_validator(mode="after")
    def _addressed(self) -> Self:
        if self.type == "smn":
            if self.topic_urn is None or self.url or self.url_secret:
                raise ValueError("an smn channel has topic_urn and no url")
        elif (self.url is None) == (self.url_secret is None):
            raise ValueError("give url or url_secret (exactly one)")
        if self.type != "smn" and (self.topic_urn or self.endpoint):
            raise ValueError("topic_urn and endpoint are for smn channels")
        return self


_CHANNELS = TypeAdapter(list[ChannelConfig])


class ChannelConfigError(ConfigError):
    """The channel list is invalid; the message names the entry and field, never a value."""


def parse_channels(raw: str, source: str) -> list[ChannelConfig]:
    """A JSON list of channel objects; names must be unique."""
    try:
        channels = _CHANNELS.validate_python(json.loads(raw))
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "value"
            raise ChannelConfigError(f"{source}: {where}: {first['msg']}") from None
        raise ChannelConfigError(f"{source} is not JSON") from None
    if len(channels) > MAX_CHANNELS:
        raise ChannelConfigError(f"{source} holds more than {MAX_CHANNELS} channels")
    names = [channel.name for channel in channels]
    if len(set(names)) != len(names):
        raise ChannelConfigError(f"{source}: channel names must be unique")
    return channels
