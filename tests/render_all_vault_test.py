"""render-all reads each Vault path once per run, shared between its renders and workers.

Several applications draw on one shared path; the test Vault counts the reads.
``LSP_RENDER_SECRET_CACHE_TTL`` bounds how long a read is served (0: not shared).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_render.secrets.backends.shared_reads import HIT, MINE, PENDING, SharedReads
from tests.cli_helpers import base_env, run
from tests.vault_fixtures import Seeded, vault, vault_env  # noqa: F401

APPS = ("api", "web", "worker", "cron")
SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: {app}
stringData:
  shared: <path:secret/data/team-a/db#password>
  own: <path:secret/data/{app}#token>
"""


def _repo(tmp_path: Path, seeded: Seeded) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    for app in APPS:
        (repo / "apps" / app).mkdir(parents=True)
        (repo / "apps" / app / "secret.yaml").write_text(SECRET.format(app=app))
        seeded.server.put(f"secret/{app}", {"token": seeded.value(f"token-{app}")})
    return repo


def _render_all(repo: Path, seeded: Seeded, jobs: int, **extra: str) -> list[str]:
    env = base_env(seeded.home)
    env.update(vault_env(seeded, **extra))
    before = len(seeded.server.requests("GET", "/v1/secret/data/"))
    result = run(
        [
            "render-all",
            str(repo),
            "--jobs",
            str(jobs),
            "--output-dir",
            str(repo.parent / f"out-{jobs}"),
        ],
        env=env,
    )
    assert result.code == 0, result.stderr
    return [r.path for r in seeded.server.requests("GET", "/v1/secret/data/")[before:]]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_path_is_read_once_per_run_whatever_the_jobs(
    tmp_path: Path,
    vault: Seeded,  # noqa: F811
    jobs: int,
) -> None:
    repo = _repo(tmp_path, vault)
    reads = _render_all(repo, vault, jobs)
    shared = [path for path in reads if path.startswith("/v1/secret/data/team-a/db")]
    assert len(shared) == 1, reads
    assert len(reads) == 1 + len(APPS)  # the shared path once, each app's own once
    written = sorted((repo.parent / f"out-{jobs}").rglob("*.yaml"))
    assert len(written) == len(APPS)
    for path in written:
        assert "<path:" not in path.read_text()


def test_ttl_zero_reads_per_render(tmp_path: Path, vault: Seeded) -> None:  # noqa: F811
    repo = _repo(tmp_path, vault)
    reads = _render_all(repo, vault, 2, LSP_RENDER_SECRET_CACHE_TTL="0")
    shared = [path for path in reads if path.startswith("/v1/secret/data/team-a/db")]
    assert len(shared) == len(APPS)


def test_a_read_is_served_no_longer_than_its_ttl() -> None:
    clock = [0.0]
    reads = SharedReads(ttl=10, timer=lambda: clock[0])  # a clock stepped by hand
    assert reads.claim("k") == (MINE, None)
    assert reads.claim("k") == (PENDING, None)  # another render is reading it
    reads.put("k", "v1")
    assert reads.claim("k") == (HIT, "v1")
    clock[0] = 11.0
    assert reads.claim("k") == (MINE, None)  # expired: read again
    reads.release("k")  # a failed read is not kept
    assert reads.claim("k") == (MINE, None)


def test_only_successful_reads_are_shared(vault: Seeded) -> None:  # noqa: F811
    from lsp_render.secrets.backends import shared_reads
    from tests.vault_fixtures import backend, ref

    shared = SharedReads()
    shared_reads.install(shared)
    try:
        first = backend(vault_env(vault))
        results = first.read([ref("secret/data/missing"), ref("secret/data/team-a/db")])
        assert [r.data is None for r in results.values()] == [True, False]
        assert shared.read_count() == 2
        again = backend(vault_env(vault))  # a later render of the run
        results = again.read([ref("secret/data/missing"), ref("secret/data/team-a/db")])
        assert shared.read_count() == 3  # the missing path is asked again, the other is not
    finally:
        shared_reads.install(None)
    paths = [r.path for r in vault.server.requests("GET", "/v1/secret/data/team-a/db")]
    assert len(paths) == 1
