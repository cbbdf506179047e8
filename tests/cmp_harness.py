"""Run ``sidecar/plugin.yaml``'s commands the way Argo CD's ``argocd-cmp-server`` runs them.

What the sidecar does for every request (``reference/argocd-cmp.md``), and so
what this harness does:

- the repo-server tars the repository root, without what
  ``reposerver.plugin.tar.exclusions`` names (``.git/*``), and the sidecar
  unpacks it into ``<workdir>/_cmp_server/<random>/``: directories 0755, files
  0644 (``preserveFileMode: false``), symlinks only when they stay inside;
- the command's working directory is the application path inside that copy;
- its environment is the sidecar's own (here a minimal one: ``PATH``, ``HOME``
  and ``TMPDIR`` pointing at a private directory, like the sidecar's ``/tmp``
  emptyDir) plus the build environment: ``ARGOCD_APP_*``, ``KUBE_VERSION``,
  ``KUBE_API_VERSIONS``, ``ARGOCD_ENV_*`` (values envsubst'd against the
  build environment), ``ARGOCD_APP_PARAMETERS`` (compact JSON, ``null`` when
  the Application has ``plugin:`` but no parameters) and the lossy
  ``PARAM_*``;
- ``init`` runs before ``generate`` (its stdout discarded, a failure ends the
  request); the dynamic parameters command gets only ``ARGOCD_APP_NAME``,
  ``ARGOCD_APP_SOURCE_*``, ``ARGOCD_ENV_*`` and the parameter variables;
- argv comes from plugin.yaml (``command`` + ``args``), never through a shell.
  ``lsp-render`` is the console script when one is on the sidecar's ``PATH``,
  else ``python -m lsp_render`` with this checkout's ``plugin/`` on
  ``PYTHONPATH`` (the package is not installed in the test environment).
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Mapping, Sequence
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

# Never in a git checkout, so never in Argo CD's tarball either.
LOCAL_JUNK = (
    "*/__pycache__",
    "__pycache__",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".venv",
)


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

    @classmethod
    def from_application(cls, manifest: Mapping[str, Any], **overrides: Any) -> AppSource:
        """Build a source from an Argo CD ``Application`` that uses a plugin."""
        spec = manifest["spec"]
        source = spec.get("source") or next(
            s for s in spec.get("sources", []) if s.get("plugin") is not None
        )
        plugin = source.get("plugin") or {}
        env = {item["name"]: str(item.get("value", "")) for item in plugin.get("env") or []}
        fields: dict[str, Any] = {
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
        """Return the reduced variables the dynamic parameters command gets."""
        full = self.build_env()
        kept = {
            "ARGOCD_APP_NAME",
            "ARGOCD_APP_SOURCE_REPO_URL",
            "ARGOCD_APP_SOURCE_PATH",
            "ARGOCD_APP_SOURCE_TARGET_REVISION",
            "ARGOCD_APP_PARAMETERS",
        }
        return {
            name: value
            for name, value in full.items()
            if name in kept or name.startswith(("ARGOCD_ENV_", "PARAM_"))
        }

    def _plugin_env(self, build: Mapping[str, str]) -> dict[str, str]:
        return {f"ARGOCD_ENV_{name}": _envsubst(value, build) for name, value in self.env.items()}

    def _parameter_env(self) -> dict[str, str]:
        if self.parameters is None:
            return {"ARGOCD_APP_PARAMETERS": "null"}
        entries = [dict(entry) for entry in self.parameters]
        env = {"ARGOCD_APP_PARAMETERS": json.dumps(entries, separators=(",", ":"), sort_keys=True)}
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
        ``reposerver.plugin.tar.exclusions`` globs, relative to the repository root.
    timeout
        Seconds per command (``ARGOCD_EXEC_TIMEOUT``).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        plugin_yaml: Path = PLUGIN_YAML,
        sidecar_env: Mapping[str, str] | None = None,
        exclusions: Sequence[str] = (".git", ".git/*", *LOCAL_JUNK),
        timeout: float = 120.0,
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
        self.exclusions = tuple(exclusions)
        self.timeout = timeout
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
        rel = path.relative_to(repo_root).as_posix()
        parts = rel.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(fnmatch.fnmatch(p, glob) for p in prefixes for glob in self.exclusions)

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
        self, stage: str, command: PluginCommand, cwd: Path, extra_env: Mapping[str, str]
    ) -> CmpResult:
        argv = self.resolve(command.argv)
        env = {**self.sidecar_env, **extra_env}
        try:
            completed = subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                capture_output=True,
                check=False,
                timeout=self.timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as exc:
            return CmpResult(
                stage,
                tuple(argv),
                -1,
                (exc.stdout or b"").decode("utf-8", "replace"),
                f"timed out after {self.timeout} s",
                cwd,
            )
        return CmpResult(
            stage,
            tuple(argv),
            completed.returncode,
            completed.stdout.decode("utf-8", "replace"),
            completed.stderr.decode("utf-8", "replace"),
            cwd,
        )

    def _app_dir(self, copy: Path, source: AppSource) -> Path:
        app_dir = (copy / source.path).resolve()
        if not app_dir.is_relative_to(copy.resolve()) or not app_dir.is_dir():
            msg = f"app path {source.path!r} is not a directory of the repository"
            raise ValueError(msg)
        return app_dir

    def generate(self, repo_root: Path, source: AppSource, *, keep: bool = False) -> CmpResult:
        """Run ``init`` then ``generate`` for ``source`` on a fresh copy of ``repo_root``."""
        copy = self.checkout(repo_root)
        try:
            app_dir = self._app_dir(copy, source)
            env = source.build_env()
            if self.init is not None:
                result = self._run("init", self.init, app_dir, env)
                if result.returncode != 0:
                    return result
            return self._run("generate", self.generate_command, app_dir, env)
        finally:
            if not keep:
                shutil.rmtree(copy, ignore_errors=True)

    def parameters(self, repo_root: Path, source: AppSource) -> CmpResult:
        """Run the dynamic parameters command under its reduced environment."""
        if self.parameters_command is None:
            msg = f"plugin {self.name} announces no dynamic parameters"
            raise ValueError(msg)
        copy = self.checkout(repo_root)
        try:
            app_dir = self._app_dir(copy, source)
            return self._run(
                "parameters", self.parameters_command, app_dir, source.parameters_env()
            )
        finally:
            shutil.rmtree(copy, ignore_errors=True)
