"""Markdown and JSON for `signllm evaluate` results: the paper's table, with its ceiling and floor.

Why a table with three rows per language: a BT score of generated poses means something only
beside what the same BT model reads from the recorded poses (ceiling) and from a motionless mean
pose (floor). Rows are language x system; columns BLEU-1..4, chrF, ROUGE-L, WER (text, percent),
DTW-MJE all joints and hands (data units, lower is better), hand distance ratio and duration ratio
(1 is ideal) and character accuracy on fingerspelled clips (0-1). "-" = not applicable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import atomic_write

SYSTEMS = ("ground_truth", "generated", "floor")
SYSTEM_LABELS = {
    "ground_truth": "ground truth (BT ceiling)",
    "generated": "SignLLM generated",
    "floor": "mean-pose floor",
}
# (key, header, format)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("bleu1", "BLEU-1", "{:.2f}"),
    ("bleu2", "BLEU-2", "{:.2f}"),
    ("bleu3", "BLEU-3", "{:.2f}"),
    ("bleu4", "BLEU-4", "{:.2f}"),
    ("chrf", "chrF", "{:.2f}"),
    ("rouge_l", "ROUGE-L", "{:.2f}"),
    ("wer", "WER", "{:.1f}"),
    ("dtw_mje", "DTW-MJE", "{:.3f}"),
    ("dtw_mje_hands", "DTW-MJE hands", "{:.3f}"),
    ("hand_distance_ratio", "hand dist. ratio", "{:.2f}"),
    ("duration_ratio", "duration ratio", "{:.2f}"),
    ("char_acc", "char acc", "{:.3f}"),
)
SPECIAL_GROUPS = {
    "all": "all",
    "recorded": "recorded clips",
    "fingerspelled": "fingerspelled clips",
}


def group_label(name: str) -> str:
    """'all', 'recorded clips', or 'gsg (German Sign Language)'."""
    if name in SPECIAL_GROUPS:
        return SPECIAL_GROUPS[name]
    try:
        from ..languages import get_language

        return f"{name} ({get_language(name).name})"
    except Exception:  # an unknown code is still a fine label
        return name


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _row(first: list[str], metrics: dict[str, Any]) -> str:
    cells = first + [_cell(metrics.get(k), fmt) for k, _, fmt in COLUMNS]
    return "| " + " | ".join(cells) + " |"


def _header(first: list[str]) -> list[str]:
    heads = first + [h for _, h, _ in COLUMNS]
    return ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]


def results_table(result: dict[str, Any], groups: Iterable[str] | None = None) -> str:
    """Rows group (language) x system of one evaluation."""
    names = list(groups) if groups is not None else list(result["groups"])
    lines = _header(["language", "clips", "system"])
    for name in names:
        g = result["groups"].get(name)
        if g is None:
            continue
        for system in SYSTEMS:
            lines.append(
                _row([group_label(name), str(g["clips"]), SYSTEM_LABELS[system]], g[system])
            )
    return "\n".join(lines)


def comparison_table(runs: dict[str, dict[str, Any]], group: str = "all") -> str:
    """Several models, one BT and one split: the ceiling, each model's generated row, the floor.

    The ceiling and floor rows come from the first run (they do not depend on the model when
    every run evaluates the same clips with the same BT model).
    """
    if not runs:
        return ""
    first = next(iter(runs.values()))["groups"][group]
    lines = _header(["system", "clips"])
    lines.append(_row([SYSTEM_LABELS["ground_truth"], str(first["clips"])], first["ground_truth"]))
    for name, result in runs.items():
        g = result["groups"][group]
        lines.append(_row([f"{name}", str(g["clips"])], g["generated"]))
    lines.append(_row([SYSTEM_LABELS["floor"], str(first["clips"])], first["floor"]))
    return "\n".join(lines)


def markdown_report(result: dict[str, Any], title: str = "Evaluation") -> str:
    """A self-contained Markdown page: what was evaluated, how, the table, the timings."""
    model, bt, st = result["model"], result["bt"], result["settings"]
    train = model.get("train") or {}
    bt_train = bt.get("training") or {}
    lines = [
        f"## {title}",
        "",
        f"- data: `{result['data']}`, split **{result['split']}**, {result['clips']} clips "
        f"({result['clips_fingerspelled']} fingerspelled), languages "
        f"{', '.join(result['languages'])}; {len(result['skipped'])} skipped",
        f"- model: `{model['path']}` (mode {model['mode']}, size {train.get('size', '?')}, "
        f"step {model.get('step')}); generation capped at {st['max_frames']} frames, no "
        "ground-truth length",
        f"- BT model: `{bt['path']}`, target {bt['target']}, trained on "
        f"{bt_train.get('trained_on', '?')} ({bt_train.get('clips', '?')} clips, "
        f"{bt_train.get('steps', '?')} steps, preset {bt_train.get('preset', '?')}); "
        f"beam {st['beam']}",
        f"- floor: {st['floor']}",
        f"- BLEU: `{result['signatures']['bleu']}`; chrF: `{result['signatures']['chrf']}`",
        "",
        results_table(result),
        "",
        timing_line(result["timing"]),
    ]
    if bt.get("unseen_languages"):
        lines.insert(6, f"- warning: the BT model never saw {', '.join(bt['unseen_languages'])}")
    return "\n".join(lines) + "\n"


def timing_line(timing: dict[str, float]) -> str:
    parts = [f"{k.replace('_', ' ')} {v:.1f} s" for k, v in timing.items() if k != "total"]
    return f"Time: {timing.get('total', 0.0):.1f} s in all ({', '.join(parts)})."


def write_json(path: str | Path, obj: Any) -> Path:
    """Strict JSON (NaN -> null), atomically."""
    text = json.dumps(clean_json(obj), ensure_ascii=False, indent=1, allow_nan=False)
    return write_text(path, text + "\n")


def write_text(path: str | Path, text: str) -> Path:
    """Atomically (`atomic_write` gives the usual permissions)."""
    path = Path(path)
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def clean_json(obj: Any) -> Any:
    """NaN/inf -> None and numpy scalars -> Python, so the result is strict JSON."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


__all__ = [
    "COLUMNS",
    "SYSTEMS",
    "SYSTEM_LABELS",
    "clean_json",
    "comparison_table",
    "group_label",
    "markdown_report",
    "results_table",
    "timing_line",
    "write_json",
    "write_text",
]
