"""Allow ``python -m lsp_render``."""

from lsp_render.cli.main import main

main()
