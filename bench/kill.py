"""kill -9 at random moments of `signllm data build` and `signllm train`; prints ONE JSON line.

Why: a days-long build or training run dies (OOM killer, pre-emption, power) at any instruction.
The contract: rerunning the build (it resumes by default) ends with every clip exactly once, the
same bytes as an uninterrupted build; `train --resume` ends with the same weights as an
uninterrupted run; a checkpoint caught mid-write is never loaded as if whole, and its temporary
folder is removed at the next start.

Each trial runs the real CLI in a child process, waits until it has begun writing (a shard with
bytes / the run's metrics.jsonl), kills it with SIGKILL after a random delay within the reference
run's writing time (train: every other trial waits for a `.last.tmp-*` folder, i.e. a checkpoint
being written), then reruns it to the end. Data: the bundled PHOENIX-2014T `.skels` (15 clips),
MediaPipe lexicon (4 clips) and fingerspelling letters (6 clips); a tiny model for 12 steps with a
checkpoint every 2 steps. Not a CI test: about 3-5 minutes.

    python bench/kill.py --trials 5 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import signllm

PKG = Path(signllm.__file__).resolve().parent
SAMPLES = PKG / "assets" / "samples"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "PYTHONPATH": str(PKG.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}  # fmt: skip


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "signllm", *args]


def _build_cmd(out: Path) -> list[str]:
    phoenix = [f"{SAMPLES / 'phoenix14t' / s}.skels:lang=gsg" for s in ("train", "dev", "test")]
    return _cli("data", "build", *phoenix, str(SAMPLES / "mediapipe_lexicon"),
                str(SAMPLES / "fingerspelling"), "-o", str(out), "--no-lift", "--no-progress",
                "--workers", "1")  # fmt: skip


def _train_cmd(store: Path, out: Path, resume: bool = False) -> list[str]:
    args = ["train", "--data", str(store), "--out", str(out), "--size", "tiny", "--steps", "12",
            "--batch-size", "3", "--max-clip-frames", "24", "--lr", "2e-3", "--warmup-steps", "2",
            "--eval-every", "4", "--eval-clips", "2", "--checkpoint-every", "2", "--log-every", "1",
            "--model.dropout", "0.1", "--model.noise-std", "0.05", "--no-progress"]  # fmt: skip
    return _cli(*args, *(["--resume"] if resume else []))


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(
            f"kill.py: {' '.join(cmd[3:5])} failed ({p.returncode}): {p.stderr[-800:]}"
        )
    return p


def _kill_when(cmd: list[str], started: Any, delay: float, watch_tmp: Path | None,
               done: Any = None) -> dict:  # fmt: skip
    """Start `cmd`, wait for `started()`, then SIGKILL it after `delay` s (or, with `watch_tmp`,
    as soon as a `.last.tmp-*` folder appears there: a checkpoint half-written)."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    while not started() and proc.poll() is None:
        time.sleep(0.01)
    t_start = time.monotonic()
    mid_write = False
    window = None
    while proc.poll() is None:
        if done is not None and window is None and done():
            window = time.monotonic() - t_start
        if watch_tmp is not None:
            if watch_tmp.is_dir() and any(p.name.startswith(".last.tmp-")
                                          for p in os.scandir(watch_tmp)):  # fmt: skip
                break
            time.sleep(0.0005)
            if time.monotonic() - t_start > 120:
                break
        elif time.monotonic() - t_start >= delay:
            break
        else:
            time.sleep(0.005)
    finished = proc.poll() is not None
    if not finished:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if watch_tmp is not None and watch_tmp.is_dir():
        mid_write = any(p.name.startswith(".last.tmp-") for p in os.scandir(watch_tmp))
    if finished and proc.returncode != 0:
        raise SystemExit(f"kill.py: {' '.join(cmd[3:5])} failed: {proc.stderr.read()[-800:]}")
    return {
        "killed_after_s": round(time.monotonic() - t0, 2),
        "finished_first": finished,
        "active_s": round(time.monotonic() - t_start, 2),
        "window_s": window,
        "tmp_left_behind": mid_write,
    }


def _writing(d: Path) -> bool:
    """The build has begun writing records (a shard holds bytes)."""
    return any(p.stat().st_size > 0 for p in d.glob("shard-*.bin"))


def _complete(d: Path) -> bool:
    try:
        return bool(json.loads((d / "store.json").read_text()).get("complete"))
    except (OSError, ValueError):
        return False


def _store_files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())
            if p.name.startswith("shard-") or p.name == "manifest.jsonl"}  # fmt: skip


def builds(tmp: Path, trials: int, rng: random.Random) -> dict[str, Any]:
    from signllm.data.store import Store

    ref = tmp / "build-ref"
    r = _kill_when(_build_cmd(ref), lambda: _writing(ref), 1e9, None, lambda: _complete(ref))
    ref_s = r["window_s"] or r["active_s"]  # first record to completion: where kills aim
    with Store(ref) as st:
        ref_ids = sorted(st.ids())
    ref_files = _store_files(ref)
    rows = []
    for i in range(trials):
        out = tmp / f"build-{i}"
        k = _kill_when(_build_cmd(out), lambda o=out: _writing(o), rng.uniform(0.0, ref_s), None)
        with_rows = (out / "manifest.jsonl").exists()
        listed = len((out / "manifest.jsonl").read_text().splitlines()) if with_rows else 0
        k["store_complete_at_kill"] = _complete(out)
        k["shard_bytes_at_kill"] = sum(p.stat().st_size for p in out.glob("shard-*.bin"))
        _run(_build_cmd(out))  # rerun: resumes
        with Store(out) as st:
            ids = st.ids()
            verified = st.verify()
        rows.append({**k, "clips_listed_at_kill": listed,
                     "every_clip_once": sorted(ids) == ref_ids and len(set(ids)) == len(ids),
                     "verified": verified == len(ref_ids),
                     "byte_identical": _store_files(out) == ref_files})  # fmt: skip
    return {"clips": len(ref_ids), "writing_s": round(ref_s, 1), "trials": rows}


def trains(tmp: Path, trials: int, rng: random.Random) -> dict[str, Any]:
    import torch
    from safetensors.torch import load_file

    from signllm.data.formats.skels import read_skels
    from signllm.data.store import StoreWriter

    store = tmp / "train-store"
    with StoreWriter(store) as w:
        for split in ("train", "dev"):
            for p in read_skels(SAMPLES / "phoenix14t" / f"{split}.skels", language="gsg"):
                w.add(p, split=split)
    ref = tmp / "train-ref"
    ref_s = _kill_when(_train_cmd(store, ref), lambda: (ref / "metrics.jsonl").exists(), 1e9,
                       None)["active_s"]  # fmt: skip
    want = load_file(str(ref / "last" / "model.safetensors"))
    rows = []
    for i in range(trials):
        out = tmp / f"train-{i}"
        during_write = i % 2 == 1  # every other trial: killed inside a checkpoint write
        k = _kill_when(_train_cmd(store, out), lambda o=out: (o / "metrics.jsonl").exists(),
                       rng.uniform(0.0, ref_s * 0.9), out if during_write else None)  # fmt: skip
        resumes = 0
        while True:
            resumes += 1
            p = subprocess.run(_train_cmd(store, out, resume=True), env=ENV, capture_output=True,
                               text=True)  # fmt: skip
            if p.returncode == 0 or resumes >= 3:
                break
        got = load_file(str(out / "last" / "model.safetensors"))
        diff = max(float((want[n].float() - got[n].float()).abs().max()) for n in want)
        rows.append({**k, "aimed_at_checkpoint_write": during_write, "resume_rc": p.returncode,
                     "max_abs_diff": diff, "same_names": set(want) == set(got),
                     "stale_tmp_after_resume": [q.name for q in out.glob(".*.tmp-*")]})  # fmt: skip
    del torch
    return {"steps": 12, "training_s": round(ref_s, 1), "trials": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=5, help="kills per command")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=("build", "train"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    out: dict[str, Any] = {"trials": args.trials, "seed": args.seed}
    with tempfile.TemporaryDirectory(prefix="signllm-kill-") as tmp:
        if args.only in (None, "build"):
            out["build"] = builds(Path(tmp), args.trials, rng)
        if args.only in (None, "train"):
            out["train"] = trains(Path(tmp), args.trials, rng)
    out["seconds"] = round(time.monotonic() - t0, 1)
    b, t = out.get("build", {}).get("trials", []), out.get("train", {}).get("trials", [])
    out["ok"] = all(r["every_clip_once"] and r["verified"] for r in b) and all(
        r["resume_rc"] == 0 and r["max_abs_diff"] == 0.0 and not r["stale_tmp_after_resume"]
        for r in t
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
