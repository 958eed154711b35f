"""Decoding speed of the Progressive Transformer (honest generation); prints ONE JSON line.

PT-base size by default (2+2 layers, d_model 512, 4 heads, d_ff 2048, 150 pose values + counter),
random weights, 12 input tokens, `--frames` frames per sequence. Every sequence produces exactly
that many frames: `generate(stop=False)` switches off the length plan and the counter threshold
(an untrained model would otherwise stop at its initial plan of ~100 frames), and every run's
frame count is checked (`bench/common.py`), so frames/s = frames produced / wall time.

Contenders, run round-robin in one process with the same threads and repeats (medians reported,
with the 1-minute load at every run):
- `fused`: `generate()` as shipped (KV cache + `FusedDecoderStep`), linear pose head;
- `fused_kinematic`: the same with the kinematic pose head (forward kinematics every step);
- `reference`: `generate(fused=False)`, the layers run module by module with the KV cache (the
  decoder before the fused step);
- `baseline_pt_style`: a naive Progressive-Transformers-style greedy decoder of the same size
  (bench/train.py's `NaivePT`: hand-written attention, masks rebuilt and the whole decoder re-run
  over every frame each step, as PT's inference does);
- `matmul_floor`: only the products of a fused step on the same weights, nothing else: at batch
  1 a float32 step streams every weight once (~30 MB at PT-base, more than L2), so this is the
  ceiling for any float32 decoder on the machine;
- at batch `--batch` (default 32): `fused` and `reference` (and the baseline with `--full`).
Step times (batch 1) at frames 10 and 190: median over the repeats of the median of the 5 steps
around each, stamped at each call of the decoder's input layer (the step's first op).
`--profile`: where a batch-1 step's time goes (torch.profiler, self CPU time per op class).
`--translate`: warm latency of `signllm.Translator().translate("regen", "gsg")` (shipped model).

    taskset -c 1 .venv/bin/python bench/decode.py --threads 1
    .venv/bin/python bench/decode.py --threads 2 --profile --translate
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Contender, interleave, load_avg, machine  # noqa: E402

from signllm.models.progressive import ProgressiveTransformer, preset_config  # noqa: E402

# op classes of the profile (self CPU time of the aten ops; the rest of a step is Python)
OP_CLASSES = {
    "matmul": ("addmm", "mm", "bmm", "baddbmm", "matmul", "linear", "mv"),
    "attention": ("scaled_dot_product", "_softmax", "softmax"),
    "norm_activation": ("layer_norm", "gelu", "sigmoid", "normalize", "norm", "div", "clamp"),
    "copy_alloc": ("copy_", "empty", "cat", "stack", "zeros", "index", "where", "masked_fill"),
    "views": (
        "view",
        "transpose",
        "select",
        "slice",
        "as_strided",
        "unsqueeze",
        "squeeze",
        "expand",
        "reshape",
        "aten::t",
        "unbind",
        "unflatten",
        "flatten",
        "detach",
        "alias",
        "resolve",
    ),
}


def _naive_pt() -> type:
    spec = importlib.util.spec_from_file_location(
        "bench_train", Path(__file__).with_name("train.py")
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.NaivePT


def tokens(b: int, s: int = 12, vocab: int = 404) -> torch.Tensor:
    return torch.randint(4, vocab, (b, s), generator=torch.Generator().manual_seed(b))


class StepClock:
    """Stamps each call of a module (one per decoding step): step i = stamp i+1 - stamp i."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.stamps: list[float] = []
        self.runs: list[list[float]] = []
        self.active = False  # only the runs that own the clock stamp it
        module.register_forward_pre_hook(lambda m, i: self._stamp())

    def _stamp(self) -> None:
        if self.active:
            self.stamps.append(time.perf_counter())

    def open_run(self) -> None:
        self.stamps, self.active = [], True

    def close_run(self) -> None:
        self.active = False
        self.runs.append(np.diff(self.stamps).tolist())

    def at(self, i: int) -> float | None:
        """Median over runs of the median step time (ms) of the 5 steps around step i."""
        vals = [np.median(r[max(0, i - 2) : i + 3]) for r in self.runs if len(r) > i]
        return round(1000 * float(np.median(vals)), 3) if vals else None


def project(model: ProgressiveTransformer, b: int, n: int, clock: StepClock | None, **kw):
    tok = tokens(b)

    def run() -> int:
        if clock is not None:
            clock.open_run()
        out = model.generate(tok, tok != 0, max_frames=n, stop=False, **kw)
        if clock is not None:
            clock.close_run()
        assert out["pose"].shape[:2] == (b, n)
        return int(out["mask"].sum())  # frames actually produced

    return run


def baseline(naive: torch.nn.Module, b: int, n: int, clock: StepClock | None):
    tok = tokens(b)

    def run() -> int:
        if clock is not None:
            clock.open_run()
        ys = naive.greedy(tok, n)  # (b, n, pose + counter)
        if clock is not None:
            clock.close_run()
        return int(ys.shape[0] * ys.shape[1])

    return run


def matmul_floor(model: ProgressiveTransformer, n: int):
    """Only the products of a fused batch-1 step, n times, on the model's own weights: the
    frames/s that streaming those weights alone allows (a float32 step cannot beat it)."""
    from signllm.models.core import FusedDecoderStep

    tok = tokens(1)
    with torch.no_grad():
        memory, mask = model.encode(tok, tok != 0)
        st = FusedDecoderStep(model.dec_layers, model.memory_kv(memory), mask, n)
    mats = [(model.frame_in.weight.t(), model.frame_in.bias)]
    mats += [(model.pose_head.weight.t(), model.pose_head.bias)]
    folded = []
    for p in st.layers:
        mats += [p["qkv"], p["sproj"], p["fc"], p["mproj"]]
        if st.fold:
            folded.append((p["mq"], p["pv"]))
        else:
            mats += [p["q"], p["cproj"]]
    xs = {w.shape[0]: torch.randn(1, w.shape[0]) for w, _ in mats}
    col = torch.randn(1, st.d, 1)
    att = torch.randn(1, st.h_s, 1)

    def run() -> int:
        with torch.no_grad():
            for _ in range(n):
                for w, b in mats:
                    torch.addmm(b, xs[w.shape[0]], w)
                for mq, pv in folded:
                    torch.bmm(mq, col)
                    torch.bmm(pv, att)
        return n

    return run


def profile_step(fn: Callable[[], int], n: int) -> dict[str, float]:
    """Per-step ms by op class (self CPU time of aten ops) and the Python/dispatch rest (the
    process's CPU time under the profiler minus the ops'; the profiler adds to both)."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    with profile(activities=[ProfilerActivity.CPU]):  # the profiler's own start-up, untimed
        torch.ones(1).add_(1)
    t0 = time.process_time()  # CPU time: waiting for a core on a loaded machine is not a cost
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    wall = time.process_time() - t0
    classes = dict.fromkeys([*OP_CLASSES, "other_ops"], 0.0)
    ops = 0
    for ev in prof.key_averages():
        if not ev.key.startswith("aten::"):
            continue
        ops += ev.count
        name = ev.key
        cls = next(
            (c for c, keys in OP_CLASSES.items() if any(k in name for k in keys)), "other_ops"
        )
        classes[cls] += ev.self_cpu_time_total / 1e3  # ms
    out = {k: round(v / n, 3) for k, v in classes.items()}
    out["python_and_dispatch"] = round(1e3 * wall / n - sum(classes.values()) / n, 3)
    out["step_cpu_ms_under_profiler"] = round(1e3 * wall / n, 3)
    out["aten_ops_per_step"] = round(ops / n, 1)
    return out


def translate_latency(repeats: int) -> dict[str, float]:
    import signllm

    tr = signllm.Translator()
    tr.translate("regen", "gsg")  # warm-up
    times, frames = [], 0
    for _ in range(max(repeats, 3)):
        t0 = time.perf_counter()
        out = tr.translate("regen", "gsg")
        times.append(time.perf_counter() - t0)
        frames = out.pose.num_frames if hasattr(out.pose, "num_frames") else len(out.pose.data)
    return {"median_ms": round(1e3 * float(np.median(times)), 1), "frames": frames}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch threads, for every contender")
    ap.add_argument("--repeats", type=int, default=5, help="rounds of every contender")
    ap.add_argument("--batch", type=int, default=32, help="the large batch (0: skip)")
    ap.add_argument("--size", default="pt-base", help="model preset (tests use tiny)")
    ap.add_argument("--full", action="store_true", help="also the baseline at the large batch")
    ap.add_argument("--profile", action="store_true", help="per-step time by op class")
    ap.add_argument("--translate", action="store_true", help="Translator latency (shipped model)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    n, big = args.frames, args.batch
    cfg = dict(vocab_size=404, pose_dim=150)
    torch.manual_seed(0)
    model = ProgressiveTransformer(preset_config(args.size, **cfg)).eval()
    torch.manual_seed(0)
    kin = ProgressiveTransformer(preset_config(args.size, output_head="kinematic", **cfg)).eval()
    torch.nn.init.normal_(kin.pose_head.proj.weight, std=0.02)  # a non-trivial FK input
    dims = preset_config(args.size)
    torch.manual_seed(0)
    naive = _naive_pt()(404, 151, d=dims.d_model, h=dims.n_heads, ff=dims.d_ff).eval()
    naive.dec = naive.dec[: dims.n_dec_layers]
    naive.enc = naive.enc[: dims.n_enc_layers]

    clocks = {k: StepClock(m) for k, m in (("p", model.frame_in), ("k", kin.frame_in))}
    clocks["n"] = StepClock(naive.trg)
    b1 = [
        Contender("fused", project(model, 1, n, clocks["p"]), n),
        Contender("fused_kinematic", project(kin, 1, n, clocks["k"]), n),
        Contender("reference", project(model, 1, n, None, fused=False), n),
        Contender("baseline_pt_style", baseline(naive, 1, n, clocks["n"]), n),
        Contender("matmul_floor", matmul_floor(model, n), n),
    ]
    load_start = load_avg()
    measured: dict = {"batch_1": interleave(b1, args.repeats)}
    steps: dict = {}
    for label, c in (("fused", clocks["p"]), ("fused_kinematic", clocks["k"])):
        c.runs = c.runs[1:]  # drop the warm-up run
        steps[label] = {"frame_10": c.at(9), "frame_190": c.at(min(189, n - 3))}
    clocks["n"].runs = clocks["n"].runs[1:]
    steps["baseline_pt_style"] = {
        "frame_10": clocks["n"].at(9),
        "frame_190": clocks["n"].at(min(189, n - 3)),
    }
    measured["step_ms_batch_1"] = steps
    f = {k: v["frames_per_s_median"] for k, v in measured["batch_1"].items()}
    measured["ratios_batch_1"] = {
        "fused_vs_reference": round(f["fused"] / f["reference"], 2),
        "fused_vs_baseline_pt_style": round(f["fused"] / f["baseline_pt_style"], 2),
        "reference_vs_baseline_pt_style": round(f["reference"] / f["baseline_pt_style"], 2),
        "fused_vs_matmul_floor": round(f["fused"] / f["matmul_floor"], 2),
    }
    if big:
        large = [
            Contender("fused", project(model, big, n, None), big * n),
            Contender("reference", project(model, big, n, None, fused=False), big * n),
        ]
        if args.full:
            large.append(Contender("baseline_pt_style", baseline(naive, big, n, None), big * n))
        measured[f"batch_{big}"] = interleave(large, max(1, args.repeats // 2 + 1))
    if args.profile:
        measured["profile_step_ms_batch_1"] = {
            "fused": profile_step(project(model, 1, n, None), n),
            "reference": profile_step(project(model, 1, n, None, fused=False), n),
            "fused_kinematic": profile_step(project(kin, 1, n, None), n),
        }
    if args.translate:
        measured["translate_regen_gsg"] = translate_latency(args.repeats)
    measured["load_avg_1m"] = {"start": load_start, "end": load_avg()}
    settings = {
        "size": args.size,
        "frames_per_sequence": n,
        "repeats": args.repeats,
        "threads": args.threads,
        "batch_large": big,
        "tokens_per_sequence": 12,
        "stop": False,
    }
    quoted = {
        "real_pt_code_b1": {
            "value": {
                "threads_1": {"frames_per_s": 51.2, "step_ms_frame_10_190": [6.88, 31.2]},
                "threads_2": {"frames_per_s": 73.0, "step_ms_frame_10_190": [3.80, 23.3]},
            },
            "source": "issue 13: the real Progressive Transformers code, PT Base, 200 frames at "
            "batch 1, interleaved with this project in one driver (load 3.1 / 2.2)",
        },
        "target_b1_frames_per_s": {"value": 900, "source": "issue 13, one thread"},
    }
    report = {"bench": "decode", "machine": machine(), "settings": settings}
    report.update(measured=measured, quoted=quoted)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
