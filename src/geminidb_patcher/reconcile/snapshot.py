"""What one observation of a target saw, parsed tolerantly into immutable values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geminidb_patcher.models import Target


@dataclass(frozen=True)
class InstanceView:
    """The fields of a ListInstances item that planning needs."""

    id: str
    name: str
    engine: str
    status: str
    patch_available: bool
    version: str
    actions: tuple[str, ...]
    maintenance_window: str

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> InstanceView:
        """Parse one item; the docs' examples are sloppy about types, so coerce rather than reject."""
        datastore = item.get("datastore") if isinstance(item.get("datastore"), dict) else {}
        assert isinstance(datastore, dict)
        actions = item.get("actions") if isinstance(item.get("actions"), list) else []
        assert isinstance(actions, list)
        patch = datastore.get("patch_available")
        return cls(
            id=str(item.get("id", "")),
            name=str(item.get("name", "")),
            engine=str(datastore.get("type", "")).lower(),
            status=str(item.get("status", "")).lower(),
            patch_available=patch is True or (isinstance(patch, str) and patch.lower() == "true"),
            version=str(datastore.get("whole_version") or datastore.get("version") or ""),
            actions=tuple(str(action) for action in actions if action),
            maintenance_window=str(item.get("maintenance_window") or ""),
        )


@dataclass(frozen=True)
class FleetSnapshot:
    """Instances, running upgrade jobs and pending scheduled upgrades of one target."""

    target: Target
    observed_at: datetime
    instances: tuple[InstanceView, ...]
    running_upgrades: dict[str, str]
    """instance ID → ID of its running ``UpgradeDbVersion`` job."""
    scheduled_upgrades: dict[str, str]
    """instance ID → ID of its pending ``UPGRADE_DATABASE`` task."""
