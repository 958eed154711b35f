"""Evaluate a default-model folder on the held-out test split and write its card.

    python scripts/default_model_card.py signllm/assets/models/default --data data/demo \\
        --languages gsg,ase,sgg [--reader runs/results/reader]

Writes DIR/eval_test.json (both modes, no per-clip rows), DIR/model_card.json (what `Translator`
reads) and DIR/MODEL_CARD.md, every figure read from the evaluation just run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from signllm.eval.report import write_json, write_text
from signllm.eval.runner import evaluate

SYSTEMS = (("ground_truth", "ground truth (ceiling)"), ("generated", "this model"),
           ("floor", "mean-pose floor"))  # fmt: skip


START = """
  Each group started from the shared pose model below (`--group-init`: alone, a group learns
  only from its own language's few clips), then trained on its own language."""


def _params(part: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(part / "model.safetensors"), "pt") as f:
        return sum(_prod(f.get_slice(k).get_shape()) for k in f.keys())


def _prod(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _f(v: Any, spec: str = "{:.3f}") -> str:
    return "-" if v is None else spec.format(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--data", required=True)
    ap.add_argument("--languages", default="gsg,ase,sgg", help="MLSF languages (evaluated)")
    ap.add_argument("--reader", help="a train-reader checkpoint: fingerspelling read back")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--command", default="bash scripts/train_default_model.sh")
    ap.add_argument("--shown-data", help="the data path the card names (default: --data)")
    ap.add_argument("--shown-reader", help="the reader path the card names (default: --reader)")
    args = ap.parse_args(argv)
    root: Path = args.model
    shown_root = str(root).removesuffix(".new")  # the script writes DEST.new, then swaps it in
    data_shown = args.shown_data or args.data
    reader_shown = args.shown_reader or args.reader
    langs = [c for c in args.languages.split(",") if c]
    evals: dict[str, Any] = {}
    for part in ("mlsf", "prompt"):
        ev = evaluate(root / part, None, args.data, split="test", progress=False,
                      device=args.device, per_clip=False, reader_ckpt=args.reader)  # fmt: skip
        evals[part] = ev
    write_json(root / "eval_test.json", evals)

    cfg = {p: json.loads((root / p / "config.json").read_text(encoding="utf-8"))
           for p in ("mlsf", "prompt")}  # fmt: skip
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    n = {p: _params(root / p) for p in ("mlsf", "prompt", "prompt_text")}
    prompt_langs = cfg["prompt"].get("languages") or []
    preset = {p: (cfg[p].get("train") or {}).get("size", "?") for p in ("mlsf", "prompt")}
    inputs = sorted(set((cfg["mlsf"].get("inputs") or {}).values()))
    shared_start = bool((cfg["mlsf"].get("train") or {}).get("group_init"))
    card = {
        "name": "signllm-default-demo",
        "languages": langs,
        "prompt_languages": prompt_langs,
        "modes": {
            "mlsf": f"one {preset['mlsf']} progressive transformer group per language ({', '.join(langs)}; "
            f"{n['mlsf'] / 1e6:.2f}M parameters in all), {'/'.join(inputs)} inputs, kinematic "
            "output head, counter-driven decoder"
            + (
                "; every group started from the shared Prompt2LangGloss pose model"
                if shared_start
                else ""
            ),
            "prompt": f"one shared {preset['prompt']} progressive transformer for {len(prompt_langs)} languages "
            f"({n['prompt'] / 1e6:.2f}M) + a prompt -> gloss text model "
            f"({n['prompt_text'] / 1e6:.2f}M, {', '.join(langs)})",
        },
        "fallback": "words a model cannot sign are fingerspelled from real letter recordings "
        "(20 languages, shipped in the package)",
        "data": f"signllm demo corpus ({data_shown}), train split",
        "commands": {
            "train": args.command,
            "evaluate": f"signllm evaluate --model {shown_root}/mlsf --data {data_shown} --split test"
            + (f" --reader {reader_shown}" if args.reader else ""),
        },
        "test_scores_file": "eval_test.json",
        "size_bytes": size,
        "licence": "weights derived from non-commercial data (PHOENIX-2014T, How2Sign: CC "
        "BY-NC(-SA)): research and non-commercial use only",
    }
    write_json(root / "model_card.json", card)

    rows = []
    for part, label in (("mlsf", "MLSF"), ("prompt", "Prompt2LangGloss")):
        g = evals[part]["groups"]
        for grp in ("all", "fingerspelled", "recorded"):
            if grp not in g:
                continue
            for sys_key, sys_label in SYSTEMS:
                if part == "prompt" and sys_key != "generated":
                    continue  # ceiling and floor rows are the same clips' as MLSF's only per group
                m = g[grp][sys_key]
                rows.append(
                    f"| {label} | {grp} ({g[grp]['clips']}) | {sys_label} | {_f(m['dtw_mje'])} | "
                    f"{_f(m['dtw_mje_hands'])} | {_f(m['char_acc'])} | {_f(m['bone_cv'], '{:.4f}')}"
                    f" | {_f(m['shoulder_dev'])} | {_f(m['duration_ratio'], '{:.2f}')} |"
                )
    by = evals["mlsf"]["settings"].get("char_acc_by")
    md = f"""# Model card: the default SignLLM model (demo)

**What it is.** The model `signllm translate` and `signllm serve` use when no `--model` is given,
{size / 2**20:.1f} MB in all:
- `mlsf/`: MLSF mode, one progressive-transformer group per sign language ({", ".join(langs)};
  {n["mlsf"] / 1e6:.2f}M parameters), inputs are characters and frequent words (any word of any
  script can be spelled: no `<unk>`).{START if shared_start else ""}
- `prompt/`: Prompt2LangGloss mode, one shared progressive transformer for {len(prompt_langs)}
  sign languages ({n["prompt"] / 1e6:.2f}M), and `prompt_text/`, its prompt -> gloss text model.
Every frame is a body by construction: a kinematic output head puts fixed bone lengths (fitted
on the training data) along predicted directions, with a rigid shoulder line. The decoder reads
the text and its progress through the clip (not its own previous pose), and plans the length
itself: no ground-truth length or counter is used.

**Data.** The training split of the demo corpus (`signllm data demo-corpus`): a few PHOENIX-2014T
weather sentences (DGS), How2Sign sentences (ASL, lifted to 3D), SignSuisse signs (DSGS) and
fingerspelled words composed from real letter recordings of 20 sign languages, all in one
signing space (neck at the origin, shoulder width 1, the signer's right hand on the viewer's
left). Minutes of signing: **a working demonstration of the pipeline, not a sign language
translator.**

**Measured** on the held-out test split (words never seen in training), no back-translation
model; character accuracy = 1 - CER of {"the fingerspelling reader (trained on ground truth only)" if by == "reader" else "no reader (none given)"}:

| mode | clips | system | DTW-MJE | DTW-MJE hands | char acc | bone CV | shoulder dev | duration |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

**What it cannot do:** grammar beyond its few sentences, facial expressions (no face joints),
and recorded signs of languages outside its training data (fingerspelling and a user's own
sign lexicon, `--lexicon DIR`, cover those).

**Reproduce:** `{args.command}`, then `{card["commands"]["evaluate"]}`.

**Licence.** The weights are derived from PHOENIX-2014T and How2Sign (non-commercial research
licences, CC BY-NC / CC BY-NC-SA): research and non-commercial use only, unlike the code
(Apache-2.0). The fingerspelling letters come from spoken-to-signed (MIT).
"""
    write_text(root / "MODEL_CARD.md", md)
    print(f"wrote {root}/eval_test.json, model_card.json, MODEL_CARD.md ({size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
