"""HTTP to Vault under a deadline: per-request timeouts, retries with backoff, one budget.

Every request goes through the real ``hvac`` client, whose ``requests`` session
is a ``BudgetSession``: each request's timeout is the smaller of the configured
timeout and what is left of the render's budget. ``Retrier.call`` retries
connection errors, timeouts, 429, 5xx, and a sealed or standby Vault with
exponential backoff and jitter; 400, 403 and 404 are never retried. When
the attempts or the budget run out it raises ``BackendUnavailableError`` naming
the address and the last reason, never a response body (hvac exceptions carry
them, and a body can hold secret values).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import hvac.exceptions
import requests

from lsp_render.core import deadline
from lsp_render.core.errors import BackendUnavailableError

__all__ = ["Budget", "BudgetSession", "Retrier", "status_of"]

T = TypeVar("T")

_STATUS = {
    hvac.exceptions.InvalidRequest: 400,
    hvac.exceptions.Unauthorized: 401,
    hvac.exceptions.Forbidden: 403,
    hvac.exceptions.InvalidPath: 404,
    hvac.exceptions.RateLimitExceeded: 429,
    hvac.exceptions.InternalServerError: 500,
    hvac.exceptions.VaultNotInitialized: 501,
    hvac.exceptions.BadGateway: 502,
    hvac.exceptions.VaultDown: 503,
}
_RETRYABLE = frozenset({429, 500, 502, 503, 504, 0})


def status_of(exc: hvac.exceptions.VaultError) -> int:
    """Return the HTTP status behind an hvac exception (0 when unknown 5xx-like).

    Parameters
    ----------
    exc
        An exception raised by hvac for a non-2xx response.

    Returns
    -------
    int
        The status code.

    """
    for cls, status in _STATUS.items():
        if type(exc) is cls:
            return status
    return 0


def _reason(exc: hvac.exceptions.VaultError, status: int) -> str:
    errors = exc.errors if isinstance(exc.errors, list) else []
    text = " ".join(str(e) for e in errors).lower()
    if "sealed" in text:
        return "Vault is sealed"
    if "standby" in text or "not active" in text:
        return "Vault node is a standby without an active node"
    if status == 429:
        return "HTTP 429 (rate limited or standby)"
    return f"HTTP {status}" if status else "unexpected HTTP status"


class Budget:
    """The seconds all Vault traffic of one render may take, started on first use.

    Parameters
    ----------
    seconds
        The budget.
    clock
        Monotonic clock.

    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._deadline: float | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the clock (idempotent)."""
        with self._lock:
            if self._deadline is None:
                self._deadline = self._clock() + self.seconds

    def remaining(self) -> float:
        """Return the seconds left (the whole budget before ``start``), within the request's.

        The request's deadline (``LSP_RENDER_DEADLINE``, :mod:`lsp_render.core.deadline`)
        bounds the budget too: Vault gets at most what the engines left.
        """
        left = self.seconds if self._deadline is None else self._deadline - self._clock()
        overall = deadline.remaining()
        return left if overall is None else min(left, overall)


class BudgetSession(requests.Session):
    """A ``requests`` session whose every request times out within the budget.

    Parameters
    ----------
    budget
        The render's budget.
    timeout
        Seconds per request at most.
    address
        Vault's address, for messages.

    """

    def __init__(self, budget: Budget, timeout: float, address: str) -> None:
        super().__init__()
        self._budget = budget
        self._timeout = timeout
        self._address = address

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send a request with a timeout clamped to the budget left."""
        remaining = self._budget.remaining()
        if remaining <= 0:
            raise _out_of_budget(self._address, self._budget.seconds, "no time left")
        kwargs["timeout"] = max(0.05, min(self._timeout, remaining))
        return super().request(method, url, *args, **kwargs)


def _out_of_budget(address: str, seconds: float, reason: str) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"Vault at {address} did not answer within the {seconds:g} s budget ({reason})"
    )


class Retrier:
    """Run Vault calls with retries, backoff and jitter, within the budget.

    Parameters
    ----------
    address
        Vault's address, for messages.
    budget
        The render's budget.
    attempts
        Attempts per call, the first one included.
    backoff
        First delay in seconds; doubled every retry, capped at 5 s, with jitter.
    sleep
        ``time.sleep``.

    """

    def __init__(
        self,
        address: str,
        budget: Budget,
        *,
        attempts: int = 6,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._address = address
        self._budget = budget
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._sleep = sleep
        self._random = random.Random()  # noqa: S311 - jitter, not cryptography

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Return ``fn()``, retrying transient failures.

        Parameters
        ----------
        what
            What the call does, for debug logs (no secret values).
        fn
            The call; hvac exceptions other than transient ones propagate.

        Returns
        -------
        object
            What ``fn`` returned.

        Raises
        ------
        BackendUnavailableError
            Vault stayed unreachable, or the budget ran out.

        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except requests.exceptions.SSLError:
                msg = f"TLS with Vault at {self._address} failed ({what}): check VAULT_CACERT"
                raise BackendUnavailableError(msg) from None
            except requests.Timeout:
                reason = f"request timed out ({what})"
            except requests.ConnectionError:
                reason = f"connection failed ({what})"
            except requests.RequestException as exc:
                msg = f"cannot talk to Vault at {self._address}: {type(exc).__name__} ({what})"
                raise BackendUnavailableError(msg) from None
            except hvac.exceptions.VaultError as exc:
                status = status_of(exc)
                if status not in _RETRYABLE:
                    raise
                reason = f"{_reason(exc, status)} ({what})"
            if attempt >= self._attempts:
                msg = f"Vault at {self._address} is unavailable after {attempt} attempts: {reason}"
                raise BackendUnavailableError(msg) from None
            delay = min(5.0, self._backoff * 2 ** (attempt - 1)) * self._random.uniform(0.5, 1.0)
            if self._budget.remaining() <= delay:
                raise _out_of_budget(self._address, self._budget.seconds, reason) from None
            self._sleep(delay)
