# Ensemble: `make run` starts a local relay and builds the extension; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= .data
HOST ?= 127.0.0.1
PORT ?= 8765

.PHONY: run test venv ext vsix tools lint pytest bench bench-cluster gen clean cluster

$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,scale]'
	touch $@

venv: $(VENV)/.stamp

# Generated TypeScript declarations of the editor protocol.
gen: venv
	$(PY) -m daemon.gen_ts

node_modules/.stamp: package.json vscode-extension/package.json
	npm install --no-audit --no-fund
	touch $@

# Bundle the extension (with the daemon inside) and package the .vsix.
ext: venv node_modules/.stamp
	npm run -w vscode-extension build

vsix: ext
	npm run -w vscode-extension package

# System packages and the pinned VS Code (code-server) used by the real-editor tests.
tools:
	bash scripts/install-tools.sh

run: venv vsix
	@mkdir -p $(DATA)/relay
	@echo ""
	@echo "Ensemble relay on ws://$(HOST):$(PORT) (SQLite in $(DATA)/relay; Ctrl+C stops it)"
	@echo "Install the extension: code --install-extension $$(ls vscode-extension/*.vsix)"
	@echo "Then in VS Code: 'Ensemble: Sign Up', 'Ensemble: Start Session', 'Ensemble: Copy Invite Link'."
	@echo "Teammates on other machines: run the relay with --host 0.0.0.0 and set ensemble.relayUrl."
	@echo ""
	$(VENV)/bin/ensemble-relay --host $(HOST) --port $(PORT) --data-dir $(DATA)/relay --dev

# Three relays on PostgreSQL and Redis behind HAProxy (docs/operations.md).
cluster: venv
	bash scripts/cluster.sh

lint: venv node_modules/.stamp
	$(VENV)/bin/ruff check wire relay daemon tests bench
	$(VENV)/bin/mypy
	npm run -w vscode-extension lint
	npm run -w vscode-extension typecheck
	npm run -w vscode-extension test:unit

pytest: venv
	$(VENV)/bin/pytest -q

# CI=true: a check whose tool is missing (neovim, chromium, code-server, node, the bundle)
# fails instead of being skipped (tests/ci.py).
test: venv tools vsix lint
	CI=true $(VENV)/bin/pytest -q -p no:cacheprovider

bench: venv
	$(PY) bench/cursor_load.py

# K relays on one PostgreSQL and one Redis (bench/README.md, "Cluster mode")
bench-cluster: venv
	$(PY) bench/cluster_load.py

clean:
	rm -rf $(VENV) node_modules vscode-extension/node_modules vscode-extension/dist vscode-extension/bundled .tools
