"""lsp-render: the last mile of GitOps deployment, as an Argo CD plugin and a CLI."""

__all__ = ["__version__"]

__version__ = "0.1.0"
