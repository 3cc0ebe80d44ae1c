#!/usr/bin/env bash
# Install, index the bundled sample corpus, start the API and the Streamlit UI, and ask a first question.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/evsum demo "$@"
