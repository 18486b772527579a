"""The one base of every contract model: unknown fields refused, values frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Refuses unknown fields; instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
