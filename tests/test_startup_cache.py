"""The trainer's start-up cache: the same data as derived afresh, and never stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from signllm.data.formats.skels import read_skels
from signllm.data.store import Store, StoreWriter
from signllm.train import data as D
from signllm.train import distributed as dist
from signllm.train.config import TrainConfig
from signllm.train.trainer import Trainer


@pytest.fixture()
def store(tmp_path: Path, samples: Path) -> Path:
    out = tmp_path / "store"
    with StoreWriter(out) as w:
        for split in ("train", "dev"):
            for p in read_skels(samples / "phoenix14t" / f"{split}.skels", language="gsg"):
                w.add(p, split=split)
    return out


def trainer(store: Path, out: Path) -> Trainer:
    torch.set_num_threads(1)
    cfg = TrainConfig(
        data=str(store), out=str(out), size="tiny", steps=1, eval_every=0, progress=False
    ).validate()
    return Trainer(cfg, dist.setup("cpu"))


def test_a_warm_start_equals_a_cold_one(store: Path, tmp_path: Path) -> None:
    cold = trainer(store, tmp_path / "a")
    assert (store / D.StartupCache.DIR).is_dir()
    warm = trainer(store, tmp_path / "b")
    assert isinstance(warm.index.flat, np.memmap)  # read back memory-mapped, not rebuilt
    for k in D.ClipIndex.ARRAYS:
        np.testing.assert_array_equal(np.asarray(getattr(warm.index, k)), getattr(cold.index, k))
    assert [str(i) for i in warm.index.ids] == list(cold.index.ids)
    assert warm.tokenizers["gsg"].to_dict() == cold.tokenizers["gsg"].to_dict()
    np.testing.assert_array_equal(warm.stats.mean, cold.stats.mean)
    np.testing.assert_array_equal(warm.stats.std, cold.stats.std)
    head_w = warm.model.group("gsg").pose_head
    head_c = cold.model.group("gsg").pose_head
    torch.testing.assert_close(head_w.state_dict(), head_c.state_dict(), rtol=0, atol=0)
    batch_w, batch_c = warm.dataset.load([0, 3]), cold.dataset.load([0, 3])
    assert batch_w.ids == batch_c.ids
    torch.testing.assert_close(batch_w.frames, batch_c.frames, rtol=0, atol=0)


def test_an_append_to_the_store_invalidates_the_cache(store: Path, samples: Path) -> None:
    langs, kinds = ["gsg"], {"gsg": "char"}
    tok = {"gsg": D.build_tokenizers(Store(store), "train", langs, "mlsf", kinds)["gsg"]}
    first = D.ClipIndex.cached(
        Store(store), "train", langs, tok, kinds, D.StartupCache(Store(store), store)
    )
    extra = read_skels(samples / "phoenix14t" / "test.skels", language="gsg")[0]
    with StoreWriter(store, resume=True) as w:
        w.add(extra, split="train")
    s = Store(store)
    again = D.ClipIndex.cached(s, "train", langs, tok, kinds, D.StartupCache(s, store))
    assert len(again) == len(first) + 1 and str(again.ids[-1]) == extra.meta.id
    entries = [p.name for p in (store / D.StartupCache.DIR).iterdir()]
    assert len(entries) == 1  # the entry of the store's older state was replaced


def test_a_read_only_store_caches_in_the_run_directory(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(D, "_writable", lambda path: False)
    shutil.rmtree(store / D.StartupCache.DIR, ignore_errors=True)
    t = trainer(store, tmp_path / "run")
    assert not (store / D.StartupCache.DIR).exists()
    assert any((tmp_path / "run" / "cache").iterdir())
    assert len(t.index) == len(Store(store).ids(split="train"))


def test_prompt_mode_keeps_one_shared_tokenizer(store: Path, tmp_path: Path) -> None:
    s = Store(store)
    cache = D.StartupCache(s, tmp_path)
    meta = {"gsg": "langchar", "ase": "langchar"}

    def build():
        vocab = D.build_tokenizers(s, "train", ["gsg"], "prompt", {"gsg": "langchar"})["gsg"]
        return dict.fromkeys(meta, vocab)

    for _ in range(2):  # cold, then warm
        toks = D.cached_tokenizers(cache, {"k": 1}, build)
        assert toks["gsg"] is toks["ase"]
