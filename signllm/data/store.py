"""A compact binary store for whole corpora of poses: shards of compressed records + a manifest.

Why: the legacy text `.skels` is ~37% of the OpenPose JSON it came from and can only be read from
the start; a full Prompt2Sign build (hundreds of hours, 10-20M frames) must fit one disk, survive a
crash half-way through a days-long build, and serve random clips to a training loop.

Layout of a store directory::

    store.json        {"format": "signllm-store", "version": 2, "skeleton", settings, counts}
    manifest.jsonl    one JSON row per clip, in write order (the index; see below)
    shard-00000.bin   concatenated records, each one clip (rotated at `shard_bytes`)
    shard-00001.bin   ...
    .lock             held (flock) by the one live writer

Manifest row: id, language, text, gloss, signer, source, spoken_language, split, frames, fps, ndim,
shard, offset, nbytes, crc32 (of the whole record), coords ("q16" | "f32"), confidence
("mask" | "u<bits>" | "f32"), step, lo (quantisation grid), shoulder_width, error (largest joint
error of the stored clip, data units), error_sw (the same in shoulder widths, null if none), extra
(the clip's `meta.extra`, where normalisation stats travel). Strings are stored as given (UTF-8).

Record (little-endian), self-describing so it decodes without the manifest::

    0  4s  magic b"SLR1"         4  u8  coords codec (0 q16, 1 f32)   5 u8 confidence codec
    6  u8  confidence bits        7  u8  compressor (0 zlib, 1 raw lzma2)  8 u32 frames
    12 u16 joints                 14 u8  stored dims (2 | 3)           15 u8 layout (0 | 1)
    16 f64 step                   24 3 x f64 lo                        48 u32 coords blob bytes
    52 coords blob, then confidence blob (each compressed separately)

Layout 1 (store version 2, written now): a q16 coords blob is u32 n + the low byte plane
compressed (n bytes) + the high byte plane compressed apart (nearly all zeros, so it no longer
skews the low plane's code table); confidence codes of <= 4 bits go two per byte (below).
Layout 0 (version-1 stores, still read): one stream for both planes, one confidence code a byte.

Coordinates ("q16"): per clip, code = round((x - lo) / step) as uint16 on a grid whose step is set
from the error bound: step = 2 * max_error * shoulder_width / sqrt(ndim), so the Euclidean error of
every joint is <= max_error shoulder widths (shoulder width = median over frames of |joint 2 - joint
5|, in the stored dims). Codes are made relative to the parent joint (bone vectors: fingers move with
the hand), then delta-coded over time, zigzagged, split into a low- and a high-byte plane (residuals
are small, so the high plane is nearly all zeros) and compressed. All integer steps wrap mod 2^16, so
they are exactly invertible. Missing joints hold their last bone vector, so they cost ~nothing.
2D clips store x, y only (z reads back 0); coordinates of missing joints read back 0. A clip without both shoulders uses the finest grid that
fits 16 bits (step = extent / 65535). The writer decodes every clip and checks the bound; a clip that
misses it (extent too large for 16 bits at that step, or float32 rounding far from the origin) is
stored as float32 ("f32": bit patterns delta-coded over time, 4 byte planes; lossless).

Confidence: 0 always stays 0 (missing) and > 0 stays > 0. If a clip's confidences are all 0 or 1
(cleaned data) a 1-bit mask is stored (exact). Otherwise codes = round(c * L), L = 2^bits - 1, with
positive values raised to code 1; error <= 1/(2L) (4 bits, the default: 1/30; 8 bits: 0.002),
except values below 1/(2L) which read back as 1/L. Codes are delta-coded over time; with <= 4
bits the deltas wrap mod 16 and are zigzagged into nibbles, two per byte. `confidence_bits=None`
stores float32 (exact). Why 4 bits by default: raw OpenPose confidence is detector noise well
above 1/30 (on the bundled How2Sign clips a seen joint's confidence changes by 0.05 median, 0.11
mean, from one frame to the next), training reads only > 0, cleaning thresholds at 0.3, and at 8
bits it was a fifth of a 2D store (3.7% of the JSON instead of 2.99%). What a user loses:
confidences to within 1/30, values under 1/30 read as 1/15 (cleaning's fill confidence 0.05 reads
back as 0.067), and so the weights of a confidence-weighted loss are that coarse; who needs them
finer writes `confidence_bits=8` (or None: exact) per store.

Crash safety: records are appended to the current shard; every `sync_every` records (and at
rotation and close) the shard is fsynced first and only then are their manifest rows appended and
fsynced. The manifest therefore lists only fully written records; a reader ignores anything in a
shard beyond them and a half-written last manifest line. `StoreWriter(dir, resume=True)` after a
crash (even kill -9) drops that tail, truncates each shard to its last listed record, deletes shards
with none, and goes on appending; `has(id)` tells which clips are already in.

Reading: `Store(dir)` indexes the manifest compactly (ids + numpy arrays, a few hundred bytes per
clip, no per-row dicts) and re-reads a row when it needs one; a clip costs one `os.pread` of its
record (descriptors are kept; pread has no shared file position, so forked DataLoader workers can
share them). Iteration decodes one clip at a time and caches nothing.

Measured (bench/store.py, 2-core x86 VM, defaults: max_error 9e-4, 4-bit confidence, zlib 9,
layout 1): How2Sign OpenPose JSON (2D, 3439 B/frame) -> 103 B/frame (2.99%; coordinates ~83 B,
confidence ~19 B; the old default, 8-bit confidence: 128 B, 3.7%; 0/1 confidence after cleaning:
2.4%); largest joint error 8.96e-4 shoulder widths; lzma: 2.90%, and slower reads.

    with StoreWriter("out/store", shard_bytes=1 << 30) as w:
        for pose in read_poses("how2sign/openpose_json"):
            if not w.has(pose.meta.id):
                w.add(pose, split="train")
    store = Store("out/store")
    pose = store["_2FBDaOPYig_2-3-rgb_front"]
    for pose in store.iter(split="train", language="ase", shuffle_seed=0): ...
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import lzma
import math
import os
import re
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, SignLLMError
from ..fileio import atomic_write
from ..pose import Pose, PoseMeta
from ..safeio import finite_number, int_field, loads, read_json
from ..skeleton import Skeleton, get_skeleton

try:  # POSIX advisory lock, released by the kernel when the writer dies
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

FORMAT = "signllm-store"
VERSION = 2  # 2: record layout 1 (split coordinate planes, packed <= 4-bit confidence)
MAGIC = b"SLR1"
MANIFEST = "manifest.jsonl"
INFO = "store.json"
LOCK = ".lock"
DEFAULT_MAX_ERROR = 9e-4  # shoulder widths; 10% under the 1e-3 target leaves room for float32
DEFAULT_SHARD_BYTES = 1 << 30
DEFAULT_CONFIDENCE_BITS = 4  # raw OpenPose confidence is noise below ~1/30 (bench/store.py)
LAYOUT = 1  # the record layout this writer writes (0: version-1 stores, still read)
# Limits on what a manifest row or record header may declare (checked before anything is read or
# allocated): 200k frames is over 2 hours at 25 fps; a record is at most ~2 GiB.
MAX_FRAMES = 200_000
MAX_RECORD_BYTES = 1 << 31

_HEADER = struct.Struct("<4sBBBBIHBB4dI")  # see the module docstring; 52 bytes
_COORDS = {"q16": 0, "f32": 1}
_CONF = {"mask": 0, "u": 1, "f32": 2}
_CODECS = {"zlib": 0, "lzma": 1}
_SHARD_RE = re.compile(r"^shard-(\d{5,})\.bin$")
_WORD_RE = re.compile(r"\w+")
_META_FIELDS = ("id", "language", "text", "gloss", "signer", "source", "spoken_language", "split")


# --- codecs -----------------------------------------------------------------------------------
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6}]  # raw: no 60-byte .xz frame per blob


def _compress(raw: bytes, codec: str) -> bytes:
    if codec == "zlib":
        return zlib.compress(raw, 9)  # -1% bytes vs 6 on pose residuals, reads as fast
    return lzma.compress(raw, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)


def _decompress(blob: bytes, codec: int, size: int | None = None) -> bytes:
    """`size`: the exact size the record's header implies; a blob that inflates past it is
    refused without inflating further (a 3 MB record must not become 3 GiB)."""
    limit = -1 if size is None else size + 1
    if codec == 0:
        d = zlib.decompressobj()
        out = d.decompress(blob, max(limit, 0))
        if size is not None and (len(out) > size or d.unconsumed_tail or not d.eof):
            raise ValueError(f"compressed blob does not inflate to the {size} bytes announced")
        return out
    dl = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
    out = dl.decompress(blob, limit)
    if size is not None and len(out) > size:
        raise ValueError(f"compressed blob inflates past the {size} bytes announced")
    return out


def _planes(a: np.ndarray) -> bytes:
    """Byte-plane shuffle: all low bytes, then the next, ... (zlib then sees long runs)."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).reshape(-1, a.itemsize).T.tobytes()


def _unplanes(raw: bytes, dtype: type, count: int) -> np.ndarray:
    size = np.dtype(dtype).itemsize
    if len(raw) != count * size:
        raise ValueError(f"expected {count * size} bytes, got {len(raw)}")
    return np.frombuffer(raw, np.uint8).reshape(size, count).T.copy().view(dtype).reshape(-1)


def _zigzag(r: np.ndarray) -> np.ndarray:
    """Wrapped residues in an unsigned dtype (uint8, uint16) -> zigzag codes of that dtype, small
    magnitudes first (0, -1, 1, -2, ...), so the high bits of small deltas are zero."""
    bits = 8 * r.dtype.itemsize
    s = r.view(f"i{r.dtype.itemsize}").astype(f"i{2 * r.dtype.itemsize}")
    return ((s << 1) ^ (s >> (bits - 1))).astype(r.dtype)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    """Inverse of `_zigzag`: codes -> residues of the same unsigned dtype."""
    w = z.astype(f"i{2 * z.dtype.itemsize}")
    return ((w >> 1) ^ -(w & 1)).astype(z.dtype)


def _delta_t(a: np.ndarray) -> np.ndarray:
    """Temporal delta along axis 0, wrapping in a's unsigned dtype."""
    out = a.copy()
    out[1:] = a[1:] - a[:-1]
    return out


def _hold(values: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Fill unseen entries along time with the last seen value (the first one before it).

    values (t, n, ...), seen (t, n); columns never seen become 0.
    """
    t = seen.shape[0]
    if t == 0:
        return values
    idx = np.where(seen, np.arange(t)[:, None], -1)
    idx = np.maximum.accumulate(idx, axis=0)
    first = np.argmax(seen, axis=0)  # (n,)
    idx = np.where(idx < 0, first[None, :], idx)
    cols = np.arange(seen.shape[1])[None, :]
    out = values[idx, cols]
    out[:, ~seen.any(axis=0)] = 0
    return out


def _levels(sk: Skeleton) -> list[tuple[np.ndarray, np.ndarray]]:
    """Joints grouped by depth in the tree: [(joints, parents)], roots first (parent -1)."""
    depth = [0] * sk.num_joints
    for j, p in enumerate(sk.parents):  # parents come first in joint order
        depth[j] = 0 if p < 0 else depth[p] + 1
    out = []
    for d in range(max(depth, default=-1) + 1):
        js = np.array([j for j in range(sk.num_joints) if depth[j] == d])
        out.append((js, np.array([sk.parents[j] for j in js])))
    return out


def shoulder_width(pose: Pose) -> float | None:
    """The unit of the store's error bound (None if the shoulders are never seen)."""
    w = pose.shoulder_width()
    return w if math.isfinite(w) else None


def _encode_q16(
    data: np.ndarray, seen: np.ndarray, step: float, lo: np.ndarray, levels: list
) -> bytes:
    """(t, j, d) float -> zigzagged temporal deltas of bone-relative uint16 codes, as byte planes."""
    q = np.rint((data.astype(np.float64) - lo) / step).astype(np.int64)  # (t, j, d), 0..65535
    filled = np.zeros_like(q)
    for js, ps in levels:
        base = filled[:, ps] if ps[0] >= 0 else np.zeros_like(q[:, js])
        bone = _hold(q[:, js] - base, seen[:, js])  # unseen: last seen bone vector
        filled[:, js] = base + bone
    codes = (filled & 0xFFFF).astype(np.uint16)
    rel = codes.copy()
    for js, ps in levels:
        if ps[0] >= 0:
            rel[:, js] = codes[:, js] - codes[:, ps]  # wraps mod 2^16
    z = _zigzag(_delta_t(rel))
    return _planes(np.moveaxis(z, 0, -1))  # (j, d, t): one series after another


def _decode_q16(raw: bytes, t: int, j: int, d: int, levels: list) -> np.ndarray:
    z = _unplanes(raw, np.uint16, t * j * d).reshape(j, d, t)
    rel = np.cumsum(_unzigzag(np.moveaxis(z, -1, 0)), axis=0, dtype=np.uint16)  # (t, j, d)
    codes = rel
    for js, ps in levels:
        if ps[0] >= 0:
            codes[:, js] = rel[:, js] + codes[:, ps]
    return codes


def _encode_f32(data: np.ndarray) -> bytes:
    bits = np.ascontiguousarray(data, dtype=np.float32).view(np.uint32)  # (t, j, 3)
    return _planes(np.moveaxis(_delta_t(bits), 0, -1))


def _decode_f32(raw: bytes, t: int, j: int) -> np.ndarray:
    z = _unplanes(raw, np.uint32, t * j * 3).reshape(j, 3, t)
    bits = np.cumsum(np.moveaxis(z, -1, 0), axis=0, dtype=np.uint32)
    return bits.view(np.float32)


def _encode_conf(conf: np.ndarray, bits: int | None) -> tuple[int, int, bytes]:
    """-> (codec, bits, raw bytes). Mask when all 0/1, else `bits`-bit codes, or float32."""
    if conf.size == 0 or np.isin(conf, (0.0, 1.0)).all():
        return _CONF["mask"], 1, np.packbits(conf.T > 0).tobytes()
    if bits is None:
        return _CONF["f32"], 32, _planes(np.ascontiguousarray(conf.T, dtype=np.float32))
    levels = (1 << bits) - 1
    codes = np.where(conf > 0, np.maximum(1, np.rint(conf * levels)), 0).astype(np.uint8)
    if bits <= 4:  # layout 1: temporal deltas mod 16, zigzagged, two per byte
        return _CONF["u"], bits, _pack_nibbles(_zigzag4(_delta_t(codes) & 0xF).T)
    return _CONF["u"], bits, _zigzag(_delta_t(codes)).T.tobytes()


def _zigzag4(r: np.ndarray) -> np.ndarray:
    """4-bit residues (0..15, i.e. -8..7 mod 16) -> 0..15, small magnitudes first."""
    s = np.where(r >= 8, r.astype(np.int16) - 16, r.astype(np.int16))
    return np.where(s >= 0, 2 * s, -2 * s - 1).astype(np.uint8)


def _unzigzag4(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.int16)
    return (np.where(z & 1, -((z + 1) >> 1), z >> 1) & 0xF).astype(np.uint8)


def _pack_nibbles(a: np.ndarray) -> bytes:
    flat = np.ascontiguousarray(a, dtype=np.uint8).reshape(-1)
    if len(flat) % 2:
        flat = np.append(flat, np.uint8(0))
    return ((flat[0::2] << 4) | flat[1::2]).astype(np.uint8).tobytes()


def _unpack_nibbles(raw: bytes, n: int) -> np.ndarray:
    if len(raw) != (n + 1) // 2:
        raise ValueError("confidence codes have the wrong size")
    b = np.frombuffer(raw, np.uint8)
    return np.stack([b >> 4, b & 0xF], -1).reshape(-1)[:n]


def _decode_conf(raw: bytes, codec: int, bits: int, t: int, j: int, layout: int = 0) -> np.ndarray:
    n = t * j
    if codec == _CONF["mask"]:
        if len(raw) != (n + 7) // 8:
            raise ValueError("confidence mask has the wrong size")
        return (
            np.unpackbits(np.frombuffer(raw, np.uint8), count=n).reshape(j, t).T.astype(np.float32)
        )
    if codec == _CONF["f32"]:
        return _unplanes(raw, np.float32, n).reshape(j, t).T.copy()
    if layout >= 1 and bits <= 4:
        z = _unpack_nibbles(raw, n).reshape(j, t).T
        codes = np.cumsum(_unzigzag4(z), axis=0, dtype=np.uint8) & 0xF
    else:
        if len(raw) != n:
            raise ValueError("confidence codes have the wrong size")
        z = np.frombuffer(raw, np.uint8).reshape(j, t).T
        codes = np.cumsum(_unzigzag(z), axis=0, dtype=np.uint8)
    return (codes.astype(np.float32) / np.float32((1 << bits) - 1)).astype(np.float32)


def encode_record(
    pose: Pose,
    max_error: float | None = DEFAULT_MAX_ERROR,
    confidence_bits: int | None = DEFAULT_CONFIDENCE_BITS,
    codec: str = "zlib",
) -> tuple[bytes, dict[str, Any]]:
    """One clip -> (record bytes, quantisation facts for the manifest). Checks the error bound."""
    t, j = pose.data.shape[:2]
    seen = pose.confidence > 0  # (t, j)
    levels = _levels(pose.skel)
    sw = shoulder_width(pose)
    facts: dict[str, Any] = {"shoulder_width": sw}
    coords_raw = None
    step, lo, d = 1.0, np.zeros(3), 3
    if max_error is not None:
        d = 3 if pose.ndim == 3 else 2
        obs = pose.data[seen][:, :d].astype(np.float64)  # (n, d)
        extent, bound = 0.0, 0.0
        if len(obs):
            lo[:d] = obs.min(axis=0)
            extent = float((obs.max(axis=0) - lo[:d]).max())
            if sw is not None:
                step = 2.0 * max_error * sw / math.sqrt(d)
                bound = max_error * sw
            else:  # no unit to measure in: the finest 16-bit grid over the clip
                step = max(extent / 65535.0, float(np.finfo(np.float32).tiny))
                bound = step * math.sqrt(d)  # half a step per axis, doubled for float32 rounding
        if extent / step <= 65535.0:
            coords_raw = _encode_q16(pose.data[:, :, :d], seen, step, lo[:d], levels)
            back = _dequantise(_decode_q16(coords_raw, t, j, d, levels), step, lo, seen)
            err = _max_error(back, pose.data, seen)
            if err <= bound:
                facts.update(coords="q16", step=step, lo=lo[:d].tolist(), error=err)
            else:  # float32 rounding far from the origin: keep the clip exact instead
                coords_raw = None
    if coords_raw is None:
        d, step, lo = 3, 0.0, np.zeros(3)
        coords_raw = _encode_f32(pose.data)
        facts.update(coords="f32", step=None, lo=None, error=0.0)
    facts["error_sw"] = facts["error"] / sw if sw else None
    ccodec, cbits, conf_raw = _encode_conf(pose.confidence, confidence_bits)
    facts["confidence"] = {0: "mask", 1: f"u{cbits}", 2: "f32"}[ccodec]
    if facts["coords"] == "q16":  # layout 1: low and high byte planes compressed apart
        low = _compress(coords_raw[: len(coords_raw) // 2], codec)
        coords_blob = struct.pack("<I", len(low)) + low
        coords_blob += _compress(coords_raw[len(coords_raw) // 2 :], codec)
    else:
        coords_blob = _compress(coords_raw, codec)
    conf_blob = _compress(conf_raw, codec)
    header = _HEADER.pack(
        MAGIC, _COORDS[facts["coords"]], ccodec, cbits, _CODECS[codec],
        t, j, d, LAYOUT, step, *lo.tolist(), len(coords_blob),
    )  # fmt: skip
    return header + coords_blob + conf_blob, facts


def _dequantise(codes: np.ndarray, step: float, lo: np.ndarray, seen: np.ndarray) -> np.ndarray:
    t, j, d = codes.shape
    out = np.zeros((t, j, 3), np.float32)
    out[:, :, :d] = (codes * step + lo[:d]).astype(np.float32)
    out[~seen] = 0.0
    return out


def _max_error(a: np.ndarray, b: np.ndarray, seen: np.ndarray) -> float:
    if not seen.any():
        return 0.0
    diff = a[seen].astype(np.float64) - b[seen].astype(np.float64)
    return float(np.linalg.norm(diff, axis=-1).max())


def decode_record(
    rec: bytes, skeleton: str, frames: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Record bytes -> (data (t, j, 3) float32, confidence (t, j) float32). ValueError if broken.

    `frames`: the count the manifest lists, checked against the header before anything is
    inflated; every size the header implies is checked before it is allocated."""
    if len(rec) < _HEADER.size:
        raise ValueError("record shorter than its header")
    magic, cc, fc, fbits, codec, t, j, d, layout, step, lo0, lo1, lo2, nc = _HEADER.unpack_from(rec)
    if magic != MAGIC:
        raise ValueError(f"bad magic {magic!r}")
    if codec not in (0, 1) or cc not in (0, 1) or fc not in (0, 1, 2) or d not in (2, 3):
        raise ValueError("unknown codec in the record header")
    if layout > LAYOUT:
        raise ValueError(f"record layout {layout} is newer than this signllm reads ({LAYOUT})")
    levels = _levels(get_skeleton(skeleton))
    if j != sum(len(js) for js, _ in levels):
        raise ValueError(f"record has {j} joints, skeleton {skeleton} has another count")
    if frames is not None and t != frames:
        raise ValueError(f"record header says {t} frames, the manifest {frames}")
    if t > MAX_FRAMES:
        raise ValueError(f"record header says {t} frames, more than a clip may have ({MAX_FRAMES})")
    if fc == _CONF["u"] and not 1 <= fbits <= 8:
        raise ValueError(f"confidence codes of {fbits} bits (1..8 allowed)")
    if nc > len(rec) - _HEADER.size or not (math.isfinite(step) and math.isfinite(lo0 + lo1 + lo2)):
        raise ValueError("record header is inconsistent (blob size or grid)")
    n = t * j
    coords_size = n * d * 2 if cc == _COORDS["q16"] else n * 3 * 4
    nibbles = layout >= 1 and fbits <= 4  # 4-bit codes, two per byte
    conf_size = {0: (n + 7) // 8, 1: (n + 1) // 2 if nibbles else n, 2: n * 4}[fc]
    body = memoryview(rec)[_HEADER.size :]
    try:
        if layout >= 1 and cc == _COORDS["q16"]:
            if nc < 4:
                raise ValueError("coordinate blob shorter than its plane length")
            (n_low,) = struct.unpack_from("<I", body)
            if 4 + n_low > nc:
                raise ValueError("coordinate plane length past the blob")
            half = coords_size // 2  # byte planes: all low bytes, then all high bytes
            coords_raw = _decompress(bytes(body[4 : 4 + n_low]), codec, half)
            coords_raw += _decompress(bytes(body[4 + n_low : nc]), codec, half)
        else:
            coords_raw = _decompress(bytes(body[:nc]), codec, coords_size)
        conf_raw = _decompress(bytes(body[nc:]), codec, conf_size)
    except (zlib.error, lzma.LZMAError) as e:
        raise ValueError(f"cannot decompress: {e}") from None
    conf = _decode_conf(conf_raw, fc, fbits, t, j, layout)
    seen = conf > 0
    if cc == _COORDS["q16"]:
        codes = _decode_q16(coords_raw, t, j, d, levels)
        data = _dequantise(codes, step, np.array([lo0, lo1, lo2]), seen)
    else:
        data = _decode_f32(coords_raw, t, j)
    return data, conf


# --- writer -----------------------------------------------------------------------------------
def _shard_name(i: int) -> str:
    return f"shard-{i:05d}.bin"


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


_REQUIRED = ("id", "shard", "offset", "nbytes", "crc32", "frames", "fps")


def _check_row(row: Any, path: Path, lineno: int) -> dict[str, Any]:
    """A manifest row's types and ranges, before any of it is used to open, seek or allocate.

    The shard must be a shard file name of this store (never a path: a row must not make the
    reader open a file elsewhere)."""
    if not isinstance(row, dict) or any(k not in row for k in _REQUIRED):
        raise DataError(f"manifest row lacks one of {', '.join(_REQUIRED)}", path, line=lineno)
    if not isinstance(row["id"], str) or not row["id"]:
        raise DataError("clip id must be a non-empty string", path, lineno, "id")
    shard = row["shard"]
    if not isinstance(shard, str) or not _SHARD_RE.match(shard):
        raise DataError(
            f"{shard!r} is not a shard file name of this store (shard-NNNNN.bin)", path, lineno,
            "shard",
        )  # fmt: skip
    int_field(row["offset"], path, "offset", lineno, 0, 2**62)
    int_field(row["nbytes"], path, "nbytes", lineno, _HEADER.size, MAX_RECORD_BYTES)
    int_field(row["crc32"], path, "crc32", lineno, 0, 2**32 - 1)
    int_field(row["frames"], path, "frames", lineno, 0, MAX_FRAMES)
    finite_number(row["fps"], path, "fps", lineno, lo=1e-3, hi=1e4)
    if row.get("ndim", 3) not in (2, 3) or isinstance(row.get("ndim"), bool):
        raise DataError(f"{row.get('ndim')!r} must be 2 or 3", path, lineno, "ndim")
    for k in _META_FIELDS:
        if row.get(k) is not None and not isinstance(row[k], str):
            raise DataError(f"expected a string, got {type(row[k]).__name__}", path, lineno, k)
    if row.get("extra") is not None and not isinstance(row["extra"], dict):
        raise DataError("expected an object", path, lineno, "extra")
    return row


def _scan_manifest(path: Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """Stream (byte offset, byte length, row) of every complete manifest line.

    A last line without its newline is a row a crash cut short: it is not yielded.
    """
    if not path.exists():
        return
    if not path.is_file():
        raise DataError("is a folder, expected the store's manifest file", path)
    pos = 0
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            n = len(line)
            if not line.endswith(b"\n"):
                return
            if line.strip():
                yield pos, n, _check_row(loads(line, path, lineno, finite=False), path, lineno)
            pos += n


def _read_info(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise DataError("not a pose store (not a folder)", path)
    if not (path / INFO).exists():
        raise DataError(f"not a pose store (no {INFO})", path)
    info = read_json(path / INFO, INFO, finite=False, label="broken JSON")
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        fmt = info.get("format") if isinstance(info, dict) else type(info).__name__
        raise DataError(f"not a {FORMAT} (format={fmt!r})", path / INFO, field="format")
    int_field(info.get("version", 0), path / INFO, "version", None, 0, 2**31)
    skeleton = info.get("skeleton")
    if skeleton is not None:
        if not isinstance(skeleton, str):
            raise DataError("expected a skeleton name", path / INFO, field="skeleton")
        try:
            get_skeleton(skeleton)
        except (KeyError, ValueError, SignLLMError) as e:
            raise DataError(f"unknown skeleton: {e}", path / INFO, field="skeleton") from None
    if int(info.get("version", 0)) > VERSION:
        raise DataError(
            f"store version {info['version']} is newer than this signllm reads ({VERSION})",
            path / INFO,
        )
    return info


class StoreWriter:
    """Append clips to a store directory; use as a context manager.

    `max_error` (shoulder widths, None = float32 lossless), `confidence_bits` (1-8, default 4,
    None = float32), `codec` ("zlib" fast, "lzma" ~5% smaller and slower to read). Settings may differ
    between sessions of one store: every record carries its own. `resume=True` continues an
    existing store (after a crash too) or starts a new one, so one build command can be rerun.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        shard_bytes: int = DEFAULT_SHARD_BYTES,
        max_error: float | None = DEFAULT_MAX_ERROR,
        confidence_bits: int | None = DEFAULT_CONFIDENCE_BITS,
        codec: str = "zlib",
        skeleton: str | None = None,
        resume: bool = False,
        sync_every: int = 64,
    ) -> None:
        if codec not in _CODECS:
            raise ValueError(f"codec must be one of {sorted(_CODECS)}, got {codec!r}")
        if confidence_bits is not None and not 1 <= confidence_bits <= 8:
            raise ValueError(f"confidence_bits must be 1..8 or None, got {confidence_bits}")
        if max_error is not None and not (max_error > 0 and math.isfinite(max_error)):
            raise ValueError(f"max_error must be a positive number or None, got {max_error}")
        if shard_bytes <= 0:
            raise ValueError(f"shard_bytes must be positive, got {shard_bytes}")
        self.path = Path(path)
        self.shard_bytes = int(shard_bytes)
        self.max_error = max_error
        self.confidence_bits = confidence_bits
        self.codec = codec
        self.sync_every = max(1, int(sync_every))
        self.skeleton = skeleton
        self._ids: set[str] = set()
        self._pending: list[dict[str, Any]] = []
        self._shard_index = 0
        self._shard: Any = None  # open binary file of the current shard
        self._shard_size = 0
        self._clips = 0
        self._frames = 0
        self._closed = False
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = self._acquire_lock()
        try:
            self._open(resume)
        except BaseException:
            self._release_lock()
            raise

    # -- set-up ------------------------------------------------------------------------------
    def _acquire_lock(self) -> Any:
        f = open(self.path / LOCK, "a+b")  # held for the writer's lifetime
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                raise RuntimeError(f"another StoreWriter has {self.path} open") from None
        return f

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing drops the flock
            self._lock = None

    def _open(self, resume: bool) -> None:
        info_path = self.path / INFO
        manifest = self.path / MANIFEST
        if info_path.exists() or manifest.exists():
            if not resume:
                raise FileExistsError(
                    f"{self.path} already holds a store; pass resume=True to add to it"
                )
            info = _read_info(self.path)
            if self.skeleton is None:
                self.skeleton = info.get("skeleton")
            elif info.get("skeleton") and info["skeleton"] != self.skeleton:
                raise ValueError(
                    f"store skeleton is {info['skeleton']!r}, writer asked for {self.skeleton!r}"
                )
            self._recover()
        elif any(self.path.glob("shard-*.bin")):
            raise FileExistsError(f"{self.path} holds shard files but no {INFO}; not touching them")
        self._write_info(complete=False)
        self._open_shard()

    def _recover(self) -> None:
        """Drop whatever a crash left beyond the last fully written record.

        The whole store is checked first and nothing is written, truncated or deleted unless all
        of it holds: rows in write order, each shard's records back to back from offset 0, shards
        in rotation order, every listed byte present, and each shard's last listed record's
        CRC32. A store that fails is refused (DataError) and left exactly as it was.
        """
        manifest = self.path / MANIFEST
        ends: dict[str, int] = {}
        last: dict[str, dict[str, Any]] = {}
        ids: set[str] = set()
        end = 0
        clips = frames = 0
        prev_index = 0
        for off, n, row in _scan_manifest(manifest):
            shard, offset, nbytes = row["shard"], row["offset"], row["nbytes"]
            index = int(_SHARD_RE.match(shard).group(1))  # type: ignore[union-attr]
            if index < prev_index:
                raise DataError(
                    f"row lists {shard} after {_shard_name(prev_index)}: rows are not in the "
                    "order the writer makes them",
                    manifest,
                    None,
                    "shard",
                )
            if offset != ends.get(shard, 0):
                raise DataError(
                    f"clip {row['id']!r}: record at offset {offset} of {shard}, but the "
                    f"previous record there ends at {ends.get(shard, 0)} (rows overlap or "
                    "leave a gap: the manifest was edited or is corrupt)",
                    manifest,
                    None,
                    "offset",
                )
            if row["id"] in ids:
                raise DataError(f"clip {row['id']!r} is listed twice", manifest, None, "id")
            prev_index = index
            ends[shard] = offset + nbytes
            last[shard] = row
            ids.add(row["id"])
            end = off + n
            clips += 1
            frames += row["frames"]
        listed = prev_index if ends else -1
        drop: list[Path] = []
        cut: list[tuple[Path, int]] = []
        for p in sorted(self.path.iterdir()):
            m = _SHARD_RE.match(p.name)
            if not m:
                continue
            if not p.is_file():
                raise DataError("is a folder, expected a shard file", p)
            keep = ends.get(p.name, 0)
            size = p.stat().st_size
            if size < keep:
                raise DataError(
                    f"shard is {size} bytes but the manifest lists records up to {keep}", p
                )
            if keep == 0:  # lists nothing: a shard a crash left half-begun
                drop.append(p)
            elif size > keep:
                cut.append((p, keep))
        missing = [s for s in ends if not (self.path / s).is_file()]
        if missing:
            raise DataError(f"manifest lists records in missing shard(s) {missing}", manifest)
        for shard, row in last.items():  # the record a crash would have hit
            with open(self.path / shard, "rb") as f:
                f.seek(row["offset"])
                rec = f.read(row["nbytes"])
            if zlib.crc32(rec) != row["crc32"]:
                raise DataError(
                    f"clip {row['id']!r}: record at offset {row['offset']} is corrupt (CRC32 "
                    "mismatch); refusing to resume",
                    self.path / shard,
                )
        # all checked: now repair
        if manifest.exists() and manifest.stat().st_size != end:
            with open(manifest, "r+b") as f:
                f.truncate(end)
                os.fsync(f.fileno())
        for p in drop:
            p.unlink()
        for p, keep in cut:
            with open(p, "r+b") as f:
                f.truncate(keep)
                os.fsync(f.fileno())
        for tmp in self.path.glob(f".{INFO}.*.tmp"):  # atomic_write's leftovers after kill -9
            tmp.unlink()
        self._ids |= ids
        self._clips += clips
        self._frames += frames
        self._shard_index = max(listed, 0)

    def _write_info(self, complete: bool) -> None:
        info = {
            "format": FORMAT,
            "version": VERSION,
            "skeleton": self.skeleton,
            "max_error": self.max_error,
            "error_unit": "shoulder widths (median |joint 2 - joint 5|), Euclidean per joint",
            "confidence_bits": self.confidence_bits,
            "codec": self.codec,
            "shard_bytes": self.shard_bytes,
            "clips": self._clips,
            "frames": self._frames,
            "shards": sum(1 for p in self.path.iterdir() if _SHARD_RE.match(p.name)),
            "complete": complete,  # False while a writer is (or was, if it died) adding clips
        }
        with atomic_write(self.path / INFO, "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)
            f.write("\n")

    def _open_shard(self) -> None:
        p = self.path / _shard_name(self._shard_index)
        self._shard = open(p, "ab")  # closed at rotation / close
        self._shard_size = self._shard.tell()
        _fsync_dir(self.path)  # the new name itself must survive a power cut
        if self._shard_size >= self.shard_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self.sync()
        self._shard.close()
        self._shard_index += 1
        p = self.path / _shard_name(self._shard_index)
        self._shard = open(p, "ab")
        self._shard_size = self._shard.tell()
        _fsync_dir(self.path)

    # -- API ---------------------------------------------------------------------------------
    def has(self, clip_id: str) -> bool:
        """True if the clip is in the store (written now or in an earlier session)."""
        return clip_id in self._ids

    def __len__(self) -> int:
        return self._clips

    @property
    def frames_total(self) -> int:
        return self._frames

    def add(self, pose: Pose, split: str | None = None) -> dict[str, Any]:
        """Append one clip; returns its manifest row. The id must be new (see `has`)."""
        if self._closed:
            raise ValueError("StoreWriter is closed")
        cid = pose.meta.id
        if not cid:
            raise ValueError("a clip needs a non-empty meta.id to go into a store")
        if cid in self._ids:
            raise ValueError(f"clip {cid!r} is already in the store (check has(id) first)")
        if pose.num_frames > MAX_FRAMES:  # readers refuse longer records (a corrupt header)
            raise ValueError(f"clip {cid!r} has {pose.num_frames} frames; a store clip has at "
                             f"most {MAX_FRAMES}: cut it first")  # fmt: skip
        if self.skeleton is None:
            self.skeleton = pose.skeleton
            self._write_info(complete=False)
        elif pose.skeleton != self.skeleton:
            raise ValueError(
                f"clip {cid!r} uses skeleton {pose.skeleton!r}, the store holds {self.skeleton!r}"
            )
        meta = pose.meta.to_dict()
        extra = meta.pop("extra")
        meta["split"] = split if split is not None else pose.meta.split
        try:  # fail before writing anything if the metadata cannot be stored
            json.dumps(extra, default=_json_default, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"clip {cid!r}: meta.extra is not JSON serialisable: {e}") from None
        rec, facts = encode_record(pose, self.max_error, self.confidence_bits, self.codec)
        if self._shard_size and self._shard_size + len(rec) > self.shard_bytes:
            self._rotate()
        row: dict[str, Any] = dict(meta)
        row.update(
            frames=pose.num_frames,
            fps=pose.fps,
            ndim=pose.ndim,
            shard=_shard_name(self._shard_index),
            offset=self._shard_size,
            nbytes=len(rec),
            crc32=zlib.crc32(rec),
            **facts,
            extra=extra,
        )
        self._shard.write(rec)
        self._shard_size += len(rec)
        self._ids.add(cid)
        self._clips += 1
        self._frames += pose.num_frames
        self._pending.append(row)
        if len(self._pending) >= self.sync_every:
            self.sync()
        return row

    def add_many(self, poses: Iterable[Pose], split: str | None = None) -> int:
        """Add every clip not already in the store; returns how many were added."""
        n = 0
        for pose in poses:
            if not self.has(pose.meta.id):
                self.add(pose, split=split)
                n += 1
        return n

    def sync(self) -> None:
        """Make every added clip durable: fsync the shard, then list the clips in the manifest."""
        if not self._pending:
            return
        self._shard.flush()
        os.fsync(self._shard.fileno())
        lines = "".join(
            json.dumps(r, ensure_ascii=False, default=_json_default) + "\n" for r in self._pending
        )
        with open(self.path / MANIFEST, "ab") as f:
            f.write(lines.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        self._pending.clear()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.sync()
            self._shard.close()
            if self._shard_size == 0:  # an empty last shard lists nothing
                with contextlib.suppress(FileNotFoundError):
                    (self.path / _shard_name(self._shard_index)).unlink()
            self._write_info(complete=True)
        finally:
            self._closed = True
            self._release_lock()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # clips added before an exception are kept: resume=True continues


# --- reader -----------------------------------------------------------------------------------
class Store:
    """Read a store: `len`, `ids()`, `store[id]`, `iter(...)`, `summary()`.

    The manifest is indexed once at open, compactly: ids plus numpy arrays (line position,
    frames, fps, language, split), a few hundred bytes per clip; each row is re-read from the file
    (one pread) when needed. No per-row dicts stay alive, so forked DataLoader workers do not
    copy the index page by page. The index is a snapshot: clips a live writer adds later appear
    when the store is opened again.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.info = _read_info(self.path)
        self.skeleton: str = self.info.get("skeleton") or "prompt2sign50"
        self._fds: dict[str, int] = {}
        self._id_list: list[str] = []
        self._index: dict[str, int] = {}
        line_off: list[int] = []
        line_len: list[int] = []
        frames: list[int] = []
        fps: list[float] = []
        lang: list[int] = []
        split: list[int] = []
        self._langs: dict[str, int] = {}
        self._splits: dict[str, int] = {}
        manifest = self.path / MANIFEST
        for off, n, row in _scan_manifest(manifest):
            cid = row["id"]
            if cid in self._index:
                raise DataError(f"clip {cid!r} is listed twice", manifest)
            self._index[cid] = len(self._id_list)
            self._id_list.append(cid)
            line_off.append(off)
            line_len.append(n)
            frames.append(int(row["frames"]))
            fps.append(float(row["fps"]))
            lang.append(self._langs.setdefault(row.get("language") or "", len(self._langs)))
            split.append(self._splits.setdefault(row.get("split") or "", len(self._splits)))
        self._line_off = np.array(line_off, np.int64)
        self._line_len = np.array(line_len, np.int64)
        self._frames = np.array(frames, np.int64)
        self._fps = np.array(fps, np.float64)
        self._lang = np.array(lang, np.int32)
        self._split = np.array(split, np.int32)

    # -- index -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._id_list)

    def __contains__(self, clip_id: object) -> bool:
        return clip_id in self._index

    def _select(self, split: str | None, language: str | None) -> np.ndarray:
        """Indices (write order) of the clips of one split and/or language (None = any)."""
        keep = np.ones(len(self), bool)
        if split is not None:
            keep &= self._split == self._splits.get(split, -1)
        if language is not None:
            keep &= self._lang == self._langs.get(language, -1)
        return np.flatnonzero(keep)

    def _row(self, i: int) -> dict[str, Any]:
        line = self._pread(MANIFEST, int(self._line_len[i]), int(self._line_off[i]))
        path = self.path / MANIFEST
        return _check_row(loads(line, path, finite=False), path, i + 1)

    def iter_rows(
        self, split: str | None = None, language: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream manifest rows (dicts, see the module docstring) in write order."""
        for i in self._select(split, language):
            yield self._row(int(i))

    def rows(self, split: str | None = None, language: str | None = None) -> list[dict[str, Any]]:
        """Manifest rows of one split and/or language (None = any), as a list."""
        return list(self.iter_rows(split, language))

    @property
    def manifest(self) -> list[dict[str, Any]]:
        """Every manifest row, in write order (built on each access: prefer `iter_rows`)."""
        return self.rows()

    def ids(self, split: str | None = None, language: str | None = None) -> list[str]:
        return [self._id_list[i] for i in self._select(split, language)]

    def with_split(self, clip_ids: Iterable[str], split: str) -> Store:
        """A read-only view of this store in which `clip_ids` belong to `split` (e.g. a dev set
        held out of train at training time); the files and this store stay untouched."""
        view = copy.copy(self)
        view._fds = {}  # its own descriptors: closing one never closes the other's
        view._splits = dict(self._splits)
        code = view._splits.setdefault(split, len(view._splits))
        view._split = self._split.copy()
        ids = list(clip_ids)
        view._split[[self._index[c] for c in ids]] = code
        # what moved, for caches keyed on a split's contents (signllm/train/data.py)
        moved = f"{getattr(self, 'moved_digest', '')}\n{split}\n" + "\n".join(ids)
        view.moved_digest = hashlib.sha256(moved.encode()).hexdigest()[:16]
        return view

    def row(self, clip_id: str) -> dict[str, Any]:
        try:
            return self._row(self._index[clip_id])
        except KeyError:
            raise KeyError(f"no clip {clip_id!r} in the store at {self.path}") from None

    @property
    def frames_total(self) -> int:
        return int(self._frames.sum())

    @property
    def languages(self) -> list[str]:
        return sorted(lang for lang in self._langs if lang)

    @property
    def splits(self) -> list[str]:
        return sorted(s for s in self._splits if s)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per sign language ("und" when unset): clips, frames, hours, signers, vocabulary
        (distinct lower-cased words of the text). Reads the manifest once, streaming."""
        out: dict[str, dict[str, Any]] = {}
        for lang, code in sorted(self._langs.items(), key=lambda kv: kv[0] or "und"):
            sel = self._lang == code
            words: set[str] = set()
            signers: set[str] = set()
            for row in self.iter_rows(language=lang):
                words.update(_WORD_RE.findall((row.get("text") or "").lower()))
                if row.get("signer"):
                    signers.add(row["signer"])
            out[lang or "und"] = {
                "clips": int(sel.sum()),
                "frames": int(self._frames[sel].sum()),
                "hours": float((self._frames[sel] / self._fps[sel]).sum() / 3600.0),
                "signers": len(signers),
                "vocabulary": len(words),
            }
        return out

    # -- clips -------------------------------------------------------------------------------
    def _pread(self, name: str, n: int, off: int, clip: str | None = None) -> bytes:
        """n bytes at `off` of a file of the store, through a kept descriptor."""
        fd = self._fds.get(name)
        if fd is None:
            try:
                fd = os.open(self.path / name, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            except FileNotFoundError:
                what = f" (clip {clip!r})" if clip else ""
                raise DataError(f"file missing{what}", self.path / name) from None
            except OSError as e:
                raise DataError(f"cannot open: {e.strerror}", self.path / name) from None
            self._fds[name] = fd
        try:
            size = os.fstat(fd).st_size
            if off + n > size:  # checked before pread allocates n bytes
                what = f"clip {clip!r}: record" if clip else "manifest row"
                raise DataError(
                    f"{what} truncated ({max(0, size - off)} of {n} bytes at offset {off})",
                    self.path / name,
                )
            if not hasattr(os, "pread"):  # pragma: no cover - Windows
                os.lseek(fd, off, os.SEEK_SET)
            data = os.pread(fd, n, off) if hasattr(os, "pread") else os.read(fd, n)
        except OSError as e:  # a folder where a shard should be, an offset past 2^63
            raise DataError(f"cannot read: {e.strerror or e}", self.path / name) from None
        if len(data) != n:
            what = f"clip {clip!r}: record" if clip else "manifest row"
            raise DataError(
                f"{what} truncated ({len(data)} of {n} bytes at offset {off})", self.path / name
            )
        return data

    def _read(self, row: dict[str, Any]) -> bytes:
        return self._pread(row["shard"], int(row["nbytes"]), int(row["offset"]), row["id"])

    def _decode(self, row: dict[str, Any], rec: bytes) -> Pose:
        where = self.path / row["shard"]
        if zlib.crc32(rec) != int(row["crc32"]):
            raise DataError(
                f"clip {row['id']!r}: record at offset {row['offset']} is corrupt (CRC32 mismatch)",
                where,
            )
        try:
            data, conf = decode_record(rec, self.skeleton, int(row["frames"]))
        except ValueError as e:
            raise DataError(f"clip {row['id']!r}: undecodable record ({e})", where) from None
        if data.shape[0] != int(row["frames"]):
            raise DataError(f"clip {row['id']!r}: frame count disagrees with the manifest", where)
        meta = PoseMeta(**{k: row.get(k) or "" for k in _META_FIELDS}, extra=row.get("extra") or {})
        return Pose(
            data=data,
            confidence=conf,
            fps=float(row["fps"]),
            skeleton=self.skeleton,
            meta=meta,
            ndim=int(row.get("ndim", 3)),
        )

    def __getitem__(self, clip_id: str) -> Pose:
        """Read one clip (one pread of its record)."""
        row = self.row(clip_id)
        return self._decode(row, self._read(row))

    def get(self, clip_id: str, default: Pose | None = None) -> Pose | None:
        return self[clip_id] if clip_id in self._index else default

    def iter(
        self,
        split: str | None = None,
        language: str | None = None,
        shuffle_seed: int | None = None,
    ) -> Iterator[Pose]:
        """Stream clips (write order = sequential reads, or shuffled by a seed); caches nothing."""
        order = self._select(split, language)
        if shuffle_seed is not None:
            order = np.random.default_rng(shuffle_seed).permutation(order)
        for i in order:
            row = self._row(int(i))
            yield self._decode(row, self._read(row))

    def __iter__(self) -> Iterator[Pose]:
        return self.iter()

    def verify(self) -> int:
        """Check every record's CRC and decode it; returns the clip count, raises DataError."""
        for row in self.iter_rows():
            self._decode(row, self._read(row))
        return len(self)

    # -- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __getstate__(self) -> dict[str, Any]:  # picklable for spawn-started DataLoader workers
        state = self.__dict__.copy()
        state["_fds"] = {}
        return state

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, clips={len(self)}, skeleton={self.skeleton!r})"


# --- export -----------------------------------------------------------------------------------
def export_skels(
    store: Store,
    out_prefix: str | Path,
    split: str | None = None,
    language: str | None = None,
    scale: float = 3.0,
) -> Path:
    """Write `<out_prefix>.skels/.text/.gloss/.files` (streamed; atomic as a group)."""
    from .formats.skels import write_skels

    return write_skels(store.iter(split=split, language=language), out_prefix, scale=scale)


def _safe_name(clip_id: str) -> str:
    name = re.sub(r"[^\w.\-]+", "_", clip_id).strip("._")
    return name or "clip"


def export_pose(
    store: Store,
    out_dir: str | Path,
    split: str | None = None,
    language: str | None = None,
) -> list[Path]:
    """Write one `<id>.pose` per clip (ids made filename-safe) into `out_dir`."""
    from .formats.poseformat import write_pose_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    used: set[str] = set()
    for pose in store.iter(split=split, language=language):
        name = _safe_name(pose.meta.id)
        stem, k = name, 1
        while name in used:  # two ids that sanitise alike must not overwrite each other
            k += 1
            name = f"{stem}-{k}"
        used.add(name)
        paths.append(write_pose_file(pose, out / f"{name}.pose"))
    return paths


__all__ = [
    "Store",
    "StoreWriter",
    "decode_record",
    "encode_record",
    "export_pose",
    "export_skels",
    "shoulder_width",
]
