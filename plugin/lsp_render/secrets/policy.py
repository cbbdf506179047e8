"""Operator policy (SPEC section 7). Placeholder until the policy module lands."""

from __future__ import annotations

from collections.abc import Collection

from lsp_render.context import RenderRequest

__all__ = ["enforce"]


def enforce(paths: Collection[str], request: RenderRequest) -> str | None:
    """Check every secret path against the operator's policy; return the login role.

    Raises ``PolicyError`` for a path the app's project may not read.
    """
    del paths, request
    return None
