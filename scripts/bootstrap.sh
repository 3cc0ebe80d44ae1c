#!/usr/bin/env bash
# Create .venv and install evsum with its dev tools at the versions pinned in constraints.txt;
# a no-op when pyproject.toml and constraints.txt are unchanged.
# torch is pinned to 2.13.0, which pip takes from this machine's local CPU build (never use uv/poetry here).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.evsum-installed"
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install --quiet torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import evsum, torch, faiss, pymupdf, sentence_transformers, streamlit, bm25s" \
    || { echo "bootstrap: installation failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
