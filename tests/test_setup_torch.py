"""Which torch `run.sh` set-up installs (issue 11): `bash run.sh torch-plan` prints the decision.

Offline and fast: the GPU is a fake `nvidia-smi` on PATH, the CPU index a local HTTP server (or a
closed port, 127.0.0.1:9, for an unreachable one), a torch-less Python a venv made without pip.
Nothing is installed.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_SH = ROOT / "run.sh"
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, refused at once
GPU_LIST = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-00000000-0000-0000-0000-000000000000)"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="run.sh needs bash")


@pytest.fixture(scope="module")
def no_torch_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python without torch, as in a fresh .venv."""
    venv = tmp_path_factory.mktemp("notorch") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


@pytest.fixture(scope="module")
def cpu_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A reachable stand-in for the CPU index: a local server with a torch/ page."""
    root = tmp_path_factory.mktemp("index")
    (root / "torch").mkdir()
    (root / "torch" / "index.html").write_text("<html></html>", encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fake_bin(tmp: Path, gpu: bool | None, system: str | None = None) -> Path:
    """A folder for the front of PATH: nvidia-smi listing one GPU (gpu=True), failing as with a
    driver but no device (False), or none added (None); `uname -s` answering `system`."""
    bindir = tmp / "fakebin"
    bindir.mkdir(exist_ok=True)
    scripts = {}
    if gpu is True:
        scripts["nvidia-smi"] = f'echo "{GPU_LIST}"\n'
    elif gpu is False:
        scripts["nvidia-smi"] = 'echo "No devices were found"\nexit 6\n'
    if system is not None:
        scripts["uname"] = f'echo "{system}"\n'
    for name, body in scripts.items():
        path = bindir / name
        path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
        path.chmod(0o755)
    return bindir


def plan(tmp: Path, python: str | None, *, gpu: bool | None, index: str = UNREACHABLE,
         torch: str | None = None, system: str | None = None,
         run_sh: Path = RUN_SH) -> tuple[str, str, subprocess.CompletedProcess]:  # fmt: skip
    """(plan, whole output, process) of `bash run.sh torch-plan` under the given conditions."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SIGNLLM_PYTHON", "SIGNLLM_TORCH", "SIGNLLM_TORCH_INDEX")
           and "proxy" not in k.lower()}  # fmt: skip
    env["PATH"] = f"{fake_bin(tmp, gpu, system)}{os.pathsep}{env.get('PATH', '')}"
    env["SIGNLLM_TORCH_INDEX"] = index
    if python is not None:
        env["SIGNLLM_PYTHON"] = python
    if torch is not None:
        env["SIGNLLM_TORCH"] = torch
    p = subprocess.run(["bash", str(run_sh), "torch-plan"], env=env, capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    found = re.search(r"^plan=(\S+)$", p.stdout, re.M)
    return (found.group(1) if found else ""), p.stdout + p.stderr, p


def test_torch_already_installed_is_left_alone(tmp_path: Path, cpu_index: str) -> None:
    pytest.importorskip("torch")  # the running Python has a torch (>= 2.6: the project's floor)
    for torch in (None, "cpu", "cuda"):
        name, out, _ = plan(tmp_path, sys.executable, gpu=True, index=cpu_index, torch=torch)
        assert name == "keep", out
        assert re.search(r"torch 2\.\d+\S* is already installed", out), out
        assert "pip install" not in out


def test_no_gpu_and_cpu_index_reachable(tmp_path: Path, no_torch_python: str,
                                        cpu_index: str) -> None:  # fmt: skip
    for gpu in (False, None):
        name, out, _ = plan(tmp_path, no_torch_python, gpu=gpu, index=cpu_index)
        assert name == "cpu-index", out
        assert f"\npip install --index-url {cpu_index} torch==2.13.0\n" in out


def test_no_gpu_and_cpu_index_unreachable_falls_back_quickly(tmp_path: Path,
                                                             no_torch_python: str) -> None:  # fmt: skip
    start = time.perf_counter()
    name, out, p = plan(tmp_path, no_torch_python, gpu=False, index=UNREACHABLE)
    assert time.perf_counter() - start < 10
    assert name == "fallback", out
    assert p.stdout.splitlines()[-1] == "pip install torch==2.13.0"  # as before: the pin, plainly
    # the honest line: what may be downloaded, and how to avoid it
    assert "CUDA build" in out and "GB" in out
    assert "--index-url https://download.pytorch.org/whl/cpu" in out


def test_gpu_gets_the_configured_index(tmp_path: Path, no_torch_python: str,
                                       cpu_index: str) -> None:  # fmt: skip
    name, out, _ = plan(tmp_path, no_torch_python, gpu=True, index=cpu_index)
    assert name == "index", out
    assert "nvidia-smi lists a CUDA GPU" in out and "--index-url" not in out


def test_overrides(tmp_path: Path, no_torch_python: str, cpu_index: str) -> None:
    name, out, _ = plan(tmp_path, no_torch_python, gpu=True, index=cpu_index, torch="cpu")
    assert name == "cpu-index", out
    name, out, _ = plan(tmp_path, no_torch_python, gpu=False, index=cpu_index, torch="cuda")
    assert name == "index" and "SIGNLLM_TORCH=cuda" in out, out
    name, out, _ = plan(tmp_path, no_torch_python, gpu=False, torch="skip")
    assert name == "skip" and "pip install" not in out, out
    name, out, p = plan(tmp_path, no_torch_python, gpu=False, torch="rocm")
    assert p.returncode == 2 and "cpu, cuda or skip" in out


def test_not_linux_uses_the_configured_index(tmp_path: Path, no_torch_python: str,
                                             cpu_index: str) -> None:  # fmt: skip
    """PyPI's macOS and Windows builds are CPU-only: no detour through the CPU index."""
    name, out, _ = plan(tmp_path, no_torch_python, gpu=False, index=cpu_index, system="Darwin")
    assert name == "index" and "CPU-only" in out, out


def test_torch_plan_creates_no_venv(tmp_path: Path) -> None:
    """On a fresh clone (no .venv, no SIGNLLM_PYTHON) the plan is for a torch-less .venv, and
    asking for it sets nothing up."""
    checkout = tmp_path / "clone"
    checkout.mkdir()
    shutil.copy(RUN_SH, checkout / "run.sh")
    name, out, _ = plan(tmp_path, None, gpu=False, index=UNREACHABLE,
                        run_sh=checkout / "run.sh")  # fmt: skip
    assert name == "fallback", out
    assert not (checkout / ".venv").exists()


def test_readme_states_the_plan_and_the_sizes() -> None:
    text = (ROOT / "README.md").read_text("utf-8")
    pin = re.search(r"^TORCH_PIN=(\S+)$", RUN_SH.read_text("utf-8"), re.M)
    assert pin and f"torch=={pin.group(1)}" in text
    for needed in ("https://download.pytorch.org/whl/cpu", "bash run.sh torch-plan",
                   "SIGNLLM_TORCH", "MB", "GB"):  # fmt: skip
        assert needed in text, needed
