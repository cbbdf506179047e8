"""A Vault login token shared by the renders of one sidecar, in a file only its owner can read.

One file per login identity, ``<cache dir>/vault-token-<sha256>.json``, keyed by
the hash of (address, namespace, auth method, mount, role). It holds the token
and its expiry, nothing else; never a secret value. The directory is created
0700 and every file 0600, written to a temporary file and renamed into place,
so a reader sees the old file or the new one, never half of one. A missing,
half-written, foreign or corrupt file reads as "no token"; a read-only, full or
missing directory turns caching off and the render goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["DEFAULT_MARGIN", "TokenCache"]

DEFAULT_MARGIN = 60.0
"""Seconds before expiry from which a cached token is no longer handed out."""

_log = logging.getLogger(__name__)
_FORMAT = 1


class TokenCache:
    """The cached login token of one identity.

    Parameters
    ----------
    directory
        Cache directory (``$XDG_CACHE_HOME/lsp-render``), or ``None`` to cache
        nothing.
    identity
        Address, namespace, auth method, mount and role: what a token is
        valid for. Hashed into the file name.
    margin
        A token is reused only while it has more than this many seconds left.
    clock
        Wall-clock time in seconds (``time.time``).

    """

    def __init__(
        self,
        directory: Path | None,
        identity: Sequence[str],
        *,
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        digest = hashlib.sha256(json.dumps(list(identity)).encode()).hexdigest()
        self._name = f"vault-token-{digest[:32]}.json"
        self._margin = margin
        self._clock = clock

    @property
    def path(self) -> Path | None:
        """Return the cache file, or ``None`` when caching is off."""
        return None if self._directory is None else self._directory / self._name

    def load(self) -> str | None:  # noqa: PLR0911 - every way a file can be unusable
        """Return the cached token if it is still good for ``margin`` seconds.

        Returns
        -------
        str or None
            The token, or ``None`` (no file, expiring, unreadable or corrupt).

        """
        path = self.path
        if path is None:
            return None
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not _private(info):
                _log.debug("ignoring token cache %s: not a private file of this user", path)
                return None
            with os.fdopen(fd, "rb", closefd=False) as handle:
                raw = handle.read(65536)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            record = json.loads(raw)
        except ValueError:
            _log.debug("ignoring token cache %s: not valid JSON", path)
            return None
        if not isinstance(record, dict) or record.get("format") != _FORMAT:
            return None
        token = record.get("token")
        expires = record.get("expires_at")
        if not isinstance(token, str) or not token:
            return None
        if expires is not None:
            if not isinstance(expires, int | float) or isinstance(expires, bool):
                return None
            if expires - self._clock() <= self._margin:
                _log.debug("token cache %s: token expires within %ss", path, self._margin)
                return None
        return token

    def store(self, token: str, ttl: float | None) -> None:
        """Cache ``token``, valid for ``ttl`` seconds (``None`` or 0: no expiry).

        Parameters
        ----------
        token
            The login token.
        ttl
            Lease duration from the login response.

        """
        path = self.path
        if path is None or self._directory is None:
            return
        expires = None if not ttl else self._clock() + float(ttl)
        payload = json.dumps({"format": _FORMAT, "token": token, "expires_at": expires})
        try:
            self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self._directory.stat()
            if info.st_uid != os.getuid():
                _log.debug("token cache off: %s belongs to another user", self._directory)
                return
            if stat.S_IMODE(info.st_mode) & 0o077:
                self._directory.chmod(0o700)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self._directory)
        except OSError as exc:
            _log.debug("token cache off: %s (%s)", self._directory, exc.strerror)
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(path)
        except OSError as exc:
            _log.debug("token cache off: could not write %s (%s)", path, exc.strerror)
            with contextlib.suppress(OSError):
                Path(tmp).unlink()

    def drop(self, token: str) -> None:
        """Delete the cache file if it still holds ``token`` (Vault refused it).

        Parameters
        ----------
        token
            The token Vault refused; a newer token another process cached is kept.

        """
        path = self.path
        if path is None:
            return
        try:
            record = json.loads(path.read_bytes())
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict) and record.get("token") not in (None, token):
            return
        with contextlib.suppress(OSError):
            path.unlink()


def _private(info: os.stat_result) -> bool:
    return (
        stat.S_ISREG(info.st_mode)
        and info.st_uid == os.getuid()
        and not stat.S_IMODE(info.st_mode) & 0o077
    )
