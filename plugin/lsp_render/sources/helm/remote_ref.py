"""What a remote chart is: ``helm: {repo, name, version}`` checked, and whose credentials apply.

Two transports, one reference: an HTTP(S) chart repository (``https://host/path``, whose
``index.yaml`` lists the archives) is given to Helm as ``--repo URL NAME``; an OCI
registry (``oci://host/path``) as ``oci://host/path/NAME``. Helm does the transport;
this module checks the URL, the name and the exact version, and decides whether the
sidecar's credentials belong to that repository.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from lsp_render.core.errors import InputError

__all__ = [
    "Credentials",
    "RemoteChart",
    "RemoteChartConfig",
    "credentials_for",
    "parse_remote_chart",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# An exact SemVer 2 version (Helm accepts a leading "v"); no ranges, no partial versions.
_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
_SCHEMES = ("https", "http", "oci")


class RemoteChartConfig(Protocol):
    """The keys of the ``helm`` section this module reads."""

    @property
    def chart(self) -> str:
        """``helm.chart`` (must stay ``"."`` for a remote chart)."""

    @property
    def repo(self) -> str | None:
        """``helm.repo``."""

    @property
    def name(self) -> str | None:
        """``helm.name``."""

    @property
    def version(self) -> str | None:
        """``helm.version``."""


@dataclass(frozen=True, slots=True)
class RemoteChart:
    """One exact chart version in a remote repository.

    Attributes
    ----------
    repo
        ``https://...``, ``http://...`` or ``oci://...``, without a trailing slash.
    name
        The chart's name.
    version
        The exact version.
    """

    repo: str
    name: str
    version: str

    @property
    def is_oci(self) -> bool:
        """Whether the repository is an OCI registry."""
        return self.repo.startswith("oci://")

    @property
    def reference(self) -> str:
        """What ``helm pull`` is given: the chart name, or ``oci://host/path/name``."""
        return f"{self.repo}/{self.name}" if self.is_oci else self.name

    @property
    def key(self) -> str:
        """The cache key: sha256 of (repo, name, version)."""
        return hashlib.sha256(f"{self.repo}\0{self.name}\0{self.version}".encode()).hexdigest()

    def describe(self) -> str:
        """Name the chart in messages (no credentials: the URL cannot hold any)."""
        return f"chart {self.name} version {self.version} from {self.repo}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password for one repository (never printed).

    Attributes
    ----------
    username, password
        Sent to the repository with every request of the pull.
    """

    username: str
    password: str

    def __repr__(self) -> str:
        return "Credentials(<hidden>)"

    def scrub(self, text: str) -> str:
        """Remove the credentials from ``text`` (an engine's error message)."""
        for secret in (self.password, self.username):
            if secret:
                text = text.replace(secret, "***")
        return text


def parse_remote_chart(helm: RemoteChartConfig, *, where: str) -> RemoteChart:
    """Check ``helm.repo``, ``helm.name`` and ``helm.version`` and build the chart reference.

    Parameters
    ----------
    helm
        The ``helm`` section of ``lsp-render.yaml``.
    where
        Names the file in messages (``apps/web/lsp-render.yaml``).

    Raises
    ------
    InputError
        When a key is missing, the URL is not ``http(s)://`` or ``oci://`` (or
        holds credentials, a query or a fragment), the name is not a chart
        name, the version is not exact, or ``helm.chart`` is set too.
    """
    for key in ("repo", "name", "version"):
        if getattr(helm, key) is None:
            present = [k for k in ("repo", "name", "version") if getattr(helm, k) is not None]
            msg = (
                f"{where}: helm.{key}: required with helm.{present[0]} "
                "(a remote chart needs repo, name and version)"
            )
            raise InputError(msg)
    repo, name, version = str(helm.repo), str(helm.name), str(helm.version)
    if helm.chart != ".":
        msg = f"{where}: helm.chart: leave it out when helm.repo names a remote chart"
        raise InputError(msg)
    repo = _check_repo(repo, where)
    if not _NAME.match(name):
        msg = f"{where}: helm.name: '{name}' is not a chart name"
        raise InputError(msg)
    if not _VERSION.match(version):
        msg = (
            f"{where}: helm.version: '{version}' is not an exact version such as 1.2.3 "
            "(ranges are refused so that every render is the same)"
        )
        raise InputError(msg)
    return RemoteChart(repo, name, version)


def _check_repo(repo: str, where: str) -> str:
    bad = f"{where}: helm.repo: must be an https://, http:// or oci:// URL"
    if any(ch.isspace() or ord(ch) < 32 for ch in repo):
        raise InputError(f"{bad} (it holds blanks or control characters)")
    try:
        parts = urlsplit(repo)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InputError(bad) from None
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise InputError(bad)
    if "@" in parts.netloc:
        msg = (
            f"{where}: helm.repo: credentials do not belong in the URL; the sidecar's "
            "LSP_RENDER_HELM_REPO_USERNAME and LSP_RENDER_HELM_REPO_PASSWORD provide them"
        )
        raise InputError(msg)
    if parts.query or parts.fragment or repo.endswith(("?", "#")):
        raise InputError(f"{bad} without a query or fragment")
    return repo.rstrip("/")


def credentials_for(chart: RemoteChart, environ: Mapping[str, str]) -> Credentials | None:
    """Return the sidecar's repository credentials when they belong to ``chart.repo``.

    Parameters
    ----------
    chart
        The chart to pull.
    environ
        The sidecar's environment (``ARGOCD_ENV_*`` variables are never read).

    Raises
    ------
    InputError
        When only one of username and password is set, or they are set without
        ``LSP_RENDER_HELM_REPO_URL``.
    """
    username = environ.get("LSP_RENDER_HELM_REPO_USERNAME", "")
    password = environ.get("LSP_RENDER_HELM_REPO_PASSWORD", "")
    if not username and not password:
        return None
    if not username or not password:
        msg = "LSP_RENDER_HELM_REPO_USERNAME and LSP_RENDER_HELM_REPO_PASSWORD go together"
        raise InputError(msg)
    scopes = [s.strip().rstrip("/") for s in environ.get("LSP_RENDER_HELM_REPO_URL", "").split(",")]
    scopes = [s for s in scopes if s]
    if not scopes:
        msg = (
            "LSP_RENDER_HELM_REPO_URL must name the repository the Helm repository "
            "credentials are for"
        )
        raise InputError(msg)
    for scope in scopes:
        if chart.repo == scope or chart.repo.startswith(scope + "/"):
            return Credentials(username, password)
    return None
