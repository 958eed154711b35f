"""Markdown and JSON for `signllm evaluate` results: the paper's table, with its ceiling and floor.

Why a table with three rows per language: a score of generated poses means something only beside
what the same instrument gets from the recorded poses (ceiling) and from a motionless mean pose
(floor). Rows are language x system; columns BLEU-1..4, chrF, ROUGE-L, WER (text, percent; only
when a BT model ran), DTW-MJE all joints and hands (data units, lower is better), hand distance
ratio and duration ratio (1 is ideal), body metrics (bone CV, limb mismatch, shoulder deviation:
0 is a rigid body) and character accuracy on fingerspelled clips (0-1, read by the instrument
`settings.char_acc_by` names). "-" = not applicable or not measured.
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
    "ground_truth": "ground truth (ceiling)",
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
    ("bone_cv", "bone CV", "{:.3f}"),
    ("limb_mismatch", "limb mismatch", "{:.3f}"),
    ("shoulder_dev", "shoulder dev", "{:.3f}"),
    ("char_acc", "char acc", "{:.3f}"),
    ("bt_char_acc", "BT char acc", "{:.3f}"),
)
TEXT_COLUMNS = frozenset(("bleu1", "bleu2", "bleu3", "bleu4", "chrf", "rouge_l", "wer"))
INSTRUMENTS = {
    "reader": "the fingerspelling reader",
    "bt": "the back-translation model",
    None: "nothing (no reader, no BT model)",
}
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


Column = tuple[str, str, str]


def columns(results: Iterable[dict[str, Any]]) -> list[Column]:
    """The columns these results measured: text only when a BT model ran, the BT's character
    accuracy only when a reader gave `char acc` (otherwise the two are the same number)."""
    rs = list(results)
    bt = any(r.get("bt") for r in rs)
    both = any(r.get("bt") and (r.get("settings") or {}).get("char_acc_by") == "reader" for r in rs)
    return [
        c for c in COLUMNS if (bt or c[0] not in TEXT_COLUMNS) and (both or c[0] != "bt_char_acc")
    ]


def _row(first: list[str], metrics: dict[str, Any], cols: Iterable[Column] = COLUMNS) -> str:
    cells = first + [_cell(metrics.get(k), fmt) for k, _, fmt in cols]
    return "| " + " | ".join(cells) + " |"


def _header(first: list[str], cols: Iterable[Column] = COLUMNS) -> list[str]:
    heads = first + [h for _, h, _ in cols]
    return ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]


def results_table(result: dict[str, Any], groups: Iterable[str] | None = None) -> str:
    """Rows group (language) x system of one evaluation."""
    names = list(groups) if groups is not None else list(result["groups"])
    cols = columns([result])
    lines = _header(["language", "clips", "system"], cols)
    for name in names:
        g = result["groups"].get(name)
        if g is None:
            continue
        for system in SYSTEMS:
            first = [group_label(name), str(g["clips"]), SYSTEM_LABELS[system]]
            lines.append(_row(first, g[system], cols))
    return "\n".join(lines)


def comparison_table(runs: dict[str, dict[str, Any]], group: str = "all") -> str:
    """Several models, one split, the same instruments: the ceiling, each generated row, the floor.

    The ceiling and floor rows come from the first run (they do not depend on the model when
    every run evaluates the same clips with the same BT model and reader).
    """
    if not runs:
        return ""
    cols = columns(runs.values())
    first = next(iter(runs.values()))["groups"][group]
    lines = _header(["system", "clips"], cols)
    lines.append(
        _row([SYSTEM_LABELS["ground_truth"], str(first["clips"])], first["ground_truth"], cols)
    )
    for name, result in runs.items():
        g = result["groups"][group]
        lines.append(_row([f"{name}", str(g["clips"])], g["generated"], cols))
    lines.append(_row([SYSTEM_LABELS["floor"], str(first["clips"])], first["floor"], cols))
    return "\n".join(lines)


def per_language_table(
    runs: dict[str, dict[str, Any]], metric: str = "char_acc", fmt: str = "{:.3f}"
) -> str:
    """One row per language: ground truth (ceiling), each run's generated value, floor.

    Ceiling and floor come from the first run (as in `comparison_table`); languages where none of
    them has a value are left out; the last row is the mean over the languages shown (each
    language counts once). For `char_acc`, "clips" counts the fingerspelled clips read.
    """
    if not runs:
        return ""
    first = next(iter(runs.values()))
    names = [n for n in first["groups"] if n not in SPECIAL_GROUPS]
    for r in runs.values():
        names += [n for n in r["groups"] if n not in SPECIAL_GROUPS and n not in names]
    count = "fingerspelled_read" if metric in ("char_acc", "bt_char_acc") else "clips"
    heads = ["language", "clips", SYSTEM_LABELS["ground_truth"], *runs, SYSTEM_LABELS["floor"]]
    lines = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    table: list[list[float | None]] = []
    for name in names:
        g0 = first["groups"].get(name) or {}
        values = [(g0.get("ground_truth") or {}).get(metric)]
        values += [
            ((r["groups"].get(name) or {}).get("generated") or {}).get(metric)
            for r in runs.values()
        ]
        values.append((g0.get("floor") or {}).get(metric))
        if all(v is None for v in values):
            continue
        table.append(values)
        n = g0.get(count, g0.get("clips", "-"))
        lines.append(
            "| " + " | ".join([group_label(name), str(n), *(_cell(v, fmt) for v in values)]) + " |"
        )
    if table:
        means = []
        for col in zip(*table, strict=True):
            vals = [v for v in col if v is not None]
            means.append(sum(vals) / len(vals) if vals else None)
        cells = [f"mean ({len(table)} languages)", "-", *(_cell(v, fmt) for v in means)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(result: dict[str, Any], title: str = "Evaluation") -> str:
    """A self-contained Markdown page: what was evaluated, how, the table, the timings."""
    model, bt, st = result["model"], result.get("bt"), result["settings"]
    reader = result.get("reader")
    train = model.get("train") or {}
    lines = [
        f"## {title}",
        "",
        f"- data: `{result['data']}`, split **{result['split']}**, {result['clips']} clips "
        f"({result['clips_fingerspelled']} fingerspelled), languages "
        f"{', '.join(result['languages'])}; {len(result['skipped'])} skipped",
        f"- model: `{model['path']}` (mode {model['mode']}, size {train.get('size', '?')}, "
        f"step {model.get('step')}); generation capped at {st['max_frames']} frames, no "
        "ground-truth length",
    ]
    if bt:
        bt_train = bt.get("training") or {}
        lines.append(
            f"- BT model: `{bt['path']}`, target {bt['target']}, trained on "
            f"{bt_train.get('trained_on', '?')} ({bt_train.get('clips', '?')} clips, "
            f"{bt_train.get('steps', '?')} steps, preset {bt_train.get('preset', '?')}); "
            f"beam {st['beam']}"
        )
        if bt.get("unseen_languages"):
            lines.append(f"- warning: the BT model never saw {', '.join(bt['unseen_languages'])}")
    else:
        lines.append("- BT model: none, so no text metrics (train one with `signllm train-bt`)")
    if reader:
        rt = reader.get("training") or {}
        sel = rt.get("selected") or {}
        best = sel.get("dev_char_acc")
        lines.append(
            f"- fingerspelling reader: `{reader['path']}`, trained on ground truth of "
            f"`{rt.get('trained_on', '?')}` ({rt.get('clips', '?')} clips, {rt.get('steps', '?')} "
            f"steps, kept by {sel.get('by', '?')}"
            + (f", dev char acc {best:.3f}" if isinstance(best, float) else "")
            + ")"
        )
        if reader.get("unseen_languages"):
            lines.append(
                f"- warning: the reader never saw {', '.join(reader['unseen_languages'])} "
                "(their fingerspelled clips are not read)"
            )
    lines.append(
        f"- character accuracy (char acc) read by {INSTRUMENTS[st.get('char_acc_by')]}"
        + (f": {st['char_acc']}" if st.get("char_acc") else "")
    )
    lines.append(f"- floor: {st['floor']}")
    lines.append(
        "- body: bone CV = median over bones of each bone's length CV over a clip; limb "
        "mismatch = left vs right; shoulder dev = largest deviation of the shoulder width"
    )
    if result.get("signatures"):
        sig = result["signatures"]
        lines.append(f"- BLEU: `{sig['bleu']}`; chrF: `{sig['chrf']}`")
    lines += ["", results_table(result), "", timing_line(result["timing"])]
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
    "columns",
    "comparison_table",
    "group_label",
    "markdown_report",
    "per_language_table",
    "results_table",
    "timing_line",
    "write_json",
    "write_text",
]
