"""Scenario 4: 40 distinct Vault paths at 100 ms latency through a full ``lsp-render render``.

The Vault-compatible test server (``tests/vaultserver.py``) answers every request
after 100 ms. A plain app holds 40 Secrets, each with placeholders of its own path
(80 placeholders, 40 distinct paths). The render logs in with approle (so logins can
be counted) and caches its token under a private HOME; a second render reuses it.
Counts come from the server's request log.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchlib import REPO, Result, bench_env, lsp_render_argv, run

__all__ = ["LATENCY", "PATHS", "measure"]

PATHS = 40
LATENCY = 0.1
TIME_GOAL = 2.0
ROLE_ID = "bench-role-id"
SECRET_ID = "bench-secret-id"

_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: app-{n}
type: Opaque
stringData:
  user: <path:secret/data/bench/app{n}#user>
  password: <path:secret/data/bench/app{n}#password>
"""


def _app(directory: Path) -> Path:
    app = directory / "vault-app"
    app.mkdir()
    (app / ".git").mkdir()
    (app / "secrets.yaml").write_text("---\n".join(_SECRET.format(n=n) for n in range(PATHS)))
    return app


def measure(tmp: Path) -> list[Result]:
    """Run two renders against a slow server; return time, reads and logins rows."""
    import sys

    sys.path.insert(0, str(REPO))
    from tests.vaultserver import VaultServer

    server = VaultServer().start()
    try:
        server.add_kv_mount("secret", 2)
        for n in range(PATHS):
            server.put(f"secret/bench/app{n}", {"user": f"user{n}", "password": f"pw-{n}"})
        server.add_policy("reader", ["secret/data/*"])
        server.enable_auth("approle", "approle")
        server.add_login("approle", ROLE_ID, SECRET_ID, policies=["reader"])
        server.latency = LATENCY
        home = tmp / "home"
        home.mkdir()
        env = bench_env(
            {
                "VAULT_ADDR": server.address,
                "LSP_RENDER_VAULT_AUTH": "approle",
                "LSP_RENDER_VAULT_ROLE_ID": ROLE_ID,
                "LSP_RENDER_VAULT_SECRET_ID": SECRET_ID,
                "HOME": str(home),
                "XDG_CACHE_HOME": str(home / ".cache"),
            }
        )
        argv = [*lsp_render_argv(), "render", str(_app(tmp))]
        rows: list[Result] = []
        for attempt in ("first", "second"):
            server.reset_log()
            start = time.perf_counter()
            out = run(argv, env=env).stdout.decode()
            seconds = time.perf_counter() - start
            reads = len(server.requests("GET", "/v1/secret/data/"))
            logins = len(server.logins_served())
            total = len(server.requests())
            substituted = "pw-39" in out and "<path:" not in out
            login_goal = 1 if attempt == "first" else 0
            rows.append(
                Result(
                    f"vault {attempt} render",
                    seconds,
                    None,
                    "s",
                    f"< {TIME_GOAL:.0f} s, {PATHS} reads, <= {login_goal} login",
                    seconds < TIME_GOAL and reads == PATHS and logins <= login_goal and substituted,
                    note=(
                        f"{reads} reads, {logins} logins, {total} requests in all, "
                        f"max {server.max_in_flight} in flight, {LATENCY * 1000:.0f} ms each; "
                        f"output substituted: {substituted}"
                    ),
                )
            )
        return rows
    finally:
        server.stop()
