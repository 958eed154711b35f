"""The results page in one command: corpus -> readers on ground truth -> 6 variants x seeds -> scores.

    python -m experiments.results                          # the defaults (see --help)
    python -m experiments.results --jobs 12 --device cuda  # a machine with a GPU and 16 cores
    bash scripts/make_results.sh ...                       # the same, through the project venv

What it does, on the demo corpus (`signllm data demo`):

1. builds the corpus if it is missing;
2. trains the two instruments on *ground truth* of the train split only: the fingerspelling
   reader (`signllm train-reader`, CTC over pose frames) and the sentence back-translation model
   (`signllm train-bt`);
3. trains MLSF and Prompt2LangGloss, each without (pooled MSE, uniform sampling) and with the RL
   loss + PLC (`plc.loss=rl`, `plc.eta=0.5`, the 50% batch-skip rule), once per seed, every run
   with the same steps, size and batches (`signllm train`: kinematic head, character input);
   and MLSF with a shared start: its groups start from the Prompt2LangGloss run of the same
   seed (`--group-init`: the shared all-language pose model) and train `--group-steps` more, so
   it has had more steps in all than the others, and the page says so; and Prompt2LangGloss
   continued from that run for `--group-steps` with the recorded sentences at ~10% of the draws
   (`recorded_share`) and a weight average (`ema`);
4. evaluates every run on the held-out test split (`signllm evaluate`: ceiling = ground truth,
   floor = the motionless mean pose, both read by the same instruments), and on the recorded
   sentences of the *train* split (memorisation: can the decoder reproduce signing it has seen?);
5. writes docs/results.md and docs/results.json: mean +/- sd over seeds, per-language character
   accuracy, per-bone length variation, which letters share a handshape across languages.

Training and evaluation runs are independent processes: `--jobs N` runs N at a time (one torch
thread each on a CPU). `--reuse` keeps what is already in the runs folder.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as _dt
import json
import logging
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from signllm.errors import SignLLMError, UsageError
from signllm.eval.report import group_label, write_json, write_text

log = logging.getLogger("signllm.results")

# name, mode, with RL loss + PLC, starting from the SHARED_FROM run of the same seed (MLSF: its
# groups, `--group-init`; mode prompt: that model, `--init-from`; then `--group-steps` of their
# own), train settings of its own (`--set`)
SHARED_FROM = "Prompt2LangGloss"
# recorded sentences ~10% of the draws (not 1.2%), and the weight average for best/
CONTINUED = ("recorded_share=0.1", "ema=0.999")
VARIANTS: tuple[tuple[str, str, bool, bool, tuple[str, ...]], ...] = (
    ("MLSF", "mlsf", False, False, ()),
    ("MLSF + RL loss + PLC", "mlsf", True, False, ()),
    ("MLSF, shared start", "mlsf", False, True, ()),
    ("Prompt2LangGloss", "prompt", False, False, ()),
    ("Prompt2LangGloss + RL loss + PLC", "prompt", True, False, ()),
    ("Prompt2LangGloss, continued", "prompt", False, True, CONTINUED),
)
START_FLAG = {"mlsf": "--group-init", "prompt": "--init-from"}
MODES = {v[0]: v[1] for v in VARIANTS}
PLC_OFF = ("plc.loss=pooled", "plc.eta=0", "plc.threshold=none")
PLC_ON = ("plc.loss=rl", "plc.eta=0.5", "plc.favour=hard", "plc.threshold=0.5", "plc.skip=hard")
BONES_SHOWN = (
    "right_shoulder", "right_elbow", "right_wrist", "left_elbow",
    "right_hand_index_mcp", "right_hand_index_tip", "right_hand_thumb_tip",
)  # fmt: skip


def slug(name: str) -> str:
    """'MLSF + RL loss + PLC' -> 'mlsf_rl_loss_plc' (run folder names)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def machine_info(jobs: int, device: str) -> dict[str, Any]:
    """What the numbers were measured on (timings mean little without it)."""
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "device": device,
        "jobs": jobs,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# ----------------------------------------------------------------------------------------------
# Running the steps


class Job:
    """One `signllm ...` command in its own process, its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_file: Path,
        threads: int,
        limit: float | None = None,
        keep: Path | None = None,
    ) -> None:
        self.name, self.argv, self.log_file, self.threads = name, argv, log_file, threads
        self.limit, self.keep = limit, keep  # a time limit, and what makes a stopped run usable
        self.seconds = 0.0
        self.stopped = False

    @property
    def command(self) -> str:
        return " ".join(["signllm", *map(shlex.quote, self.argv)])

    def __call__(self) -> Job:
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "PYTHONUNBUFFERED": "1"}
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        with open(self.log_file, "w", encoding="utf-8") as f:
            proc = subprocess.Popen(
                [sys.executable, "-m", "signllm", *self.argv], stdout=f, stderr=subprocess.STDOUT,
                env=env,
            )  # fmt: skip
            try:
                rc = proc.wait(timeout=self.limit)
            except subprocess.TimeoutExpired:  # a time-boxed run: keep its best checkpoint
                proc.terminate()
                rc = proc.wait()
                self.stopped = True
        self.seconds = round(time.perf_counter() - t, 1)
        if self.stopped and self.keep is not None and (self.keep / "config.json").exists():
            log.info("stopped at the time limit: %s (%.0f s), keeping %s", self.name,
                     self.seconds, self.keep)  # fmt: skip
            return self
        if rc != 0:
            tail = self.log_file.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise SignLLMError(f"{self.name} failed (exit {rc}); end of {self.log_file}:\n{tail}")
        log.info("done: %s (%.0f s)", self.name, self.seconds)
        return self


def run_jobs(jobs: list[Job], parallel: int, failed: list[str] | None = None) -> dict[str, float]:
    """Run jobs `parallel` at a time; every failure is reported, not just the first. With
    `failed`, failures are collected there (and logged) and the others go on."""
    if not jobs:
        return {}
    errors: list[str] = []
    with cf.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {pool.submit(job): job for job in jobs}
        for fut in cf.as_completed(futures):
            try:
                fut.result()
            except SignLLMError as e:
                errors.append(str(e))
    if errors and failed is None:
        raise SignLLMError("\n\n".join(errors))
    for e in errors:
        log.warning("%s", e.splitlines()[0])
    if failed is not None:
        failed += [e.splitlines()[0] for e in errors]
    return {j.name + (" (stopped at the time limit)" if j.stopped else ""): j.seconds for j in jobs}


LEDGER = "jobs.json"  # in RUNS: every finished job's command and time, across invocations
READER_JOB, BT_JOB = "train the fingerspelling reader", "train the BT model"
EVALS = ("test", "memorisation")


def train_job(name: str, seed: int) -> str:
    return f"train {name} (seed {seed})"


def eval_job(name: str, seed: int, what: str) -> str:
    return f"evaluate {name} (seed {seed}, {what})"


def record_jobs(runs: Path, jobs: list[Job], failed: list[str]) -> dict[str, dict[str, Any]]:
    """Add this invocation's finished jobs to RUNS/jobs.json; returns the whole ledger. With
    --reuse a page reports runs made by earlier invocations: their commands and times come
    from here, so the page lists every run it reports, not just the ones run this time."""
    ledger = _read(runs / LEDGER)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    for j in jobs:
        if j.seconds and not any(f.startswith(f"{j.name} failed") for f in failed):
            ledger[j.name] = {"command": j.command, "seconds": j.seconds, "finished": now}
    if jobs:
        write_json(runs / LEDGER, ledger)
    return ledger


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Every step of the module docstring; returns what docs/results.json holds."""
    runs = Path(args.runs)
    data = Path(args.data) if args.data else runs / "demo_store"
    reader, bt = runs / "reader", runs / "bt"
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    info = machine_info(args.jobs, args.device)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    threads = args.threads
    dev = ["--device", args.device]

    # 1. the corpus
    if not (data / "store.json").exists():
        from signllm.data.demo_corpus import build_demo_corpus

        t = time.perf_counter()
        build_demo_corpus(data, workers=args.workers, seed=args.seed, progress=False)
        seconds["build the demo corpus"] = round(time.perf_counter() - t, 1)
    corpus_cmd = f"signllm data demo -o {data} --workers {args.workers} --seed {args.seed}"

    # 2. the instruments (ground truth only) and 3. the models: independent, run side by side
    jobs: list[Job] = []
    if not (args.reuse and (reader / "config.json").exists()):
        jobs.append(Job(READER_JOB, ["train-reader", "--data", str(data),
                        "--out", str(reader), "--steps", str(args.reader_steps),
                        "--threads", str(threads), "--no-progress", *dev,
                        *(["--max-seconds", str(args.train_limit)] if args.train_limit else [])],
                        runs / "logs" / "reader.log", threads))  # fmt: skip
    if args.bt_steps > 0 and not (args.reuse and (bt / "config.json").exists()):
        jobs.append(Job(BT_JOB, ["train-bt", "--data", str(data), "--out", str(bt),
                        "--steps", str(args.bt_steps), "--no-progress", *dev],
                        runs / "logs" / "bt.log", threads))  # fmt: skip
    trained: dict[tuple[str, int], Path] = {}
    later: list[tuple[Job, Path]] = []  # shared starts, each after the run it starts from
    wanted = [v for v in VARIANTS if not args.only or slug(v[0]) in args.only]
    needed_only = any(v[3] for v in wanted) and all(v[0] != SHARED_FROM for v in wanted)
    if needed_only:  # a shared start needs its run: trained, not reported
        wanted.append(next(v for v in VARIANTS if v[0] == SHARED_FROM))
    for name, mode, plc, shared, own in wanted:
        for seed in args.seeds:
            out = runs / slug(name) / f"seed{seed}"
            if not (needed_only and name == SHARED_FROM):
                trained[(name, seed)] = out
            if args.reuse and (out / "result.json").exists():
                continue
            sets = [*args.train_set, *(PLC_ON if plc else PLC_OFF), *(args.plc if plc else []),
                    *own]  # fmt: skip
            steps = args.group_steps if shared else args.steps
            start = runs / slug(SHARED_FROM) / f"seed{seed}" / "best"
            argv = ["train", "--data", str(data), "--out", str(out), "--mode", mode,
                    "--size", args.size, "--steps", str(steps), "--batch-size",
                    str(args.batch_size), "--lr", str(args.lr), "--eval-every",
                    str(args.eval_every), "--eval-clips", str(args.eval_clips),
                    "--max-clip-frames", str(args.max_clip_frames), "--seed", str(seed),
                    "--no-progress", *dev, *(x for s in sets for x in ("--set", s)),
                    *([START_FLAG[mode], str(start)] if shared else [])]  # fmt: skip
            job = Job(train_job(name, seed), argv, runs / "logs" / f"{slug(name)}_seed{seed}.log",
                      threads, args.train_limit, out / "best")  # fmt: skip
            if shared:
                later.append((job, start))
            else:
                jobs.append(job)
    failed: list[str] = []
    seconds.update(run_jobs(jobs, args.jobs, failed))
    ready = [j for j, start in later if (start / "config.json").exists()]
    failed += [f"{j.name} failed: no {SHARED_FROM} checkpoint {start} to start from"
               for j, start in later if j not in ready]  # fmt: skip
    seconds.update(run_jobs(ready, args.jobs, failed))
    jobs += ready
    record_jobs(runs, jobs, failed)
    if not (reader / "config.json").exists():
        raise SignLLMError(f"no reader in {reader}: " + "; ".join(failed))

    # 4. evaluations: the test split (instruments on), the train split's recorded sentences
    evals: list[Job] = []
    for (name, seed), out in list(trained.items()):
        ck = _checkpoint(out)
        if not (ck / "config.json").exists():  # failed or stopped before its first checkpoint
            del trained[(name, seed)]
            continue
        test = ["evaluate", "--model", str(ck), "--data", str(data), "--split", "test",
                "--reader", str(reader), "--out", str(out / "eval_test.json"), "--no-progress",
                "--no-per-clip", *dev]  # fmt: skip
        if args.bt_steps > 0:
            test += ["--bt", str(bt)]
        memo = ["evaluate", "--model", str(ck), "--data", str(data), "--split", "train",
                "--clips", "recorded", "--out", str(out / "eval_train_recorded.json"),
                "--no-progress", "--no-per-clip", *dev]  # fmt: skip
        for what, argv in (("test", test), ("memorisation", memo)):
            target = Path(argv[argv.index("--out") + 1])
            if args.reuse and target.exists():
                continue
            evals.append(Job(eval_job(name, seed, what), argv, runs / "logs" /
                             f"eval_{slug(name)}_seed{seed}_{what}.log", threads))  # fmt: skip
    seconds.update(run_jobs(evals, args.jobs, failed))
    ledger = record_jobs(runs, evals, failed)

    # every run the page reports, whichever invocation made it
    reported = [READER_JOB] + ([BT_JOB] if args.bt_steps > 0 else [])
    for name, seed in trained:
        reported += [train_job(name, seed), *(eval_job(name, seed, w) for w in EVALS)]
    ran_now = {j.name for j in [*jobs, *evals]}
    commands = [corpus_cmd] + [
        ledger[n]["command"] if n in ledger else f"# {n}: made earlier, command not recorded"
        for n in reported
    ]
    job_seconds = {n: ledger[n]["seconds"] for n in reported if n in ledger}
    reused = [n for n in reported if n not in ran_now]

    # 5. gather
    results: dict[str, Any] = {}
    for name, _mode, _plc, shared, own in VARIANTS:
        seeds = {s: trained[(name, s)] for s in args.seeds if (name, s) in trained}
        if not seeds:
            continue
        results[name] = {
            str(s): {
                "train": _read(out / "result.json"),
                "test": _evaluation(out / "eval_test.json"),
                "train_recorded": _evaluation(out / "eval_train_recorded.json"),
                # the variant's own settings as the run saved them, not as the code says now
                "settings": saved_settings(out, own),
                # the run its groups started from (its steps count too)
                **(
                    {"start": _read(runs / slug(SHARED_FROM) / f"seed{s}" / "result.json")}
                    if shared
                    else {}
                ),
            }
            for s, out in seeds.items()
        }
    return {
        "format": "signllm-results",
        "version": 2,
        "started": started,
        "machine": info,
        "settings": {k: v for k, v in vars(args).items() if k not in ("func", "argv")},
        "data": str(data),
        "reader": _read(reader / "config.json").get("training"),
        "bt": _read(bt / "config.json").get("training") if args.bt_steps > 0 else None,
        "commands": commands,
        "step_seconds": seconds,
        "job_seconds": job_seconds,
        "reused": reused,
        "failed": failed,
        "total_seconds": round(time.perf_counter() - t0, 1),
        "letter_sharing": letter_sharing(),
        "runs": results,
    }


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _checkpoint(out: Path) -> Path:
    """A run's checkpoint: best/, else last/ (a run without a dev evaluation yet)."""
    return out / "best" if (out / "best" / "config.json").exists() else out / "last"


def _evaluation(path: Path) -> dict[str, Any]:
    """An evaluation as the page keeps it: per-bone variation for all languages only (per
    language it made docs/results.json 5 MB), numbers to 4 significant digits. The run's own
    file keeps everything."""

    def short(o: Any) -> Any:
        if isinstance(o, float):
            return float(f"{o:.4g}")
        if isinstance(o, dict):
            return {k: short(v) for k, v in o.items()}
        return [short(v) for v in o] if isinstance(o, list) else o

    ev = _read(path)
    for group, figures in (ev.get("groups") or {}).items():
        if group != "all" and isinstance(figures, dict):
            figures.pop("bone_cv_per_bone", None)
    return short(ev)


def saved_settings(out: Path, own: tuple[str, ...]) -> list[str]:
    """`key=value` for each of a variant's own settings, the value read from the run's saved
    train config: a page made with `--reuse` from runs trained under other settings must name
    those (the code's constant may have changed since)."""
    train = _read(_checkpoint(out) / "config.json").get("train") or {}
    said = []
    for setting in own:
        node: Any = train
        for part in setting.split("=", 1)[0].split("."):
            node = node.get(part) if isinstance(node, dict) else None
        said.append(f"{setting.split('=', 1)[0]}={'?' if node is None else node}")
    return said


# ----------------------------------------------------------------------------------------------
# The ambiguity both modes exist for: the same letter, different handshapes


def letter_sharing(threshold: float = 0.2) -> dict[str, Any]:
    """Per letter of the fingerspelling lexicon: which languages sign it with the same handshape.

    A letter's handshape = its signing hand's joints relative to the wrist, in hand sizes,
    averaged over the letter's frames; two languages share it when the mean joint distance is
    below `threshold` hand sizes (clusters by single linkage).
    """
    from signllm.data.fingerspell import default_lexicon

    lex = default_lexicon()
    shapes: dict[str, dict[str, np.ndarray]] = {}
    for code in lex.languages:
        for letter in lex.alphabet(code):
            if len(letter) != 1 or not letter.isalpha():
                continue
            try:
                pose = lex.compose(letter, code)
            except SignLLMError:
                continue
            shape = _hand_shape(pose)
            if shape is not None:
                shapes.setdefault(letter.upper(), {})[code] = shape
    rows = []
    for letter, by_lang in sorted(shapes.items()):
        if len(by_lang) < 2:
            continue
        codes = sorted(by_lang)
        groups = [[c] for c in codes]
        merged = True
        while merged:
            merged = False
            for i in range(len(groups)):
                for j in range(i + 1, len(groups)):
                    d = min(
                        float(np.linalg.norm(by_lang[a] - by_lang[b], axis=-1).mean())
                        for a in groups[i]
                        for b in groups[j]
                    )
                    if d < threshold:
                        groups[i] += groups.pop(j)
                        merged = True
                        break
                if merged:
                    break
        rows.append({"letter": letter, "languages": len(codes), "handshapes": len(groups),
                     "groups": sorted((sorted(g) for g in groups), key=len, reverse=True)})  # fmt: skip
    return {"threshold_hand_sizes": threshold, "letters": rows}


def _hand_shape(pose: Any) -> np.ndarray | None:
    """The more visible hand's shape (20, 3), relative to its wrist, in hand sizes."""
    sk = pose.skel
    best = None
    for side in ("right", "left"):
        idx = list(sk.groups[f"{side}_hand"])
        seen = pose.mask[:, idx].all(-1)
        if seen.sum() == 0 or (best is not None and seen.sum() <= best[0]):
            continue
        x = pose.data[seen][:, idx].astype(np.float64)
        local = x[:, 1:] - x[:, :1]
        size = np.linalg.norm(local[:, 8], axis=-1).mean()  # wrist -> middle knuckle
        if size > 0:
            best = (seen.sum(), (local / size).mean(0))
    return None if best is None else best[1]


# ----------------------------------------------------------------------------------------------
# The page


def _stat(values: list[float | None]) -> tuple[float | None, float | None]:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return None, None
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)


def _pm(values: list[float | None], spec: str = "{:.3f}") -> str:
    m, s = _stat(values)
    if m is None:
        return "-"
    return spec.format(m) + ("" if s is None or len(values) < 2 else " ± " + spec.format(s))


def _get(ev: dict[str, Any], group: str, system: str, key: str) -> float | None:
    try:
        return ev["groups"][group][system][key]
    except (KeyError, TypeError):
        return None


def _per_seed(doc: dict[str, Any], name: str, which: str, group: str, system: str, key: str):
    return [_get(r[which], group, system, key) for r in doc["runs"][name].values()]


def _steps(seeds: dict[str, Any]) -> str:
    """A variant's training steps: '9000', or '9000 + 3000' for groups started from a run."""
    parts = set()
    for r in seeds.values():
        own = (r.get("train") or {}).get("step")
        start = (r.get("start") or {}).get("step")
        parts.add(f"{start} + {own}" if start else f"{own}")
    return " / ".join(sorted(parts)) if parts else "-"


def results_markdown(doc: dict[str, Any]) -> str:
    """docs/results.md, read off docs/results.json (so the page cannot drift from it)."""
    runs = doc["runs"]
    if not runs:
        return "# Results\n\nNo model was evaluated.\n"
    names = list(runs)
    seeds = doc["settings"].get("seeds")
    first = next(iter(next(iter(runs.values())).values()))["test"]
    lines = [
        "# Results on the demo corpus",
        "",
        "Written by `bash scripts/make_results.sh` (`python -m experiments.results`); every "
        "number below is read from `docs/results.json`. Held-out = the test split: fingerspelled "
        "words that never occur in training, in 20 sign languages, plus a few recorded sentences. "
        f"{len(names)} variants x seeds {seeds}; mean ± sd over seeds.",
        "",
        "## Main table (test split)",
        "",
        "DTW-MJE in shoulder widths (lower is better); character accuracy = 1 - CER of the "
        "fingerspelling reader on fingerspelled clips (its reading of ground truth is the "
        "ceiling); memorisation = DTW-MJE on the train split's recorded sentences (seen in "
        "training) divided by the floor's there; body = median per-bone length CV, left/right "
        "limb mismatch, shoulder-width deviation.",
        "",
        "| system | steps | DTW-MJE | DTW-MJE hands | char acc | % of ceiling | "
        "memorisation / floor | bone CV | limb mismatch | shoulder dev |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    g0 = first.get("groups", {})
    ceil_fs = _get(first, "all", "ground_truth", "char_acc")
    lines.append(
        f"| ground truth (ceiling) | - | - | - | {_pm([ceil_fs])} | 100% | - | "
        f"{_pm([_get(first, 'all', 'ground_truth', 'bone_cv')], '{:.4f}')} | "
        f"{_pm([_get(first, 'all', 'ground_truth', 'limb_mismatch')], '{:.4f}')} | "
        f"{_pm([_get(first, 'all', 'ground_truth', 'shoulder_dev')], '{:.3f}')} |"
    )
    for name in names:
        acc = _per_seed(doc, name, "test", "all", "generated", "char_acc")
        pct = [None if a is None or not ceil_fs else 100 * a / ceil_fs for a in acc]
        memo = []
        for r in runs[name].values():
            g, f = (_get(r["train_recorded"], "all", s, "dtw_mje") for s in ("generated", "floor"))
            memo.append(None if g is None or not f else g / f)
        lines.append(
            f"| {name} | {_steps(runs[name])} "
            f"| {_pm(_per_seed(doc, name, 'test', 'all', 'generated', 'dtw_mje'))} | "
            f"{_pm(_per_seed(doc, name, 'test', 'all', 'generated', 'dtw_mje_hands'))} | "
            f"{_pm(acc)} | {_pm(pct, '{:.1f}')}% | {_pm(memo, '{:.2f}')} | "
            f"{_pm(_per_seed(doc, name, 'test', 'all', 'generated', 'bone_cv'), '{:.4f}')} | "
            f"{_pm(_per_seed(doc, name, 'test', 'all', 'generated', 'limb_mismatch'), '{:.4f}')}"
            f" | {_pm(_per_seed(doc, name, 'test', 'all', 'generated', 'shoulder_dev'))} |"
        )
    floor = [_get(first, "all", "floor", k) for k in ("dtw_mje", "dtw_mje_hands", "char_acc")]
    lines.append(
        f"| mean-pose floor | - | {_pm([floor[0]])} | {_pm([floor[1]])} | {_pm([floor[2]])} | "
        f"{_pm([None if floor[2] is None or not ceil_fs else 100 * floor[2] / ceil_fs], '{:.0f}')}"
        "% | 1.00 | - | - | - |"
    )
    lines += ["", *findings(doc), ""]

    # per-language character accuracy
    langs = [k for k in g0 if k not in ("all", "recorded", "fingerspelled")]
    lines += [
        "## Character accuracy per language (held-out fingerspelled words)",
        "",
        "| language | words | ground truth (ceiling) | " + " | ".join(names) + " | floor |",
        "|" + "---|" * (len(names) + 4),
    ]
    for code in langs:
        cells = [_pm(_per_seed(doc, n, "test", code, "generated", "char_acc")) for n in names]
        lines.append(
            f"| {group_label(code)} | {g0[code].get('fingerspelled', '-')} | "
            f"{_pm([_get(first, code, 'ground_truth', 'char_acc')])} | "
            + " | ".join(cells)
            + f" | {_pm([_get(first, code, 'floor', 'char_acc')])} |"
        )
    means = [
        _pm([
            float(np.mean([v for v in (_get(r["test"], c, "generated", "char_acc") for c in langs)
                           if v is not None])) if langs else None
            for r in runs[n].values()
        ])
        for n in names
    ]  # fmt: skip
    gt = [v for v in (_get(first, c, "ground_truth", "char_acc") for c in langs) if v is not None]
    lines.append(
        f"| **mean over languages** | | {_pm([float(np.mean(gt)) if gt else None])} | "
        + " | ".join(means)
        + " | |"
    )

    # letters shared across languages
    share = doc.get("letter_sharing") or {}
    rows = share.get("letters") or []
    if rows:
        lines += [
            "",
            "## The same letter, different handshapes",
            "",
            "Why a model must be told the language: per letter of the 20 fingerspelling "
            "alphabets, how many distinct handshapes the languages that have it use (hands "
            f"closer than {share['threshold_hand_sizes']} hand sizes count as the same shape). "
            "The per-language table above shows whether each mode keeps them apart.",
            "",
            "| letter | languages | handshapes | largest groups sharing one handshape |",
            "|---|---|---|---|",
        ]
        for r in rows:
            groups = "; ".join(", ".join(g) for g in r["groups"][:3] if len(g) > 1) or "none shared"
            lines.append(f"| {r['letter']} | {r['languages']} | {r['handshapes']} | {groups} |")

    # bones
    per_bone = (g0.get("all") or {}).get("bone_cv_per_bone") or {}
    if per_bone:
        lines += [
            "",
            "## Bone-length variation (coefficient of variation over a clip, test split)",
            "",
            "| bone (child joint) | ground truth | " + " | ".join(names) + " |",
            "|" + "---|" * (len(names) + 2),
        ]
        for bone in BONES_SHOWN:
            gen = []
            for n in names:
                vals = []
                for r in runs[n].values():
                    pb = (r["test"].get("groups", {}).get("all") or {}).get("bone_cv_per_bone")
                    vals.append(((pb or {}).get("generated") or {}).get(bone))
                gen.append(_pm(vals, "{:.4f}"))
            gt = (per_bone.get("ground_truth") or {}).get(bone)
            lines.append(f"| {bone} | {_pm([gt], '{:.4f}')} | " + " | ".join(gen) + " |")

    # sentences
    rec = g0.get("recorded")
    if rec is not None and _get(first, "recorded", "ground_truth", "chrf") is not None:
        lines += [
            "",
            "## Recorded sentences of the test split (sentence back-translation)",
            "",
            "| system | clips | BLEU-4 | chrF | WER | DTW-MJE |",
            "|---|---|---|---|---|---|",
            f"| ground truth (ceiling) | {rec['clips']} | "
            f"{_pm([_get(first, 'recorded', 'ground_truth', 'bleu4')], '{:.2f}')} | "
            f"{_pm([_get(first, 'recorded', 'ground_truth', 'chrf')], '{:.2f}')} | "
            f"{_pm([_get(first, 'recorded', 'ground_truth', 'wer')], '{:.1f}')} | - |",
        ]
        for n in names:
            lines.append(
                f"| {n} | {rec['clips']} | "
                f"{_pm(_per_seed(doc, n, 'test', 'recorded', 'generated', 'bleu4'), '{:.2f}')} | "
                f"{_pm(_per_seed(doc, n, 'test', 'recorded', 'generated', 'chrf'), '{:.2f}')} | "
                f"{_pm(_per_seed(doc, n, 'test', 'recorded', 'generated', 'wer'), '{:.1f}')} | "
                f"{_pm(_per_seed(doc, n, 'test', 'recorded', 'generated', 'dtw_mje'))} |"
            )
        lines.append(
            f"| mean-pose floor | {rec['clips']} | "
            f"{_pm([_get(first, 'recorded', 'floor', 'bleu4')], '{:.2f}')} | "
            f"{_pm([_get(first, 'recorded', 'floor', 'chrf')], '{:.2f}')} | "
            f"{_pm([_get(first, 'recorded', 'floor', 'wer')], '{:.1f}')} | "
            f"{_pm([_get(first, 'recorded', 'floor', 'dtw_mje')])} |"
        )

    if doc.get("failed"):
        lines += ["", "## Runs that did not finish", "", *(f"- {f}" for f in doc["failed"])]
    m = doc["machine"]
    job_s, reused = doc.get("job_seconds") or {}, doc.get("reused") or []
    lines += [
        "",
        "## How it was run",
        "",
        f"- machine: {m['cpu']} ({m['cpu_count']} cores), GPU {m['gpu'] or 'none'}, torch "
        f"{m['torch']}, device {m['device']}, {m['jobs']} jobs at a time; started {doc['started']};"
        f" this invocation {doc['total_seconds'] / 60:.1f} min",
        f"- job time of the runs reported here: {sum(job_s.values()) / 60:.1f} min in all "
        f"(per job in results.json `job_seconds`); {len(reused)} of {len(doc['commands']) - 1} "
        "jobs reused from earlier invocations (`--reuse`)"
        + (f": {', '.join(reused)}" if 0 < len(reused) <= 5 else ""),
        f"- reader: {json.dumps({k: (doc.get('reader') or {}).get(k) for k in ('clips', 'steps', 'selected', 'seconds')})}",
        "- commands (each run's log is in RUNS/logs):",
        "",
        "```",
        *doc["commands"],
        "```",
        "",
    ]
    return "\n".join(lines) + "\n"


def findings(doc: dict[str, Any]) -> list[str]:
    """Sentences read off the numbers."""
    runs = doc["runs"]
    first = next(iter(next(iter(runs.values())).values()))["test"]
    ceil = _get(first, "all", "ground_truth", "char_acc")
    floor_dtw = _get(first, "all", "floor", "dtw_mje")
    out = []
    for name in runs:
        dtw = _stat(_per_seed(doc, name, "test", "all", "generated", "dtw_mje"))[0]
        acc = _stat(_per_seed(doc, name, "test", "all", "generated", "char_acc"))[0]
        memo = [
            (_get(r["train_recorded"], "all", "generated", "dtw_mje"),
             _get(r["train_recorded"], "all", "floor", "dtw_mje"))
            for r in runs[name].values()
        ]  # fmt: skip
        ratios = [g / f for g, f in memo if g is not None and f]
        parts = []
        said = sorted(
            {", ".join(f"`{s}`" for s in r.get("settings") or ()) for r in runs[name].values()}
            - {""}
        )
        if said:
            parts.append("trained with " + " / ".join(said))
        if any(r.get("start") for r in runs[name].values()):
            parts.append(
                f"its groups start from the {SHARED_FROM} run of the same seed, then each trains "
                f"on its own language ({_steps(runs[name])} steps in all)"
                if MODES.get(name, "mlsf") == "mlsf"
                else f"it continues the {SHARED_FROM} run of the same seed "
                f"({_steps(runs[name])} steps in all)"
            )
        if dtw is not None and floor_dtw is not None:
            parts.append(
                f"DTW-MJE {dtw:.3f} vs the floor's {floor_dtw:.3f} "
                f"({'below' if dtw < floor_dtw else '**not below**'} the floor)"
            )
        if acc is not None and ceil:
            verdict = "meets" if acc >= 0.8 * ceil else "**misses**"
            parts.append(
                f"the reader reads {100 * acc / ceil:.1f}% of the ceiling's character accuracy "
                f"from its held-out words ({verdict} the 80% aim)"
            )
        if ratios:
            r = float(np.mean(ratios))
            verdict = "meets" if r <= 0.3 else "**misses**"
            parts.append(
                f"on the train split's recorded sentences it reaches {r:.2f}x the floor's "
                f"DTW-MJE ({verdict} the 0.3x memorisation aim)"
            )
        out.append(f"- **{name}**: " + "; ".join(parts) + ".")
    out.append(
        "- Tiny data: ~1.5 h of signing, mostly fingerspelled words composed from real letter "
        "recordings with synthetic transitions, plus 24 recorded clips. These runs show what the "
        "models learn here; they are not a benchmark of sign language production."
    )
    return out


# ----------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m experiments.results", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--runs", default="runs/results", help="folder for the store and all runs")
    p.add_argument("--data", help="store directory (default RUNS/demo_store; built if missing)")
    p.add_argument("--docs", default="docs", help="where results.md and results.json go")
    p.add_argument("--size", default="small", help="SignLLM model preset")
    p.add_argument("--steps", type=int, default=3000, help="training steps of every model")
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-clip-frames", type=int, default=300)
    p.add_argument("--eval-every", type=int, default=500, help="dev evaluations (pick best/)")
    p.add_argument("--eval-clips", type=int, default=32)
    p.add_argument(
        "--plc", action="append", default=[], metavar="KEY=VALUE",
        help="extra train config overrides for the RL loss + PLC runs",
    )  # fmt: skip
    p.add_argument(
        "--train-set", action="append", default=[], metavar="KEY=VALUE",
        help="train config overrides for every run (e.g. model.d_model=128)",
    )  # fmt: skip
    p.add_argument(
        "--train-limit", type=float,
        help="seconds per training run; a run stopped there keeps its best checkpoint",
    )  # fmt: skip
    p.add_argument(
        "--group-steps", type=int,
        help="the variants that start from the Prompt2LangGloss run (MLSF, shared start; "
        "Prompt2LangGloss, continued): their steps after it (default: a third of --steps)",
    )  # fmt: skip
    p.add_argument("--reader-steps", type=int, default=3000)
    p.add_argument("--bt-steps", type=int, default=1500, help="0: no sentence BT model")
    p.add_argument("--workers", type=int, default=2, help="corpus build processes")
    p.add_argument("--seed", type=int, default=0, help="corpus seed")
    p.add_argument("--threads", type=int, default=1, help="torch threads per job")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--only", nargs="+", help="run only these variants (slugs, e.g. mlsf)")
    p.add_argument("--reuse", action="store_true", help="keep what is already in RUNS")
    p.add_argument(
        "--render-only", action="store_true",
        help="only rewrite DOCS/results.md from DOCS/results.json (no training)",
    )  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = argv
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="signllm: %(message)s", stream=sys.stderr)
    try:
        docs = Path(args.docs)
        if args.render_only:
            try:
                doc = json.loads((docs / "results.json").read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise UsageError(f"{docs / 'results.json'}: cannot read ({e})") from None
            write_text(docs / "results.md", results_markdown(doc))
            print(f"wrote {docs / 'results.md'}")
            return 0
        if args.steps < 1 or args.reader_steps < 1 or args.bt_steps < 0:
            raise UsageError("--steps and --reader-steps must be >= 1, --bt-steps >= 0")
        if args.group_steps is None:
            args.group_steps = max(1, args.steps // 3)
        if args.group_steps < 1:
            raise UsageError(f"--group-steps must be >= 1, got {args.group_steps}")
        doc = run_all(args)
        write_json(docs / "results.json", doc)
        write_text(docs / "results.md", results_markdown(doc))
        print(f"wrote {docs / 'results.md'} and {docs / 'results.json'}")
        return 0
    except SignLLMError as e:
        print(f"signllm: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
