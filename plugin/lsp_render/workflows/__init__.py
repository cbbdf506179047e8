"""Deployment-repository workflows: ``render-all`` and ``diff`` (SPEC section 9).

``discovery`` finds the (application, environment) pairs of a repository,
``worker`` renders one pair exactly as ``lsp-render render`` would,
``render_all`` runs them in a process pool, ``progress`` reports on it,
``resources``/``masking``/``diff`` compare two renders resource by resource,
and ``revision`` checks a git revision out into a scratch directory.
"""

from __future__ import annotations

__all__: list[str] = []
