from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from signllm.assets import samples_dir

SAMPLES = samples_dir()


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> Callable[..., Path]:
    """Stores of the bundled real PHOENIX clips (5 per split), built once per session per kind.

    `tiny_store()`: train + dev as gsg (with gloss) plus the same poses as 'ase' without gloss
    (text input); `tiny_store(("train", "dev", "test"), ase=False, fingerspelled=True)`: gsg only,
    with one 'fingerspelled' test clip (the first test clip relabelled, 40 frames). The stores are
    shared by every test that asks for the same kind: read them, never write into them.
    """
    from signllm.data.formats.skels import read_skels
    from signllm.data.store import StoreWriter

    built: dict[tuple, Path] = {}

    def build(
        splits: tuple[str, ...] = ("train", "dev"), ase: bool = True, fingerspelled: bool = False
    ) -> Path:
        key = (tuple(splits), ase, fingerspelled)
        if key in built:
            return built[key]
        out = tmp_path_factory.mktemp("tiny_store") / "store"
        with StoreWriter(out) as w:
            for split in splits:
                poses = list(read_skels(samples / "phoenix14t" / f"{split}.skels", language="gsg"))
                for p in poses:
                    w.add(p, split=split)
                    if ase:
                        meta = dataclasses.replace(
                            p.meta, id=p.meta.id + "-ase", language="ase", gloss=""
                        )
                        w.add(dataclasses.replace(p, meta=meta), split=split)
                if fingerspelled and split == "test":
                    w.add(_fingerspelled(poses[0], "wetter"), split=split)
        built[key] = out
        return out

    return build


def _fingerspelled(p, word: str):
    meta = dataclasses.replace(
        p.meta,
        id=p.meta.id + "-fs",
        text=word,
        gloss=f"fs-{word.upper()}",
        extra={"fingerspelled": "true", "composed": "true"},
    )
    return dataclasses.replace(p.select_frames(slice(0, 40)), meta=meta)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover
        has_cuda = False
    if not has_cuda:
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
