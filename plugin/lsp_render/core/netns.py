"""The second defence: engines run in a network namespace with no interfaces, where allowed.

Confinement (:mod:`lsp_render.core.confine`) refuses remote references before
an engine runs. Should an engine still find a way to the network, it finds
none: the embedded Helm engine's child enters a new network namespace right
after it is forked (it is single-threaded then, as ``unshare(2)`` requires
for a user namespace), and ``kustomize``/``helm`` subprocesses are started
through ``unshare --net``. As root a network namespace is enough; an
unprivileged user (uid 999 in the sidecar image) needs a user namespace too,
which container runtimes' default seccomp profiles usually forbid. Where
neither works, engines run as before (docs/argocd.md lists what works where).
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
import sys

__all__ = ["enter_empty_network_namespace", "isolation_prefix"]

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000


def enter_empty_network_namespace() -> str | None:
    """Move this (single-threaded) process into a new, empty network namespace.

    Returns
    -------
    str or None
        ``"netns"``, ``"userns+netns"``, or None when the platform refuses both.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(_CLONE_NEWNET) == 0:
            return "netns"
        if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
            return "userns+netns"
    return None


@functools.cache
def isolation_prefix() -> tuple[str, ...]:
    """Return the argv prefix that starts an engine without network (empty if none works).

    Probed once per process: ``unshare --net`` (root), then ``unshare --user --net``.
    """
    if not sys.platform.startswith("linux"):
        return ()
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for prefix in ((unshare, "--net", "--"), (unshare, "--user", "--net", "--")):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=5, check=False)
            if probe.returncode == 0:
                return prefix
    return ()
