"""Allow ``python -m lsp_render``."""

from lsp_render.cli import main

main()
