"""Benchmark of the binary pose store on the bundled real samples; prints ONE JSON line.

Measures bytes per frame against the sources (How2Sign OpenPose JSON, 2D, 5 clips / 684 frames;
PHOENIX-2014T `.skels` text, 3D, 15 clips), the largest reconstruction error in shoulder widths,
write / read throughput, a few setting variants, and peak RSS while streaming a store `--scale`
times larger (N copies under new ids) to show that iteration memory does not grow with the corpus.

    .venv/bin/python bench/store.py             # default --scale 10
    .venv/bin/python bench/store.py --scale 50
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from signllm.data.formats.openpose_json import read_openpose_folder
from signllm.data.formats.skels import read_skels
from signllm.data.store import (
    DEFAULT_CONFIDENCE_BITS,
    DEFAULT_MAX_ERROR,
    Store,
    StoreWriter,
    shoulder_width,
)
from signllm.pose import Pose

VARIANT_KEYS = (
    "bytes_per_frame",
    "ratio",
    "max_error_shoulder_widths",
    "max_confidence_error",
    "read_frames_per_s",
)
DEFAULTS = {
    "max_error": DEFAULT_MAX_ERROR,
    "confidence_bits": DEFAULT_CONFIDENCE_BITS,
    "codec": "zlib",
}
SAMPLES = Path(__file__).resolve().parents[1] / "signllm" / "assets" / "samples"


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 2**10  # bytes on macOS, KiB elsewhere


def current_rss_mb() -> float | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def copies(poses: list[Pose], n: int) -> list[Pose]:
    if n == 1:
        return poses
    return [
        dataclasses.replace(p, meta=dataclasses.replace(p.meta, id=f"{p.meta.id}#{k}"))
        for k in range(n)
        for p in poses
    ]


def shard_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.glob("shard-*.bin"))


def all_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def measure(poses: list[Pose], path: Path, source_bytes: int, **kw) -> dict:
    """Write, read back, compare: bytes/frame, ratio to the source, max errors, throughput."""
    frames = sum(p.num_frames for p in poses)
    t0 = time.perf_counter()
    with StoreWriter(path, **kw) as w:
        for p in poses:
            w.add(p)
    t1 = time.perf_counter()
    store = Store(path)
    back = list(store)
    t2 = time.perf_counter()
    err_sw = conf_err = 0.0
    for got, want in zip(back, poses, strict=True):
        assert got.num_frames == want.num_frames, "every frame written must read back"
        assert np.array_equal(got.mask, want.mask), "missing joints must stay missing"
        seen = want.mask
        if seen.any():
            e = np.linalg.norm(got.data[seen].astype(np.float64) - want.data[seen], axis=-1).max()
            err_sw = max(err_sw, float(e / shoulder_width(want)))
        conf_err = max(conf_err, float(np.abs(got.confidence - want.confidence).max()))
    b = shard_bytes(path)
    return {
        "bytes_per_frame": round(b / frames, 2),
        "bytes_per_frame_with_manifest": round(all_bytes(path) / frames, 2),
        "ratio": round(b / source_bytes, 5),
        "max_error_shoulder_widths": float(f"{err_sw:.3g}"),
        "max_confidence_error": float(f"{conf_err:.3g}"),
        "write_frames_per_s": round(frames / (t1 - t0)),
        "read_frames_per_s": round(frames / (t2 - t1)),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=10, help="copies in the big store (default 10)")
    args = ap.parse_args(argv)

    h2s_dir = SAMPLES / "how2sign" / "openpose_json"
    h2s = [read_openpose_folder(d) for d in sorted(h2s_dir.iterdir()) if d.is_dir()]
    json_bytes = sum(f.stat().st_size for d in h2s_dir.iterdir() for f in d.glob("*.json"))
    h2s_frames = sum(p.num_frames for p in h2s)
    ph_dir = SAMPLES / "phoenix14t"
    ph = [p for s in ("train", "dev", "test") for p in read_skels(ph_dir / s)]
    skels_bytes = sum((ph_dir / f"{s}.skels").stat().st_size for s in ("train", "dev", "test"))
    ph_frames = sum(p.num_frames for p in ph)
    cleaned = [p.copy() for p in h2s]  # confidence made 0/1, as after cleaning
    for p in cleaned:
        p.confidence = (p.confidence > 0).astype(np.float32)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out: dict = {}  # measured in this run
        h = measure(h2s, root / "h2s", json_bytes)
        p = measure(ph, root / "ph", skels_bytes)
        out["how2sign_2d"] = {
            "clips": len(h2s),
            "frames": h2s_frames,
            "json_bytes_per_frame": round(json_bytes / h2s_frames, 1),
            **h,
        }
        out["phoenix_3d"] = {
            "clips": len(ph),
            "frames": ph_frames,
            "skels_bytes_per_frame": round(skels_bytes / ph_frames, 1),
            **p,
        }
        out["ratio_store_to_json"] = h["ratio"]
        out["target_ratio_to_json_le_0.03_and_error_lt_1e-3"] = bool(
            h["ratio"] <= 0.03 and h["max_error_shoulder_widths"] < 1e-3
        )
        out["ratio_store_to_skels"] = p["ratio"]
        out["max_error_shoulder_widths"] = max(
            h["max_error_shoulder_widths"], p["max_error_shoulder_widths"]
        )
        variants = {
            "confidence_bits=8 (the version-1 default)": (h2s, {"confidence_bits": 8}),
            "confidence_bits=6": (h2s, {"confidence_bits": 6}),
            "confidence_bits=3": (h2s, {"confidence_bits": 3}),
            "codec=lzma": (h2s, {"codec": "lzma"}),
            "max_error=5e-4": (h2s, {"max_error": 5e-4}),
            "cleaned (0/1 confidence)": (cleaned, {}),
            "lossless (float32)": (h2s, {"max_error": None, "confidence_bits": None}),
        }
        out["how2sign_variants"] = {}
        for i, (name, (poses, kw)) in enumerate(variants.items()):
            m = measure(poses, root / f"v{i}", json_bytes, **kw)
            out["how2sign_variants"][name] = {k: m[k] for k in VARIANT_KEYS}
        out["phoenix_lzma"] = {
            k: v
            for k, v in measure(ph, root / "phl", skels_bytes, codec="lzma").items()
            if k in ("bytes_per_frame", "ratio", "read_frames_per_s")
        }

        # Throughput and memory on a store `scale` times larger (both corpora, copied).
        n = max(1, args.scale)
        small, big = root / "small", root / "big"
        for path, k in ((small, 1), (big, n)):
            t0 = time.perf_counter()
            with StoreWriter(path, shard_bytes=4 << 20) as w:
                for pose in copies(h2s + ph, k):
                    w.add(pose)
            out.setdefault("_write_s", {})[k] = time.perf_counter() - t0
        del cleaned
        frames_big = (h2s_frames + ph_frames) * n
        rss = {"before_iterating": peak_rss_mb(), "current_before": current_rss_mb()}
        for label, path in (("1x", small), (f"{n}x", big)):
            t0 = time.perf_counter()
            count = 0
            for pose in Store(path).iter(shuffle_seed=0):
                count += pose.num_frames
            dt = time.perf_counter() - t0
            rss[f"after_iterating_{label}"] = peak_rss_mb()
            rss[f"current_after_{label}"] = current_rss_mb()
        write_s = out.pop("_write_s")[n]
        out["scale"] = {
            "copies": n,
            "clips": len(Store(big)),
            "frames": frames_big,
            "store_mb": round(all_bytes(big) / 2**20, 2),
            "decoded_float32_mb": round(frames_big * 50 * 4 * 4 / 2**20, 1),
            "write_frames_per_s": round(frames_big / write_s),
            "read_frames_per_s_shuffled": round(count / dt),
            "peak_rss_mb": {k: (round(v, 1) if v is not None else None) for k, v in rss.items()},
        }
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    settings = {"scale": args.scale, "defaults": dict(DEFAULTS)}
    report = {"bench": "store", "machine": machine, "settings": settings}
    # quoted: none, every figure is measured in this run
    report.update(measured=out, quoted={})
    print(json.dumps(report, ensure_ascii=False))
    return report


if __name__ == "__main__":
    main()
