"""Run ``sidecar/plugin.yaml``'s commands the way Argo CD's ``argocd-cmp-server`` runs them.

What the sidecar does for every request (``reference/argocd-cmp.md``), and so
what this harness does:

- the repo-server tars the repository root, without what
  ``reposerver.plugin.tar.exclusions`` names (``sidecar/cmd-params-patch.yaml``
  sets ``.git/*``), each glob matched with Go's ``filepath.Match`` against every
  path relative to the root (so ``.git/*`` leaves an empty ``.git`` directory,
  or a worktree's ``.git`` file, in the tarball), and the sidecar unpacks it into
  ``<workdir>/_cmp_server/<random>/``: directories 0755, files 0644
  (``preserveFileMode: false``), symlinks only when they stay inside;
- with ``reposerver.plugin.use.manifest.generate.paths=true``
  (``use_manifest_generate_paths``) the tarball's root is the common root of the
  app path and the paths of its ``argocd.argoproj.io/manifest-generate-paths``
  annotation (argo-cd ``reposerver/repository/utils.go``), not the repository root;
- the command's working directory is the application path inside that copy;
- its environment is the sidecar's own (here a minimal one: ``PATH``, ``HOME``
  and ``TMPDIR`` pointing at a private directory, like the sidecar's ``/tmp``
  emptyDir) plus the build environment: ``ARGOCD_APP_*``, ``KUBE_VERSION``,
  ``KUBE_API_VERSIONS``, ``ARGOCD_ENV_*`` (values envsubst'd against the
  build environment), ``ARGOCD_APP_PARAMETERS`` (compact JSON as Go's
  ``json.Marshal`` writes it: keys sorted, ``<``, ``>`` and ``&`` escaped as
  ``\u003c``, ``\u003e``, ``\u0026``; ``null`` when the Application has
  ``plugin:`` but no parameters) and the lossy ``PARAM_*``;
- ``init`` runs before ``generate`` (its stdout discarded, a failure ends the
  request), both under ONE deadline for the whole request (the caller's gRPC
  deadline; ``ARGOCD_EXEC_TIMEOUT`` does not apply to plugin commands): when it
  passes the command's process group gets SIGTERM, then SIGKILL 5 s later;
- the dynamic parameters command gets only Argo CD's four variables
  (``ARGOCD_APP_NAME``, ``ARGOCD_APP_SOURCE_REPO_URL``, ``ARGOCD_APP_SOURCE_PATH``,
  ``ARGOCD_APP_SOURCE_TARGET_REVISION``), ``ARGOCD_ENV_*`` (envsubst'd against
  those four only) and the parameter variables (argo-cd
  ``reposerver/repository/repository.go``, ``populatePluginAppDetails``);
- argv comes from plugin.yaml (``command`` + ``args``), never through a shell.
  ``lsp-render`` is the console script when one is on the sidecar's ``PATH``,
  else ``python -m lsp_render`` with this checkout's ``plugin/`` on
  ``PYTHONPATH`` (the package is not installed in the test environment).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEFAULT_API_VERSIONS",
    "AppSource",
    "CmpResult",
    "CmpServer",
    "PluginCommand",
    "application_root_path",
    "go_json",
    "go_match",
    "sidecar_exclusions",
]

PROJECT = Path(__file__).resolve().parent.parent
PLUGIN_YAML = PROJECT / "sidecar" / "plugin.yaml"

# A small cluster's discovery, in both forms Argo CD sends.
DEFAULT_API_VERSIONS = (
    "v1",
    "v1/ConfigMap",
    "v1/Namespace",
    "v1/Pod",
    "v1/Secret",
    "v1/Service",
    "v1/ServiceAccount",
    "apps/v1",
    "apps/v1/DaemonSet",
    "apps/v1/Deployment",
    "apps/v1/StatefulSet",
    "batch/v1",
    "batch/v1/CronJob",
    "batch/v1/Job",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1/Ingress",
    "networking.k8s.io/v1/NetworkPolicy",
    "policy/v1",
    "policy/v1/PodDisruptionBudget",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1/ClusterRole",
    "rbac.authorization.k8s.io/v1/Role",
    "apiextensions.k8s.io/v1",
    "apiextensions.k8s.io/v1/CustomResourceDefinition",
)

# Never in a git checkout, so never in Argo CD's tarball either (any path component).
LOCAL_JUNK = (
    "__pycache__",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".venv",
)

CMD_PARAMS = PROJECT / "sidecar" / "cmd-params-patch.yaml"


def sidecar_exclusions() -> tuple[str, ...]:
    """Return ``reposerver.plugin.tar.exclusions`` as the shipped sidecar sets it (``;``-split)."""
    data = yaml.safe_load(CMD_PARAMS.read_text())["data"]
    text = str(data.get("reposerver.plugin.tar.exclusions", ""))
    return tuple(glob for glob in text.split(";") if glob)


def go_match(pattern: str, name: str) -> bool:
    """Match like Go's ``filepath.Match``: ``*`` and ``?`` never match ``/``, ``[...]`` classes.

    A malformed pattern (Go's ``ErrBadPattern``) raises ``ValueError``, as the
    repo-server fails the request on it.
    """
    regex = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            regex.append("[^/]*")
        elif char == "?":
            regex.append("[^/]")
        elif char == "\\":
            i += 1
            if i == len(pattern):
                raise ValueError(f"bad pattern {pattern!r}")
            regex.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise ValueError(f"bad pattern {pattern!r}")
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            regex.append(f"[{'^' if negate else ''}{body.replace(chr(92), chr(92) * 2)}]")
            i = end
        else:
            regex.append(re.escape(char))
        i += 1
    return re.fullmatch("".join(regex), name) is not None


def go_json(value: Any) -> str:
    """Serialise like Go's ``json.Marshal`` of Argo CD's parameters: compact, keys sorted,
    UTF-8 kept, and ``<``, ``>``, ``&``, U+2028, U+2029 escaped (``encoding/json``'s HTML
    escaping)."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def application_root_path(app_path: str, repo_path: str, annotation: str) -> str:
    """Return the tarball root as argo-cd's ``getApplicationRootPath`` computes it.

    ``app_path`` and ``repo_path`` are absolute; the annotation's paths are
    ``;``-separated, relative to the app path unless absolute (then relative to the
    repository root), and kept inside the repository (``securejoin``).
    """
    paths = []
    app_rel = app_path.removeprefix(repo_path).strip("/")
    for entry in annotation.split(";"):
        if not entry:
            continue
        unsafe = entry if entry.startswith("/") else f"{app_rel}/{entry}"
        kept: list[str] = []
        for part in unsafe.split("/"):
            if part == "..":
                if kept:
                    kept.pop()
            elif part not in {"", "."}:
                kept.append(part)
        paths.append("/".join([repo_path.rstrip("/"), *kept]))
    if not paths:
        return repo_path
    common = app_path.split("/")
    disjoint = False
    for path in paths:
        parts = path.split("/")
        shortest = min(len(common), len(parts))
        for i in range(shortest):
            if common[i] != parts[i]:
                common = common[:i]
                disjoint = True
                break
        if not disjoint and shortest < len(common):
            common = common[:shortest]
    return "/" + "/".join(part for part in common if part)


@dataclass(frozen=True)
class PluginCommand:
    """One command of plugin.yaml: ``command`` followed by ``args``."""

    argv: tuple[str, ...]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> PluginCommand:
        """Read ``{command: [...], args: [...]}``."""
        command = spec.get("command") or []
        args = spec.get("args") or []
        if not command or not all(isinstance(part, str) for part in [*command, *args]):
            msg = f"not a plugin command: {spec!r}"
            raise ValueError(msg)
        return cls(tuple(command) + tuple(args))


@dataclass(frozen=True)
class AppSource:
    """What an Application tells the plugin: its ``spec.source`` and a little more."""

    path: str
    name: str = "app"
    namespace: str = "default"
    project: str = "default"
    repo_url: str = "https://git.example.org/deployments.git"
    target_revision: str = "HEAD"
    revision: str = "3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
    env: Mapping[str, str] = field(default_factory=dict)
    parameters: Sequence[Mapping[str, Any]] | None = None
    kube_version: str = "1.29.3"
    api_versions: Sequence[str] = DEFAULT_API_VERSIONS
    manifest_generate_paths: str | None = None

    @classmethod
    def from_application(cls, manifest: Mapping[str, Any], **overrides: Any) -> AppSource:
        """Build a source from an Argo CD ``Application`` that uses a plugin."""
        spec = manifest["spec"]
        source = spec.get("source") or next(
            s for s in spec.get("sources", []) if s.get("plugin") is not None
        )
        plugin = source.get("plugin") or {}
        env = {item["name"]: str(item.get("value", "")) for item in plugin.get("env") or []}
        annotations = manifest.get("metadata", {}).get("annotations") or {}
        fields: dict[str, Any] = {
            "manifest_generate_paths": annotations.get(
                "argocd.argoproj.io/manifest-generate-paths"
            ),
            "path": source.get("path", "."),
            "name": manifest["metadata"]["name"],
            "namespace": spec.get("destination", {}).get("namespace", ""),
            "project": spec.get("project", "default"),
            "repo_url": source.get("repoURL", ""),
            "target_revision": source.get("targetRevision", "HEAD"),
            "env": env,
            "parameters": plugin.get("parameters"),
        }
        fields.update(overrides)
        return cls(**fields)

    def build_env(self) -> dict[str, str]:
        """Return the variables Argo CD adds for ``init`` and ``generate``."""
        env = {
            "ARGOCD_APP_NAME": self.name,
            "ARGOCD_APP_NAMESPACE": self.namespace,
            "ARGOCD_APP_PROJECT_NAME": self.project,
            "ARGOCD_APP_REVISION": self.revision,
            "ARGOCD_APP_REVISION_SHORT": self.revision[:7],
            "ARGOCD_APP_REVISION_SHORT_8": self.revision[:8],
            "ARGOCD_APP_SOURCE_REPO_URL": self.repo_url,
            "ARGOCD_APP_SOURCE_PATH": self.path,
            "ARGOCD_APP_SOURCE_TARGET_REVISION": self.target_revision,
            "KUBE_VERSION": self.kube_version.lstrip("v"),
            "KUBE_API_VERSIONS": ",".join(sorted(self.api_versions)),
        }
        env.update(self._plugin_env(env))
        env.update(self._parameter_env())
        return env

    def parameters_env(self) -> dict[str, str]:
        """Return the reduced variables the dynamic parameters command gets.

        Argo CD's four variables, ``ARGOCD_ENV_*`` envsubst'd against those four
        only (``$ARGOCD_APP_NAMESPACE`` expands to nothing here), and the
        parameter variables.
        """
        env = {
            "ARGOCD_APP_NAME": self.name,
            "ARGOCD_APP_SOURCE_REPO_URL": self.repo_url,
            "ARGOCD_APP_SOURCE_PATH": self.path,
            "ARGOCD_APP_SOURCE_TARGET_REVISION": self.target_revision,
        }
        env.update(self._plugin_env(env))
        env.update(self._parameter_env())
        return env

    def _plugin_env(self, build: Mapping[str, str]) -> dict[str, str]:
        return {f"ARGOCD_ENV_{name}": _envsubst(value, build) for name, value in self.env.items()}

    def _parameter_env(self) -> dict[str, str]:
        if self.parameters is None:
            return {"ARGOCD_APP_PARAMETERS": "null"}
        entries = [dict(entry) for entry in self.parameters]
        env = {"ARGOCD_APP_PARAMETERS": go_json(entries)}
        for entry in entries:
            base = "PARAM_" + re.sub(r"[^A-Za-z0-9_]", "_", str(entry["name"])).upper()
            if entry.get("string") is not None:
                env[base] = str(entry["string"])
            for index, item in enumerate(entry.get("array") or []):
                env[f"{base}_{index}"] = str(item)
            for key, item in (entry.get("map") or {}).items():
                env[f"{base}_{re.sub(r'[^A-Za-z0-9_]', '_', key).upper()}"] = str(item)
        return env


def _envsubst(text: str, variables: Mapping[str, str]) -> str:
    """Expand ``$NAME`` and ``${NAME}`` like Go's ``os.Expand``; ``$$`` is a ``$``."""

    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return "$" if name == "$" else variables.get(name, "")

    return re.sub(r"\$\{([^}]*)\}|\$(\$|[A-Za-z0-9_]+)", expand, text)


@dataclass(frozen=True)
class CmpResult:
    """The outcome of one request: the last command run and what it printed."""

    stage: str
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    workdir: Path


class CmpServer:
    """A stand-in for ``argocd-cmp-server`` with one plugin.yaml.

    Parameters
    ----------
    workdir
        Where ``_cmp_server/<random>/`` copies are made (the sidecar's ``/tmp``).
    plugin_yaml
        The plugin configuration whose commands are run.
    sidecar_env
        Extra variables of the sidecar container (Vault settings, a policy, ...).
    exclusions
        ``reposerver.plugin.tar.exclusions`` globs, relative to the tarball's root
        (default: what ``sidecar/cmd-params-patch.yaml`` sets).
    timeout
        Seconds for the whole request, ``init`` and ``generate`` together (the
        caller's gRPC deadline, 60 s in Argo CD by default).
    use_manifest_generate_paths
        ``reposerver.plugin.use.manifest.generate.paths``: tar only the common root
        of the app path and its ``manifest-generate-paths`` annotation.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        plugin_yaml: Path = PLUGIN_YAML,
        sidecar_env: Mapping[str, str] | None = None,
        exclusions: Sequence[str] | None = None,
        timeout: float = 120.0,
        use_manifest_generate_paths: bool = False,
    ) -> None:
        config = yaml.safe_load(plugin_yaml.read_text())
        if config.get("kind") != "ConfigManagementPlugin" or not config["metadata"]["name"]:
            msg = f"{plugin_yaml} is not a ConfigManagementPlugin"
            raise ValueError(msg)
        spec = config["spec"]
        self.name: str = config["metadata"]["name"]
        self.init = PluginCommand.from_spec(spec["init"]) if spec.get("init") else None
        self.generate_command = PluginCommand.from_spec(spec["generate"])
        dynamic = (spec.get("parameters") or {}).get("dynamic")
        self.parameters_command = PluginCommand.from_spec(dynamic) if dynamic else None
        self.preserve_file_mode = bool(spec.get("preserveFileMode", False))
        self.workdir = workdir
        self.home = workdir / "tmp"
        self.home.mkdir(parents=True, exist_ok=True)
        self.exclusions = sidecar_exclusions() if exclusions is None else tuple(exclusions)
        self.timeout = timeout
        self.use_manifest_generate_paths = use_manifest_generate_paths
        self.sidecar_env = self._base_env()
        self.sidecar_env.update(sidecar_env or {})

    def _base_env(self) -> dict[str, str]:
        python_bin = str(Path(sys.executable).parent)
        return {
            "PATH": os.pathsep.join([python_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(self.home),
            "TMPDIR": str(self.home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(PROJECT / "plugin"),
        }

    def resolve(self, argv: Sequence[str]) -> list[str]:
        """Resolve ``argv[0]`` as exec.Command would, with the python fallback for lsp-render."""
        found = shutil.which(argv[0], path=self.sidecar_env["PATH"])
        if found:
            return [found, *argv[1:]]
        if argv[0] == "lsp-render":
            return [sys.executable, "-m", "lsp_render", *argv[1:]]
        msg = f"{argv[0]} is not on the sidecar's PATH"
        raise FileNotFoundError(msg)

    # -- the repository copy ---------------------------------------------------

    def checkout(self, repo_root: Path) -> Path:
        """Tar ``repo_root`` and unpack it into a fresh ``_cmp_server/<random>/``."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
            for path in self._walk(repo_root):
                archive.add(path, arcname=path.relative_to(repo_root).as_posix(), recursive=False)
        destination = self.workdir / "_cmp_server" / uuid.uuid4().hex
        destination.mkdir(parents=True)
        buffer.seek(0)
        with tarfile.open(fileobj=buffer, mode="r:gz") as archive:
            for member in archive.getmembers():
                self._extract(archive, member, destination)
        return destination

    def _walk(self, repo_root: Path) -> list[Path]:
        """List what the repo-server would tar: not excluded, symlinks not followed."""
        found: list[Path] = []
        for directory, dirnames, filenames in os.walk(repo_root, followlinks=False):
            base = Path(directory)
            kept = [d for d in dirnames if not self._excluded(base / d, repo_root)]
            dirnames[:] = sorted(kept)
            found.extend(base / d for d in dirnames)
            found.extend(
                base / f for f in sorted(filenames) if not self._excluded(base / f, repo_root)
            )
        return found

    def _excluded(self, path: Path, repo_root: Path) -> bool:
        """Tell whether the repo-server leaves ``path`` out (a directory: with all below it).

        Local junk (never in a git checkout) is left out by its name; the operator's
        exclusions match the whole relative path with Go's ``filepath.Match``, as
        argo-cd ``util/io/files/tar.go`` does while walking.
        """
        rel = path.relative_to(repo_root).as_posix()
        if any(go_match(junk, path.name) for junk in LOCAL_JUNK):
            return True
        return any(go_match(glob, rel) for glob in self.exclusions)

    def _extract(self, archive: tarfile.TarFile, member: tarfile.TarInfo, root: Path) -> None:
        target = root / member.name
        if not target.resolve().is_relative_to(root.resolve()):
            msg = f"{member.name} leaves the repository"
            raise ValueError(msg)
        if member.isdir():
            target.mkdir(mode=0o755, parents=True, exist_ok=True)
            target.chmod(member.mode if self.preserve_file_mode else 0o755)
        elif member.issym():
            link = (target.parent / member.linkname).resolve()
            if Path(member.linkname).is_absolute() or not link.is_relative_to(root.resolve()):
                msg = f"symlink {member.name} -> {member.linkname} leaves the repository"
                raise ValueError(msg)
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            target.symlink_to(member.linkname)
        elif member.isfile():
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
            target.chmod(member.mode if self.preserve_file_mode else 0o644)

    # -- requests ----------------------------------------------------------------

    def _run(
        self,
        stage: str,
        command: PluginCommand,
        cwd: Path,
        extra_env: Mapping[str, str],
        deadline: float,
    ) -> CmpResult:
        """Run one command until it ends or the request's deadline passes (then TERM, KILL)."""
        argv = self.resolve(command.argv)
        env = {**self.sidecar_env, **extra_env}
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            # argocd-cmp-server: SIGTERM to the group, SIGKILL 5 s later.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
            err += f"\n(the request's deadline of {self.timeout:g} s passed)".encode()
        return CmpResult(
            stage,
            tuple(argv),
            proc.returncode,
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
            cwd,
        )

    def _app_dir(self, copy: Path, rel: str) -> Path:
        app_dir = (copy / rel).resolve()
        if not app_dir.is_relative_to(copy.resolve()) or not app_dir.is_dir():
            msg = f"app path {rel!r} is not a directory of the repository"
            raise ValueError(msg)
        return app_dir

    def _tar_root(self, repo_root: Path, source: AppSource) -> tuple[Path, str]:
        """Return the tarball's root and the app's path inside it."""
        app_path = os.path.normpath(repo_root.resolve() / source.path)
        root = str(repo_root.resolve())
        if self.use_manifest_generate_paths:
            root = application_root_path(app_path, root, source.manifest_generate_paths or "")
        return Path(root), os.path.relpath(app_path, root)

    def generate(
        self,
        repo_root: Path,
        source: AppSource,
        *,
        keep: bool = False,
        before: Callable[[Path, Path], None] | None = None,
    ) -> CmpResult:
        """Run ``init`` then ``generate`` for ``source`` on a fresh copy of ``repo_root``.

        ``before(copy, app_dir)``, when given, runs between unpacking and ``init``
        (a test's stand-in for time spent before the commands).
        """
        deadline = time.monotonic() + self.timeout
        tar_root, rel = self._tar_root(repo_root, source)
        copy = self.checkout(tar_root)
        try:
            app_dir = self._app_dir(copy, rel)
            if before is not None:
                before(copy, app_dir)
            env = source.build_env()
            if self.init is not None:
                result = self._run("init", self.init, app_dir, env, deadline)
                if result.returncode != 0:
                    return result
            return self._run("generate", self.generate_command, app_dir, env, deadline)
        finally:
            if not keep:
                shutil.rmtree(copy, ignore_errors=True)

    def parameters(self, repo_root: Path, source: AppSource) -> CmpResult:
        """Run the dynamic parameters command under its reduced environment.

        Argo CD sends the whole repository for it (``populatePluginAppDetails``
        never narrows the tarball to the manifest-generate-paths).
        """
        if self.parameters_command is None:
            msg = f"plugin {self.name} announces no dynamic parameters"
            raise ValueError(msg)
        deadline = time.monotonic() + self.timeout
        copy = self.checkout(repo_root)
        try:
            app_dir = self._app_dir(copy, source.path)
            return self._run(
                "parameters", self.parameters_command, app_dir, source.parameters_env(), deadline
            )
        finally:
            shutil.rmtree(copy, ignore_errors=True)
