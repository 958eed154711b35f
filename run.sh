#!/usr/bin/env bash
# One entry point that also does all the set-up, so a fresh machine needs nothing else:
#   bash run.sh demo    # set up, then translate a sentence with the default model
#   bash run.sh test    # set up, then lint and run the test suite (what CI runs)
#   bash run.sh setup   # only set up
#   bash run.sh torch-plan   # only say which torch set-up would install, and why (installs nothing)
#   bash run.sh COMMAND ...  # any other signllm command, run in .venv (bash run.sh translate ...)
# Set-up: a virtual environment in .venv with this package and its dev tools. torch (see torch_plan):
# one already there (>= 2.6) is left alone, so GPU users install their own build into .venv first
# (or point SIGNLLM_PYTHON at an environment that has it). Otherwise torch==2.13.0: on Linux without
# a CUDA GPU from PyTorch's CPU index (~190 MB) when it answers within 5 s, else from the configured
# index (on Linux x86_64 PyPI's build brings ~2.2 GB of CUDA wheels). SIGNLLM_TORCH=cpu|cuda|skip
# overrides the GPU check; SIGNLLM_TORCH_INDEX the CPU index.
set -euo pipefail
here=$PWD  # signllm commands run where run.sh was called, so relative paths mean the same
cd "$(dirname "$(readlink -f "$0")")"

cmd=${1:-demo}
shift || true
PY=${SIGNLLM_PYTHON:-}
if [ -z "$PY" ]; then
  if [ ! -x .venv/bin/python ] && [ "$cmd" != torch-plan ]; then
    python3 -m venv .venv
  fi
  PY=$PWD/.venv/bin/python
fi

TORCH_PIN=2.13.0
TORCH_CPU_INDEX=${SIGNLLM_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}

have_cuda_gpu() {  # nvidia-smi lists at least one GPU (bounded: a wedged driver must not hang set-up)
  command -v nvidia-smi >/dev/null 2>&1 || return 1
  local gpus
  gpus=$(timeout 10 nvidia-smi -L 2>/dev/null) || return 1
  grep -q '^GPU ' <<<"$gpus"
}

index_reachable() {  # the CPU index answers within 5 s; offline or firewalled -> no, quickly
  if command -v curl >/dev/null 2>&1; then
    curl -fsSIL --max-time 5 -o /dev/null "$1/torch/" 2>/dev/null
  else
    timeout 6 "$PY" -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=5)' \
      "$1/torch/" >/dev/null 2>&1
  fi
}

# Decide how set-up gets torch. Sets plan and why; plan is keep (a torch >= 2.6 is there), skip
# (SIGNLLM_TORCH=skip), cpu-index (PyTorch's CPU index), index (the configured index: a GPU, or a
# system whose PyPI build is CPU-only) or fallback (the configured index: no GPU, but the CPU index
# did not answer). The CPU index is probed only when it would be used; `bash run.sh torch-plan`
# prints the decision.
torch_plan() {
  local have
  torch_args=("torch==$TORCH_PIN")  # what `pip install` gets (keep and skip install nothing)
  if [ -x "$PY" ] && have=$("$PY" -c "import sys, torch; v = torch.__version__; print(v); \
sys.exit(tuple(map(int, v.split('+')[0].split('.')[:2])) < (2, 6))" 2>/dev/null); then
    plan=keep why="torch $have is already installed (left alone)"
    return
  fi
  local choice=${SIGNLLM_TORCH:-}
  case "$choice" in
    skip)
      plan=skip why="SIGNLLM_TORCH=skip: set-up installs no torch (pip then resolves torch>=2.6 from your pip configuration)"
      return ;;
    cpu | cuda) ;;
    "")
      if have_cuda_gpu; then choice=cuda; else choice=cpu; fi ;;
    *)
      echo "run.sh: SIGNLLM_TORCH must be cpu, cuda or skip (got '$choice')" >&2
      exit 2 ;;
  esac
  local src="no CUDA GPU found"
  [ -n "${SIGNLLM_TORCH:-}" ] && src="SIGNLLM_TORCH=$choice"
  if [ "$choice" = cuda ]; then
    [ -z "${SIGNLLM_TORCH:-}" ] && src="nvidia-smi lists a CUDA GPU"
    plan=index why="$src: torch==$TORCH_PIN from the configured index (on Linux x86_64 PyPI's build is the CUDA one)"
  elif [ "$(uname -s)" != Linux ]; then
    plan=index why="$src, $(uname -s): torch==$TORCH_PIN from the configured index (PyPI's build for this system is CPU-only)"
  elif index_reachable "$TORCH_CPU_INDEX"; then
    torch_args=(--index-url "$TORCH_CPU_INDEX" "torch==$TORCH_PIN")
    plan=cpu-index why="$src: torch==$TORCH_PIN from PyTorch's CPU index $TORCH_CPU_INDEX (~190 MB)"
  else
    plan=fallback why="$src, but $TORCH_CPU_INDEX did not answer (5 s limit): torch==$TORCH_PIN from the configured index, which on Linux x86_64 is PyPI's CUDA build (~2.7 GB with its nvidia-* wheels) unless the index has a CPU wheel; to avoid that, install the CPU wheel into .venv first (.venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu)"
  fi
}

install_torch() {
  torch_plan
  echo "run.sh: torch: $plan: $why" >&2
  case "$plan" in
    keep | skip) return 0 ;;
    cpu-index)
      if ! "$PY" -m pip install --quiet "${torch_args[@]}"; then
        echo "run.sh: torch: the CPU index failed; torch==$TORCH_PIN from the configured index" >&2
        "$PY" -m pip install --quiet "torch==$TORCH_PIN"
      fi ;;
    *) "$PY" -m pip install --quiet "${torch_args[@]}" ;;
  esac
  # torch/version.py alone: importing torch before numpy is installed only warns
  echo "run.sh: torch: installed $("$PY" -c "import importlib.util as u, os, runpy; \
v = runpy.run_path(os.path.join(u.find_spec('torch').submodule_search_locations[0], 'version.py')); \
print(v['__version__'], '(CUDA ' + v['cuda'] + ' build)' if v.get('cuda') else '(CPU build)')")" >&2
}

setup() {
  local stamp=.venv/.signllm-installed
  local want
  want=$(cat pyproject.toml | sha1sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$PY" -c "import signllm" 2>/dev/null; then
    return
  fi
  install_torch
  "$PY" -m pip install --quiet -e ".[dev]"
  # spoken-to-signed ships the real fingerspelling letters of 20 sign languages (MIT); only its
  # assets are used, so its own dependencies are not needed
  "$PY" -m pip install --quiet --no-deps "spoken-to-signed==0.4.0"
  [ -d .venv ] && echo "$want" > "$stamp"
  return 0
}

if [ "$cmd" = torch-plan ]; then
  torch_plan
  echo "plan=$plan"
  echo "$why"
  case "$plan" in keep | skip) ;; *) echo "pip install ${torch_args[*]}" ;; esac
  exit 0
fi
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
