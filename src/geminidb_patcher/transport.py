"""Every outbound HTTP exchange within its limits: a total time per call, however a peer drips, and a capped body.

A read timeout bounds one socket read, not a call: a server that sends a byte every few seconds keeps a call alive
indefinitely. Here each call runs under a watch that shuts its sockets down when the call's time is up, so the
blocked read returns at once; and a body is read only up to a limit that fits the largest legitimate answer.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MIN_CALL_SECONDS = 0.1
"""The shortest time a call is given: below it, the caller's deadline has as good as passed."""

_current = threading.local()


class Deadline:
    """When the current invocation must have answered; every outbound call of the run reads it.

    Set once per run (a Lambda invocation's remaining time, or the CLI's own budget); unset, calls are bounded only
    by their own timeouts.
    """

    def __init__(self) -> None:
        self._ends_at: float | None = None

    def start(self, seconds_left: float) -> None:
        """The run has ``seconds_left`` from now."""
        self._ends_at = time.monotonic() + seconds_left

    def left(self) -> float | None:
        """Seconds until the deadline, or ``None`` when none is set."""
        return None if self._ends_at is None else self._ends_at - time.monotonic()


class CallExpiredError(Exception):
    """The call's total time ran out while it was sending or reading; its sockets were shut down."""


class BodyTooLargeError(Exception):
    """The answer's body is larger than the call accepts; it was not read further."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


class _Watch:
    """The sockets one call uses, shut down when its time is up."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.expired = False
        self.done = False
        self._lock = threading.Lock()

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shut(sock)
            self.sockets.append(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            for sock in self.sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _note(connection: HTTPConnection) -> None:
    watch: _Watch | None = getattr(_current, "watch", None)
    if watch is not None:
        watch.add(connection.sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _note(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _note(self)  # a pooled connection is already connected
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _note(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _note(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections report their sockets to the current call's watch."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """The pool manager, with pools of watched connections."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        """An HTTP(S) proxy's manager, with watched pools too (a SOCKS proxy keeps urllib3's own)."""
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
        return manager


def watched_session() -> requests.Session:
    """A session whose calls can be bounded by ``bounded_call``."""
    session = requests.Session()
    for prefix in ("https://", "http://"):
        session.mount(prefix, WatchedAdapter())
    return session


class _Watchdog:
    """One thread for every bounded call: it sleeps until the earliest call's time is up and expires that call.

    A timer thread per call would cost a thread start on every request; this costs a heap push and pop.
    """

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Watch]] = []
        self._sequence = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, watch: _Watch, seconds: float) -> None:
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + seconds, next(self._sequence), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="call-watchdog", daemon=True)
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while True:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)  # finished in time: forget it
                if not self._due:
                    self._changed.wait()
                    continue
                left = self._due[0][0] - time.monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                heapq.heappop(self._due)[2].expire()


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def bounded_call(seconds: float) -> Iterator[None]:
    """Run one call (in this thread) for at most ``seconds``; ``CallExpiredError`` when it took longer."""
    watch = _Watch()
    _current.watch = watch
    _WATCHDOG.watch(watch, max(MIN_CALL_SECONDS, seconds))
    try:
        yield
    except Exception as error:
        if watch.expired:
            raise CallExpiredError(f"no answer within {seconds:.1f} s") from error
        raise
    finally:
        watch.done = True
        _current.watch = None
    if watch.expired:
        raise CallExpiredError(f"no answer within {seconds:.1f} s")


def read_capped(response: requests.Response, limit: int) -> bytes:
    """The body of a streamed ``response``, at most ``limit`` bytes (decoded); ``BodyTooLargeError`` beyond it."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise BodyTooLargeError(limit)
    body = bytearray()
    for chunk in response.iter_content(chunk_size=65_536):
        body += chunk
        if len(body) > limit:
            response.close()
            raise BodyTooLargeError(limit)
    return bytes(body)
