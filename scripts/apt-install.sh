#!/usr/bin/env bash
# Install the Debian packages of one or more named lists, idempotently.
#
# Usage: scripts/apt-install.sh LIST...      (LIST: RUN, TEST; e.g. `scripts/apt-install.sh TEST`)
#        scripts/apt-install.sh --print LIST  (print the packages, one a line)
#
# When every package is already installed (checked with dpkg-query) nothing runs, so repeated
# `make test` runs cost nothing and work without root. Otherwise it runs one
# `apt-get update` and one `apt-get install --no-install-recommends` of the missing packages.
set -euo pipefail

# Host tools to build the venv and drive the scripts; not runtime needs of the service image
# (tests/unit/test_deploy.py compares RUN with the Dockerfile). No compilers: every Python
# dependency ships manylinux wheels (tesserocr bundles its libs).
BOOTSTRAP=(python3 python3-venv make curl)

# What the services need at run time: OCR, libmagic, PDF tools, fonts, SoftHSM2.
RUN=(
    tesseract-ocr tesseract-ocr-vie tesseract-ocr-eng
    libmagic1 fonts-dejavu-core fonts-liberation fonts-liberation2
    poppler-utils qpdf ghostscript unpaper pngquant
    softhsm2 ca-certificates
)

# What `make test` needs on top: Ceph (mon, osd, RGW) for S3, a PostgreSQL client, NSS certutil,
# a browser for the verification page tests, zbar for QR decoding, openssl for interop tests.
# The PostgreSQL server itself is installed on demand by scripts/ensure-postgres.sh.
TEST=(
    "${RUN[@]}"
    ceph-mon ceph-osd radosgw ceph-common uuid-runtime iproute2 util-linux
    libnss3-tools chromium chromium-driver libzbar0 postgresql-client openssl
)

usage() {
    echo "usage: $0 [--print] RUN|TEST..." >&2
    exit 2
}

print_only=false
if [[ "${1:-}" == "--print" ]]; then
    print_only=true
    shift
fi
(($#)) || usage

wanted=()
for list in "$@"; do
    case "$list" in
    RUN) wanted+=("${BOOTSTRAP[@]}" "${RUN[@]}") ;;
    TEST) wanted+=("${BOOTSTRAP[@]}" "${TEST[@]}") ;;
    *)
        echo "unknown package list: $list (known: RUN, TEST)" >&2
        exit 2
        ;;
    esac
done
mapfile -t wanted < <(printf '%s\n' "${wanted[@]}" | sort -u)

if $print_only; then
    printf '%s\n' "${wanted[@]}"
    exit 0
fi

missing=()
for pkg in "${wanted[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    echo "[apt-install] all ${#wanted[@]} packages of $* are installed"
    exit 0
fi

echo "[apt-install] installing ${#missing[@]} missing packages: ${missing[*]}"
SUDO=()
if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || {
        echo "[apt-install] not root and no sudo: install them by hand" >&2
        exit 1
    }
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
t0=$SECONDS
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
echo "[apt-install] done in $((SECONDS - t0))s"
