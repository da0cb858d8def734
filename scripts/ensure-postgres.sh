#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 for the test suite, with the unaccent extension.
#
# Usage: scripts/ensure-postgres.sh
#
# On these machines and in CI PostgreSQL already runs: then this only checks it. On a fresh
# Debian machine (as root) it installs Debian's `postgresql`, starts the cluster, and lets the
# `postgres` role in over loopback without a password (trust on 127.0.0.1/32: a test-only
# machine). Prints what it did; exits non-zero with a reason when PostgreSQL is not usable.
set -euo pipefail

HOST=127.0.0.1
PORT=5432
USER_NAME=postgres

log() { printf '[ensure-postgres] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $*"
    fi
}

psql_q() { psql -h "$HOST" -p "$PORT" -U "$USER_NAME" -d postgres -XtAc "$1"; }

ready() { pg_isready -q -h "$HOST" -p "$PORT" -t 2 >/dev/null 2>&1; }

if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
    log "installing postgresql-client"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql-client >/dev/null ||
        { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends postgresql-client >/dev/null; }
fi

if ready; then
    log "PostgreSQL already answers on $HOST:$PORT"
else
    if ! dpkg-query -W -f='${db:Status-Status}' postgresql 2>/dev/null | grep -qx installed; then
        log "installing Debian's postgresql server"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends postgresql postgresql-contrib >/dev/null
    fi
    # Debian creates (and, with systemd, starts) the cluster on install; containers have no
    # systemd, so start every cluster explicitly with Debian's own wrapper.
    if [[ -z "$(pg_lsclusters -h 2>/dev/null)" ]]; then
        version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
        log "creating cluster $version/main"
        as_root pg_createcluster "$version" main >/dev/null
    fi
    while read -r version name port status _; do
        if [[ "$status" != online* ]]; then
            log "starting cluster $version/$name (port $port)"
            as_root pg_ctlcluster "$version" "$name" start
        fi
    done < <(pg_lsclusters -h)
    for _ in $(seq 1 30); do
        ready && break
        sleep 1
    done
    ready || die "PostgreSQL does not answer on $HOST:$PORT (see: pg_lsclusters; /var/log/postgresql/)"
    log "PostgreSQL started on $HOST:$PORT"
fi

# Password-less loopback access for the postgres role, as the tests expect.
if ! psql_q 'select 1' >/dev/null 2>&1; then
    hba="$(ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | sort -V | tail -n 1 || true)"
    [[ -n "$hba" ]] || die "cannot log in as $USER_NAME on $HOST:$PORT and no local pg_hba.conf to fix"
    log "allowing trust auth for $HOST/32 in $hba"
    as_root sed -i "1i host all all $HOST/32 trust" "$hba"
    version="$(basename "$(dirname "$(dirname "$hba")")")"
    as_root pg_ctlcluster "$version" main reload
    psql_q 'select 1' >/dev/null || die "still cannot log in as $USER_NAME on $HOST:$PORT"
fi

# unaccent ships with the server package on Debian 12 (postgresql-15); older ones need -contrib.
if [[ "$(psql_q "select count(*) from pg_available_extensions where name = 'unaccent'")" != 1 ]]; then
    log "unaccent is not available: installing postgresql-contrib"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql-contrib >/dev/null
    [[ "$(psql_q "select count(*) from pg_available_extensions where name = 'unaccent'")" == 1 ]] ||
        die "the unaccent extension is still not available"
fi

log "ready: $(psql_q 'show server_version') on $HOST:$PORT, unaccent available," \
    "URL postgresql://$USER_NAME@$HOST:$PORT/postgres"
