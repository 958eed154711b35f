#!/usr/bin/env bash
# Regenerate docs/results.md and docs/results.json: demo corpus -> BT model on ground truth ->
# four SignLLM models (MLSF / Prompt2LangGloss, each with and without RL loss + PLC) -> evaluation
# on the held-out test split. About 20 minutes on a 2-core CPU with the defaults; every option of
# `python -m experiments.results --help` passes through, e.g.
#   bash scripts/make_results.sh --steps 20000 --size pt-base --bt-size base --threads 8
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
    echo "no .venv: run 'bash run.sh test' (or create .venv and pip install -e .) first" >&2
    exit 2
fi
# experiments/ is not installed: run it as a module of the checkout (the cwd is on sys.path)
exec "$PY" -m experiments.results "$@"
