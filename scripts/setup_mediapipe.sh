#!/usr/bin/env bash
# A separate Python environment for video -> keypoints (`signllm data extract`).
#
# Why separate: mediapipe==0.10.21 is the last release whose wheel ships the Holistic models (so
# it runs offline), and it needs numpy<2, while signllm uses numpy 2. signllm calls this
# environment as a subprocess (signllm/data/_mediapipe_worker.py) and never imports mediapipe.
#
#   bash scripts/setup_mediapipe.sh                    # creates .venv-mediapipe in the repo root
#   SIGNLLM_MEDIAPIPE_PYTHON=/path/to/python bash scripts/setup_mediapipe.sh
#                                                      # installs into that interpreter instead
#   SIGNLLM_MEDIAPIPE_VENV=DIR bash scripts/setup_mediapipe.sh   # another venv location
#
# Idempotent: returns in about a second when mediapipe 0.10.21 is already importable. A first
# install takes about 15 s (125 MB download, 410 MB on disk). mediapipe 0.10.21 has wheels for
# CPython 3.9-3.12 only: if `python3` is newer, set SIGNLLM_MEDIAPIPE_BASE=python3.12 (the
# interpreter that creates the venv).
set -euo pipefail
cd "$(dirname "$0")/.."

MP_VERSION=0.10.21
CHECK="import mediapipe, numpy, cv2; from mediapipe.python.solutions import holistic; \
assert mediapipe.__version__ == '$MP_VERSION', mediapipe.__version__; \
assert int(numpy.__version__.split('.')[0]) < 2, numpy.__version__"

check_python() {  # mediapipe 0.10.21 has wheels for CPython 3.9-3.12 only
  if ! "$1" -c 'import sys; sys.exit(not ((3, 9) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null
  then
    echo "setup_mediapipe: mediapipe $MP_VERSION needs Python 3.9-3.12; $1 is" \
      "$("$1" -V 2>/dev/null || echo 'not runnable'). $2" >&2
    exit 1
  fi
}

if [ -n "${SIGNLLM_MEDIAPIPE_PYTHON:-}" ]; then
  PY=$SIGNLLM_MEDIAPIPE_PYTHON
else
  VENV=${SIGNLLM_MEDIAPIPE_VENV:-.venv-mediapipe}
  PY=$VENV/bin/python
  if [ ! -x "$PY" ]; then
    BASE=${SIGNLLM_MEDIAPIPE_BASE:-python3}
    check_python "$BASE" "Set SIGNLLM_MEDIAPIPE_BASE to such an interpreter (e.g. python3.12)."
    "$BASE" -m venv "$VENV"
  fi
  # Keep the environment out of git without touching the project's .gitignore (Python >= 3.13
  # venvs do the same by themselves).
  [ -f "$VENV/.gitignore" ] || printf '# created by scripts/setup_mediapipe.sh\n*\n' > "$VENV/.gitignore"
fi

ready() {
  echo "mediapipe $MP_VERSION is ready: $PY"
  if [ "$PY" != ".venv-mediapipe/bin/python" ] && [ -z "${SIGNLLM_MEDIAPIPE_PYTHON:-}" ]; then
    echo "signllm looks only for .venv-mediapipe: export SIGNLLM_MEDIAPIPE_PYTHON=$(realpath -s "$PY")"
  fi
}

if "$PY" -c "$CHECK" 2>/dev/null; then
  ready
  exit 0
fi

# A lean install (about 410 MB instead of 1 GB): mediapipe's declared dependencies include jax,
# jaxlib, scipy, sentencepiece and sounddevice, used only by its Tasks/GenAI APIs, never by the
# Holistic solution; and opencv-contrib-python needs libGL, which servers often lack, so we take
# the headless build (4.11 is the last one for numpy 1.x). matplotlib stays: `import mediapipe`
# imports its drawing utilities.
check_python "$PY" "Point SIGNLLM_MEDIAPIPE_PYTHON at such an interpreter, or unset it."
echo "installing mediapipe==$MP_VERSION into $PY (about 125 MB download, 410 MB on disk) ..."
PIP=("$PY" -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" "numpy<2" "opencv-python-headless<4.12" "protobuf>=4.25.3,<5" absl-py "attrs>=19.1" \
  "flatbuffers>=2.0" matplotlib
"${PIP[@]}" --no-deps --no-warn-conflicts "mediapipe==$MP_VERSION"
if ! "$PY" -c "$CHECK"; then
  echo "setup_mediapipe: mediapipe installed but does not import; see the error above" >&2
  exit 1
fi
ready
