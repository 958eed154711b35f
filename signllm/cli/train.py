"""`signllm train`, `signllm train-prompt`, `signllm train-bt` and `signllm train-reader`.

`train` has one flag per `TrainConfig` field (generated from the dataclass, so a new field is a
new flag), plus `--config FILE` and `--set key=value`. torchrun starts the same command:

    torchrun --standalone --nproc_per_node 2 -m signllm train --data store/ --out runs/ddp
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from ..train.config import TrainConfig, apply_overrides, field_types, set_field
from .common import add_progress_flag, codes, given

_HELP = {
    "data": "pose store directory (signllm/data/store.py)",
    "out": "run directory: last/ and best/ checkpoints, metrics.jsonl, result.json",
    "mode": "mlsf (a model group per language) or prompt (one shared model)",
    "languages": "comma-separated codes (gsg,ase) or 'all' with train clips",
    "size": "model size preset: tiny, pt-base, 40m, 120m, 1b",
    "steps": "optimizer steps",
    "resume": "continue OUT/last exactly; options not given keep the run's values (--steps ...)",
    "init_from": "start from a checkpoint; MLSF: new --languages are added as new groups",
    "tokenizer": "input tokens: auto (gloss if present, else text), gloss, text, subword",
    "threads": "torch CPU threads (0 = OMP_NUM_THREADS, else one per idle core, at most 4)",
    "shared_steps": "MLSF: first train the shared all-language model this many steps "
    "(OUT/shared), then start every group from it",
    "group_init": "MLSF: start every group from this mode-prompt checkpoint's pose model",
    "recorded_share": "share of the draws for recorded clips against composed fingerspelled "
    "words: recordings are repeated in each epoch up to it (0 = uniform draws)",
    "dev_holdout": "share of train clips held out as dev when the store has no dev split",
    "dev_holdout_max": "at most this many held-out dev clips (0 = never hold out)",
    "warmup_steps": "linear warm-up steps, capped at warmup_fraction of --steps",
    "warmup_fraction": "warm-up is at most this share of --steps (1 = no cap)",
    "eval_every": "steps between dev evaluations (0 = at the end; default: 200, or a tenth of "
    "a shorter run)",
    "progress": "progress bar on a terminal (else, or with --no-progress: log lines)",
}

THREADS_HELP = "torch CPU threads (default: OMP_NUM_THREADS, else one per idle core, at most 4)"


def _log_to_stderr() -> None:
    """Progress and notices go to stderr as `signllm: ...` lines (the result JSON to stdout)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="signllm: %(message)s", stream=sys.stderr)


# --- signllm train ----------------------------------------------------------------------------
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """`signllm train` options: one flag per config field, plus --config FILE and --set k=v.

    Also sets `func` to `cmd_train`. Kept torch-free so that `signllm --help` stays fast.
    """
    parser.add_argument("--config", metavar="FILE", help="JSON config file (fields as below)")
    parser.add_argument(
        "--set",
        dest="set_items",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, repeatable; dotted keys for nested ones (plc.eta=1)",
    )
    defaults = TrainConfig()
    for name, hint in field_types().items():
        flags = ["--" + name.replace("_", "-")]
        if "_" in name:
            flags.append("--" + name)
        default = _get(defaults, name)
        help_ = _HELP.get(name, "train config field")
        help_ = f"{help_} (default: {default})" if default not in ("", None) else help_
        if hint is bool:
            parser.add_argument(
                *flags,
                dest=f"cfg:{name}",
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_,
            )
        else:
            parser.add_argument(
                *flags,
                dest=f"cfg:{name}",
                default=argparse.SUPPRESS,
                metavar=name.rpartition(".")[2].upper(),
                help=help_,
            )
    parser.set_defaults(func=cmd_train)


def _get(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """defaults < the resumed run's config (--resume) < --config FILE < flags < --set; validated.

    With --resume and an OUT/last checkpoint, every option not given again keeps the value the
    run was started with (its --steps, --languages, --size ...), so the first command plus
    --resume, or just --data, --out and --resume, continues the same run.
    """
    path = getattr(args, "config", None)
    file_dict = _read_config(path) if path else {}
    items, flags = [], {}
    for key, value in vars(args).items():
        if key.startswith("cfg:"):
            name = key[4:]
            if isinstance(value, bool):
                flags[name] = value
            else:
                items.append(f"{name}={value}")
    items += list(getattr(args, "set_items", []) or [])

    def build(base: dict[str, Any], where: str) -> TrainConfig:
        cfg = TrainConfig.from_dict(_merge(base, file_dict), where=where)
        for name, value in flags.items():
            set_field(cfg, name, value)
        return apply_overrides(cfg, items)

    cfg = build({}, str(path or "train config"))
    saved = _resumed_config(cfg) if cfg.resume else None
    if saved is not None:
        where, base = saved
        # how the run started is done with once OUT/last exists
        base = {k: v for k, v in base.items() if k not in ("resume", "init_from", "group_init")}
        cfg = build(base, where)
    return cfg.validate()


def _read_config(path: str) -> dict[str, Any]:
    TrainConfig.from_json(path)  # the checks, with file and line in the message
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`top` over `base`, nested objects (model, plc) merged field by field."""
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _resumed_config(cfg: TrainConfig) -> tuple[str, dict[str, Any]] | None:
    """(file, train config dict) of OUT/last when there is one to resume, else None."""
    from ..checkpoint import CONFIG, resolve

    if not cfg.out:
        return None
    last = resolve(Path(cfg.out) / "last") / CONFIG
    if not last.is_file():
        return None
    try:
        saved = json.loads(last.read_text(encoding="utf-8")).get("train")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None  # the trainer reports a broken checkpoint with its own message
    return (str(last), saved) if isinstance(saved, dict) else None


def cmd_train(args: argparse.Namespace) -> int:
    """Build the config from the arguments, train (DDP under torchrun), print the result."""
    from ..train.trainer import train

    cfg = config_from_args(args)
    _log_to_stderr()
    result = train(cfg)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 prints
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    return 0


def register_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train a SignLLM model (MLSF or Prompt2LangGloss)")
    add_train_arguments(p)


# --- signllm train-prompt ---------------------------------------------------------------------
def cmd_train_prompt(args: argparse.Namespace) -> int:
    from ..train.prompt_text import train_prompt_text

    _log_to_stderr()
    langs = args.languages.split(",") if args.languages else None
    out = train_prompt_text(args.data, args.out, split=args.split, languages=langs,
                            steps=args.steps, seed=args.seed, threads=args.threads,
                            progress=args.progress)  # fmt: skip
    print(f"wrote {out}")
    return 0


def register_train_prompt(sub: Any) -> None:
    p = sub.add_parser("train-prompt", help="train the prompt -> gloss text model")
    p.add_argument("--data", required=True, help="dataset store (signllm data build)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--split", default="train")
    p.add_argument("--languages", help="comma-separated codes (default: every language)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help=THREADS_HELP)
    add_progress_flag(p, "log lines, never a bar")
    p.set_defaults(func=cmd_train_prompt)


# --- signllm train-bt -------------------------------------------------------------------------
def add_train_bt_arguments(parser: argparse.ArgumentParser) -> None:
    """`signllm train-bt` options; sets `func` to `cmd_train_bt`."""
    from ..eval.bt_checkpoint import BT_SIZES, TARGETS, TOKENIZER_KINDS

    parser.add_argument("--data", required=True, help="pose store directory")
    parser.add_argument("--out", required=True, help="BT checkpoint directory to write")
    parser.add_argument("--split", default="train", help="ground-truth split to train on")
    parser.add_argument(
        "--dev-split", default="dev", help="ground-truth split for model selection ('' = none)"
    )
    parser.add_argument("--languages", help="comma-separated codes (default: all in the split)")
    parser.add_argument("--target", choices=TARGETS, default="text", help="what to read back")
    parser.add_argument(
        "--size",
        choices=["auto", *BT_SIZES],
        default="auto",
        help="BT preset (auto: tiny < 2,000 clips, small < 20,000, else base)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=0,
        help="optimizer steps (0 = auto: ~30 passes over the clips, 200..3,000)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tokenizer", choices=TOKENIZER_KINDS, default="subword")
    parser.add_argument("--vocab-size", type=int, default=1000, help="subword vocabulary (max)")
    parser.add_argument(
        "--downsample", type=int, default=0, help="stride-2 convs before the encoder (long clips)"
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=0,
        help="dev evaluation interval; keeps the best (0 = end)",
    )
    parser.add_argument(
        "--device", default=None, help="auto, cpu, cuda, mps (default: auto, the best available)"
    )
    parser.add_argument("--threads", type=int, default=0, help=THREADS_HELP)
    add_progress_flag(parser, "log lines, never a bar")
    parser.set_defaults(func=cmd_train_bt)


def cmd_train_bt(args: argparse.Namespace) -> int:
    """Train and save; print the checkpoint's training record as JSON."""
    from ..eval.bt_checkpoint import train_bt_main

    _log_to_stderr()
    cfg = train_bt_main(
        args.data,
        args.out,
        dev_split=args.dev_split or None,
        languages=codes(args.languages),
        preset=args.size,
        device=None if args.device in (None, "auto") else args.device,
        **given(args, "split", "target", "steps", "seed", "tokenizer", "vocab_size", "batch_size"),
        **given(args, "lr", "downsample", "eval_every", "progress", "threads"),
    )
    print(json.dumps({"out": str(args.out), **cfg["training"]}, ensure_ascii=False))
    return 0


def register_train_bt(sub: Any) -> None:
    p = sub.add_parser("train-bt", help="train the back-translation model on ground-truth poses")
    add_train_bt_arguments(p)


# --- signllm train-reader ---------------------------------------------------------------------
def add_train_reader_arguments(parser: argparse.ArgumentParser) -> None:
    """`signllm train-reader` options; sets `func` to `cmd_train_reader`."""
    parser.add_argument("--data", required=True, help="pose store with fingerspelled clips")
    parser.add_argument("--out", required=True, help="reader checkpoint directory to write")
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps (default: 2000)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--languages", help="comma-separated codes (default: every language)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default: 1, a shared machine)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    parser.add_argument(
        "--max-seconds", type=float, help="stop at the first evaluation after this many seconds"
    )
    parser.add_argument(
        "--read-share", type=float,
        help="read a joint in a language when its ground truth shows it in at least this share "
        "of frames (default: the reader's READ_SHARE, a quarter; a hand tracked more rarely is a "
        "resting hand, not a letter)",
    )  # fmt: skip
    add_progress_flag(parser)
    parser.set_defaults(func=cmd_train_reader)


def cmd_train_reader(args: argparse.Namespace) -> int:
    """Train on the train split's fingerspelled ground truth, keep the best on dev; print the
    training record as JSON (without its per-evaluation history)."""
    from ..eval.recognizer import train_reader
    from ..train.distributed import pick_device

    summary = train_reader(
        args.data,
        args.out,
        languages=codes(args.languages),
        device=str(pick_device(args.device)),
        **given(args, "steps", "batch_size", "seed", "threads", "progress", "max_seconds"),
        **({"read_share": args.read_share} if args.read_share is not None else {}),
    )
    keep = {k: v for k, v in summary.items() if k not in ("reader", "history")}
    print(json.dumps({"out": str(args.out), **keep}, ensure_ascii=False))
    return 0


def register_train_reader(sub: Any) -> None:
    p = sub.add_parser("train-reader", help="train the fingerspelling reader on ground-truth poses")
    add_train_reader_arguments(p)


__all__ = [
    "add_train_arguments",
    "add_train_bt_arguments",
    "add_train_reader_arguments",
    "cmd_train",
    "cmd_train_bt",
    "cmd_train_prompt",
    "cmd_train_reader",
    "config_from_args",
    "register_train",
    "register_train_bt",
    "register_train_prompt",
    "register_train_reader",
]
