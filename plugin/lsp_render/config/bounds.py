"""Bounds on what a Jinja2 template in a configuration file may cost: size and time.

The sandbox guards attributes, not resources: ``'a'|center(300000000)``,
``'%300000000s'|format(1)``, ``|indent``, ``|replace``, list repetition or a
loop that prints a long string many times each build hundreds of megabytes
in one step, and nested loops over a long string never end. A configuration
string never needs more than :data:`MAX_LENGTH` characters, so:

- filters and string methods that make long strings from short ones are
  checked *before* they run (widths, growth of ``replace`` and ``join``,
  printf and ``str.format`` widths);
- repetition (``*``) weighs nested lists, so ``[[1]*N]*N`` is refused too;
- the output is counted while it streams (:func:`bounded_text`);
- compilation and rendering run under a wall-clock budget
  (:data:`TIME_BUDGET` seconds, by ``SIGALRM`` on the main thread).

Each refusal raises Jinja2's ``SecurityError``; the caller names the file and key.
"""

from __future__ import annotations

import functools
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "MAX_LENGTH",
    "TIME_BUDGET",
    "TemplateTimeout",
    "bounded_text",
    "check_call",
    "deadline",
    "guard_filters",
    "too_large",
]

MAX_LENGTH = 100_000
_MAX_BITS = 4096
TIME_BUDGET = 2.0
"""Seconds one configuration string may take to compile and render."""

_PRINTF_SIZES = re.compile(r"%[-+ #0]*(\d+)|%[-+ #0]*\d*\.(\d+)")
_FORMAT_SPECS = re.compile(r"\{[^{}]*?:([^{}]*)\}")
_DIGITS = re.compile(r"\d+")
_STRING_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


class TemplateTimeout(Exception):  # noqa: N818 - reads as what happened
    """The template ran past its time budget."""


def _refuse(message: str) -> None:
    from jinja2.exceptions import SecurityError

    raise SecurityError(message)


def _bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 64


def _weight(value: Any, limit: int) -> int:
    """Count the leaves of nested lists and the characters of strings, stopping past ``limit``."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, list | tuple):
        return 1
    total = 0
    for item in value:
        total += _weight(item, limit)
        if total > limit:
            break
    return total


def _format_too_wide(text: str) -> bool:
    sizes = [int(n) for pair in _PRINTF_SIZES.findall(text) for n in pair if n]
    for spec in _FORMAT_SPECS.findall(text):
        sizes.extend(int(n) for n in _DIGITS.findall(spec))
    return any(size > 1000 for size in sizes)


def too_large(operator: str, left: Any, right: Any) -> bool:
    """Tell whether ``left OPERATOR right`` would build a result past the bounds."""
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int):
                return max(_weight(seq, MAX_LENGTH), 1) * times > MAX_LENGTH
        return _bits(left) + _bits(right) > _MAX_BITS
    if operator == "**":
        if not isinstance(right, int | float):
            return False
        return abs(right) > 1024 or _bits(left) * abs(right) > _MAX_BITS
    # '%': printf-style widths and precisions make long strings from short ones.
    return isinstance(left, str) and _format_too_wide(left)


def _big_int(values: Any) -> bool:
    return any(
        isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_LENGTH for v in values
    )


def check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a string method call that would build a string past the bounds."""
    obj = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str):
        return
    if name in _STRING_METHODS and _big_int((*args, *kwargs.values())):
        _refuse(f"str.{name} with a width over {MAX_LENGTH}")
    if name in ("format", "format_map") and _format_too_wide(owner):
        _refuse("a format width over 1000")
    if name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1])
    if name == "join" and args:
        _check_join(owner, args[0])


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        count = len(text) + 1 if not old else text.count(old)
        if len(text) + count * max(len(new) - len(old), 0) > MAX_LENGTH:
            _refuse(f"replace would build more than {MAX_LENGTH} characters")


def _check_join(separator: Any, items: Any) -> None:
    if not (isinstance(items, list | tuple) and isinstance(separator, str)):
        return
    if _weight(list(items), MAX_LENGTH) + len(separator) * len(items) > MAX_LENGTH:
        _refuse(f"join would build more than {MAX_LENGTH} characters")


def _guard(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    # pass_context / pass_eval_context / pass_environment filters get one more first argument.
    skip = 1 if getattr(fn, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        value = args[skip] if len(args) > skip else None
        rest = args[skip + 1 :]
        if name in ("center", "indent", "batch", "wordwrap", "truncate") and _big_int(
            (*rest, *kwargs.values())
        ):
            _refuse(f"|{name} with a width over {MAX_LENGTH}")
        if name == "indent" and isinstance(value, str):
            width = rest[0] if rest else kwargs.get("width", 4)
            size = 4
            if isinstance(width, str | int):
                size = len(width) if isinstance(width, str) else abs(width)
            if len(value) + size * (value.count("\n") + 1) > MAX_LENGTH:
                _refuse(f"|indent would build more than {MAX_LENGTH} characters")
        if name == "format" and isinstance(value, str) and _format_too_wide(value):
            _refuse("a format width over 1000")
        if name == "replace" and len(rest) >= 2:
            _check_replace(str(value), rest[0], rest[1])
        if name == "join":
            separator = rest[0] if rest else kwargs.get("d", "")
            _check_join(separator, list(value) if isinstance(value, list | tuple) else value)
        result = fn(*args, **kwargs)
        if isinstance(result, str | list) and _weight(result, MAX_LENGTH) > MAX_LENGTH:
            _refuse(f"|{name} built more than {MAX_LENGTH} characters")
        return result

    return guarded


def guard_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Wrap every filter so that a result past the bounds is refused (some before they run)."""
    for name, fn in list(filters.items()):
        filters[name] = _guard(name, fn)


def bounded_text(pieces: Iterator[str]) -> str:
    """Join a template's output as it streams, refusing more than :data:`MAX_LENGTH` chars."""
    parts: list[str] = []
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > MAX_LENGTH:
            _refuse(f"the result is longer than {MAX_LENGTH} characters")
        parts.append(piece)
    return "".join(parts)


@contextmanager
def deadline(seconds: float = TIME_BUDGET) -> Iterator[None]:
    """Raise :class:`TemplateTimeout` in the block once ``seconds`` have passed.

    Uses ``SIGALRM``, so only on the main thread; elsewhere the block runs
    without a time bound (the size bounds still hold).
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return
    state = {"armed": True}

    def expired(signum: int, frame: Any) -> None:
        if state["armed"]:
            raise TemplateTimeout

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        state["armed"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
