#!/usr/bin/env bash
# A local cluster in one command (`make cluster`): three relays on one PostgreSQL database and
# one Redis, behind HAProxy on ws://127.0.0.1:$PORT with session affinity (a consistent hash
# of the `session` query parameter the daemon sends). Ctrl+C stops everything.
#
#   STORE  PostgreSQL URL  (default postgresql://postgres@127.0.0.1:5432/ensemble; the
#          database is created when missing)
#   BUS    Redis URL       (default redis://127.0.0.1:6379/0)
#   PORT   the proxy's port (default 8765); the relays listen on PORT+1 .. PORT+3
#
# HAProxy is installed with apt-get when missing. The JWT secret is made once in
# .data/cluster/jwt-secret: every relay of a cluster must sign with the same one.
set -euo pipefail
cd "$(dirname "$0")/.."

STORE=${STORE:-postgresql://postgres@127.0.0.1:5432/ensemble}
BUS=${BUS:-redis://127.0.0.1:6379/0}
PORT=${PORT:-8765}
DATA=.data/cluster
RELAYS=3
log() { echo "cluster: $*" >&2; }

if ! command -v haproxy >/dev/null; then
    log "installing haproxy"
    SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends haproxy
fi

mkdir -p "$DATA"
if [ ! -s "$DATA/jwt-secret" ]; then
    .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' > "$DATA/jwt-secret"
    chmod 600 "$DATA/jwt-secret"
fi
ENSEMBLE_JWT_SECRET=$(cat "$DATA/jwt-secret")
export ENSEMBLE_JWT_SECRET

# The database, when the server is reachable and it is missing.
.venv/bin/python - "$STORE" <<'EOF'
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg

url = urlsplit(sys.argv[1])
name = url.path.lstrip("/") or "ensemble"
admin = urlunsplit(url._replace(path="/postgres"))
with psycopg.connect(admin, autocommit=True) as conn:
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
        conn.execute(f'CREATE DATABASE "{name}"')
        print(f"cluster: created database {name}", file=sys.stderr)
EOF

pids=()
stop() {
    log "stopping"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

servers=""
for i in $(seq 1 $RELAYS); do
    port=$((PORT + i))
    mkdir -p "$DATA/relay$i"
    .venv/bin/ensemble-relay --host 127.0.0.1 --port "$port" --data-dir "$DATA/relay$i" \
        --store "$STORE" --bus "$BUS" &
    pids+=($!)
    servers+="    server relay$i 127.0.0.1:$port check inter 1s fall 2 rise 2"$'\n'
done

cat > "$DATA/haproxy.cfg" <<EOF
global
    maxconn 8000
defaults
    mode http
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
frontend ensemble
    bind 127.0.0.1:$PORT
    default_backend relays
backend relays
    # Affinity: one session's clients on one relay while it is up (its presence then stays
    # in one process); requests without the parameter (sign-in) go round robin.
    balance url_param session
    hash-type consistent
    option httpchk GET /healthz
$servers
EOF
haproxy -f "$DATA/haproxy.cfg" -db &
pids+=($!)

log "three relays on ports $((PORT + 1))-$((PORT + RELAYS)), HAProxy on ws://127.0.0.1:$PORT"
log "store $STORE, bus $BUS; set ensemble.relayUrl to ws://127.0.0.1:$PORT (Ctrl+C stops)"
wait -n "${pids[@]}"
