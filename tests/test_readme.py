"""Every command in README.md's ```bash blocks runs as written (issue 11), at toy size.

The commands run in README order in one temporary folder laid out like a checkout (the bundled
samples, scripts/ and run.sh), with `signllm` and `torchrun` on PATH as thin wrappers around
this interpreter. The wrappers change only the size of a run: training commands get
`--steps SIGNLLM_README_STEPS` (default 2; a command's own `--steps` is replaced, `--resume`
keeps the run's), `--size` becomes `tiny`, torchrun starts 2 processes (gloo on CPU); scripts
get `STEPS` (and `SKIP_DATA=1`: the README's own command has built the demo corpus). Nothing
else is changed: each command must exit 0 and write the outputs it names. The commands CI
cannot run are listed in SKIPPED with the reason.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TOY_STEPS = os.environ.get("SIGNLLM_README_STEPS", "2")

# README commands CI does not run: the start of the command -> why
SKIPPED = {
    "bash run.sh test": "is CI itself: ruff and the whole test suite, this test included",
    "source .venv/bin/activate": "the test's PATH already has signllm of the project's venv",
    "signllm serve": "a server runs until stopped; tests/test_serve.py and test_web_e2e.py run it",
    "torchrun --nnodes 2": "needs two machines (the single-node torchrun line runs, 2 processes)",
    "bash scripts/make_results.sh": "6 variants x 3 seeds + reader + BT, ~1 h on 2 cores; its page is "
    "tested by tests/test_evaluate.py",
    "bash scripts/setup_mediapipe.sh": "installs mediapipe from the network; `run.sh test` runs "
    "it before the suite",
}
# `bash run.sh ...` first sets up .venv (pip install) unless it is set up: run where it is
VENV_READY = (ROOT / ".venv" / ".signllm-installed").is_file()
EXTRACT = "signllm data extract"
# a MediaPipe Holistic .pose (the layout `data extract` writes) for when MediaPipe is missing
FALLBACK_POSE = "signllm/assets/samples/autsl/signer0_sample1000.holistic.pose"
SCRIPT_ENV = {"STEPS": TOY_STEPS, "SKIP_DATA": "1"}  # scripts/train_default_model.sh's knobs

WRAPPER_LIB = '''
"""Toy sizes for the README test (tests/test_readme.py); the rest of a command is unchanged."""
import os, sys

TRAIN = {"train", "train-prompt", "train-bt", "train-reader"}
STEPS = os.environ["SIGNLLM_README_STEPS"]


def toy(args):
    if not args or args[0] not in TRAIN:
        return list(args)
    out, it = [], iter(args)
    for a in it:
        if a == "--steps":
            next(it)
            a = None
        elif a.startswith("--steps="):
            a = None
        elif a == "--shared-steps":  # MLSF's shared start: as toy as the rest
            next(it)
            out += [a, STEPS]
            a = None
        elif a == "--size":
            size = next(it)
            out += ["--size", "tiny"]
            a = None
        if a is not None:
            out.append(a)
    if "--resume" not in args:
        out += ["--steps", STEPS]
    return out


def log(line):
    with open(os.environ["SIGNLLM_README_LOG"], "a", encoding="utf-8") as f:
        f.write(line + "\\n")
'''

SIGNLLM_WRAPPER = """#!{py}
import sys
sys.path.insert(0, {bin!r})
from _toy import log, toy
from signllm.cli import main
args = toy(sys.argv[1:])
if args != sys.argv[1:]:
    log("signllm " + " ".join(sys.argv[1:]) + "  ->  " + " ".join(args))
sys.exit(main(args))
"""

TORCHRUN_WRAPPER = """#!{py}
import sys
sys.path.insert(0, {bin!r})
from _toy import log, toy
from torch.distributed.run import main
argv = sys.argv[1:]
i = argv.index("signllm")  # ... -m signllm ARGS
head = argv[:i + 1]
if "--nproc_per_node" in head:
    head[head.index("--nproc_per_node") + 1] = "2"
args = head + toy(argv[i + 1:])
log("torchrun " + " ".join(argv) + "  ->  " + " ".join(args))
main(args)
"""


def readme_commands(text: str) -> list[list[str]]:
    """The ```bash blocks of a markdown text, each as its commands (continuation lines and
    heredocs kept with their command; comment-only lines dropped)."""
    blocks, block, inside = [], [], False
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                blocks.append(block)
                block, inside = [], False
            elif line.strip() == "```bash":
                inside = True
            continue
        if inside:
            block.append(line)
    out = []
    for lines in blocks:
        cmds, i = [], 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cmd = [line]
            while cmd[-1].rstrip().endswith("\\") and i < len(lines):
                cmd.append(lines[i])
                i += 1
            if "<<'" in line:  # heredoc: up to its end word
                end = line.split("<<'", 1)[1].split("'", 1)[0]
                while i < len(lines):
                    cmd.append(lines[i])
                    i += 1
                    if cmd[-1].strip() == end:
                        break
            cmds.append("\n".join(cmd))
        out.append(cmds)
    return out


def skip_reason(cmd: str) -> str | None:
    for start, why in SKIPPED.items():
        if cmd.startswith(start):
            return why
    if cmd.startswith("bash run.sh") and not VENV_READY:
        return "run.sh would first set up .venv with pip (CI has it set up)"
    return None


def outputs_named(cmd: str) -> list[str]:
    """Files and folders a command says it writes: -o/--out/--output/--markdown values, the
    output argument of convert and render, a `cat > FILE` redirect."""
    first = cmd.split("\n", 1)[0] if "<<'" in cmd else cmd.replace("\\\n", " ")
    words = shlex.split(first, comments=True)
    found = []
    for a, b in itertools.pairwise(words):
        if a in ("-o", "--out", "--output", "--markdown", ">"):
            found.append(b)
    if words[:2] in (["signllm", "convert"], ["signllm", "render"]):
        found.append([w for w in words[2:] if not w.startswith("-")][1])
    return found


def make_checkout(tmp: Path) -> Path:
    """A folder laid out like a checkout for the README's relative paths; nothing of the real
    checkout is written (the default model a script writes lands in this folder)."""
    work = tmp / "checkout"
    (work / "signllm" / "assets").mkdir(parents=True)
    (work / "signllm" / "assets" / "samples").symlink_to(ROOT / "signllm" / "assets" / "samples")
    for name in ("scripts", "experiments", "run.sh"):
        (work / name).symlink_to(ROOT / name)
    bindir = tmp / "bin"
    bindir.mkdir()
    (bindir / "_toy.py").write_text(textwrap.dedent(WRAPPER_LIB), encoding="utf-8")
    for name, text in (("signllm", SIGNLLM_WRAPPER), ("torchrun", TORCHRUN_WRAPPER)):
        path = bindir / name
        path.write_text(text.format(py=sys.executable, bin=str(bindir)), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return work


def have_mediapipe() -> bool:
    from signllm.data.extract import find_mediapipe_python
    from signllm.errors import UsageError

    try:
        find_mediapipe_python()
    except UsageError:
        return False
    return True


def test_readme_commands_are_found() -> None:
    """The parser sees the README's commands, and every SKIPPED entry is still in the README."""
    cmds = [c for block in readme_commands(README.read_text("utf-8")) for c in block]
    assert len(cmds) >= 30
    for start in SKIPPED:
        assert any(c.startswith(start) for c in cmds), f"SKIPPED entry not in README: {start}"
    assert any(c.startswith(EXTRACT) for c in cmds)
    for c in cmds:
        assert not c.startswith(("python ", "pip ")), f"use signllm / the venv: {c}"


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path: Path) -> None:
    work = make_checkout(tmp_path)
    log = tmp_path / "toy.log"
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "SIGNLLM_PYTHON": sys.executable,
        "SIGNLLM_README_STEPS": TOY_STEPS,
        "SIGNLLM_README_LOG": str(log),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        **SCRIPT_ENV,
    }
    mediapipe = have_mediapipe()
    report, t0 = [], time.perf_counter()
    walkthrough_s = 0.0
    in_walkthrough = False
    for block in readme_commands(README.read_text("utf-8")):
        for cmd in block:
            why = skip_reason(cmd)
            if why:
                report.append(f"SKIP {cmd.splitlines()[0]}  # {why}")
                continue
            run = cmd
            if cmd.startswith("mkdir -p videos"):  # "Use your own data" starts here
                in_walkthrough = True
            if cmd.startswith(EXTRACT) and not mediapipe:
                # what extraction writes, from a bundled MediaPipe .pose; the walkthrough goes on
                run = f"mkdir -p poses && cp {FALLBACK_POSE} poses/test_video.pose"
                report.append(f"SKIP {cmd}  # no mediapipe environment: ran `{run}` instead")
            start = time.perf_counter()
            p = subprocess.run(["bash", "-euo", "pipefail", "-c", run], cwd=work, env=env,
                               capture_output=True, text=True, timeout=900)  # fmt: skip
            took = time.perf_counter() - start
            if in_walkthrough:
                walkthrough_s += took
            tail = (p.stdout + p.stderr)[-3000:]
            assert p.returncode == 0, f"README command failed ({p.returncode}): {cmd}\n{tail}"
            for out in outputs_named(run):
                path = work / out
                assert path.exists(), f"{cmd}: no {out} written\n{tail}"
                if path.is_dir():
                    assert any(path.iterdir()), f"{cmd}: {out} is empty"
            report.append(f"{took:6.1f} s  {run.splitlines()[0]}")
    total = time.perf_counter() - t0
    toy = log.read_text("utf-8") if log.exists() else ""
    print("\n".join(report), f"\ntoy sizes:\n{toy}", f"\ntotal {total:.1f} s, walkthrough "
          f"{walkthrough_s:.1f} s")  # fmt: skip
    # what the commands promise, beyond exit 0
    for name in ("mp4", "gif", "pose", "bvh"):
        if VENV_READY:
            assert (work / "signllm-demo" / f"translation.{name}").stat().st_size > 0
    resumed = json.loads((work / "runs" / "mlsf" / "result.json").read_text("utf-8"))
    assert resumed["step"] == int(TOY_STEPS)  # --resume kept the run's --steps
    assert resumed["languages"] == ["gsg", "ase"]
    ddp = json.loads((work / "runs" / "ddp" / "result.json").read_text("utf-8"))
    assert ddp["world_size"] == 2 and ddp["languages"] == ["gsg", "ase", "sgg"]
    card = work / "signllm" / "assets" / "models" / "default"
    assert (card / "MODEL_CARD.md").is_file() and (card / "eval_test.json").is_file()
    assert (work / "hello.mp4").stat().st_size > 0  # the walkthrough's translation
    shutil.rmtree(work / "runs", ignore_errors=True)


def test_resume_keeps_the_run_options(tmp_path: Path) -> None:
    """`signllm train --data D --out O --resume`: options not given again keep the run's values;
    given ones win (the trainer then refuses the ones that define the run)."""
    from signllm.cli import build_parser
    from signllm.cli.train import config_from_args
    from signllm.train.config import TrainConfig

    out = tmp_path / "run"
    (out / "last").mkdir(parents=True)
    first = TrainConfig(data="d", out=str(out), languages=["gsg", "ase"], steps=2000, lr=1e-3)
    first.plc.eta = 0.5
    (out / "last" / "config.json").write_text(json.dumps({"train": first.to_dict()}), "utf-8")
    parse = build_parser().parse_args

    cfg = config_from_args(parse(["train", "--data", "d", "--out", str(out), "--resume"]))
    assert (cfg.steps, cfg.languages, cfg.lr, cfg.plc.eta) == (2000, ["gsg", "ase"], 1e-3, 0.5)
    assert cfg.resume
    again = ["train", "--data", "d", "--out", str(out), "--resume", "--steps", "3000"]
    cfg = config_from_args(parse([*again, "--set", "plc.eta=0.25"]))
    assert (cfg.steps, cfg.plc.eta, cfg.languages) == (3000, 0.25, ["gsg", "ase"])
    # no checkpoint yet: a fresh start with the defaults
    cfg = config_from_args(parse(["train", "--data", "d", "--out", str(tmp_path / "new"),
                                  "--resume"]))  # fmt: skip
    assert cfg.steps == TrainConfig().steps and cfg.languages == "all"
