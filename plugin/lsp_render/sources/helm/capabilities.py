"""Kubernetes version handling as ``helm template --kube-version`` does it.

Helm parses the flag with Masterminds semver (``1.29`` becomes ``v1.29.0``) and
refuses a chart whose ``kubeVersion`` constraint that version does not meet.
The embedded engine takes the version verbatim, so lsp-render normalises it
and checks the constraint itself (common constraint forms: comparisons,
``~``, ``^``, ``x`` wildcards, hyphen ranges, ``,``/space for *and*, ``||``).
"""

from __future__ import annotations

import re

from lsp_render.core.errors import InputError, RenderError

__all__ = ["DEFAULT_KUBE_VERSION", "check_kube_version_constraint", "normalize_kube_version"]

DEFAULT_KUBE_VERSION = "1.36.0"
"""``.Capabilities.KubeVersion`` when nothing names one (a local run without ``KUBE_VERSION``).

One value for every engine: Helm's own default is the Kubernetes client its
build links (v1.36.0 for Helm 4.2, the embedded engine and the image; v1.35.0
for Helm 4.1; v1.32.0 for Helm 3.17), so lsp-render always passes a version.
"""

_VERSION = re.compile(
    r"^v?(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_Version = tuple[int, int, int, str]


def _parse(text: str) -> _Version | None:
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    return (
        int(match["major"]),
        int(match["minor"] or 0),
        int(match["patch"] or 0),
        match["pre"] or "",
    )


def normalize_kube_version(version: str) -> str:
    """Return ``version`` as Helm's ``ParseKubeVersion`` prints it (``v1.29.0``).

    Raises
    ------
    InputError
        When ``version`` is not a semantic version.
    """
    match = _VERSION.match(version.strip())
    if match is None:
        raise InputError(f"invalid kube version {version!r}: expected e.g. 1.29 or v1.29.3")
    text = f"v{int(match['major'])}.{int(match['minor'] or 0)}.{int(match['patch'] or 0)}"
    if match["pre"]:
        text += f"-{match['pre']}"
    if match["build"]:
        text += f"+{match['build']}"
    return text


def _key(version: _Version) -> tuple[int, int, int, int, str]:
    major, minor, patch, pre = version
    return (major, minor, patch, 0 if pre else 1, pre)


_TERM = re.compile(
    r"^(?P<op>!=|>=|<=|=>|=<|>|<|=|~>|~|\^)?\s*v?(?P<ver>[0-9xX*]+(?:\.[0-9xX*]+){0,2})"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?$"
)


def _term_ok(term: str, version: _Version) -> bool:
    match = _TERM.match(term)
    if match is None:
        raise ValueError(term)
    op = match["op"] or "="
    parts = match["ver"].split(".")
    pinned = 0
    for part in parts:
        if part.lower() in {"x", "*"}:
            break
        pinned += 1
    nums = [int(p) for p in parts[:pinned]] + [0] * (3 - pinned)
    low: _Version = (nums[0], nums[1], nums[2], match["pre"] or "")
    key = _key(version)
    # Masterminds: a version with a pre-release only matches constraints with one.
    if version[3] and not match["pre"]:
        return False
    if pinned == 0:
        return op not in {"!=", "<", ">"}

    def upper(level: int) -> tuple[int, int, int, int, str]:
        bumped = list(nums)
        bumped[level] += 1
        for i in range(level + 1, 3):
            bumped[i] = 0
        return (bumped[0], bumped[1], bumped[2], 0, "")

    def within(level: int) -> bool:
        return _key(low) <= key < upper(level)

    partial = pinned < 3
    result: bool
    if op in {"=", "!="}:
        result = within(pinned - 1) if partial else key == _key(low)
        result = result if op == "=" else not result
    elif op in {">=", "=>"}:
        result = key >= _key(low)
    elif op in {"<=", "=<"}:
        result = key < upper(pinned - 1) if partial else key <= _key(low)
    elif op == ">":
        result = key >= upper(pinned - 1) if partial else key > _key(low)
    elif op == "<":
        result = key < _key(low)
    elif op in {"~", "~>"}:
        result = within(1 if pinned >= 2 else 0)
    else:  # caret
        level = 0 if nums[0] > 0 or pinned == 1 else (1 if nums[1] > 0 or pinned == 2 else 2)
        result = within(level)
    return result


def _constraint_ok(constraint: str, version: _Version) -> bool:
    for alternative in constraint.split("||"):
        text = re.sub(r"\s+-\s+", " - ", alternative.strip())
        hyphen = re.fullmatch(r"(\S+) - (\S+)", text)
        if hyphen:
            terms = [f">={hyphen[1]}", f"<={hyphen[2]}"]
        else:
            text = re.sub(r"(!=|>=|<=|=>|=<|~>|[><=~^])\s+", r"\1", text)
            terms = [t for t in re.split(r"[\s,]+", text) if t]
        if terms and all(_term_ok(term, version) for term in terms):
            return True
    return False


def check_kube_version_constraint(chart: str, constraint: str | None, kube_version: str) -> None:
    """Refuse a chart whose ``kubeVersion`` the target version does not meet, as Helm does.

    Raises
    ------
    RenderError
        With Helm's message when the version is outside the constraint (or the
        constraint cannot be read).
    """
    if not constraint:
        return
    version = _parse(kube_version)
    try:
        ok = version is not None and _constraint_ok(constraint, version)
    except ValueError:
        ok = False
    if not ok:
        raise RenderError(
            f"chart {chart}: chart requires kubeVersion: {constraint} which is incompatible "
            f"with Kubernetes {kube_version}"
        )
