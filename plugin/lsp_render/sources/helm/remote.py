"""Remote charts: ``helm: {repo: URL, name: NAME, version: X.Y.Z}`` in ``lsp-render.yaml``.

The chart archive is pulled once (``helm pull`` with the binary engine, Helm's
own pull through ``helm-python-sdk`` otherwise), kept in a cache shared by
every process of the user, and unpacked into this process's private scratch
space, where it is rendered like a local chart.

Cache: ``$XDG_CACHE_HOME/lsp-render/charts`` (else ``~/.cache/lsp-render/charts``),
a 0700 directory of 0600 ``<sha256 of repo, name, version>.tgz`` files written
by atomic rename. A file that is not a readable chart archive is dropped and
pulled again; a directory that cannot be used just disables the cache. Only
exact versions are accepted, so a cached archive never goes stale.

Sidecar settings (never from the Application: ``ARGOCD_ENV_*`` are other names):

``LSP_RENDER_HELM_REPO_USERNAME``, ``LSP_RENDER_HELM_REPO_PASSWORD``
    Credentials for a private repository or registry (both or neither).
``LSP_RENDER_HELM_REPO_URL``
    Which repository they belong to (a URL prefix, or several separated by
    commas); required with the credentials, so that an Application naming its
    own server can never collect them.
``LSP_RENDER_HELM_PLAIN_HTTP_REGISTRIES``
    ``host[:port]`` of OCI registries spoken to over plain HTTP (comma-separated).
``LSP_RENDER_ENGINE_TIMEOUT``
    Seconds a pull may take (default 45).
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
import re
import shutil
import stat
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import yaml

from lsp_render.core.engines import engine_timeout, run_engine
from lsp_render.core.errors import InputError, RenderError
from lsp_render.sources.helm import binary

__all__ = [
    "Credentials",
    "RemoteChart",
    "RemoteChartConfig",
    "cache_dir",
    "credentials_for",
    "extract_chart",
    "fetch_remote_chart",
    "parse_remote_chart",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# An exact SemVer 2 version (Helm accepts a leading "v"); no ranges, no partial versions.
_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
_SCHEMES = ("https", "http", "oci")
_MAX_ARCHIVE = 100 * 1024 * 1024  # Helm's own limit on a decompressed chart
_MAX_MEMBERS = 20000

_lock = threading.Lock()
_extracted: dict[str, Path] = {}
_scratch: list[Path] = []  # this process's scratch directory, created on first use
_owner_pid = os.getpid()


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


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """Return the chart cache directory (not created), or ``None`` without a home.

    ``$XDG_CACHE_HOME/lsp-render/charts``, else ``$HOME/.cache/lsp-render/charts``.
    """
    xdg = environ.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "lsp-render" / "charts"
    home = environ.get("HOME", "")
    if home and Path(home).is_absolute():
        return Path(home) / ".cache" / "lsp-render" / "charts"
    return None


def fetch_remote_chart(helm: RemoteChartConfig, *, where: str, environ: Mapping[str, str]) -> Path:
    """Make a remote chart available locally and return its directory.

    The archive comes from the cache or is pulled (then cached), and is
    unpacked into this process's private scratch space, which is removed when
    the process exits. Within one process a chart is unpacked once.

    Parameters
    ----------
    helm
        The ``helm`` section (``repo``, ``name``, ``version``).
    where
        Names ``lsp-render.yaml`` in messages.
    environ
        The sidecar's environment (credentials, timeout, cache location).

    Returns
    -------
    Path
        The unpacked chart directory (holds ``Chart.yaml``).

    Raises
    ------
    InputError
        Malformed ``helm`` keys or credential settings.
    RenderError
        The repository is unreachable, the chart or version does not exist,
        the pull timed out, or the archive is not a safe chart archive.
    """
    chart = parse_remote_chart(helm, where=where)
    creds = credentials_for(chart, environ)
    timeout = engine_timeout(environ)
    with _lock:
        if _owner_pid != os.getpid():
            _reset_after_fork()
        done = _extracted.get(chart.key)
        if done is not None and (done / "Chart.yaml").is_file():
            return done
        work = _process_scratch() / chart.key[:32]
        cache = _usable_cache(cache_dir(environ))
        cached = _read_cached(cache, chart)
        chart_dir: Path | None = None
        if cached is not None:
            try:
                chart_dir = extract_chart(cached, work / "chart", chart)
            except RenderError:
                _drop(cache, chart)
        if chart_dir is None:
            data = _pull(chart, creds, environ, work, timeout)
            chart_dir = extract_chart(data, work / "chart", chart)
            _store(cache, chart, data)
        _extracted[chart.key] = chart_dir
        return chart_dir


# --- pulling -----------------------------------------------------------------------------


def _plain_http(chart: RemoteChart, environ: Mapping[str, str]) -> bool:
    if not chart.is_oci:
        return False
    hosts = {h.strip() for h in environ.get("LSP_RENDER_HELM_PLAIN_HTTP_REGISTRIES", "").split(",")}
    return urlsplit(chart.repo).netloc in hosts


def _pull(
    chart: RemoteChart,
    creds: Credentials | None,
    environ: Mapping[str, str],
    work: Path,
    timeout: float,
) -> bytes:
    """Pull the archive into a fresh directory under ``work`` and return its bytes."""
    if work.exists():
        shutil.rmtree(work)
    destination = work / "pull"
    destination.mkdir(parents=True, mode=0o700)
    plain_http = _plain_http(chart, environ)
    helm = binary.find_helm_binary()
    if helm is not None:
        _pull_binary(helm, chart, creds, destination, timeout, plain_http=plain_http)
    else:
        _pull_embedded(chart, creds, destination, timeout, plain_http=plain_http)
    archives = sorted(destination.glob("*.tgz"))
    if len(archives) != 1:
        msg = f"{chart.describe()}: the pull produced no chart archive"
        raise RenderError(msg)
    data = archives[0].read_bytes()
    shutil.rmtree(destination, ignore_errors=True)
    return data


def _pull_binary(
    helm: Path,
    chart: RemoteChart,
    creds: Credentials | None,
    destination: Path,
    timeout: float,
    *,
    plain_http: bool,
) -> None:
    argv = [str(helm), "pull", chart.reference, "--version", chart.version]
    if not chart.is_oci:
        argv += ["--repo", chart.repo]
    argv += ["--destination", str(destination)]
    if plain_http:
        argv.append("--plain-http")
    if creds is not None:
        # Helm's pull takes credentials only as flags (Argo CD passes them the same way).
        argv += ["--username", creds.username, "--password", creds.password]
    try:
        run_engine(argv, what=f"helm pull {chart.describe()}", timeout=timeout)
    except RenderError as exc:
        message = creds.scrub(exc.message) if creds is not None else exc.message
        raise RenderError(message) from None


def _pull_embedded(
    chart: RemoteChart,
    creds: Credentials | None,
    destination: Path,
    timeout: float,
    *,
    plain_http: bool,
) -> None:
    try:
        import helm_python
    except ImportError as exc:
        msg = (
            "no Helm engine: install the helm binary (or set LSP_RENDER_HELM) "
            f"or the helm-python-sdk package ({exc})"
        )
        raise RenderError(msg) from exc
    options: dict[str, Any] = {"version": chart.version, "destination": str(destination)}
    if not chart.is_oci:
        options["repo_url"] = chart.repo
    if plain_http:
        options["plain_http"] = True
    if creds is not None:
        options["username"] = creds.username
        options["password"] = creds.password
    outcome: list[BaseException] = []

    def pull() -> None:
        try:
            helm_python.pull(chart.reference, **options)
        except BaseException as exc:  # handed to the waiting thread
            outcome.append(exc)

    # The native call cannot be cancelled: it runs in a daemon thread that is
    # abandoned (and dies with the process) when it outlives the timeout.
    worker = threading.Thread(target=pull, name="lsp-render-helm-pull", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        msg = f"helm pull {chart.describe()}: did not finish within {timeout:g} s"
        raise RenderError(msg)
    if not outcome:
        return
    error = outcome[0]
    if isinstance(error, helm_python.HelmError):
        text = " ".join(str(getattr(error, "detail", None) or error).split())
        if creds is not None:
            text = creds.scrub(text)
        msg = f"helm pull {chart.describe()}: {text}"
        raise RenderError(msg) from None
    raise error


# --- unpacking ---------------------------------------------------------------------------


def _safe_member(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """Apply tarfile's ``data`` filter and refuse every link (Helm never packages any)."""
    if member.islnk() or member.issym():
        msg = f"archive member '{member.name}' is a link"
        raise tarfile.FilterError(msg)
    if member.name.startswith("/"):  # the data filter would only strip the slash
        msg = f"archive member '{member.name}' has an absolute path"
        raise tarfile.FilterError(msg)
    return tarfile.data_filter(member, dest)


def extract_chart(data: bytes, target: Path, chart: RemoteChart) -> Path:
    """Unpack a chart archive safely into ``target`` (created) and return the chart directory.

    Parameters
    ----------
    data
        The ``.tgz`` archive.
    target
        A directory that does not exist yet.
    chart
        What the archive must hold (its ``Chart.yaml`` must give this name and version).

    Returns
    -------
    Path
        ``target/<name>``.

    Raises
    ------
    RenderError
        When the archive is unreadable, too large, holds absolute paths,
        ``..``, links or devices, or is not a chart of that name and version;
        ``target`` is removed again.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, mode=0o700)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = tar.getmembers()
            _check_members(members)
            tar.extractall(target, filter=_safe_member)  # noqa: S202 - filtered
        return _chart_root(target, chart)
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        msg = f"{chart.describe()}: refusing the chart archive: {reason}"
        raise RenderError(msg) from None


def _check_members(members: list[tarfile.TarInfo]) -> None:
    if len(members) > _MAX_MEMBERS:
        msg = f"more than {_MAX_MEMBERS} members"
        raise ValueError(msg)
    if sum(m.size for m in members if m.isfile()) > _MAX_ARCHIVE:
        msg = f"more than {_MAX_ARCHIVE // (1024 * 1024)} MiB once unpacked"
        raise ValueError(msg)


def _chart_root(target: Path, chart: RemoteChart) -> Path:
    tops = sorted(target.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        msg = "not a chart archive (it must hold one top-level chart directory)"
        raise ValueError(msg)
    root = tops[0]
    try:
        metadata = yaml.safe_load((root / "Chart.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        metadata = None
    if not isinstance(metadata, dict):
        msg = f"no readable {root.name}/Chart.yaml"
        raise ValueError(msg)
    name = str(metadata.get("name", ""))
    version = str(metadata.get("version", ""))
    if name != chart.name or version.removeprefix("v") != chart.version.removeprefix("v"):
        msg = f"its Chart.yaml is {name or '?'} version {version or '?'}"
        raise ValueError(msg)
    return root


# --- the cache ---------------------------------------------------------------------------


def _usable_cache(directory: Path | None) -> Path | None:
    """Create the cache directory 0700; ``None`` when it cannot be ours."""
    if directory is None:
        return None
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return None
        if stat.S_IMODE(info.st_mode) != 0o700:
            directory.chmod(0o700)
        if not os.access(directory, os.W_OK | os.X_OK):
            return None
    except OSError:
        return None
    return directory


def _read_cached(cache: Path | None, chart: RemoteChart) -> bytes | None:
    if cache is None:
        return None
    try:
        fd = os.open(cache / f"{chart.key}.tgz", os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return None
        if info.st_size > _MAX_ARCHIVE:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def _store(cache: Path | None, chart: RemoteChart, data: bytes) -> None:
    if cache is None:
        return
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".pull-", suffix=".tgz")  # 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(cache / f"{chart.key}.tgz")
    except OSError:
        if tmp:
            Path(tmp).unlink(missing_ok=True)


def _drop(cache: Path | None, chart: RemoteChart) -> None:
    if cache is not None:
        (cache / f"{chart.key}.tgz").unlink(missing_ok=True)


# --- this process's scratch space --------------------------------------------------------


def _process_scratch() -> Path:
    """Return this process's private (0700) scratch directory, removed when it exits."""
    if _scratch and _scratch[0].is_dir():
        return _scratch[0]
    _scratch.clear()
    path = Path(tempfile.mkdtemp(prefix="lsp-render-remote-"))
    _scratch.append(path)
    atexit.register(_cleanup, path, os.getpid())
    # Pool workers leave through multiprocessing's exit hook, not atexit.
    from multiprocessing import util

    util.Finalize(None, _cleanup, args=(path, os.getpid()), exitpriority=0)
    return path


def _reset_after_fork() -> None:
    global _owner_pid  # noqa: PLW0603 - one scratch directory per process
    _scratch.clear()
    _extracted.clear()
    _owner_pid = os.getpid()


def _cleanup(path: Path, pid: int) -> None:
    if os.getpid() == pid:  # a forked child never removes its parent's directory
        shutil.rmtree(path, ignore_errors=True)
