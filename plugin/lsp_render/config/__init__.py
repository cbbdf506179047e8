"""lsp-render.yaml and lsp-render-repo.yaml: models, loading, schemas and Jinja2 templating."""
