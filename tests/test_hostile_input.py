"""Regression tests for the crashes `bench/fuzz.py` found: each is the minimal reproducer of one
class of hostile input, which must end as a `SignLLMError` naming the file (and line or field),
read nothing outside its folder, allocate nothing a file merely declares, and destroy nothing."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from signllm.cli import main
from signllm.data.formats import read_poses
from signllm.data.formats.lexicon import iter_lexicon_entries
from signllm.data.manifest import iter_manifest
from signllm.data.store import _HEADER, MAGIC, Store, StoreWriter
from signllm.errors import DataError
from signllm.pose import Pose, PoseMeta
from signllm.safeio import MAX_JSON_DEPTH, loads

DEEP = "[" * 100_000 + "]" * 100_000
OP_CLIP = "_2FBDaOPYig_2-3-rgb_front"


def _errors(match: str, fn, *args, **kw) -> DataError:
    with pytest.raises(DataError, match=match or None) as e:
        out = fn(*args, **kw)
        if hasattr(out, "__next__"):
            list(out)
    return e.value


def _skels(samples: Path, tmp: Path, lines: int = 2) -> Path:
    d = tmp / "sk"
    d.mkdir()
    for ext in ("skels", "text", "gloss", "files"):
        src = (samples / "phoenix14t" / f"dev.{ext}").read_bytes().split(b"\n")[:lines]
        (d / f"dev.{ext}").write_bytes(b"\n".join(src) + b"\n")
    return d / "dev.skels"


def _openpose(samples: Path, tmp: Path, frames: int = 3) -> Path:
    src = samples / "how2sign" / "openpose_json" / OP_CLIP
    d = tmp / "op" / OP_CLIP
    d.mkdir(parents=True)
    for p in sorted(src.iterdir())[:frames]:
        shutil.copy(p, d / p.name)
    return d


# --- .skels --------------------------------------------------------------------------------------
def test_skels_non_utf8_names_line(samples: Path, tmp_path: Path) -> None:
    sk = _skels(samples, tmp_path)
    lines = sk.read_bytes().split(b"\n")
    lines[1] = lines[1][:50] + b"\xff" + lines[1][50:]
    sk.write_bytes(b"\n".join(lines))
    e = _errors("not UTF-8", read_poses, sk)
    assert e.path == str(sk) and e.line == 2


def test_skels_side_file_non_utf8(samples: Path, tmp_path: Path) -> None:
    sk = _skels(samples, tmp_path)
    text = sk.with_suffix(".text")
    text.write_bytes(b"ok\n\xc3\x28\n")
    e = _errors("not UTF-8", read_poses, sk)
    assert e.path == str(text) and e.line == 2


def test_skels_folder_where_file_expected(samples: Path, tmp_path: Path) -> None:
    sk = _skels(samples, tmp_path)
    sk.with_suffix(".gloss").unlink()
    sk.with_suffix(".gloss").mkdir()
    _errors(r"dev\.gloss: is a folder", read_poses, sk)


# --- OpenPose JSON ------------------------------------------------------------------------------
def test_openpose_deep_nesting(samples: Path, tmp_path: Path) -> None:
    clip = _openpose(samples, tmp_path)
    f = sorted(clip.iterdir())[1]
    f.write_text('{"version": 1.3, "people": ' + DEEP + "}")
    e = _errors(f"nested deeper than {MAX_JSON_DEPTH}", read_poses, clip)
    assert e.path == str(f)


def test_openpose_huge_frame_number_refused_before_allocation(
    samples: Path, tmp_path: Path
) -> None:
    clip = _openpose(samples, tmp_path)
    f = sorted(clip.iterdir())[-1]
    f.rename(clip / f"{OP_CLIP}_1000000000_keypoints.json")
    _errors(r"frame numbers run from 0 to 1000000000", read_poses, clip)


def test_openpose_frame_file_is_a_folder(samples: Path, tmp_path: Path) -> None:
    clip = _openpose(samples, tmp_path)
    f = sorted(clip.iterdir())[0]
    f.unlink()
    f.mkdir()
    _errors("is a folder", read_poses, clip)


def test_openpose_huge_integer_and_nan(samples: Path, tmp_path: Path) -> None:
    clip = _openpose(samples, tmp_path)
    f = sorted(clip.iterdir())[0]
    text = f.read_text()
    key = '"pose_keypoints_2d":['
    assert key in text
    f.write_text(text.replace(key, key + "1" + "0" * 400 + ", ", 1).replace("0.893184,", "", 1))
    assert _errors("not a number", read_poses, clip).field == "pose_keypoints_2d"
    f.write_text(text.replace(key, key + "NaN, ", 1).replace("0.893184,", "", 1))
    assert _errors("not finite", read_poses, clip).field == "pose_keypoints_2d"


# --- manifests ----------------------------------------------------------------------------------
def _manifest_dir(samples: Path, tmp: Path) -> Path:
    d = tmp / "m"
    d.mkdir()
    shutil.copy(samples / "pose_format" / "openpose.pose", d / "a.pose")
    return d


def test_manifest_csv_non_utf8_and_nul(samples: Path, tmp_path: Path) -> None:
    d = _manifest_dir(samples, tmp_path)
    m = d / "m.csv"
    m.write_bytes(b"path,text\na.pose,caf\xe9\n")
    e = _errors("not UTF-8", iter_manifest, m)
    assert e.line == 2
    m.write_bytes(b'path,text\na.pose,"' + b"x" * 200_000 + b"\n")  # past csv's field limit
    _errors("broken CSV", iter_manifest, m)


def test_manifest_jsonl_deep_and_long_path(samples: Path, tmp_path: Path) -> None:
    d = _manifest_dir(samples, tmp_path)
    m = d / "m.jsonl"
    m.write_text('{"path": "a.pose"}\n{"path": ' + DEEP + "}\n")
    e = _errors("nested deeper", iter_manifest, m)
    assert e.line == 2
    m.write_text(json.dumps({"path": "a" * 5000 + ".pose"}) + "\n")
    _errors("too long", iter_manifest, m)


# --- lexicons -----------------------------------------------------------------------------------
def _lexicon(samples: Path, tmp: Path) -> Path:
    d = tmp / "lex"
    (d / "sgg").mkdir(parents=True)
    shutil.copy(samples / "mediapipe_lexicon" / "sgg" / "kinder.pose", d / "sgg" / "kinder.pose")
    (d / "index.csv").write_text(
        "path,spoken_language,signed_language,start,end,words,glosses,priority\n"
        "sgg/kinder.pose,de,sgg,0,0,kinder,Kinder,0\n"
    )
    return d


@pytest.mark.parametrize("rel", ["/etc/hostname", "../outside.pose", "sgg/../../outside.pose"])
def test_lexicon_paths_stay_inside(samples: Path, tmp_path: Path, rel: str) -> None:
    d = _lexicon(samples, tmp_path)
    shutil.copy(samples / "pose_format" / "openpose.pose", tmp_path / "outside.pose")
    index = d / "index.csv"
    index.write_text(index.read_text().replace("sgg/kinder.pose", rel))
    e = _errors("points outside", read_poses, d)
    assert e.path == str(index) and e.line == 2 and e.field == "path"
    if rel != "/etc/hostname":  # the explicit opt-in reads it
        (entry,) = iter_lexicon_entries(d, allow_outside=True)
        assert entry.path == (tmp_path / "outside.pose").resolve()


def test_lexicon_non_utf8_and_infinite_time(samples: Path, tmp_path: Path) -> None:
    d = _lexicon(samples, tmp_path)
    index = d / "index.csv"
    good = index.read_bytes()
    index.write_bytes(good.replace(b"Kinder", b"Kinder\xff"))
    assert _errors("not UTF-8", read_poses, d).line == 2
    index.write_bytes(good.replace(b",0,0,kinder", b",0,1e309,kinder"))
    assert _errors("must be", read_poses, d).field == "end"


def test_fingerspelling_lexicon_paths_stay_inside(samples: Path, tmp_path: Path) -> None:
    from signllm.data.fingerspell import FingerspellingLexicon

    d = tmp_path / "fs"
    shutil.copytree(samples / "fingerspelling", d)
    index = d / "index.csv"
    index.write_text(index.read_text().replace("ase/", "../../", 1))
    _errors("points outside", FingerspellingLexicon, d)
    index.write_bytes(b"path,signed_language,words\n\xff\n")
    _errors("not UTF-8", FingerspellingLexicon, d)


# --- model folders ------------------------------------------------------------------------------
def _model(tmp: Path) -> Path:
    from signllm.assets import default_model_dir

    d = tmp / "prompt"
    shutil.copytree(default_model_dir() / "prompt", d)
    return d


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("n_enc_layers", 10**6, "out of range"),
        ("d_ff", 10**9, "out of range"),
        ("d_model", None, "expected an integer"),
        ("n_heads", 0, "at least 1"),
        ("n_heads", 7, "not a multiple"),
        ("dropout", "0.1", "expected a number|not supported"),
    ],
)
def test_model_dimensions_checked_before_building(
    tmp_path: Path, key: str, value: object, match: str
) -> None:
    from signllm.train.checkpoint import load_checkpoint

    d = _model(tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg["model"][key] = value
    (d / "config.json").write_text(json.dumps(cfg))
    e = _errors(match, load_checkpoint, d)
    assert e.path == str(d / "config.json") and "model" in (e.field or "")


def test_model_config_and_tokenizer_json_hostile(tmp_path: Path) -> None:
    from signllm.train.checkpoint import load_checkpoint

    d = _model(tmp_path)
    cfg = (d / "config.json").read_text()
    (d / "config.json").write_text('{"format": ' + DEEP + "}")
    _errors("nested deeper", load_checkpoint, d)
    (d / "config.json").write_bytes(b'{"format": "\xff"}')
    _errors("not UTF-8", load_checkpoint, d)
    (d / "config.json").write_text(cfg)
    tok = d / "tokenizer.json"
    tok.write_text(tok.read_text().replace("{", '{"x": NaN, ', 1))
    e = _errors("NaN", load_checkpoint, d)
    assert e.path == str(tok)


def test_broken_model_part_is_an_error_not_a_skip(tmp_path: Path) -> None:
    from signllm.api import Translator
    from signllm.assets import default_model_dir

    d = tmp_path / "model"
    shutil.copytree(default_model_dir(), d)
    (d / "mlsf" / "config.json").write_text("")
    e = _errors("invalid JSON", Translator, d)
    assert e.path == str(d / "mlsf" / "config.json")


# --- the store ----------------------------------------------------------------------------------
def _clip(i: int, frames: int = 12) -> Pose:
    rng = np.random.default_rng(i)
    data = np.cumsum(rng.normal(0, 0.02, (frames, 50, 3)), axis=0) + rng.normal(0, 0.3, (50, 3))
    data[:, 2], data[:, 5] = [-0.5, 0, 0], [0.5, 0, 0]
    conf = np.ones((frames, 50), np.float32)
    return Pose(data=data, confidence=conf, fps=25, meta=PoseMeta(id=f"c{i}"))


def _store(tmp: Path, n: int = 4, **kw) -> Path:
    d = tmp / "store"
    with StoreWriter(d, sync_every=1, **kw) as w:
        for i in range(n):
            w.add(_clip(i))
    return d


def _rows(d: Path) -> list[dict]:
    return [json.loads(x) for x in (d / "manifest.jsonl").read_text().splitlines()]


def _set_rows(d: Path, rows: list[dict]) -> None:
    (d / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.name != ".lock"}


@pytest.mark.parametrize("shard", ["x.bin", "/etc/hostname", "../store.json", "shard-0.bin", 7])
def test_store_shard_must_be_a_shard_name(tmp_path: Path, shard: object) -> None:
    d = _store(tmp_path)
    rows = _rows(d)
    rows[1]["shard"] = shard
    _set_rows(d, rows)
    e = _errors("not a shard file name", Store, d)
    assert e.field == "shard" and e.line == 2
    before = _snapshot(d)
    _errors("not a shard file name", StoreWriter, d, resume=True)
    assert _snapshot(d) == before


@pytest.mark.parametrize(
    ("key", "value"),
    [("offset", -1), ("nbytes", 2**40), ("frames", "12"), ("fps", None), ("crc32", 1.5),
     ("id", 3), ("ndim", 4)],
)  # fmt: skip
def test_store_row_types_and_ranges(tmp_path: Path, key: str, value: object) -> None:
    d = _store(tmp_path)
    rows = _rows(d)
    rows[0][key] = value
    _set_rows(d, rows)
    assert _errors("", Store, d).field == key


def test_store_decompression_bomb_is_refused_unread(tmp_path: Path) -> None:
    """A valid record (right CRC) whose blob inflates far past what its header declares."""
    d = _store(tmp_path, n=1)
    blob = zlib.compress(b"\0" * (64 << 20), 9)  # 64 MiB of zeros in ~64 kB
    # layout 0 (one coordinate blob): the version-1 records every reader still takes
    rec = _HEADER.pack(MAGIC, 1, 0, 1, 0, 12, 50, 3, 0, 0.0, 0, 0, 0, len(blob)) + blob
    rec += zlib.compress(b"\xff" * 75)
    shard = d / "shard-00000.bin"
    off = shard.stat().st_size
    with open(shard, "ab") as f:
        f.write(rec)
    row = {**_rows(d)[0], "id": "bomb", "offset": off, "nbytes": len(rec), "crc32": zlib.crc32(rec)}
    _set_rows(d, [*_rows(d), row])
    with Store(d) as st:
        _errors("does not inflate to the 7200 bytes", st.__getitem__, "bomb")


def test_store_header_frames_must_match_manifest(tmp_path: Path) -> None:
    d = _store(tmp_path, n=1)
    rows = _rows(d)
    rows[0]["frames"] = 13
    _set_rows(d, rows)
    with Store(d) as st:
        _errors("header says 12 frames, the manifest 13", st.verify)


@pytest.mark.parametrize("damage", ["other_shard", "offset_zero"])
def test_resume_refuses_corrupt_store_and_leaves_it_byte_identical(
    tmp_path: Path, damage: str
) -> None:
    """The two cases of issue 12: the last row's shard renamed to another shard; its offset 0."""
    d = _store(tmp_path, n=8, shard_bytes=6_000)
    assert len(list(d.glob("shard-*.bin"))) >= 2
    rows = _rows(d)
    if damage == "other_shard":
        rows[-1]["shard"] = (
            "shard-00001.bin" if rows[-1]["shard"] != "shard-00001.bin" else ("shard-00000.bin")
        )
    else:
        assert rows[-1]["offset"] > 0
        rows[-1]["offset"] = 0
    _set_rows(d, rows)
    before = _snapshot(d)
    with pytest.raises(DataError, match=r"manifest\.jsonl"):
        StoreWriter(d, resume=True)
    assert _snapshot(d) == before


def test_resume_refuses_a_bad_crc_on_the_last_record(tmp_path: Path) -> None:
    d = _store(tmp_path, n=3)
    shard = d / "shard-00000.bin"
    b = bytearray(shard.read_bytes())
    b[-5] ^= 0xFF
    shard.write_bytes(bytes(b))
    before = _snapshot(d)
    _errors("CRC32", StoreWriter, d, resume=True)
    assert _snapshot(d) == before


@pytest.mark.parametrize("what", ["info_list", "info_version", "manifest_folder"])
def test_store_files_of_the_wrong_kind(tmp_path: Path, what: str) -> None:
    d = _store(tmp_path, n=1)
    if what == "info_list":
        (d / "store.json").write_text("[]")
    elif what == "info_version":
        info = json.loads((d / "store.json").read_text())
        (d / "store.json").write_text(json.dumps({**info, "version": "1"}))
    else:
        (d / "manifest.jsonl").unlink()
        (d / "manifest.jsonl").mkdir()
    _errors("", Store, d)


# --- the command line ---------------------------------------------------------------------------
def test_cli_bad_input_exit_2_without_traceback(samples: Path, tmp_path: Path, capsys) -> None:
    sk = _skels(samples, tmp_path)
    sk.write_bytes(sk.read_bytes().replace(b" ", b" \xff", 1))
    code = main(["info", str(sk)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "not UTF-8" in err
    assert len(err.strip().splitlines()) == 1


def test_cli_internal_error_exit_1_with_report(tmp_path: Path, capsys, monkeypatch) -> None:
    """A bug (not the input): one line saying where the full report is, exit code 1."""
    import tempfile

    from signllm.cli import data as cli_data

    def buggy_info(args) -> int:  # stands for any internal error the user cannot fix
        return {}["missing"]

    monkeypatch.setattr(cli_data, "cmd_info", buggy_info)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code = main(["info", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    report = Path(err.strip().rsplit("Full report: ", 1)[1])
    assert report.parent == tmp_path and report.name.startswith("signllm-crash-")
    text = report.read_text()
    assert "Traceback" in text and "KeyError: 'missing'" in text and "info" in text


# --- checkpoints caught mid-write ---------------------------------------------------------------
def test_stale_tmp_removed_and_never_loaded(tmp_path: Path) -> None:
    from signllm.checkpoint import remove_stale_tmp, write_dir_atomic
    from signllm.train.checkpoint import load_checkpoint

    src = _model(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    shutil.copytree(src, out / "last")
    # a writer killed mid-write: config written, weights cut short
    stale = out / ".last.tmp-abc123"
    stale.mkdir()
    shutil.copy(src / "config.json", stale / "config.json")
    shutil.copy(src / "tokenizer.json", stale / "tokenizer.json")
    (stale / "model.safetensors").write_bytes((src / "model.safetensors").read_bytes()[:1000])
    whole = load_checkpoint(out / "last")  # the last whole checkpoint, never the torn one
    assert sum(p.numel() for p in whole.model.parameters()) > 0
    _errors("corrupt weights", load_checkpoint, stale)
    # the next save removes it (and the next start of training: remove_stale_tmp(out))
    write_dir_atomic(
        out / "last", lambda tmp: [shutil.copy(p, tmp / p.name) for p in src.iterdir()]
    )
    assert not stale.exists() and not list(out.glob(".*.tmp-*"))
    stale.mkdir()
    assert remove_stale_tmp(out) == [stale] and not stale.exists()
    load_checkpoint(out / "last")


def test_json_depth_limit_is_exact() -> None:
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads(ok, "x.json") is not None
    with pytest.raises(DataError, match="nested deeper"):
        loads("[" + ok + "]", "x.json")


def test_tokenizer_type_of_the_wrong_json_type(tmp_path: Path) -> None:
    from signllm.assets import default_model_dir
    from signllm.text.tokenizers import load_tokenizer

    doc = json.loads((default_model_dir() / "prompt" / "tokenizer.json").read_text())
    f = tmp_path / "tokenizer.json"
    f.write_text(json.dumps({**doc, "type": []}))
    assert _errors("unknown tokenizer type", load_tokenizer, f).field == "type"


def test_train_config_file_hostile(tmp_path: Path) -> None:
    from signllm.errors import UsageError
    from signllm.train.config import TrainConfig

    f = tmp_path / "bad.json"
    f.write_bytes(b'{"steps": 5, "lr": "\xff"}')
    with pytest.raises(UsageError, match=r"bad\.json:1: not UTF-8"):
        TrainConfig.from_json(f)
    f.write_text('{"steps": ' + DEEP + "}")
    with pytest.raises(UsageError, match="nested deeper"):
        TrainConfig.from_json(f)


def test_skels_value_overflowing_float32_once_scaled(samples: Path, tmp_path: Path) -> None:
    sk = _skels(samples, tmp_path, lines=1)
    tokens = sk.read_text().split(" ")
    tokens[4] = "2e38"  # finite, but 3 x 2e38 is past float32
    sk.write_text(" ".join(tokens))
    e = _errors("too large for a coordinate", read_poses, sk)
    assert e.line == 1 and "joint 1 y" in (e.field or "")


def test_pose_file_overflowing_once_mapped(samples: Path, tmp_path: Path) -> None:
    """A MediaPipe depth, finite in the file, times the frame width is past float32."""
    from pose_format import Pose as PFPose

    pf = PFPose.read((samples / "mediapipe_lexicon" / "sgg" / "kinder.pose").read_bytes())
    data = np.array(pf.body.data.data)
    data[:, :, :, 2] = 3e38
    pf.body.data = np.ma.masked_array(data, mask=np.zeros_like(data, bool))
    f = tmp_path / "big.pose"
    with open(f, "wb") as out:
        pf.write(out)
    assert _errors("overflow", read_poses, f).path == str(f)


def test_server_lone_surrogate_is_422_not_500() -> None:
    """JSON can carry "\\ud800"; the server could not encode its answer (was a 500)."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from signllm.api import Translator
    from signllm.serve.app import create_app

    body = json.dumps({"text": "\ud800 hello", "language": "ase", "format": "json"})
    with TestClient(create_app(Translator())) as c:
        r = c.post("/api/translate", content=body.encode(),
                   headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 422 and "surrogate" in r.json()["detail"]


def test_normalisation_counts_of_the_wrong_type(tmp_path: Path) -> None:
    from signllm.train.checkpoint import load_checkpoint

    d = _model(tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg["normalization"]["frames"] = [1]
    (d / "config.json").write_text(json.dumps(cfg))
    assert _errors("must be counts", load_checkpoint, d).field == "normalization"
