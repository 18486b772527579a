"""The pieces that bound every call: the deadline, and watched connections behind a proxy too."""

from __future__ import annotations

import time

from geminidb_patcher.transport import Deadline, WatchedAdapter


def test_a_deadline_counts_down_from_its_start_and_is_none_before() -> None:
    deadline = Deadline()
    assert deadline.left() is None
    deadline.start(5)
    left = deadline.left()
    assert left is not None and 4 < left <= 5
    time.sleep(0.01)
    assert deadline.left() is not None and deadline.left() < left  # type: ignore[operator]


def test_connections_through_an_http_proxy_are_watched_too() -> None:
    adapter = WatchedAdapter()
    direct = adapter.poolmanager.pool_classes_by_scheme
    proxied = adapter.proxy_manager_for("http://127.0.0.1:3128").pool_classes_by_scheme
    assert proxied == direct and direct["https"].__name__ == "_WatchedHTTPSPool"
