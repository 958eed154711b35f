#!/usr/bin/env bash
# One entry point that also does all the set-up, so a fresh machine needs nothing else:
#   bash run.sh demo    # set up, then translate a sentence with the default model
#   bash run.sh test    # set up, then lint and run the test suite (what CI runs)
#   bash run.sh setup   # only set up
#   bash run.sh COMMAND ...  # any other signllm command, run in .venv (bash run.sh translate ...)
# Set-up: a virtual environment in .venv with this package and its dev tools. If no torch is
# importable there, torch==2.13.0 is installed first (a CPU wheel where one is available), so an
# unpinned torch never pulls a multi-GB CUDA build; GPU users install their own torch build into
# .venv first (or point SIGNLLM_PYTHON at an environment that has it).
set -euo pipefail
here=$PWD  # signllm commands run where run.sh was called, so relative paths mean the same
cd "$(dirname "$(readlink -f "$0")")"

PY=${SIGNLLM_PYTHON:-}
if [ -z "$PY" ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  PY=$PWD/.venv/bin/python
fi

setup() {
  local stamp=.venv/.signllm-installed
  local want
  want=$(cat pyproject.toml | sha1sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$PY" -c "import signllm" 2>/dev/null; then
    return
  fi
  # no torch, or one older than the floor (2.6): the pinned CPU wheel, never an unpinned pull
  if ! "$PY" -c "import sys, torch; v = torch.__version__.split('+')[0].split('.'); \
sys.exit(tuple(map(int, v[:2])) < (2, 6))" 2>/dev/null; then
    "$PY" -m pip install --quiet "torch==2.13.0"
  fi
  "$PY" -m pip install --quiet -e ".[dev]"
  # spoken-to-signed ships the real fingerspelling letters of 20 sign languages (MIT); only its
  # assets are used, so its own dependencies are not needed
  "$PY" -m pip install --quiet --no-deps "spoken-to-signed==0.4.0"
  [ -d .venv ] && echo "$want" > "$stamp"
  return 0
}

cmd=${1:-demo}
shift || true
setup
case "$cmd" in
  setup) ;;
  demo)  # the main job: sign a sentence with the default model, write a video and a .pose
    cd "$here" && "$PY" -m signllm demo "$@"   # -> signllm-demo/translation.{mp4,gif,pose,bvh}
    ;;
  test)
    # the optional MediaPipe environment (video -> keypoints); its tests skip if it can't install
    bash scripts/setup_mediapipe.sh || echo "run.sh: no MediaPipe environment; video tests will skip"
    # Debian's chromium for the web page's end-to-end test (never `playwright install`)
    if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
        >/dev/null) || echo "run.sh: no chromium; the web e2e test will skip"
    fi
    # Ray (optional extra) for the distributed-build test; it skips if Ray can't be installed
    "$PY" -c "import ray" 2>/dev/null || "$PY" -m pip install --quiet "ray>=2.9" \
      || echo "run.sh: no Ray; the Ray build test will skip"
    "$PY" -m ruff check .
    "$PY" -m ruff format --check .
    "$PY" -m pytest -q "$@"
    ;;
  *) cd "$here" && "$PY" -m signllm "$cmd" "$@" ;;
esac
