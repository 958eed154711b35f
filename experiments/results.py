"""The results page in one command: demo corpus -> BT on ground truth -> 4 models -> evaluation.

    python -m experiments.results                      # defaults: ~20 min on a 2-core CPU
    python -m experiments.results --steps 20000 --size pt-base --bt-size base --bt-steps 20000 \\
        --threads 8 --device cuda                       # a real run on a bigger machine
    bash scripts/make_results.sh ...                    # the same, through the project venv

What it does, on the demo corpus's held-out (test) split:

1. builds the demo corpus store if it is missing (`signllm data demo`);
2. trains the back-translation model on the *ground-truth* train split (`signllm train-bt`);
3. trains four SignLLM models with the same steps, seed, size and batches: MLSF and
   Prompt2LangGloss (mode "prompt"), each without (plain pooled MSE, eta = 0: uniform sampling)
   and with the RL loss + PLC (`plc.loss=rl`, priority sampling `plc.eta=0.5`, the paper's 50%
   batch-skip rule `plc.threshold=0.5`; change with `--plc KEY=VALUE`);
4. evaluates each on the test split with the BT ceiling and the mean-pose floor beside it;
5. writes docs/results.md (tables, commands, machine, step times, what the numbers show) and
   docs/results.json; each run's own evaluation lands in its run folder.

`--reuse` keeps a BT model or trained model already present in the runs folder (resume a long
run); without it everything is retrained.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from signllm.errors import SignLLMError, UsageError
from signllm.eval.report import (
    SYSTEM_LABELS,
    comparison_table,
    group_label,
    results_table,
    write_json,
    write_text,
)

log = logging.getLogger("signllm.eval")

# name, mode, with RL loss + PLC
VARIANTS: tuple[tuple[str, str, bool], ...] = (
    ("MLSF", "mlsf", False),
    ("MLSF + RL loss + PLC", "mlsf", True),
    ("Prompt2LangGloss", "prompt", False),
    ("Prompt2LangGloss + RL loss + PLC", "prompt", True),
)
PLC_OFF = ("plc.loss=pooled", "plc.eta=0", "plc.threshold=none")
PLC_ON = ("plc.loss=rl", "plc.eta=0.5", "plc.favour=hard", "plc.threshold=0.5", "plc.skip=hard")


def slug(name: str) -> str:
    """'MLSF + RL loss + PLC' -> 'mlsf_rl_loss_plc' (run folder names)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def machine_info(threads: int, device: str) -> dict[str, Any]:
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
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gib": mem,
        "gpu": gpu,
        "device": device,
        "torch_threads": threads,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
    }


class Steps:
    """Wall-clock time of each step, logged as it finishes."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def run(self, name: str, fn: Any, *a: Any, **kw: Any) -> Any:
        log.info("== %s", name)
        t = time.perf_counter()
        out = fn(*a, **kw)
        self.times[name] = round(time.perf_counter() - t, 1)
        log.info("== %s: %.1f s", name, self.times[name])
        return out


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Every step of the module docstring; returns what docs/results.json holds."""
    import torch

    from signllm.eval.bt_checkpoint import CONFIG as BT_CONFIG
    from signllm.eval.bt_checkpoint import read_bt_config, train_bt_main
    from signllm.eval.runner import evaluate
    from signllm.train.config import TrainConfig, apply_overrides
    from signllm.train.trainer import train

    torch.set_num_threads(args.threads)
    runs = Path(args.runs)
    data = Path(args.data) if args.data else runs / "demo_store"
    bt_dir = runs / "bt"
    steps = Steps()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    info = machine_info(args.threads, args.device)
    argv = sys.argv[1:] if args.argv is None else args.argv
    commands = [" ".join(["python -m experiments.results", *map(shlex.quote, argv)])]

    # 1. the corpus
    if not (data / "store.json").exists():
        from signllm.data.demo_corpus import build_demo_corpus

        steps.run(
            "build the demo corpus",
            build_demo_corpus,
            data,
            workers=args.workers,
            seed=args.seed,
            progress=args.progress,
        )
    else:
        steps.times["build the demo corpus"] = 0.0
        log.info("demo corpus already at %s", data)
    commands.append(f"signllm data demo -o {data} --workers {args.workers} --seed {args.seed}")

    # 2. BT on ground truth
    if args.reuse and (bt_dir / BT_CONFIG).exists():
        bt_cfg = read_bt_config(bt_dir)
        steps.times["train the BT model (ground truth, train split)"] = 0.0
    else:
        bt_cfg = steps.run(
            "train the BT model (ground truth, train split)",
            train_bt_main,
            data,
            bt_dir,
            split="train",
            dev_split="dev",
            target="text",
            preset=args.bt_size,
            steps=args.bt_steps,
            seed=args.seed,
            tokenizer="subword",
            vocab_size=args.bt_vocab_size,
            batch_size=args.bt_batch_size,
            lr=args.bt_lr,
            eval_every=args.bt_eval_every,
            device=None if args.device == "auto" else args.device,
            progress=args.progress,
        )
    commands.append(
        f"signllm train-bt --data {data} --out {bt_dir} --size {args.bt_size} "
        f"--steps {args.bt_steps} --vocab-size {args.bt_vocab_size} --batch-size "
        f"{args.bt_batch_size} --lr {args.bt_lr} --eval-every {args.bt_eval_every} "
        f"--seed {args.seed}"
    )

    # 3. the four models, 4. their evaluation
    results: dict[str, Any] = {}
    evals: dict[str, dict[str, Any]] = {}
    for name, mode, plc in VARIANTS:
        if args.only and slug(name) not in args.only:
            continue
        out = runs / slug(name)
        overrides = [*(PLC_ON if plc else PLC_OFF), *(args.plc if plc else [])]
        cfg = TrainConfig(
            data=str(data),
            out=str(out),
            mode=mode,
            size=args.size,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            warmup_steps=min(100, args.steps // 10),
            max_clip_frames=args.max_clip_frames,
            eval_every=args.eval_every,
            eval_clips=args.eval_clips,
            checkpoint_every=0,
            seed=args.seed,
            device=args.device,
            progress=args.progress,
        )
        cfg = apply_overrides(cfg, overrides)
        flags = (
            f"--mode {mode} --size {args.size} --steps {args.steps} --batch-size "
            f"{args.batch_size} --lr {args.lr} --warmup-steps {cfg.warmup_steps} "
            f"--max-clip-frames {args.max_clip_frames} --eval-every {args.eval_every} "
            f"--eval-clips {args.eval_clips} --seed {args.seed} "
            + " ".join(f"--set {o}" for o in overrides)
        )
        commands.append(f"signllm train --data {data} --out {out} {flags}")
        ckpt = out / "best" if (out / "best" / "config.json").exists() else out / "last"
        if args.reuse and (ckpt / "config.json").exists():
            steps.times[f"train {name}"] = 0.0
            import json

            tr = (
                json.loads((out / "result.json").read_text())
                if (out / "result.json").exists()
                else {}
            )
        else:
            tr = steps.run(f"train {name}", train, cfg).to_dict()
            ckpt = Path(tr["checkpoint"])
        ev = steps.run(
            f"evaluate {name}",
            evaluate,
            ckpt,
            bt_dir,
            data,
            split="test",
            max_clips=args.max_clips,
            beam=args.beam,
            progress=args.progress,
            batch_size=args.eval_batch_size,
            device=args.device,
        )
        commands.append(
            f"signllm evaluate --model {ckpt} --bt {bt_dir} --data {data} --split test "
            f"--beam {args.beam} --out {out / 'eval.json'} --markdown {out / 'eval.md'}"
            + (f" --max-clips {args.max_clips}" if args.max_clips else "")
        )
        from signllm.eval.report import markdown_report

        write_json(out / "eval.json", ev)
        write_text(out / "eval.md", markdown_report(ev, title=name))
        ev_small = {k: v for k, v in ev.items() if k != "per_clip"}
        ev_small["examples"] = _examples(ev)
        evals[name] = ev_small
        results[name] = {"mode": mode, "rl_plc": plc, "overrides": overrides, "train": tr}

    return {
        "format": "signllm-results",
        "version": 1,
        "started": started,
        "machine": info,
        "settings": {k: v for k, v in vars(args).items() if k not in ("func", "argv")},
        "data": str(data),
        "bt": bt_cfg,
        "commands": commands,
        "step_seconds": steps.times,
        "total_seconds": round(sum(steps.times.values()), 1),
        "runs": results,
        "evaluations": evals,
    }


def _examples(ev: dict[str, Any], n: int = 2) -> list[dict[str, Any]]:
    """A few clips per kind (recorded first) with what the BT model read from each system."""
    rows = ev.get("per_clip") or []
    rec = [r for r in rows if not r["fingerspelled"]][:n]
    fs = [r for r in rows if r["fingerspelled"]][:n]
    return [{"id": r["id"], "reference": r["reference"], **r["hyp"]} for r in rec + fs]


# ----------------------------------------------------------------------------------------------
# The page


def _fmt(v: Any, spec: str = "{:.2f}") -> str:
    return "n/a" if v is None else spec.format(v)


def _rel(a: float | None, b: float | None) -> str:
    """How a compares with b: '19% lower' / '67% higher'."""
    if a is None or b is None or b == 0:
        return "n/a"
    d = 100 * (a - b) / b
    return f"{abs(d):.0f}% {'lower' if d < 0 else 'higher'}"


def findings(doc: dict[str, Any]) -> list[str]:
    """Sentences read off the numbers (so the page cannot drift from them)."""
    evals = doc["evaluations"]
    if not evals:
        return ["No model was evaluated."]
    first = next(iter(evals.values()))
    g = first["groups"]["all"]
    ceil, floor = g["ground_truth"], g["floor"]
    out = []
    gap = (ceil["chrf"] or 0.0) - (floor["chrf"] or 0.0)
    char = (
        f", character accuracy {_fmt(ceil['char_acc'], '{:.3f}')} on fingerspelled words "
        f"(floor {_fmt(floor['char_acc'], '{:.3f}')})"
        if ceil.get("char_acc") is not None
        else ""
    )
    head = (
        "**The BT ceiling is barely above the floor.**"
        if gap < 5.0
        else "**The BT model reads the recorded poses far better than the floor.**"
    )
    out.append(
        f"{head} From the ground-truth test poses the BT model gets BLEU-4 {_fmt(ceil['bleu4'])}, "
        f"chrF {_fmt(ceil['chrf'])}, WER {_fmt(ceil['wer'], '{:.1f}')}{char}; from the "
        f"motionless mean pose chrF {_fmt(floor['chrf'])}. Text scores of generated poses "
        "can only be read between these two"
        + (
            ", so here they cannot rank the models: the pose metrics carry what signal there is."
            if gap < 5.0
            else "."
        )
    )
    for name, ev in evals.items():
        a = ev["groups"]["all"]
        gen, fl = a["generated"], a["floor"]
        ok = gen["dtw_mje"] is not None and fl["dtw_mje"] is not None
        verdict = "beats" if ok and gen["dtw_mje"] < fl["dtw_mje"] else "does **not** beat"
        capped = gen.get("capped")
        out.append(
            f"**{name}** {verdict} the mean-pose floor on DTW-MJE "
            f"({_fmt(gen['dtw_mje'], '{:.3f}')} vs {_fmt(fl['dtw_mje'], '{:.3f}')}, "
            f"{_rel(gen['dtw_mje'], fl['dtw_mje'])}; hands {_fmt(gen['dtw_mje_hands'], '{:.3f}')} "
            f"vs {_fmt(fl['dtw_mje_hands'], '{:.3f}')}); its hands travel "
            f"{_fmt(gen['hand_distance_ratio'])}x as far as the signers'; its clips last "
            f"{_fmt(gen['duration_ratio'])}x the true duration on average"
            + (
                f" ({100 * capped:.0f}% never predicted their end and stopped at the "
                f"{first['settings']['max_frames']}-frame cap)"
                if capped
                else ""
            )
            + f"; BT chrF {_fmt(gen['chrf'])} (floor {_fmt(fl['chrf'])}, ceiling "
            f"{_fmt(a['ground_truth']['chrf'])})."
        )
    rec = first["groups"].get("recorded")
    if rec is not None:
        close = [
            name
            for name, ev in evals.items()
            if (ev["groups"]["recorded"]["generated"]["chrf"] or 0.0)
            >= 0.9 * (rec["ground_truth"]["chrf"] or 0.0)
            > 0.0
        ]
        if close:
            out.append(
                f"On the {rec['clips']} recorded clips, {', '.join(close)} "
                f"{'comes' if len(close) == 1 else 'come'} within 10% of "
                "the ceiling's chrF (and may beat it on other text metrics). That is not good "
                "signing: a weak BT model emits the frequent words of its training sentences "
                "whatever it sees, and on so few clips such matches are luck."
            )
    capped = [ev["groups"]["all"]["generated"].get("capped") or 0.0 for ev in evals.values()]
    if min(capped) >= 0.9:
        out.append(
            "**No model learned to stop.** In free-running decoding the predicted counter never "
            "reached the stop threshold, so (almost) every generated clip ran to the "
            f"{first['settings']['max_frames']}-frame cap and the duration ratios measure the "
            "cap, not the models. Teacher-forced training fits the counter; honest decoding "
            "exposes it. Fixing this (longer training, a stop criterion the counter can reach) "
            "comes before any comparison of the variants."
        )
    out.append(
        "Beating a motionless pose on DTW-MJE is a low bar: DTW lets any sequence that hovers "
        "near the average posture and moves a little align well. It shows the models learned "
        "the signing space and some motion, not that they sign the right thing."
    )
    for base in ("MLSF", "Prompt2LangGloss"):
        plc = base + " + RL loss + PLC"
        if base in evals and plc in evals:
            b = evals[base]["groups"]["all"]["generated"]["dtw_mje"]
            p = evals[plc]["groups"]["all"]["generated"]["dtw_mje"]
            if b is not None and p is not None:
                better = "lower (better)" if p < b else "higher (worse)"
                out.append(
                    f"RL loss + PLC gives {base} a {better} test DTW-MJE at the same step count "
                    f"({p:.3f} vs {b:.3f}, {_rel(p, b)}). One seed on one tiny corpus: treat a "
                    "difference of this size as noise until repeated over seeds."
                )
    oov = g.get("input_oov")
    if oov is not None:
        fs_n = first.get("clips_fingerspelled", 0)
        out.append(
            f"**Held-out words are out of vocabulary.** {100 * oov:.0f}% of the test inputs' "
            f"tokens are unknown to the models: {fs_n} of {first['clips']} test clips are "
            "fingerspelled words held out from training, and word-level inputs turn every unseen "
            "word into `<unk>`. On those clips a model cannot know what to spell (the Python API, "
            "`signllm.api.Translator`, fingerspells such words from letter recordings; this "
            "evaluation deliberately does not). Only the few recorded sentences test "
            "translation, and their words are mostly unseen too."
        )
    out.append(
        "**Tiny data.** The demo corpus has ~1.5 hours of signing: 15 PHOENIX and 5 How2Sign "
        "clips, 4 DSGS signs and ~1350 composed fingerspelled words, and these runs train for "
        "minutes on a CPU. The numbers show that the pipeline runs end to end and measures "
        "honestly; they are not a benchmark and say nothing for or against the paper's claims."
    )
    return out


def results_markdown(doc: dict[str, Any]) -> str:
    """docs/results.md."""
    s = doc["settings"]
    m = doc["machine"]
    evals = doc["evaluations"]
    bt_train = doc["bt"]["training"]
    lines = [
        "# Results on the demo corpus (held-out test split)",
        "",
        "Generated by `python -m experiments.results` (also `bash scripts/make_results.sh`); "
        f"run started {doc['started']}, {doc['total_seconds'] / 60:.1f} minutes in all. "
        "Do not edit by hand: rerun the command.",
        "",
        "Every test clip is read by one back-translation (BT) model three times: the recorded "
        "poses (**ground truth, the BT ceiling**), the poses a model generates from the clip's "
        "text/gloss without being told the length (**generated**), and the mean training pose "
        "held still for the true length (**mean-pose floor**). The BT model was trained on "
        f"{bt_train['trained_on']} only ({bt_train['clips']} clips, preset {bt_train['preset']}, "
        f"{bt_train['steps']} steps), never on generated output.",
        "",
    ]
    if evals:
        first = next(iter(evals.values()))
        lines += [
            f"Test split: {first['clips']} clips in {len(first['languages'])} sign languages "
            f"({first['clips_fingerspelled']} composed fingerspelled words, "
            f"{first['clips'] - first['clips_fingerspelled']} recorded sentences/signs). "
            f"BLEU signature `{first['signatures']['bleu']}`, chrF `{first['signatures']['chrf']}`. "
            "Text metrics in percent; DTW-MJE in the store's units (the test clips' median "
            f"shoulder width is {_fmt(first.get('shoulder_width_median'))} units), lower is "
            "better; ratios: 1 is ideal; char acc: 0-1.",
            "",
            "## All test clips",
            "",
            comparison_table(evals, "all"),
            "",
        ]
        for group in ("recorded", "fingerspelled"):
            if group in first["groups"]:
                lines += [
                    f"## {group_label(group).capitalize()}",
                    "",
                    comparison_table(evals, group),
                    "",
                ]
        lines += ["## What the numbers show", ""]
        lines += [f"- {f}" for f in findings(doc)]
        lines += ["", "## Per language", ""]
        for name, ev in evals.items():
            groups = [k for k in ev["groups"] if k not in ("all", "recorded", "fingerspelled")]
            lines += [
                "<details>",
                f"<summary>{name}: rows language x system</summary>",
                "",
                results_table(ev, groups),
                "",
                "</details>",
                "",
            ]
        lines += ["## Examples (what the BT model read)", ""]
        ex = next(iter(evals.values())).get("examples") or []
        if ex:
            lines += [
                "| clip | reference | " + " | ".join(SYSTEM_LABELS.values()) + " |",
                "|---|---|---|---|---|",
            ]
            for e in ex:
                cells = [e["id"], e["reference"]] + [e[k] for k in SYSTEM_LABELS]
                lines.append(
                    "| " + " | ".join(c.replace("|", "/") or "(empty)" for c in cells) + " |"
                )
            lines += ["", f"(generated column: the {next(iter(evals))} model)", ""]
    lines += [
        "## Setup",
        "",
        f"- models: size `{s['size']}`, {s['steps']} steps, batch {s['batch_size']}, lr {s['lr']}, "
        f"max clip frames {s['max_clip_frames']}, seed {s['seed']}; dev evaluation every "
        f"{s['eval_every']} steps on {s['eval_clips']} dev clips picks best/ (lowest dev DTW-MJE)",
        f"- without RL loss + PLC: `{' '.join(PLC_OFF)}`; with: "
        f"`{' '.join(PLC_ON + tuple(s.get('plc') or ()))}`",
        f"- BT: preset `{s['bt_size']}`, {s['bt_steps']} steps, subword target vocabulary <= "
        f"{s['bt_vocab_size']}, batch {s['bt_batch_size']}, lr {s['bt_lr']}; greedy decoding "
        f"(beam {s['beam']})"
        + (
            f"; dev (ground truth) BLEU-4 {_fmt(bt_train['dev'].get('dev_bleu4'))}, chrF "
            f"{_fmt(bt_train['dev'].get('dev_chrf'))}"
            if bt_train.get("dev")
            else ""
        ),
        "- checkpoints evaluated (best/ = lowest dev DTW-MJE): "
        + "; ".join(
            f"{name}: step {ev['model'].get('step')} of {s['steps']} (dev DTW-MJE "
            f"{_fmt(ev['model'].get('best_dev_dtw_mje'), '{:.3f}')})"
            for name, ev in evals.items()
        ),
        "",
        "## Machine",
        "",
        f"- {m['cpu']} ({m['cpu_count']} cores), {m['memory_gib']} GiB RAM, GPU: {m['gpu'] or 'none'}",
        f"- {m['platform']}, Python {m['python']}, torch {m['torch']}, {m['torch_threads']} torch "
        f"thread(s), device {m['device']}; load average at start {m['load_average_at_start']} "
        "(a shared machine: times are indicative)",
        "",
        "## Time per step",
        "",
        "| step | seconds |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.1f} |" for k, v in doc["step_seconds"].items()]
    lines += [f"| **total** | **{doc['total_seconds']:.1f}** |", ""]
    if evals:
        lines += [
            "Evaluation time split (first model): "
            + ", ".join(
                f"{k.replace('_', ' ')} {v:.1f} s"
                for k, v in next(iter(evals.values()))["timing"].items()
            ),
            "",
        ]
    lines += ["## Commands", "", "The one command, then the equivalent individual commands:", ""]
    lines += ["```bash", *doc["commands"], "```", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m experiments.results", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--runs", default="runs/results", help="folder for the store, BT and models")
    p.add_argument("--data", help="store directory (default RUNS/demo_store; built if missing)")
    p.add_argument("--docs", default="docs", help="where results.md and results.json go")
    p.add_argument("--size", default="tiny", help="SignLLM model preset")
    p.add_argument("--steps", type=int, default=2000, help="training steps of every model")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-clip-frames", type=int, default=300)
    p.add_argument("--eval-every", type=int, default=500, help="dev evaluations (pick best/)")
    p.add_argument("--eval-clips", type=int, default=16)
    p.add_argument(
        "--plc",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra train config overrides for the RL loss + PLC runs",
    )
    p.add_argument("--bt-size", default="tiny", help="BT preset: tiny, small, base")
    p.add_argument("--bt-steps", type=int, default=3000)
    p.add_argument("--bt-batch-size", type=int, default=16)
    p.add_argument("--bt-lr", type=float, default=1e-3)
    p.add_argument("--bt-vocab-size", type=int, default=250, help="subword pieces (max)")
    p.add_argument("--bt-eval-every", type=int, default=500, help="keeps the best on dev")
    p.add_argument("--max-clips", type=int, help="evaluate at most N test clips per model")
    p.add_argument("--eval-batch-size", type=int, default=32)
    p.add_argument("--beam", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="corpus build processes")
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (tiny models run fastest on 1)"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--only", nargs="+", help="run only these variants (slugs, e.g. mlsf)")
    p.add_argument("--reuse", action="store_true", help="keep BT/models already in RUNS")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument(
        "--render-only",
        action="store_true",
        help="only rewrite DOCS/results.md from DOCS/results.json (no training)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = argv
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="signllm: %(message)s", stream=sys.stderr)
    try:
        docs = Path(args.docs)
        if args.render_only:
            import json

            try:
                doc = json.loads((docs / "results.json").read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise UsageError(f"{docs / 'results.json'}: cannot read ({e})") from None
            write_text(docs / "results.md", results_markdown(doc))
            print(f"wrote {docs / 'results.md'}")
            return 0
        if args.steps < 1 or args.bt_steps < 1:
            raise UsageError("--steps and --bt-steps must be >= 1")
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
