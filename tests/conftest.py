from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="module")
def store_dir(tiny_store) -> Path:
    """The default tiny store: PHOENIX samples as gsg (with gloss) + the same poses as 'ase'
    without gloss (text input). A module that needs another kind overrides this fixture."""
    return tiny_store()


@pytest.fixture
def bsl_registry(tmp_path: Path) -> Path:
    """A languages.json of its own: the bundled registry plus British Sign Language (bfi, alias
    BSL), which the bundled one does not list."""
    from signllm.languages import DEFAULT_REGISTRY_PATH

    doc = json.loads(DEFAULT_REGISTRY_PATH.read_text(encoding="utf-8"))
    bsl = {"code": "bfi", "name": "British Sign Language", "aliases": ["BSL"]}
    doc["languages"].append({**bsl, "spoken_languages": ["en"], "script": "Latn"})
    path = tmp_path / "languages.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@contextmanager
def single_thread() -> Iterator[None]:
    """Torch on one CPU thread inside the block, the previous count restored after it."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models on a shared 2-core machine run far faster (and steadier) on one thread; a
    module that trains them says ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    with single_thread():
        yield


def tiny_config(data: str | Path, out: str | Path, **kw: Any) -> Any:
    """The tests' training run (a `TrainConfig`): the tiny preset, 6 steps of short clips, no
    evaluation or checkpoint before the end, seconds on one thread; `kw` sets any other field."""
    from signllm.train.config import TrainConfig

    base = dict(
        size="tiny", steps=6, batch_size=4, max_clip_frames=24, lr=3e-3, eval_every=0,
        checkpoint_every=0, eval_clips=1, eval_loss_clips=2, progress=False,
    )  # fmt: skip
    return TrainConfig(**{"data": str(data), "out": str(out), **base, **kw})


@pytest.fixture(scope="module")
def real_translator(tiny_store, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The bundled default model's `Translator`; where this checkout ships none, a 2-step MLSF
    model trained here on the PHOENIX samples (gsg; about a second on one thread)."""
    api = pytest.importorskip("signllm.api", reason="signllm/api.py (Translator) is not here yet")
    from signllm.errors import UsageError
    from signllm.train.trainer import train

    try:
        return api.Translator()
    except UsageError:  # no default model in the package
        pass
    out = tmp_path_factory.mktemp("tiny-model") / "run"
    cfg = tiny_config(tiny_store(ase=False), out, steps=2, max_clip_frames=32, warmup_steps=1)
    with single_thread():
        return api.Translator(train(cfg).checkpoint)


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
