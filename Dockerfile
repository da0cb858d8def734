# syntax=docker/dockerfile:1
#
# hoso container image: one image, every service. See deploy/README.md ("Build the image").
#
#   docker build -t hoso:0.1.0 .
#   docker build --build-arg WITH_SOFTHSM=1 -t hoso:0.1.0-softhsm .   # dev/test HSM
#
# Entrypoints (the image runs `hoso`; pick the service with the arguments):
#   hoso serve all        embedded default: the three services in one process (CMD)
#   hoso serve signing    trust services + PAdES signing and verification (gRPC :50051, HTTP :8080)
#   hoso serve storage    archive: dossiers, files, fixity, retention, export
#   hoso serve ocr        OCR API: jobs, WatchJob, search
#   hoso ocr-worker       OCR worker: claims queued jobs and OCRs pages (health on :50051)
#   hoso db upgrade       forward-only schema migrations (run as a Job before a rollout)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------
# Build stage: compilers and headers live here only. Produces wheels for hoso
# and every runtime dependency, so the final stage installs without compiling.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# tesserocr is built from source against Debian's libtesseract so that it reads the
# same tessdata (vie, eng) as the tesseract-ocr-* packages installed in the final stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential pkg-config libtesseract-dev libleptonica-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml setup.py README.md* ./
COPY services ./services

RUN pip wheel --wheel-dir /wheels --no-binary tesserocr .

# ---------------------------------------------------------------------------
# Runtime stage: only the shared libraries and tools hoso calls at run time.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# 1 adds SoftHSM2 (a software PKCS#11 token) for development and tests; production
# mounts the HSM vendor's PKCS#11 module instead (deploy/k8s/components/hsm-pkcs11).
ARG WITH_SOFTHSM=0
ARG HOSO_UID=10001

LABEL org.opencontainers.image.title="hoso" \
      org.opencontainers.image.description="Secure document and e-signature gRPC services" \
      org.opencontainers.image.licenses="Apache-2.0"

# Runtime packages, and why:
#   tesseract-ocr(-vie,-eng)  OCR engine + Vietnamese/English models (tesserocr, ocrmypdf)
#   libmagic1                 file type sniffing (python-magic)
#   fonts-dejavu-core, fonts-liberation(2)  Vietnamese fonts; Liberation Serif 2 has Times metrics
#                             (Liberation Serif is metric-compatible with Times New Roman)
#   poppler-utils             pdftoppm / pdfinfo used by the OCR pipeline
#   qpdf, ghostscript         PDF repair and PDF/A renditions (ocrmypdf)
#   unpaper, pngquant         optional page cleaning and image optimisation in ocrmypdf
#   libzbar0                  QR code decoding (pyzbar) when verifying issued documents
#   ca-certificates           TLS to S3, OTLP and revocation endpoints
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-vie tesseract-ocr-eng \
        libmagic1 \
        fonts-dejavu-core fonts-liberation fonts-liberation2 \
        poppler-utils qpdf ghostscript unpaper pngquant \
        libzbar0 \
        ca-certificates; \
    if [ "$WITH_SOFTHSM" = "1" ]; then \
        apt-get install -y --no-install-recommends softhsm2; \
    fi; \
    rm -rf /var/lib/apt/lists/*

RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels hoso \
    && groupadd --system --gid "${HOSO_UID}" hoso \
    && useradd --system --uid "${HOSO_UID}" --gid "${HOSO_UID}" \
        --home-dir /var/lib/hoso --no-create-home --shell /usr/sbin/nologin hoso \
    && install -d -o hoso -g hoso -m 0750 /var/lib/hoso /etc/hoso

# The root filesystem is read-only in Kubernetes: no byte-code writes, caches in /tmp.
# MALLOC_ARENA_MAX: glibc's per-thread malloc arenas made a 200 MB upload grow the storage
# server by +82 MiB; with two arenas it was +53 MiB (bench/bench_storage.py).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    HOME=/var/lib/hoso \
    XDG_CACHE_HOME=/tmp/.cache \
    TMPDIR=/tmp \
    OMP_THREAD_LIMIT=1

USER ${HOSO_UID}:${HOSO_UID}
WORKDIR /var/lib/hoso

# gRPC (HOSO_SERVER__PORT) and HTTP (HOSO_SERVER__HTTP_PORT: OCSP, CRL, TSA, verification pages).
EXPOSE 50051 8080

ENTRYPOINT ["hoso"]
CMD ["serve", "all"]
