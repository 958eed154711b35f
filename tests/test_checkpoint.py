"""Checkpoints: a round trip per kind (same weights, same generations), old layouts (the shipped
default model, v1 BT) still load, clear errors naming file and field on tampered or corrupt parts,
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
from re import escape as re_escape

import pytest
import torch
from conftest import single_thread, tiny_config

from signllm import checkpoint as ck
from signllm.api import default_model_dir
from signllm.data.store import Store
from signllm.errors import DataError
from signllm.eval.bt_checkpoint import load_bt_checkpoint, save_bt_checkpoint
from signllm.models.backtranslation import BackTranslationConfig, BackTranslationModel, bt_config
from signllm.models.prompt2langgloss import SharedPoseModel
from signllm.text.tokenizers import LangWordVocab, WordVocab
from signllm.train import distributed as D
from signllm.train.checkpoint import (
    load_checkpoint,
    load_trainer_state,
    resolve,
    save_checkpoint,
    write_dir_atomic,
)
from signllm.train.config import ModelOptions, TrainConfig
from signllm.train.data import NormStats, PoseBatch
from signllm.train.prompt_text import load_prompt_text, train_prompt_text
from signllm.train.trainer import Trainer, generate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    with single_thread():
        cfg = tiny_config(store_dir, tmp_path_factory.mktemp("run") / "run", steps=4).validate()
        t = Trainer(cfg, D.setup("cpu"))
        t.run()
        return t


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
    assert config["kind"] == "mlsf" and config["version"] == ck.VERSION
    assert "- kind: `mlsf`" in (trained.last_dir / "MODEL_CARD.md").read_text()
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


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_pose_kind(tmp_path: Path) -> None:
    torch.manual_seed(0)
    vocab = LangWordVocab.build([("gsg", "MORGEN REGEN"), ("ase", "RAIN TOMORROW")])
    model = SharedPoseModel.from_vocab(vocab, "tiny").eval()
    meta = {"mode": "prompt", "normalization": NormStats.identity(50).to_dict()}
    out = save_checkpoint(tmp_path / "pose", model, {"gsg": vocab, "ase": vocab}, meta)
    assert sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md",
        "config.json",
        "model.safetensors",
        "tokenizer.json",  # one file for the shared vocabulary
    ]
    loaded, tokenizers, config, _ = load_checkpoint(out)
    assert config["kind"] == "pose" and config["tokenizers"] == dict.fromkeys(
        ["gsg", "ase"], "tokenizer.json"
    )
    assert tokenizers["gsg"] is tokenizers["ase"]
    assert same_weights(model, loaded)
    ids, mask = model.encode([("gsg", ["MORGEN"])])
    ids2, mask2 = loaded.encode([("gsg", ["MORGEN"])])  # type: ignore[operator]
    assert torch.equal(ids, ids2) and torch.equal(mask, mask2)


def test_round_trip_text_kind(store_dir: Path, tmp_path: Path) -> None:
    tiny = dict(d_model=16, n_heads=2, n_enc_layers=1, n_dec_layers=1, d_ff=32)
    out = train_prompt_text(store_dir, tmp_path / "text", steps=2, batch_size=4, **tiny)
    config = ck.read_config(out)
    assert config["kind"] == "text" and config["tokenizers"] == {
        "prompt": "prompt_tokenizer.json",
        "target": "target_vocab.json",
    }
    model = load_prompt_text(out)
    again = load_prompt_text(ck.save(tmp_path / "again", model, **_text_args(model)))
    assert same_weights(model, again)
    prompts = ["Translate 'guten morgen' into German Sign Language"]
    assert model.translate(prompts) == again.translate(prompts)


def _text_args(model) -> dict:
    s = model.settings()
    return dict(
        kind="text",
        model_config=s["model"],
        languages=s["gloss_languages"],
        tokenizers={"prompt": model.prompt_tokenizer, "target": model.target_vocab},
        meta={"text": {k: s[k] for k in ("tag_every_token", "mode", "max_len")}},
    )


@pytest.fixture()
def bt_ckpt(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    tok = WordVocab.build(["guten morgen", "heute regen"])
    model = BackTranslationModel(bt_config("tiny", vocab_size=tok.vocab_size))
    training = {"trained_on": "ground-truth poses of split train"}
    return save_bt_checkpoint(
        tmp_path / "bt", model, tok, target="text", languages=["gsg"], training=training
    )


def test_round_trip_bt_kind_and_its_old_layout(bt_ckpt: Path, store_dir: Path) -> None:
    from signllm.models.backtranslation import back_translate

    bt = load_bt_checkpoint(bt_ckpt)
    assert bt.config["kind"] == "bt" and bt.max_len == 60 and bt.target == "text"
    poses = list(Store(store_dir).iter(split="dev"))[:2]
    before = back_translate(bt.model, poses, bt.tokenizer, max_len=5)
    # a v1 BT checkpoint (format signllm-bt-checkpoint, "tokenizer") is upgraded when read
    cfg = json.loads((bt_ckpt / "config.json").read_text())
    for key in ("kind", "tokenizers"):
        del cfg[key]
    cfg.update(format="signllm-bt-checkpoint", version=1, tokenizer="tokenizer.json")
    (bt_ckpt / "config.json").write_text(json.dumps(cfg))
    old = load_bt_checkpoint(bt_ckpt)
    assert same_weights(bt.model, old.model)
    assert back_translate(old.model, poses, old.tokenizer, max_len=5) == before


def test_a_kind_without_default_builder_loads_with_config_builder(tmp_path: Path) -> None:
    # the recognizer's path: any model built as Model(Config.from_dict(config["model"]))
    tok = WordVocab.build(["a b c"])
    model = BackTranslationModel(bt_config("tiny", vocab_size=tok.vocab_size))
    out = ck.save(
        tmp_path / "rec",
        model,
        kind="recognizer",
        model_config=model.config.to_dict(),
        languages=["gsg"],
        tokenizers={"target": tok},
        meta={"training": {}},
    )
    with pytest.raises(DataError, match="field model"):  # the recognizer's own builder refuses it
        ck.load(out)
    build = ck.config_builder(BackTranslationConfig, BackTranslationModel)
    loaded = ck.load(out, ("recognizer",), build)
    assert (
        same_weights(model, loaded.model)
        and loaded.tokenizers["target"].vocab_size == tok.vocab_size
    )


def test_old_layouts_still_read(samples: Path) -> None:
    """The first shipped default model's configs (v1, kept in tests/data) and its first text
    model's (the unversioned v0 layout, kept there too) read through the one validation path;
    the shipped text model loads and translates."""
    old = Path(__file__).parent / "data" / "old_checkpoints"
    kinds = {name: ck.read_config(old / name) for name in ("mlsf", "prompt")}
    assert {n: (c["kind"], c["version"]) for n, c in kinds.items()} == {
        "mlsf": ("mlsf", 1),
        "prompt": ("pose", 1),
    }
    v0 = ck.read_config(old / "prompt_text")
    assert (v0["kind"], v0["version"]) == ("text", 0)
    root = default_model_dir()
    assert ck.read_config(root / "prompt_text")["kind"] == "text"
    text = ck.load(root / "prompt_text").model
    assert text.translate(["Übersetze 'morgen' in DGS"])[0][0] == "gsg"  # type: ignore[operator]
    with pytest.raises(DataError, match=r"config\.json, field kind: a text checkpoint, not bt"):
        load_bt_checkpoint(root / "prompt_text")
    shipped = {n: ck.read_config(root / n)["version"] for n in ("mlsf", "prompt")}
    assert shipped == {"mlsf": 2, "prompt": 2}


def test_broken_parts_name_the_file_and_field(bt_ckpt: Path, tmp_path: Path) -> None:
    def tamper(edit) -> Path:
        ck_dir = tmp_path / f"t{len(list(tmp_path.iterdir()))}"
        shutil.copytree(bt_ckpt, ck_dir)
        cfg = json.loads((ck_dir / "config.json").read_text())
        edit(cfg)
        (ck_dir / "config.json").write_text(json.dumps(cfg))
        return ck_dir

    cfg = r"config\.json, field "
    cases = [
        (lambda c: c.update(kind="bogus"), cfg + "kind: must be one of"),
        (lambda c: c.update(version=9), cfg + "version: unsupported version 9"),
        (lambda c: c.update(languages="gsg"), cfg + "languages: missing or not a list"),
        (lambda c: c.update(target="pose"), cfg + "target: must be one of text, gloss"),
        (lambda c: c.update(tokenizers={"target": "../x.json"}), cfg + r"tokenizers\.target"),
        (lambda c: c.update(decode={"max_len": "long"}), cfg + "decode"),
        (lambda c: c["model"].update(nope=1), cfg + "model: unknown BackTranslationConfig"),
        (lambda c: c["model"].update(vocab_size=99), r"tokenizer\.json, field vocab_size"),
    ]
    for edit, message in cases:
        with pytest.raises(DataError, match=message):
            load_bt_checkpoint(tamper(edit))
    # the writer runs the same checks before anything is written
    model = load_bt_checkpoint(bt_ckpt).model
    with pytest.raises(DataError, match=r"field kind"):
        ck.save(tmp_path / "w", model, kind="nope", model_config={}, languages=[], tokenizers={})
    assert not (tmp_path / "w").exists()


def test_wrong_shape_or_missing_weight_is_refused_by_name(bt_ckpt: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(bt_ckpt / "model.safetensors"))
    name = next(k for k, v in state.items() if v.ndim == 2)
    bad = dict(state)
    bad[name] = torch.zeros(state[name].shape[0] + 1, state[name].shape[1])
    save_file(bad, str(bt_ckpt / "model.safetensors"))
    shape = re_escape(str(tuple(bad[name].shape)))
    with pytest.raises(DataError, match=rf"model\.safetensors: weights do not fit the config: "
                                        rf"{re_escape(name)} has shape {shape}"):  # fmt: skip
        load_bt_checkpoint(bt_ckpt)
    del bad[name]
    save_file(bad, str(bt_ckpt / "model.safetensors"))
    with pytest.raises(DataError, match=rf"missing {re_escape(name)}"):
        load_bt_checkpoint(bt_ckpt)


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
            ema=0.9,  # the weight average continues from the trainer state
        )

    ref = run_training(cfg("ref"))
    assert ref.returncode == 0, ref.stderr
    killed = run_training(cfg("run"), kill_at=7)  # checkpoint at 5, killed at 7
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert load_trainer_state(tmp_path / "run" / "last")["step"] == 5
    resumed = run_training(cfg("run", resume=True))
    assert resumed.returncode == 0, resumed.stderr
    for kind in ("last", "best"):  # best/: the weight average of the best evaluation
        a = load_file(str(tmp_path / "ref" / kind / "model.safetensors"))
        b = load_file(str(tmp_path / "run" / kind / "model.safetensors"))
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), kind
    # the metrics log was cut back to the checkpoint and continued: one row per step
    steps = [
        json.loads(line)["step"]
        for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
        if "loss" in json.loads(line)
    ]
    assert steps == list(range(1, 13))
