"""Declared dependencies: each one is imported, and requirements.lock pins them all with hashes.

The lock (``requirements.lock``, what the image installs with ``--require-hashes``) is
generated from pyproject.toml by pip-compile (README, Development). These checks read
files only (no network, no pip-compile run): a dependency added to pyproject.toml
without regenerating the lock, or a version bound the lock no longer satisfies, fails
here with the command to run.
"""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
REGENERATE = (
    "pip-compile --generate-hashes --no-emit-index-url --no-emit-find-links --strip-extras "
    "--output-file requirements.lock pyproject.toml"
)

# Declared but not imported yet, each with its reason. Remove an entry once its import
# lands (the test below fails on a stale entry).
ALLOWED_UNUSED: dict[str, str] = {}  # distribution -> why it is declared though not imported


def _dependencies() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def _import_names(name: str) -> set[str]:
    """The top-level modules a distribution provides (from the installed metadata)."""
    wanted = canonicalize_name(name)
    found = {
        module
        for module, dists in packages_distributions().items()
        if any(canonicalize_name(d) == wanted for d in dists)
    }
    assert found, f"{name} is not installed: pip install -e '.[dev]'"
    return found


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "plugin").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_declared_dependency_is_imported() -> None:
    imported = _imported_top_levels()
    unused = []
    for requirement in _dependencies():
        key = canonicalize_name(requirement.name)
        used = bool(_import_names(requirement.name) & imported)
        if used:
            assert key not in ALLOWED_UNUSED, (
                f"{requirement.name} is imported now: remove it from ALLOWED_UNUSED"
            )
        elif key not in ALLOWED_UNUSED:
            unused.append(requirement.name)
    assert not unused, f"declared in pyproject.toml but imported nowhere in plugin/: {unused}"


def _lock() -> dict[str, tuple[str, list[str], list[str]]]:
    """Map each locked distribution to (version, its hashes, what it is there for)."""
    entries: dict[str, tuple[str, list[str], list[str]]] = {}
    current = ""
    for line in LOCK.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", line)
        if pin:
            current = canonicalize_name(pin.group(1))
            entries[current] = (pin.group(2), [], [])
        elif current and (digest := re.match(r"^\s+--hash=(sha256:[0-9a-f]{64})", line)):
            entries[current][1].append(digest.group(1))
        elif (
            current
            and (via := re.match(r"^\s+#\s+(?:via\s+)?(\S.*)$", line))
            and via.group(1) != "via"
        ):
            entries[current][2].append(via.group(1).strip())
    return entries


def lock_problems(
    requirements: list[Requirement], locked: dict[str, tuple[str, list[str], list[str]]]
) -> list[str]:
    """Say which requirements the lock misses or pins outside their bounds."""
    problems = []
    for requirement in requirements:
        key = canonicalize_name(requirement.name)
        if key not in locked:
            problems.append(f"{requirement.name} is not in {LOCK.name}")
        elif not requirement.specifier.contains(locked[key][0], prereleases=True):
            problems.append(
                f"{LOCK.name} pins {requirement.name}=={locked[key][0]}, not {requirement}"
            )
    return problems


def test_lock_pins_every_dependency_within_its_bounds() -> None:
    locked = _lock()
    assert locked, f"{LOCK.name} holds no pins; regenerate it: {REGENERATE}"
    problems = lock_problems(_dependencies(), locked)
    assert not problems, "; ".join(problems) + f"; run: {REGENERATE}"


def test_a_stale_lock_is_refused() -> None:
    """The check above can fail: a bound the lock misses, or a dependency it lacks."""
    locked = _lock()
    assert lock_problems([Requirement("click>=99")], locked)
    assert lock_problems([Requirement("no-such-dependency>=1")], locked)
    assert not lock_problems([Requirement("click>=8.1")], locked)


def test_lock_has_hashes_and_nothing_stale() -> None:
    declared = {canonicalize_name(r.name) for r in _dependencies()}
    for name, (version, hashes, via) in _lock().items():
        assert hashes, f"{name}=={version} has no --hash in {LOCK.name}; run: {REGENERATE}"
        assert via, f"{name}=={version}: no '# via' in {LOCK.name}; run: {REGENERATE}"
        if via == ["lsp-render (pyproject.toml)"]:
            assert name in declared, f"{name} is no longer declared; run: {REGENERATE}"


def test_lock_holds_what_its_packages_require() -> None:
    """Where the installed version is the locked one, its own requirements are locked too."""
    locked = _lock()
    checked = 0
    for name, (version, _, _) in locked.items():
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        checked += 1
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            key = canonicalize_name(requirement.name)
            assert key in locked, f"{name} needs {requirement.name}, missing; run: {REGENERATE}"
    assert checked >= len(_dependencies()) // 2, "too few locked versions installed to check"
