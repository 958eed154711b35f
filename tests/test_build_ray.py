"""The same per-clip build tasks on a Ray instance started here give the local pool's store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from signllm.data.build import build_dataset  # noqa: E402
from signllm.data.store import Store  # noqa: E402


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=str(tmp),
        logging_level="error",
        log_to_driver=False,
    )
    yield
    ray.shutdown()


def test_ray_build_equals_local_build(local_ray, samples: Path, tmp_path: Path) -> None:
    sources = [
        f"{samples / 'phoenix14t' / 'dev.skels'}:lang=gsg",
        f"{samples / 'how2sign' / 'openpose_json' / '_2FBDaOPYig_4-3-rgb_front'}:lang=ase",
        f"{samples / 'how2sign' / 'openpose_json' / '_2FBDaOPYig_3-3-rgb_front'}:lang=ase",
        samples / "mediapipe_lexicon",
    ]
    kw = dict(lift_steps=10, progress=False, seed=5)
    local = build_dataset(sources, tmp_path / "local", workers=1, **kw)
    remote = build_dataset(sources, tmp_path / "ray", ray_address="auto", max_in_flight=3, **kw)
    assert remote["build"]["ray_address"] == "auto" and remote["build"]["added"] == 11
    assert remote["languages"] == local["languages"]
    a, b = Store(tmp_path / "local"), Store(tmp_path / "ray")
    assert a.ids() == b.ids()
    for cid in a.ids():
        assert a.row(cid) == b.row(cid)
        np.testing.assert_array_equal(a[cid].data, b[cid].data)
    assert b.verify() == 11
    assert (tmp_path / "local" / "shard-00000.bin").read_bytes() == (
        tmp_path / "ray" / "shard-00000.bin"
    ).read_bytes()
