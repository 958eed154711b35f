"""The binary pose store: lossy-within-bound round trips on real data, metadata, random access,
streaming, shard rotation, crash/resume (truncation and a real kill -9) and corruption reports."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from signllm import Pose, PoseMeta
from signllm.data.formats import read_poses
from signllm.data.formats.poseformat import read_pose_file
from signllm.data.formats.skels import read_skels
from signllm.data.store import (
    DEFAULT_MAX_ERROR,
    Store,
    StoreWriter,
    export_pose,
    export_skels,
    shoulder_width,
)
from signllm.errors import DataError

CONF_TOL = 1.0 / 15 + 1e-6  # 4-bit confidence (default): 1/30, or 1/15 for values under 1/30


@pytest.fixture(scope="module")
def how2sign(samples: Path) -> list[Pose]:
    return list(read_poses(samples / "how2sign" / "openpose_json"))


@pytest.fixture(scope="module")
def phoenix(samples: Path) -> list[Pose]:
    return [p for s in ("train", "dev", "test") for p in read_skels(samples / "phoenix14t" / s)]


def synthetic(i: int, frames: int = 20, **meta: str) -> Pose:
    """A deterministic random-walk clip with shoulders 1 unit apart (id c<i>)."""
    rng = np.random.default_rng(i)
    data = np.cumsum(rng.normal(0, 0.02, (frames, 50, 3)), axis=0) + rng.normal(0, 0.3, (50, 3))
    data[:, 2] = [-0.5, 0, 0]
    data[:, 5] = [0.5, 0, 0]
    conf = rng.uniform(0.05, 1, (frames, 50)).astype(np.float32)
    return Pose(data=data, confidence=conf, fps=25, meta=PoseMeta(id=f"c{i}", **meta))


def write(path: Path, poses: list[Pose], **kw) -> Store:
    with StoreWriter(path, **kw) as w:
        for p in poses:
            w.add(p)
    return Store(path)


def assert_close(got: Pose, want: Pose, max_error: float = DEFAULT_MAX_ERROR) -> float:
    """Same clip within the store's bounds; returns the error in shoulder widths."""
    assert got.meta.id == want.meta.id
    assert got.data.shape == want.data.shape and got.fps == want.fps and got.ndim == want.ndim
    np.testing.assert_array_equal(got.mask, want.mask)  # missing stays missing, seen stays seen
    assert np.all(got.data[~got.mask] == 0)
    np.testing.assert_allclose(got.confidence, want.confidence, rtol=0, atol=CONF_TOL)
    if not want.mask.any():
        return 0.0
    err = np.linalg.norm(got.data[want.mask] - want.data[want.mask], axis=-1).max()
    err_sw = float(err / shoulder_width(want))
    assert err_sw <= max_error < 1e-3
    return err_sw


def test_round_trip_real_2d_openpose(tmp_path: Path, how2sign: list[Pose]) -> None:
    store = write(tmp_path / "s", how2sign)
    assert len(store) == 5 and store.frames_total == 684
    for want in how2sign:
        got = store[want.meta.id]
        assert got.ndim == 2 and np.all(got.data[..., 2] == 0)
        err = assert_close(got, want)
        row = store.row(want.meta.id)
        assert row["coords"] == "q16" and row["confidence"] == "u4"
        assert row["error_sw"] == pytest.approx(err, rel=1e-6)
    json_bytes = sum(f.stat().st_size for p in how2sign for f in Path(p.meta.source).iterdir())
    shard_bytes = sum(f.stat().st_size for f in (tmp_path / "s").glob("shard-*.bin"))
    assert shard_bytes <= 0.03 * json_bytes  # measured: 2.99% (bench/store.py has the numbers)


def test_round_trip_real_3d_phoenix(tmp_path: Path, phoenix: list[Pose]) -> None:
    store = write(tmp_path / "s", phoenix, codec="lzma")
    assert len(store) == 15
    for want, got in zip(phoenix, store, strict=True):
        assert got.ndim == 3
        assert_close(got, want)
        assert store.row(want.meta.id)["confidence"] == "mask"  # 0/1 data: exact
        np.testing.assert_array_equal(got.confidence, want.confidence)


def test_missing_joints_stay_missing(tmp_path: Path, how2sign: list[Pose]) -> None:
    pose = how2sign[0].copy()
    rng = np.random.default_rng(0)
    conf = pose.confidence
    conf[rng.random(conf.shape) < 0.2] = 0  # scattered dropouts
    conf[10:40, 8:29] = 0  # a hand gone for 30 frames
    conf[:, 30] = 0  # a joint never seen
    conf[50] = 0  # a whole empty frame
    conf[:3, 0] = 0  # the root missing at the start
    pose.data[conf == 0] = 0
    got = write(tmp_path / "s", [pose])[pose.meta.id]
    assert_close(got, pose)


def test_metadata_round_trip(tmp_path: Path) -> None:
    extra = {"norm": {"mean": [0.1, -2.5], "std": np.float32(0.25)}, "tags": ["ä", "手話"], "n": 3}
    pose = synthetic(
        1,
        language="gsg",
        text="Grüß Gott — ß, é, 手話, 🤟",
        gloss="GRUESS-GOTT IX-1",
        signer="Signer 7",
        source="/data/x.mp4",
        spoken_language="deu",
        split="dev",
    )
    pose.meta.extra = extra
    path = tmp_path / "s"
    with StoreWriter(path) as w:
        w.add(pose)
        w.add(synthetic(2), split="train")  # the argument wins over meta.split
    store = Store(path)
    got = store["c1"].meta
    assert (got.language, got.text, got.gloss, got.signer) == (
        "gsg",
        "Grüß Gott — ß, é, 手話, 🤟",
        "GRUESS-GOTT IX-1",
        "Signer 7",
    )
    assert (got.source, got.spoken_language, got.split) == ("/data/x.mp4", "deu", "dev")
    assert got.extra == {"norm": {"mean": [0.1, -2.5], "std": 0.25}, "tags": ["ä", "手話"], "n": 3}
    assert store["c2"].meta.split == "train"
    # The manifest is plain UTF-8 JSON lines, readable by anything.
    rows = [json.loads(line) for line in (path / "manifest.jsonl").read_text("utf-8").splitlines()]
    assert rows[0]["text"] == "Grüß Gott — ß, é, 手話, 🤟"
    info = json.loads((path / "store.json").read_text())
    assert info["complete"] and info["clips"] == 2 and info["skeleton"] == "prompt2sign50"


def test_random_access_and_index(tmp_path: Path) -> None:
    poses = [synthetic(i) for i in range(12)]
    store = write(tmp_path / "s", poses, shard_bytes=20_000)
    for i in np.random.default_rng(1).permutation(12):
        assert_close(store[f"c{i}"], poses[i])
    assert "c3" in store and "nope" not in store
    clone = pickle.loads(pickle.dumps(store))  # what a spawn-started DataLoader worker gets
    assert_close(clone["c7"], poses[7])
    assert store.get("nope") is None
    with pytest.raises(KeyError, match="nope"):
        store["nope"]


def test_iteration_order_filters_and_summary(tmp_path: Path) -> None:
    langs = ["ase", "gsg", "ase", "gsg", "ase", "ase"]
    splits = ["train", "train", "dev", "test", "train", "test"]
    poses = [
        synthetic(i, frames=10 + i, language=lang, split=sp, text=f"word{i} shared Shared")
        for i, (lang, sp) in enumerate(zip(langs, splits, strict=True))
    ]
    store = write(tmp_path / "s", poses)
    assert [p.meta.id for p in store] == [f"c{i}" for i in range(6)]  # write order
    assert store.ids(split="train") == ["c0", "c1", "c4"]
    assert store.ids(language="gsg") == ["c1", "c3"]
    assert [p.meta.id for p in store.iter(split="train", language="ase")] == ["c0", "c4"]
    assert [r["id"] for r in store.rows(split="test")] == ["c3", "c5"]
    a = [p.meta.id for p in store.iter(shuffle_seed=3)]
    assert a == [p.meta.id for p in store.iter(shuffle_seed=3)]
    assert sorted(a) == sorted(store.ids()) and a != store.ids()
    assert store.frames_total == sum(10 + i for i in range(6))
    s = store.summary()
    assert set(s) == {"ase", "gsg"}
    assert s["ase"]["clips"] == 4 and s["ase"]["frames"] == 10 + 12 + 14 + 15
    assert s["ase"]["hours"] == pytest.approx(s["ase"]["frames"] / 25 / 3600)
    assert s["ase"]["vocabulary"] == 4 + 1  # word0 word2 word4 word5 + "shared" (case-folded)


def test_shard_rotation(tmp_path: Path) -> None:
    poses = [synthetic(i, frames=30) for i in range(20)]
    path = tmp_path / "s"
    store = write(path, poses, shard_bytes=30_000)
    shards = sorted(path.glob("shard-*.bin"))
    assert len(shards) > 3
    rows = store.manifest
    for shard in shards:
        mine = [r for r in rows if r["shard"] == shard.name]
        size = shard.stat().st_size
        assert size == sum(r["nbytes"] for r in mine)  # records back to back, nothing else
        assert size <= 30_000 or len(mine) == 1
    for want, got in zip(poses, store, strict=True):
        assert_close(got, want)
    assert json.loads((path / "store.json").read_text())["shards"] == len(shards)


def test_crash_leftovers_are_ignored_then_repaired(tmp_path: Path) -> None:
    """A torn tail (half a record, half a manifest row) is invisible to readers; resume cuts it."""
    path = tmp_path / "s"
    poses = [synthetic(i) for i in range(10)]
    write(path, poses[:6], shard_bytes=8_000)
    last = sorted(path.glob("shard-*.bin"))[-1]
    size = last.stat().st_size
    with open(last, "ab") as f:
        f.write(b"SLR1 half a record")
    stray = path / "shard-00099.bin"
    stray.write_bytes(b"garbage shard nobody lists")
    with open(path / "manifest.jsonl", "ab") as f:
        f.write(b'{"id": "c6", "shard": "shard-000')  # no newline: a torn row
    store = Store(path)
    assert store.ids() == [f"c{i}" for i in range(6)]
    with StoreWriter(path, resume=True, shard_bytes=8_000) as w:
        assert w.has("c5") and not w.has("c6") and len(w) == 6
        assert last.stat().st_size == size and not stray.exists()
        for p in poses:
            if not w.has(p.meta.id):
                w.add(p)
    store = Store(path)
    assert store.ids() == [f"c{i}" for i in range(10)]
    for want, got in zip(poses, store, strict=True):
        assert_close(got, want)
    assert store.verify() == 10


_CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_store import synthetic
    from signllm.data.store import StoreWriter
    with StoreWriter({path!r}, shard_bytes=20_000, sync_every=2) as w:
        for i in range({n}):
            w.add(synthetic(i, frames=40))
            print(i, flush=True)
            time.sleep(0.002)
    """
)


def test_kill_9_mid_write_then_resume(tmp_path: Path) -> None:
    path, n = tmp_path / "s", 150
    code = _CHILD.format(tests=str(Path(__file__).parent), path=str(path), n=n)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:  # type: ignore[union-attr]
            if int(line) >= 25:
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not json.loads((path / "store.json").read_text())["complete"]
    before = Store(path)
    assert 20 <= len(before) < n  # synced in pairs: at most the last unsynced clip is lost
    for i, got in enumerate(before):
        assert_close(got, synthetic(i, frames=40))  # a prefix, each clip whole
    with StoreWriter(path, resume=True, shard_bytes=20_000) as w:
        assert len(w) == len(before)
        added = w.add_many(synthetic(i, frames=40) for i in range(n))
    assert added == n - len(before)
    store = Store(path)  # would raise on a clip listed twice
    assert store.ids() == [f"c{i}" for i in range(n)]
    for i in np.random.default_rng(0).choice(n, 40, replace=False):
        assert_close(store[f"c{i}"], synthetic(int(i), frames=40))
    assert store.verify() == n


def test_corrupt_record_names_shard_and_clip(tmp_path: Path) -> None:
    path = tmp_path / "s"
    store = write(path, [synthetic(i) for i in range(4)], shard_bytes=10_000)
    row = store.row("c2")
    shard = path / row["shard"]
    raw = bytearray(shard.read_bytes())
    raw[row["offset"] + row["nbytes"] // 2] ^= 0xFF
    shard.write_bytes(bytes(raw))
    store = Store(path)
    with pytest.raises(DataError, match=rf"{row['shard']}.*'c2'.*CRC32"):
        store["c2"]
    store["c1"]  # the neighbours still read
    with pytest.raises(DataError, match="'c2'"):
        store.verify()
    # A shard cut short (the manifest promises more bytes than there are).
    with open(shard, "r+b") as f:
        f.truncate(row["offset"] + 10)
    with pytest.raises(DataError, match=rf"{row['shard']}.*'c2'.*truncated"):
        Store(path)["c2"]


def test_lossless_mode_and_float32_fallback(tmp_path: Path) -> None:
    exact = synthetic(0)
    far = synthetic(1)
    far.data[5, 40] = [1e5, 0, 0]  # an outlier: 1e5 shoulder widths do not fit 16 bits
    flat = synthetic(2)
    flat.confidence[:, [2, 5]] = 0  # no shoulders: the finest 16-bit grid of the clip
    path = tmp_path / "s"
    with StoreWriter(path, max_error=None, confidence_bits=None) as w:
        w.add(exact)
    got = Store(path)["c0"]
    np.testing.assert_array_equal(got.data, exact.data)
    np.testing.assert_array_equal(got.confidence, exact.confidence)
    store = write(tmp_path / "t", [far, flat])
    assert store.row("c1")["coords"] == "f32"
    got = store["c1"]
    np.testing.assert_array_equal(got.data[far.mask], far.data[far.mask])
    assert store.row("c2")["coords"] == "q16" and store.row("c2")["error_sw"] is None
    got = store["c2"]
    seen = flat.mask
    extent = np.ptp(flat.data[seen], axis=0).max()
    assert np.abs(got.data[seen] - flat.data[seen]).max() <= extent / 65535
    np.testing.assert_array_equal(got.mask, flat.mask)


def test_edge_clips_and_bad_use(tmp_path: Path) -> None:
    empty = Pose(np.zeros((0, 50, 3)), np.zeros((0, 50)), fps=25, meta=PoseMeta(id="empty"))
    blank = Pose(np.zeros((7, 50, 3)), np.zeros((7, 50)), fps=25, meta=PoseMeta(id="blank"))
    path = tmp_path / "s"
    with StoreWriter(path) as w:
        w.add(empty)
        w.add(blank)
        with pytest.raises(ValueError, match="already in the store"):
            w.add(blank)
        with pytest.raises(ValueError, match=r"non-empty meta\.id"):
            w.add(Pose(np.zeros((1, 50, 3)), np.zeros((1, 50)), fps=25))
        with pytest.raises(ValueError, match="JSON"):
            bad = synthetic(9)
            bad.meta.extra = {"x": object()}
            w.add(bad)
        with pytest.raises(RuntimeError, match="another StoreWriter"):
            StoreWriter(path, resume=True)
    store = Store(path)
    assert store["empty"].num_frames == 0 and store["blank"].num_frames == 7
    assert not store["blank"].mask.any()
    with pytest.raises(FileExistsError, match="resume=True"):
        StoreWriter(path)
    with pytest.raises(DataError, match="not a pose store"):
        Store(tmp_path / "nothing")


def test_export_skels_and_pose(tmp_path: Path, phoenix: list[Pose]) -> None:
    store = write(tmp_path / "s", phoenix)
    out = export_skels(store, tmp_path / "out" / "dev", split="dev")
    back = read_skels(out)
    dev = [p for p in phoenix if p.meta.split == "dev"]
    assert [p.meta.id for p in back] == [p.meta.id for p in dev]
    for got, want in zip(back, dev, strict=True):
        assert got.meta.text == want.meta.text and got.meta.gloss == want.meta.gloss
        np.testing.assert_allclose(got.data, want.data, atol=1e-3)  # 5 decimals x scale 3
    paths = export_pose(store, tmp_path / "poses", split="test")
    assert len(paths) == 5
    got = read_pose_file(paths[0])
    want = next(p for p in phoenix if p.meta.split == "test")
    np.testing.assert_allclose(got.data, want.data, atol=1e-3)
