#!/usr/bin/env bash
# The whole test suite: install if needed, then ruff, mypy and pytest (the same command CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/mypy evsum indexing models service ui eval
.venv/bin/python -m pytest "$@"
