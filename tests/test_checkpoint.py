"""Checkpoints: load round trip (same generations), clear errors on tampered or corrupt files,
no unpickling of foreign objects, crash-safe directory swap, and exact resume after SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from signllm.errors import DataError
from signllm.train import distributed as D
from signllm.train.checkpoint import (
    load_checkpoint,
    load_trainer_state,
    resolve,
    save_checkpoint,
    write_dir_atomic,
)
from signllm.train.config import ModelOptions, TrainConfig
from signllm.train.data import PoseBatch
from signllm.train.trainer import Trainer, generate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def store_dir(tiny_store) -> Path:
    return tiny_store()


@pytest.fixture(scope="module")
def trained(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = TrainConfig(
            data=str(store_dir),
            out=str(tmp_path_factory.mktemp("run") / "run"),
            size="tiny",
            steps=4,
            batch_size=4,
            max_clip_frames=24,
            eval_every=0,
            eval_clips=1,
            progress=False,
        ).validate()
        t = Trainer(cfg, D.setup("cpu"))
        t.run()
        return t
    finally:
        torch.set_num_threads(n)


def dev_batch(t: Trainer) -> PoseBatch:
    assert t.dev is not None
    return t.dev.load([0, 1, 5])  # gsg, gsg, ase: a mixed-language batch


def copy_ckpt(t: Trainer, dst: Path) -> Path:
    shutil.copytree(t.last_dir, dst)
    return dst


def test_round_trip_generates_identically(trained: Trainer, tmp_path: Path) -> None:
    batch = dev_batch(trained)
    before = generate(trained.model, "mlsf", batch, max_frames=12)
    model, tokenizers, config, stats = load_checkpoint(trained.last_dir)
    after = generate(model, "mlsf", batch, max_frames=12)
    assert torch.equal(before["pose"], after["pose"])
    assert torch.equal(before["lengths"], after["lengths"])
    assert set(tokenizers) == {"ase", "gsg"} and config["step"] == 4
    assert (stats.mean == trained.stats.mean).all()
    # saving what was loaded gives the same weights and files again
    meta = {k: config[k] for k in ("mode", "inputs", "normalization", "skeleton", "train")}
    save_checkpoint(tmp_path / "again", model, tokenizers, meta)
    again = load_checkpoint(tmp_path / "again")
    a, b = model.state_dict(), again.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "again" / "trainer_state.pt").exists()


def test_vocab_mismatch_in_tampered_config_names_the_file(trained: Trainer, tmp_path: Path) -> None:
    ck = copy_ckpt(trained, tmp_path / "ck")
    cfg = json.loads((ck / "config.json").read_text())
    cfg["model"]["gsg"]["vocab_size"] += 1
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DataError, match=r"tokenizer\.gsg\.json.*vocab_size"):
        load_checkpoint(ck)


def test_shape_mismatch_and_corruption_name_the_file(trained: Trainer, tmp_path: Path) -> None:
    ck = copy_ckpt(trained, tmp_path / "ck")
    cfg = json.loads((ck / "config.json").read_text())
    cfg["model"]["ase"]["d_ff"] = 256
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DataError, match=r"model\.safetensors: weights do not fit"):
        load_checkpoint(ck)

    ck2 = copy_ckpt(trained, tmp_path / "ck2")
    data = (ck2 / "model.safetensors").read_bytes()
    (ck2 / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"model\.safetensors: corrupt"):
        load_checkpoint(ck2)

    (ck2 / "config.json").write_text('{"format": "signllm-checkpoint",\n oops}')
    with pytest.raises(DataError, match=r"config\.json:2: invalid JSON"):
        load_checkpoint(ck2)
    with pytest.raises(DataError, match=r"config\.json not found"):
        load_checkpoint(tmp_path)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_trainer_state_is_never_unpickled(trained: Trainer, tmp_path: Path) -> None:
    state = load_trainer_state(trained.last_dir)  # plain types and tensors only
    assert state["step"] == 4 and isinstance(state["torch_rng"][0], torch.Tensor)
    ck = copy_ckpt(trained, tmp_path / "ck")
    torch.save({"step": 1, "x": Evil()}, ck / "trainer_state.pt")
    with pytest.raises(DataError, match=r"trainer_state\.pt: unreadable"):
        load_trainer_state(ck)


def test_directory_swap_survives_a_crash_between_renames(tmp_path: Path) -> None:
    def fill(text: str):
        return lambda d: (d / "config.json").write_text(text)

    target = tmp_path / "last"
    write_dir_atomic(target, fill("1"))
    write_dir_atomic(target, fill("2"))
    assert (target / "config.json").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    os.replace(target, tmp_path / ".last.old")  # a crash after moving the old copy aside
    assert resolve(target) == tmp_path / ".last.old"
    write_dir_atomic(target, fill("3"))
    assert (target / "config.json").read_text() == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


RUN = textwrap.dedent(
    """
    import os, signal, sys, json
    import torch
    torch.set_num_threads(1)
    from signllm.train import TrainConfig, train
    from signllm.train.config import ModelOptions
    cfg = TrainConfig.from_dict(json.loads(sys.argv[1]))
    kill_at = int(sys.argv[2])
    def hook(step, metrics):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    train(cfg, on_step=hook)
    """
)


def run_training(cfg: TrainConfig, kill_at: int = -1) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(k, None)
    return subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(cfg.to_dict()), str(kill_at)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_resume_after_sigkill_matches_an_uninterrupted_run(store_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    def cfg(out: str, resume: bool = False) -> TrainConfig:
        return TrainConfig(
            data=str(store_dir),
            out=str(tmp_path / out),
            size="tiny",
            steps=12,
            batch_size=3,
            max_clip_frames=24,
            lr=2e-3,
            warmup_steps=2,
            eval_every=4,  # evaluation between checkpoints must not disturb any RNG stream
            eval_clips=2,
            checkpoint_every=5,
            log_every=1,
            progress=False,
            resume=resume,
            model=ModelOptions(dropout=0.1, noise_std=0.05),  # both draw random numbers
        )

    ref = run_training(cfg("ref"))
    assert ref.returncode == 0, ref.stderr
    killed = run_training(cfg("run"), kill_at=7)  # checkpoint at 5, killed at 7
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert load_trainer_state(tmp_path / "run" / "last")["step"] == 5
    resumed = run_training(cfg("run", resume=True))
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(str(tmp_path / "ref" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "run" / "last" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the metrics log was cut back to the checkpoint and continued: one row per step
    steps = [
        json.loads(line)["step"]
        for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
        if "loss" in json.loads(line)
    ]
    assert steps == list(range(1, 13))
