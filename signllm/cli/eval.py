"""`signllm evaluate`: pose, body and (optionally) reading metrics of a model on a held-out split.

    signllm evaluate --model runs/tiny/best --data data/demo      # no BT, no reader: pose + body
    signllm evaluate --model runs/tiny/best --bt runs/bt --reader runs/reader --data data/demo \\
        --split test --out results.json --markdown results.md
"""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_progress_flag, codes, given


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """`signllm evaluate` options; sets `func` to `cmd_evaluate`."""
    parser.add_argument("--model", required=True, help="checkpoint directory of `signllm train`")
    parser.add_argument("--bt", help="BT checkpoint of `signllm train-bt` (text metrics; optional)")
    parser.add_argument(
        "--reader",
        help="fingerspelling reader of `signllm train-reader` (character accuracy; optional)",
    )
    parser.add_argument("--data", required=True, help="pose store directory")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--languages", nargs="+", help="codes to evaluate (default: every one the model knows)"
    )
    parser.add_argument(
        "--clips",
        choices=("all", "recorded", "fingerspelled"),
        default="all",
        help="evaluate only the recorded or the fingerspelled clips of the split",
    )
    parser.add_argument("--max-clips", type=int, help="at most N clips, round-robin by language")
    parser.add_argument("--beam", type=int, default=1, help="BT beam size (1 = greedy)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--max-frames", type=int, help="generation cap (default: the model's max_clip_frames)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write the results table as Markdown here")
    parser.add_argument(
        "--no-per-clip",
        dest="per_clip",
        action="store_false",
        help="leave per-clip hypotheses out of the JSON",
    )
    add_progress_flag(parser)
    parser.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate, write the files, print the Markdown table."""
    from ..eval.report import markdown_report, write_json, write_text
    from ..eval.runner import evaluate

    result = evaluate(
        args.model,
        args.bt,
        args.data,
        languages=codes(args.languages),
        clip_kinds=args.clips,
        reader_ckpt=args.reader,
        **given(args, "split", "max_clips", "beam", "progress", "batch_size", "max_frames"),
        **given(args, "device", "per_clip"),
    )
    md = markdown_report(result)
    if args.out:
        write_json(args.out, result)
    if args.markdown:
        write_text(args.markdown, md)
    print(md)
    return 0


def register_evaluate(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="pose, body and reading metrics on a held-out split")
    add_evaluate_arguments(p)


__all__ = ["add_evaluate_arguments", "cmd_evaluate", "register_evaluate"]
