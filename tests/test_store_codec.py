"""Store codec: version-1 stores still read; the layout-1 confidence and plane coding round-trip."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np
import pytest

from signllm.data import store as S
from signllm.data.formats.openpose_json import read_openpose_folder
from signllm.data.formats.skels import read_skels
from signllm.data.store import Store, StoreWriter, decode_record, encode_record, shoulder_width
from signllm.pose import Pose, PoseMeta

V1 = Path(__file__).parent / "data" / "store_v1"


def _close(got: Pose, want: Pose, conf_tol: float) -> None:
    np.testing.assert_array_equal(got.mask, want.mask)
    np.testing.assert_allclose(got.confidence, want.confidence, rtol=0, atol=conf_tol)
    err = np.linalg.norm(got.data[want.mask] - want.data[want.mask], axis=-1).max()
    assert err / shoulder_width(want) <= S.DEFAULT_MAX_ERROR


def test_version_1_stores_still_read(samples: Path) -> None:
    h2s = read_openpose_folder(samples / "how2sign" / "openpose_json" / "_2FBDaOPYig_2-3-rgb_front")
    ph = read_skels(samples / "phoenix14t" / "dev.skels")[0]
    for name, want, frames in (("how2sign", h2s, 24), ("phoenix", ph, 12)):
        store = Store(V1 / name)
        assert store.info["version"] == 1
        (got,) = list(store)
        want = dataclasses.replace(
            want, data=want.data[:frames], confidence=want.confidence[:frames]
        )
        assert got.meta.id == want.meta.id and got.data.shape == want.data.shape
        _close(got, want, 1.0 / 255 + 1e-6)  # version 1 wrote 8-bit confidence
    assert Store(V1 / "how2sign").row(h2s.meta.id)["confidence"] == "u8"


def _noisy(t: int, j: int = 50, seed: int = 0) -> Pose:
    rng = np.random.default_rng(seed)
    data = np.cumsum(rng.normal(0, 0.02, (t, j, 3)), axis=0).astype(np.float32)
    data[:, 2], data[:, 5] = [-0.5, 0, 0], [0.5, 0, 0]
    conf = rng.uniform(0, 1, (t, j)).astype(np.float32)
    conf[rng.uniform(size=(t, j)) < 0.2] = 0.0  # missing joints
    conf[:, [2, 5]] = 0.9
    return Pose(data=data, confidence=conf, fps=25, meta=PoseMeta(id=f"n{seed}"))


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("t", [1, 7])  # 7 x 50 joints: an odd number of nibbles for 1 frame
def test_confidence_codes_round_trip(bits: int, t: int) -> None:
    pose = _noisy(t, seed=bits)
    rec, facts = encode_record(pose, confidence_bits=bits)
    assert facts["confidence"] == f"u{bits}"
    _, conf = decode_record(rec, "prompt2sign50")
    levels = (1 << bits) - 1
    want = np.where(pose.confidence > 0, np.maximum(1, np.rint(pose.confidence * levels)), 0)
    np.testing.assert_array_equal(np.rint(conf * levels), want)  # exactly the codes
    assert np.array_equal(conf > 0, pose.confidence > 0)


def test_zigzag4_is_a_bijection() -> None:
    r = np.arange(16, dtype=np.uint8)
    z = S._zigzag4(r)
    assert sorted(z.tolist()) == list(range(16))
    np.testing.assert_array_equal(S._unzigzag4(z), r)
    assert z[0] == 0 and z[1] == 2 and z[15] == 1  # +1 -> 2, -1 -> 1


def test_default_is_four_bit_confidence_and_split_planes(tmp_path: Path) -> None:
    pose = _noisy(30)
    with StoreWriter(tmp_path / "s") as w:
        w.add(pose)
    store = Store(tmp_path / "s")
    assert store.info["version"] == S.VERSION == 2
    assert store.row("n0")["confidence"] == "u4"
    rec, _ = encode_record(pose)
    assert rec[15] == S.LAYOUT == 1  # the layout byte (version-1 records hold 0 there)
    _close(store["n0"], pose, 1.0 / 15 + 1e-6)


def test_a_newer_record_layout_is_refused() -> None:
    rec, _ = encode_record(_noisy(3))
    newer = rec[:15] + struct.pack("<B", S.LAYOUT + 1) + rec[16:]
    with pytest.raises(ValueError, match="layout"):
        decode_record(newer, "prompt2sign50")
