#!/usr/bin/env bash
# Regenerate docs/results.md and docs/results.json: demo corpus -> reader and BT model on ground
# truth -> 6 variants x 3 seeds (MLSF / Prompt2LangGloss, each with and without RL loss + PLC; MLSF
# with a shared start; Prompt2LangGloss continued) -> evaluation on the held-out test split. About
# an hour on a 2-core CPU with the defaults; every option of `python -m experiments.results
# --help` passes through, e.g. the 9000-step page (4 h of job time, about 2 h on 2 cores):
#   bash scripts/make_results.sh --steps 9000 --group-steps 6000 --runs runs/results_9000 \
#       --docs docs/results_9000_steps --only mlsf mlsf_shared_start prompt2langgloss \
#       prompt2langgloss_continued
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
    echo "no .venv: run 'bash run.sh test' (or create .venv and pip install -e .) first" >&2
    exit 2
fi
# experiments/ is not installed: run it as a module of the checkout (the cwd is on sys.path)
exec "$PY" -m experiments.results "$@"
