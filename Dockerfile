# The lsp-render sidecar image for Argo CD's argocd-repo-server.
#
# Argo CD runs it with command [/var/run/argocd/argocd-cmp-server] (the CMP
# server copied from Argo CD's own image), which in turn runs the commands of
# /home/argocd/cmp-server/config/plugin.yaml: lsp-render init|render|parameters.
# So there is no ENTRYPOINT; CMD only answers `docker run IMAGE`.
#
#   docker build -t ghcr.io/lsp-render/lsp-render:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ... .
#
# Tool versions are those of current Argo CD (v3.5.1, hack/tool-versions.sh):
# Helm 4.2.1 and Kustomize 5.8.1, so the sidecar renders like Argo CD's own
# Helm and Kustomize sources. The embedded engine (helm-python-sdk 0.2.2, a
# pip install without this image) is Helm 4.2.3: the same minor, which
# tests/dockerfile_test.py checks. The image builds for linux/amd64 and
# linux/arm64 (TARGETARCH, set by BuildKit); every download is checked against
# the sha256 of its architecture before it is unpacked. The checksums are the
# ones Argo CD v3.5.1 publishes in hack/installers/checksums (copied from
# https://get.helm.sh/helm-vX.Y.Z-linux-ARCH.tar.gz.sha256sum and the
# kustomize release's checksums.txt). To bump a tool, change its version and
# both of its checksums together.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- helm and kustomize: downloaded, verified, unpacked ------------------------
FROM ${PYTHON_IMAGE} AS tools

# amd64 or arm64; BuildKit sets it from --platform (a legacy build gets amd64).
ARG TARGETARCH
ARG HELM_VERSION=4.2.1
ARG HELM_SHA256_AMD64=479dca836e5b45e8bd222400c5591b0e3a647378f03ff96597180db97c17fdae
ARG HELM_SHA256_ARM64=596b9a73d366c1e72ce67d595c22805480e30914593aafbc9f547694e72814db
ARG KUSTOMIZE_VERSION=5.8.1
ARG KUSTOMIZE_SHA256_AMD64=029a7f0f4e1932c52a0476cf02a0fd855c0bb85694b82c338fc648dcb53a819d
ARG KUSTOMIZE_SHA256_ARM64=0953ea3e476f66d6ddfcd911d750f5167b9365aa9491b2326398e289fef2c142

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /downloads

# The slim image has no curl or wget; Python's urllib downloads over HTTPS with
# certificate verification, and sha256sum --check refuses a changed archive.
RUN arch="${TARGETARCH:-amd64}" \
    && case "${arch}" in \
        amd64) helm_sha256="${HELM_SHA256_AMD64}"; kustomize_sha256="${KUSTOMIZE_SHA256_AMD64}" ;; \
        arm64) helm_sha256="${HELM_SHA256_ARM64}"; kustomize_sha256="${KUSTOMIZE_SHA256_ARM64}" ;; \
        *) echo "unsupported TARGETARCH '${arch}' (amd64 or arm64)" >&2; exit 1 ;; \
    esac \
    && python -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        "https://get.helm.sh/helm-v${HELM_VERSION}-linux-${arch}.tar.gz" helm.tar.gz \
    && echo "${helm_sha256}  helm.tar.gz" | sha256sum --check --strict - \
    && python -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        "https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2Fv${KUSTOMIZE_VERSION}/kustomize_v${KUSTOMIZE_VERSION}_linux_${arch}.tar.gz" kustomize.tar.gz \
    && echo "${kustomize_sha256}  kustomize.tar.gz" | sha256sum --check --strict - \
    && mkdir -p /out \
    && tar -xzf helm.tar.gz --strip-components=1 -C /out "linux-${arch}/helm" \
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

# git: Kustomize fetches remote bases (git@..., https://.../repo.git) with it,
# which the operator policy may allow (network.allowHosts). Not version-pinned:
# Debian's archive keeps only the latest bookworm build of a package, so a pin
# would break the build on its next security update; the base image is pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

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
