"""Train, save and load the prompt -> language-tagged gloss text model of Prompt2LangGloss mode.

The pose side of the mode is an ordinary checkpoint (`signllm train --mode prompt`); this is its
first stage. It learns from the store's training split: every clip's text wrapped in seeded
prompt templates, the target being the clip's gloss (or, where a corpus has none, its words),
tagged with its sign language. It is saved as a `signllm.checkpoint` of kind "text":
`model.safetensors`, `config.json` (model config, decode settings under "text", training facts
under "trained"), `prompt_tokenizer.json`, `target_vocab.json`, `MODEL_CARD.md`.

    signllm train-prompt --data data/demo --out runs/prompt_text --steps 600

Progress: a bar on a terminal; otherwise (or `progress=False`, `--no-progress`) plain log lines
with the step, loss and elapsed time (signllm/train/runtime.py), ~20 per run.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint as ck
from ..data.store import Store
from ..errors import DataError
from ..models.prompt2langgloss import (
    LangRecord,
    PromptToLangGloss,
    build_prompt_pairs,
    gloss_languages,
)
from .runtime import ProgressLog, bar_wanted, set_threads

log = logging.getLogger("signllm.train")

FILES = {"prompt": "prompt_tokenizer.json", "target": "target_vocab.json"}
TEXT_SETTINGS = ("tag_every_token", "mode", "max_len")
SMALL = {"d_model": 128, "n_heads": 4, "n_enc_layers": 2, "n_dec_layers": 2, "d_ff": 512}


def store_records(
    store: Store, split: str = "train", languages: list[str] | None = None
) -> list[LangRecord]:
    """(text, gloss, language) of every clip of `split` (and `languages`) that has a text."""
    out = []
    for row in store.rows(split=split):
        if languages and row.get("language") not in languages:
            continue
        if row.get("text") and row.get("language"):
            out.append(LangRecord(row["text"], row.get("gloss") or "", row["language"]))
    if not out:
        raise DataError(f"no clip of split {split!r} has a text and a language", store.path)
    return out


def train_prompt_text(
    data: str | Path,
    out: str | Path,
    *,
    split: str = "train",
    languages: list[str] | None = None,
    steps: int = 600,
    seed: int = 0,
    templates_per_record: int = 2,
    batch_size: int = 64,
    lr: float = 3e-3,
    threads: int | None = None,
    progress: bool = True,
    **config: Any,
) -> Path:
    """Fit the text model on the store's `split` and save it to `out` (replaced atomically).

    `threads` (None/0 = by model size, signllm/train/runtime.py) sets torch's CPU threads.
    """
    t0 = time.time()
    with Store(data) as store:
        records = store_records(store, split, languages)
    pairs = build_prompt_pairs(records, seed, n_templates_per_record=templates_per_record)
    torch.manual_seed(seed)
    model = PromptToLangGloss.from_pairs(
        pairs, gloss_languages=gloss_languages(records), **{**SMALL, **config}
    )
    n_threads = set_threads(threads)
    log.info(
        f"train-prompt: {len(pairs)} prompt pairs from {len(records)} clips, {steps} steps, "
        f"{n_threads} CPU thread(s)"
    )
    bar = plog = None
    if bar_wanted(progress):
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="train prompt", dynamic_ncols=True, file=sys.stderr)
    else:
        plog = ProgressLog(steps, "train-prompt")

    def report(step: int, loss: float) -> None:
        if bar is not None:
            bar.update(1)
            if step % 10 == 0 or step == steps:
                bar.set_postfix(loss=f"{loss:.3f}")
        elif plog is not None:
            plog.update(step, loss=loss)

    try:
        losses = model.fit(
            pairs, steps=steps, batch_size=batch_size, lr=lr, seed=seed, callback=report
        )
    finally:
        if bar is not None:
            bar.close()
    settings = model.settings()
    trained = {
        "data": str(data),
        "split": split,
        "languages": sorted({r.language for r in records}),
        "records": len(records),
        "pairs": len(pairs),
        "steps": steps,
        "seed": seed,
        "threads": n_threads,
        "final_loss": round(float(losses[-1]), 5),
        "seconds": round(time.time() - t0, 1),
    }
    return ck.save(
        out,
        model,
        kind="text",
        model_config=settings["model"],
        languages=settings["gloss_languages"],
        tokenizers={"prompt": model.prompt_tokenizer, "target": model.target_vocab},
        files=FILES,
        meta={"text": {k: settings[k] for k in TEXT_SETTINGS}, "trained": trained},
    )


def load_prompt_text(directory: str | Path, device: str = "cpu") -> PromptToLangGloss:
    """A saved text model, needing nothing but its folder."""
    return ck.load(directory, ("text",), device=device).model  # type: ignore[return-value]
