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

import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urljoin

import hvac.exceptions
import requests

from lsp_render.core import deadline as render_deadline
from lsp_render.core.errors import BackendUnavailableError
from lsp_render.secrets.backends.vault_http import (
    DeadlineAdapter,
    DeadlineExceeded,
    MalformedAnswerError,
    RedirectRefusedError,
    deadline,
    origin,
    same_origin,
)

__all__ = ["Budget", "BudgetSession", "Retrier", "run_parallel", "status_of"]

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
        overall = render_deadline.remaining()
        return left if overall is None else min(left, overall)


class BudgetSession(requests.Session):
    """A ``requests`` session whose every request ends within the budget.

    Each request, body included, must finish within the smaller of ``timeout``
    and what is left of the budget (``vault_http.deadline``). A redirect is
    followed only to the same scheme, host and port (the token goes with it);
    one to another origin is refused (:class:`RedirectRefusedError`). A
    successful answer whose body is not a JSON object (truncated, garbled) is
    a :class:`MalformedAnswerError`.

    Parameters
    ----------
    budget
        The render's budget.
    timeout
        Seconds per request at most.
    address
        Vault's address, for messages.
    verify
        ``requests``' ``verify``: ``False``, ``True`` or a CA file or directory.
    cert
        Client certificate and key files, or ``None``.
    server_name
        ``VAULT_TLS_SERVER_NAME``, or ``None``.

    """

    def __init__(
        self,
        budget: Budget,
        timeout: float,
        address: str,
        *,
        verify: bool | str = True,
        cert: tuple[str, str] | None = None,
        server_name: str | None = None,
    ) -> None:
        super().__init__()
        self._budget = budget
        self._timeout = timeout
        self._address = address
        self.verify = verify
        self.cert = cert
        if verify is False:
            # The operator chose VAULT_SKIP_VERIFY: one warning per request on stderr
            # would only fill Argo CD's log (and break the one-line error).
            import warnings

            import urllib3.exceptions

            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        adapter = DeadlineAdapter(server_name)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send a request within the budget; follow same-origin redirects only."""
        method_text = method.decode() if isinstance(method, bytes) else method
        url_text = url.decode() if isinstance(url, bytes) else url
        kwargs["allow_redirects"] = False
        kwargs["stream"] = False
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send_once(method_text, url_text, *args, **kwargs)
            if not response.is_redirect:
                _check_json(response)
                return response
            target = urljoin(url_text, response.headers.get("location", ""))
            response.close()
            if not same_origin(url_text, target):
                scheme, host, port = origin(target)
                msg = f"{scheme}://{host}:{port}"
                raise RedirectRefusedError(msg)
            url_text = target
        msg = f"more than {_MAX_REDIRECTS} redirects"
        raise RedirectRefusedError(msg)

    def _send_once(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        remaining = self._budget.remaining()
        if remaining <= 0:
            raise _out_of_budget(self._address, self._budget.seconds, "no time left")
        limit = max(0.05, min(self._timeout, remaining))
        kwargs["timeout"] = limit
        with deadline(limit) as watch:
            try:
                return super().request(method, url, *args, **kwargs)
            except requests.RequestException as exc:
                if watch.fired:
                    msg = f"no complete answer within {limit:g} s"
                    raise DeadlineExceeded(msg) from None
                raise exc from None


_MAX_REDIRECTS = 3


def _check_json(response: requests.Response) -> None:
    if not 200 <= response.status_code < 300 or not response.content.strip():
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        msg = "not a JSON object"
        raise MalformedAnswerError(msg)


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
                msg = (
                    f"TLS with Vault at {self._address} failed ({what}): check VAULT_CACERT, "
                    "VAULT_CAPATH, VAULT_CLIENT_CERT and VAULT_TLS_SERVER_NAME"
                )
                raise BackendUnavailableError(msg) from None
            except RedirectRefusedError as exc:
                msg = (
                    f"Vault at {self._address} redirected the {what} to {exc}: redirects are "
                    "followed only to the same scheme, host and port (the token would go along)"
                )
                raise BackendUnavailableError(msg) from None
            except (
                MalformedAnswerError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ):
                msg = f"Vault at {self._address} sent a malformed or truncated answer to the {what}"
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


def run_parallel(fn: Callable[[Any], T], items: list[Any], max_workers: int) -> list[T]:
    """Return ``[fn(item) for item in items]``, computed on daemon threads.

    The calling thread waits in an interruptible wait, so SIGTERM's handler
    runs at once; and the threads are daemons, so an exit (Argo CD's deadline,
    a failed read) never waits for a request still in flight. The first
    failure, in item order, is raised as soon as it is known.

    Parameters
    ----------
    fn
        The work for one item.
    items
        The items.
    max_workers
        Threads at most.

    Returns
    -------
    list
        The results, in item order.

    """
    if len(items) <= 1:
        return [fn(item) for item in items]
    results: list[Any] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)
    finished = [False] * len(items)
    todo = list(range(len(items)))
    lock = threading.Lock()
    changed = threading.Condition(lock)

    def worker() -> None:
        while True:
            with lock:
                if not todo or any(e is not None for e in errors):
                    return
                index = todo.pop(0)
            try:
                value = fn(items[index])
            except BaseException as exc:
                with lock:
                    errors[index] = exc
                    finished[index] = True
                    changed.notify_all()
                continue
            with lock:
                results[index] = value
                finished[index] = True
                changed.notify_all()

    for number in range(min(max_workers, len(items))):
        threading.Thread(target=worker, name=f"vault-{number}", daemon=True).start()
    with changed:
        while True:
            failed = next((e for e in errors if e is not None), None)
            if failed is not None:
                raise failed
            if all(finished):
                return list(results)
            changed.wait()
