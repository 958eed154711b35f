"""Training throughput and memory of signllm.train; prints ONE JSON line (with the machine).

1. Frames/s trained at PT-base size (2+2 layers, d_model 512, 4 heads, d_ff 2048), batches shaped
   like Progressive Transformers' PHOENIX runs: 8 clips of ~150 frames (uniform 120..180), 50
   joints x 3 + counter per frame, ~12 gloss tokens per clip. Three numbers, same batches:
   - "ours_end_to_end": the real trainer (`signllm.train.trainer.Trainer`) on a synthetic store:
     reading + decoding clips, normalising, AdamW, grad clipping, logging;
   - "ours_model_only": our ProgressiveTransformer loss + backward + AdamW on in-memory batches;
   - "baseline_pt_style": a naive model of the same size in the Progressive Transformers /
     JoeyNMT style (hand-written attention: q k^T, masked_fill, softmax, @ v; masks rebuilt every
     call; ReLU FFN; MSE on pose and counter), in-memory batches, Adam. Measured in the same run.
   Frames/s counts real (unpadded) frames per optimizer step, after warm-up steps; the median of
   the per-step rates is the headline (robust to neighbours on a shared machine), the mean beside.
2. Training memory: peak RSS of a fresh process training the tiny model for a fixed number of
   steps on a store of N clips and on one of 10 N clips. The trainer keeps only a per-clip index,
   so the difference should be a few MB (index + manifest index), not 10x the data.

    .venv/bin/python bench/train.py                 # defaults: 10 steps, N = 300
    .venv/bin/python bench/train.py --steps 20 --clips 1000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from signllm.data.store import StoreWriter  # noqa: E402
from signllm.models.progressive import ProgressiveTransformer, preset_config  # noqa: E402
from signllm.pose import Pose, PoseMeta  # noqa: E402

WORDS = [f"W{i}" for i in range(400)]


# ----------------------------------------------------------------------------------------------
# The Progressive-Transformers-style baseline (naive, full recomputation, unfused attention)


def pe(t: int, d: int) -> Tensor:
    pos = torch.arange(t).float()[:, None]
    div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
    out = torch.zeros(t, d)
    out[:, 0::2], out[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    return out


class NaiveMHA(nn.Module):
    """JoeyNMT's MultiHeadedAttention: explicit scores, masked_fill, softmax, dropout, @ v."""

    def __init__(self, d: int, h: int, dropout: float) -> None:
        super().__init__()
        self.h, self.dh = h, d // h
        self.k, self.v, self.q, self.o = (nn.Linear(d, d) for _ in range(4))
        self.drop = nn.Dropout(dropout)

    def forward(self, k: Tensor, v: Tensor, q: Tensor, mask: Tensor) -> Tensor:
        b = k.shape[0]
        k = self.k(k).view(b, -1, self.h, self.dh).transpose(1, 2)
        v = self.v(v).view(b, -1, self.h, self.dh).transpose(1, 2)
        q = self.q(q).view(b, -1, self.h, self.dh).transpose(1, 2) / math.sqrt(self.dh)
        scores = q @ k.transpose(2, 3)  # (b, h, tq, tk)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        att = self.drop(torch.softmax(scores, dim=-1))
        ctx = (att @ v).transpose(1, 2).contiguous().view(b, -1, self.h * self.dh)
        return self.o(ctx)


class NaiveFF(nn.Module):
    def __init__(self, d: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.net = nn.Sequential(
            nn.Linear(d, ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff, d), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.ln(x)) + x


class NaiveEncLayer(nn.Module):
    def __init__(self, d: int, h: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.att = NaiveMHA(d, h, dropout)
        self.ff = NaiveFF(d, ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        y = self.ln(x)
        return self.ff(self.drop(self.att(y, y, y, mask)) + x)


class NaiveDecLayer(nn.Module):
    def __init__(self, d: int, h: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_att, self.src_att = NaiveMHA(d, h, dropout), NaiveMHA(d, h, dropout)
        self.ff = NaiveFF(d, ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mem: Tensor, src_mask: Tensor, trg_mask: Tensor) -> Tensor:
        y = self.ln1(x)
        h1 = self.drop(self.self_att(y, y, y, trg_mask)) + x
        h1n = self.ln2(h1)
        h2 = self.drop(self.src_att(mem, mem, h1n, src_mask)) + h1
        return self.ff(h2)


class NaivePT(nn.Module):
    """Progressive-Transformers-style encoder-decoder: tokens -> (pose + counter) frames."""

    def __init__(self, vocab: int, fd: int, d=512, h=4, ff=2048, layers=2, dropout=0.0) -> None:
        super().__init__()
        self.d = d
        self.src = nn.Embedding(vocab, d, padding_idx=0)
        self.trg = nn.Linear(fd, d)
        self.enc = nn.ModuleList(NaiveEncLayer(d, h, ff, dropout) for _ in range(layers))
        self.dec = nn.ModuleList(NaiveDecLayer(d, h, ff, dropout) for _ in range(layers))
        self.enc_ln, self.dec_ln = nn.LayerNorm(d), nn.LayerNorm(d)
        self.out = nn.Linear(d, fd)

    def encode(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        mask = (tokens != 0)[:, None, :]  # (b, 1, s)
        x = self.src(tokens) + pe(tokens.shape[1], self.d)
        for layer in self.enc:
            x = layer(x, mask)
        return self.enc_ln(x), mask

    def decode(self, trg_in: Tensor, mem: Tensor, src_mask: Tensor) -> Tensor:
        t = trg_in.shape[1]
        trg_mask = torch.ones(1, t, t, dtype=torch.bool).tril()  # rebuilt every call, as in PT
        x = self.trg(trg_in) + pe(t, self.d)
        for layer in self.dec:
            x = layer(x, mem, src_mask, trg_mask)
        return self.out(self.dec_ln(x))

    def loss(self, tokens: Tensor, frames: Tensor, fmask: Tensor) -> Tensor:
        mem, src_mask = self.encode(tokens)
        trg_in = torch.cat([torch.zeros_like(frames[:, :1]), frames[:, :-1]], 1)
        pred = self.decode(trg_in, mem, src_mask)
        err = ((pred - frames) ** 2) * fmask[..., None]
        return err.sum() / (fmask.sum() * frames.shape[-1])

    @torch.no_grad()
    def greedy(self, tokens: Tensor, max_frames: int) -> Tensor:
        """PT's inference loop: the whole decoder is re-run over every frame so far, each step."""
        mem, src_mask = self.encode(tokens)
        ys = torch.zeros(tokens.shape[0], 1, self.out.out_features)
        for _ in range(max_frames):
            out = self.decode(ys, mem, src_mask)
            ys = torch.cat([ys, out[:, -1:]], 1)
        return ys[:, 1:]


# ----------------------------------------------------------------------------------------------
# Data


def synthetic_pose(i: int, frames: int) -> Pose:
    rng = np.random.default_rng(i)
    data = np.cumsum(rng.normal(0, 0.01, (frames, 50, 3)), 0) + rng.normal(0, 0.3, (50, 3))
    data[:, 2] = [-0.5, 0, 0]  # shoulders one unit apart (the store's error unit)
    data[:, 5] = [0.5, 0, 0]
    words = " ".join(rng.choice(WORDS, int(rng.integers(8, 16))))
    meta = PoseMeta(id=f"c{i}", language="gsg", gloss=words, text=words.lower())
    return Pose(data.astype(np.float32), np.ones((frames, 50), np.float32), 25.0, meta=meta)


def write_store(path: Path, n: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    frames = 0
    with StoreWriter(path) as w:
        for i in range(n):
            t = int(rng.integers(120, 181))
            w.add(synthetic_pose(i, t), split="train" if i % 10 else "dev")
            frames += t
    return frames


def memory_batches(
    n_batches: int, b: int = 8, vocab: int = 404, lengths_in: tuple[int, int] = (120, 180)
) -> list[tuple]:
    """In-memory batches of the same shape: tokens (b, s), frames (b, t, 151), mask (b, t);
    clip lengths uniform in `lengths_in` (inclusive)."""
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n_batches):
        lengths = torch.randint(lengths_in[0], lengths_in[1] + 1, (b,), generator=g)
        t = int(lengths.max())
        fmask = torch.arange(t)[None] < lengths[:, None]
        frames = torch.randn(b, t, 151, generator=g) * fmask[..., None]
        frames[..., -1] = torch.where(fmask, (torch.arange(t) + 1)[None] / lengths[:, None], 0)
        tokens = torch.randint(4, vocab, (b, 12), generator=g)
        out.append((tokens, frames, fmask))
    return out


# ----------------------------------------------------------------------------------------------
# Measurements


def time_steps(step, batches: list[tuple], warmup: int) -> list[float]:
    """Frames/s of each `step(batch)` over the batches after `warmup`; a step returns the number
    of frames it trained on (its loss's valid frames), checked against the batch's real frames."""
    for batch in batches[:warmup]:
        step(batch)
    rates = []
    for batch in batches[warmup:]:
        t0 = time.perf_counter()
        got = step(batch)
        dt = time.perf_counter() - t0
        real = int(batch[2].sum())
        assert got == real, f"a step trained on {got} frames, the batch has {real}"
        rates.append(real / dt)
    return rates


def summary(rates: list[float]) -> dict[str, float]:
    """Median per-step rate (robust to a noisy neighbour) and the plain mean."""
    return {"median": round(float(np.median(rates))), "mean": round(float(np.mean(rates)))}


def bench_model_only(steps: int, warmup: int, rounds: int, size: str = "pt-base") -> dict:
    batches = memory_batches(steps + warmup)
    torch.manual_seed(0)
    ours = ProgressiveTransformer(preset_config(size, vocab_size=404, pose_dim=150))
    opt = torch.optim.AdamW(ours.parameters(), lr=1e-4)

    def ours_step(batch):
        tokens, frames, fmask = batch
        out = ours.loss(tokens, tokens != 0, frames, fmask)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
        opt.step()
        return int(out["counter_count"].sum())  # the frames the loss counted

    dims = preset_config(size)
    torch.manual_seed(0)
    naive = NaivePT(404, 151, d=dims.d_model, h=dims.n_heads, ff=dims.d_ff)
    nopt = torch.optim.Adam(naive.parameters(), lr=1e-4)

    def naive_step(batch):
        tokens, frames, fmask = batch
        loss = naive.loss(tokens, frames, fmask)
        nopt.zero_grad()
        loss.backward()
        nopt.step()
        return int(fmask.sum())  # its loss averages over every real frame

    # alternate rounds so that a noisy neighbour on a shared machine hits both alike
    a: list[float] = []
    b: list[float] = []
    loads: list[float] = []
    for r in range(rounds):
        loads.append(round(os.getloadavg()[0], 2))
        a += time_steps(ours_step, batches, warmup if r == 0 else 0)
        b += time_steps(naive_step, batches, warmup if r == 0 else 0)
    return {
        "ours": summary(a),
        "baseline": summary(b),
        "load_at_rounds": loads,
        "params_ours_m": sum(p.numel() for p in ours.parameters()) / 1e6,
        "params_baseline_m": sum(p.numel() for p in naive.parameters()) / 1e6,
    }


def bench_end_to_end(
    store: Path, out: Path, steps: int, warmup: int, size: str = "pt-base"
) -> dict:
    from signllm.train import distributed as D
    from signllm.train.config import TrainConfig
    from signllm.train.trainer import Trainer

    cfg = TrainConfig(
        data=str(store),
        out=str(out),
        size=size,
        steps=steps + warmup,
        batch_size=8,
        max_clip_frames=400,
        eval_every=0,
        checkpoint_every=0,
        log_every=10**9,
        eval_clips=0,
        eval_loss_clips=0,
        progress=False,
        stats_clips=200,
        threads=torch.get_num_threads(),  # what main() chose (--threads or the default rule)
    ).validate()
    t = Trainer(cfg, D.setup("cpu"))
    stamps: list[float] = []
    frames: list[int] = []
    orig = t.dataset.load

    def load(indices):
        stamps.append(time.perf_counter())  # a step starts with its batch
        batch = orig(indices)
        frames.append(batch.num_frames)
        return batch

    t.dataset.load = load  # type: ignore[method-assign]
    t.save = lambda best=False: None  # type: ignore[method-assign]  # no checkpoint I/O timed
    t.run()
    stamps.append(time.perf_counter())
    rates = [f / (t1 - t0) for f, t0, t1 in zip(frames, stamps, stamps[1:], strict=False)]
    return summary(rates[warmup:-1])  # the last step also runs the final (empty) evaluation


def peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss would include the parent's RSS inherited at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 2**10


def memory_child(store: str, out: str, steps: int) -> None:
    from signllm.train.config import TrainConfig
    from signllm.train.trainer import train

    torch.set_num_threads(1)
    train(
        TrainConfig(
            data=store,
            out=out,
            size="tiny",
            steps=steps,
            batch_size=8,
            eval_every=0,
            eval_clips=2,
            eval_loss_clips=8,
            progress=False,
        )
    )
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


def bench_memory(root: Path, n: int, steps: int) -> dict:
    out = {}
    for label, clips in (("n", n), ("10n", 10 * n)):
        store = root / f"mem-{clips}"
        t0 = time.perf_counter()
        frames = write_store(store, clips, seed=1)
        write_s = time.perf_counter() - t0
        cmd = [sys.executable, __file__, "--memory-child", str(store), str(root / f"run-{clips}")]
        proc = subprocess.run(
            [*cmd, str(steps)],
            capture_output=True,
            text=True,
            check=True,
        )
        rss = json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_mb"]
        out[label] = {
            "clips": clips,
            "frames": frames,
            "decoded_float32_mb": round(frames * 50 * 4 * 4 / 2**20, 1),
            "peak_rss_mb": round(rss, 1),
            "store_write_s": round(write_s, 1),
        }
    out["rss_growth_mb"] = round(out["10n"]["peak_rss_mb"] - out["n"]["peak_rss_mb"], 1)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="pt-base", help="model preset (tests use tiny)")
    ap.add_argument("--e2e-clips", type=int, default=200, help="clips of the end-to-end store")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    ap.add_argument(
        "--threads", type=int, default=0, help="torch threads (default: signllm's rule for pt-base)"
    )
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds ours/baseline")
    ap.add_argument("--clips", type=int, default=300, help="N of the memory comparison")
    ap.add_argument("--memory-steps", type=int, default=30)
    ap.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(args.memory_child[0], args.memory_child[1], int(args.memory_child[2]))
        return {}

    settings = {"size": args.size, "batch": "8 clips x 120..180 frames", "steps": args.steps}
    settings["rounds"] = args.rounds
    result: dict = {}  # measured in this run
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_store(root / "store", args.e2e_clips)
        e2e = bench_end_to_end(root / "store", root / "run", args.steps + 1, args.warmup, args.size)
        model = bench_model_only(args.steps, args.warmup, args.rounds, args.size)
        result["frames_per_s"] = {
            "ours_end_to_end": e2e,
            "ours_model_only": model["ours"],
            "baseline_pt_style": model["baseline"],
        }
        base = model["baseline"]["median"]
        result["ratio_vs_baseline_median"] = {
            "end_to_end": round(e2e["median"] / base, 2),
            "model_only": round(model["ours"]["median"] / base, 2),
        }
        result["load_at_rounds"] = model["load_at_rounds"]
        result["params_m"] = {
            "ours": round(model["params_ours_m"], 2),
            "baseline": round(model["params_baseline_m"], 2),
        }
        result["memory"] = bench_memory(root, args.clips, args.memory_steps)
    # quoted, not measured here (the baseline above is a same-size stand-in, measured)
    quoted = {
        "target_train_frames_per_s": {
            "value": 1900,
            "source": "the project's training-throughput target (bench/train.py since fc4d250)",
        },
        "pt_code_train_frames_per_s": {
            "value": 1250,
            "source": "the real Progressive Transformers code on the project's 2-core VM, as "
            "recorded in bench/train.py (fc4d250); where it was measured is not recorded",
        },
    }
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    report = {"bench": "train", "machine": machine, "settings": settings}
    report.update(measured=result, quoted=quoted)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
