# The lsp-render sidecar image for Argo CD's argocd-repo-server.
#
# Argo CD runs it with command [/var/run/argocd/argocd-cmp-server] (the CMP
# server copied from Argo CD's own image), which in turn runs the commands of
# /home/argocd/cmp-server/config/plugin.yaml: lsp-render init|render|parameters.
# So there is no ENTRYPOINT; CMD only answers `docker run IMAGE`.
#
#   docker build -t ghcr.io/lsp-render/lsp-render:0.1.0 .
#
# Tool versions are pinned and every download is checked against its sha256
# (linux/amd64). To bump one, change the version and its checksum together:
# https://get.helm.sh/helm-vX.Y.Z-linux-amd64.tar.gz.sha256sum and the
# kustomize release's checksums.txt.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- helm and kustomize: downloaded, verified, unpacked ------------------------
FROM ${PYTHON_IMAGE} AS tools

ARG HELM_VERSION=3.18.4
ARG HELM_SHA256=f8180838c23d7c7d797b208861fecb591d9ce1690d8704ed1e4cb8e2add966c1
ARG KUSTOMIZE_VERSION=5.7.0
ARG KUSTOMIZE_SHA256=0d98f06d6d2c2c0ff8923cc136a517af74aaa187f1b9f3e17ff370d0625ede84

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /downloads

# The slim image has no curl or wget; Python's urllib downloads over HTTPS with
# certificate verification, and sha256sum --check refuses a changed archive.
RUN python -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        "https://get.helm.sh/helm-v${HELM_VERSION}-linux-amd64.tar.gz" helm.tar.gz \
    && echo "${HELM_SHA256}  helm.tar.gz" | sha256sum --check --strict - \
    && python -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        "https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2Fv${KUSTOMIZE_VERSION}/kustomize_v${KUSTOMIZE_VERSION}_linux_amd64.tar.gz" kustomize.tar.gz \
    && echo "${KUSTOMIZE_SHA256}  kustomize.tar.gz" | sha256sum --check --strict - \
    && mkdir -p /out \
    && tar -xzf helm.tar.gz --strip-components=1 -C /out linux-amd64/helm \
    && tar -xzf kustomize.tar.gz -C /out kustomize \
    && chmod 0755 /out/helm /out/kustomize

# --- lsp-render: installed into a virtual environment ---------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
RUN python -m venv /opt/lsp-render
COPY requirements.lock pyproject.toml README.md ./
COPY plugin ./plugin
# Dependencies come from requirements.lock: exact versions, each checked against its
# sha256 (generated from pyproject.toml; README, Development). The project adds none.
# Nothing is compiled, so no build tools are needed in any stage.
RUN /opt/lsp-render/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock \
    && /opt/lsp-render/bin/pip install --no-cache-dir --no-deps . \
    && /opt/lsp-render/bin/pip check \
    && /opt/lsp-render/bin/lsp-render --version

# --- the sidecar image ---------------------------------------------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="lsp-render" \
      org.opencontainers.image.description="Argo CD config-management plugin: Helm, Kustomize, plain and hybrid rendering with Vault placeholders" \
      org.opencontainers.image.source="https://github.com/lsp-render/lsp-render" \
      org.opencontainers.image.licenses="MIT"

# uid/gid 999 is Argo CD's own user: the CMP server and the repo-server share
# files through the var-files and plugins volumes.
RUN (getent group 999 || groupadd --gid 999 argocd) \
    && useradd --uid 999 --gid 999 --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin argocd

COPY --from=tools /out/helm /out/kustomize /usr/local/bin/
COPY --from=build /opt/lsp-render /opt/lsp-render

# HOME and TMPDIR are the sidecar's /tmp emptyDir: the root filesystem is
# read-only in the pod, and Helm, Kustomize and the Vault token cache write
# below HOME. Bytecode is precompiled at install time, never written later.
ENV PATH=/opt/lsp-render/bin:${PATH} \
    HOME=/tmp \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 999:999
WORKDIR /tmp

CMD ["lsp-render", "--help"]
