"""Vault reads shared by the renders of one ``render-all`` run, bounded in size and time.

A deployment repository reads the same secret path from many (application,
environment) pairs. ``render-all`` installs one :class:`SharedReads` for the run:
in its own process with ``--jobs 1``, else in a manager process that every worker
reaches through a proxy. A path is then read from Vault once per run, not once per
pair, and never served for longer than the TTL (``LSP_RENDER_SECRET_CACHE_TTL``
seconds, default 300) after it was read: a long run picks up a rotated secret.

Keys carry everything that decides what Vault answers (address, namespace, auth
method, mount and role, the mount path, the path and the version), so a project
logging in with another role never sees what a wider role read. Only successful
reads are kept; a refusal or a missing path is asked again by the next render.

A key is *claimed* before it is read: the first render to ask reads it, the others
wait for that read (up to a bound, then read themselves). Claims are taken for every
key of a render before any wait, so two renders can never wait on each other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping
from multiprocessing.managers import BaseManager
from typing import Any

from cachetools import TTLCache

__all__ = [
    "DEFAULT_TTL",
    "MAX_ENTRIES",
    "TTL_VARIABLE",
    "SharedReads",
    "install",
    "installed",
    "start_manager",
    "ttl_from",
]

TTL_VARIABLE = "LSP_RENDER_SECRET_CACHE_TTL"
DEFAULT_TTL = 300.0
MAX_ENTRIES = 4096
_WAIT_SECONDS = 30.0

HIT, MINE, PENDING = "hit", "mine", "pending"


class SharedReads:
    """Successful Vault reads by key, each kept at most ``ttl`` seconds.

    Parameters
    ----------
    ttl
        Seconds a read is served after it was made.
    maxsize
        Entries kept at most (the oldest go first).
    timer
        The clock the TTL is measured with.
    """

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        maxsize: int = MAX_ENTRIES,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache: TTLCache[Hashable, Any] = TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)
        self._pending: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.reads = 0  # keys handed out to be read (for tests and --verbose)

    def claim(self, key: Hashable) -> tuple[str, Any]:
        """Claim ``key``: ``(HIT, value)``, ``(MINE, None)`` or ``(PENDING, None)``.

        ``MINE``: read it, then :meth:`put` (or :meth:`release`); ``PENDING``: another
        render is reading it (:meth:`wait`).
        """
        with self._lock:
            if key in self._cache:
                return HIT, self._cache[key]
            if key in self._pending:
                return PENDING, None
            self._pending[key] = threading.Event()
            self.reads += 1
            return MINE, None

    def wait(self, key: Hashable, seconds: float = _WAIT_SECONDS) -> tuple[str, Any]:
        """Wait for another render's read of ``key``; return like :meth:`claim`."""
        with self._lock:
            event = self._pending.get(key)
        if event is not None:
            event.wait(seconds)
        return self.claim(key)

    def put(self, key: Hashable, value: Any) -> None:
        """Keep a successful read and wake the renders waiting for it."""
        with self._lock:
            self._cache[key] = value
            event = self._pending.pop(key, None)
        if event is not None:
            event.set()

    def release(self, key: Hashable) -> None:
        """Give up a claim without a value (the read failed): waiters read themselves."""
        with self._lock:
            event = self._pending.pop(key, None)
        if event is not None:
            event.set()

    def read_count(self) -> int:
        """Return how many keys were handed out to be read."""
        return self.reads


class _Manager(BaseManager):
    """The manager process holding a run's :class:`SharedReads`."""


_Manager.register("SharedReads", SharedReads)

_installed: Any = None  # a SharedReads, a proxy of one, or None


def ttl_from(environ: Mapping[str, str]) -> float:
    """Return the TTL ``LSP_RENDER_SECRET_CACHE_TTL`` asks for (default 300 s; 0 disables).

    A value that is not a non-negative number falls back to the default.
    """
    raw = environ.get(TTL_VARIABLE, "").strip()
    try:
        ttl = float(raw) if raw else DEFAULT_TTL
    except ValueError:
        return DEFAULT_TTL
    return ttl if ttl >= 0 else DEFAULT_TTL


def start_manager(ttl: float) -> tuple[BaseManager, Any]:
    """Start a manager process holding one :class:`SharedReads`; return it and the proxy.

    The caller shuts the manager down when the run ends (its memory, the values
    read, goes with it).
    """
    manager = _Manager()
    manager.start()
    proxy = manager.SharedReads(ttl)  # type: ignore[attr-defined]
    return manager, proxy


def install(shared: Any) -> None:
    """Make this process's Vault backends use ``shared`` (None: every render reads alone)."""
    global _installed  # noqa: PLW0603 - one cache per process, set by render-all
    _installed = shared


def installed() -> Any:
    """Return the installed :class:`SharedReads` (or proxy), or None."""
    return _installed
