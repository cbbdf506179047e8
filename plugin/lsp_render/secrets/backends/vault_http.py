"""The HTTP transport to Vault: one deadline per request, no redirect off the origin, TLS settings.

``DeadlineAdapter`` is the ``requests`` transport adapter of the Vault session:

- every request runs under one deadline that covers connecting, the headers and
  the whole body. ``requests``' own timeout bounds each socket operation only, so
  a server that drips one byte a second would never time out; here a timer shuts
  the connection's socket down when the deadline passes and the request fails
  with :class:`DeadlineExceeded` (a ``requests.Timeout``);
- ``VAULT_TLS_SERVER_NAME`` is the name sent in SNI and checked against Vault's
  certificate (urllib3's ``server_hostname`` and ``assert_hostname``).

Redirects and malformed answers are the session's business
(``vault_client.BudgetSession``), which uses :func:`same_origin` and
:class:`RedirectRefusedError` / :class:`MalformedAnswerError` from here.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = [
    "DeadlineAdapter",
    "DeadlineExceeded",
    "MalformedAnswerError",
    "RedirectRefusedError",
    "deadline",
    "origin",
    "same_origin",
]


class DeadlineExceeded(requests.Timeout):
    """The request did not finish (headers and body) before its deadline."""


class RedirectRefusedError(requests.RequestException):
    """Vault redirected to another origin (never followed: the token would go along)."""


class MalformedAnswerError(requests.RequestException):
    """A successful answer whose body is not a JSON object (truncated or garbled)."""


class _Watch:
    """The connections one request uses, and whether its deadline shut them down."""

    def __init__(self) -> None:
        self.connections: list[HTTPConnection] = []
        self.fired = False
        self.lock = threading.Lock()

    def add(self, conn: HTTPConnection) -> None:
        with self.lock:
            self.connections.append(conn)
            fired = self.fired
        if fired:
            _shut(conn)

    def fire(self) -> None:
        with self.lock:
            self.fired = True
            connections = list(self.connections)
        for conn in connections:
            _shut(conn)


_WATCH: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar(
    "lsp_render_vault_watch", default=None
)


def _shut(conn: HTTPConnection) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    # socket.socket's own shutdown: on a TLS socket it wakes a blocked read
    # without touching the SSL object another thread is using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watched:
    """Mixin: a connection that registers itself with the request's watch on every request."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch = _WATCH.get()
        if watch is not None:
            watch.add(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": _HTTPPool, "https": _HTTPSPool}


@contextmanager
def deadline(seconds: float) -> Iterator[_Watch]:
    """Shut down the sockets of the requests made inside when ``seconds`` have passed.

    Parameters
    ----------
    seconds
        Time the requests inside may take, all told.

    Yields
    ------
    object
        The watch; ``fired`` tells whether the deadline passed.

    """
    watch = _Watch()
    token = _WATCH.set(watch)
    timer = threading.Timer(max(0.0, seconds), watch.fire)
    timer.daemon = True
    timer.start()
    try:
        yield watch
    finally:
        timer.cancel()
        _WATCH.reset(token)


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """A transport whose connections obey :func:`deadline` and an optional TLS server name.

    Parameters
    ----------
    server_name
        ``VAULT_TLS_SERVER_NAME``: the name for SNI and for checking the
        certificate, or ``None`` for the host of the URL.

    """

    def __init__(self, server_name: str | None = None) -> None:
        self._server_name = server_name
        super().__init__()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """Create the pool manager with watched connections (and the TLS server name)."""
        if self._server_name:
            pool_kwargs["server_hostname"] = self._server_name
            pool_kwargs["assert_hostname"] = self._server_name
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Return the proxy manager for ``proxy``, with watched connections."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def origin(url: str) -> tuple[str, str, int | None]:
    """Return (scheme, host, port) of ``url``, the port made explicit.

    Parameters
    ----------
    url
        An absolute URL.

    Returns
    -------
    tuple
        Lower-case scheme and host, and the port (80/443 by default).

    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def same_origin(first: str, second: str) -> bool:
    """Tell whether two URLs have the same scheme, host and port.

    Parameters
    ----------
    first, second
        Absolute URLs.

    Returns
    -------
    bool
        ``True`` when a token sent to one may go to the other.

    """
    return origin(first) == origin(second)
