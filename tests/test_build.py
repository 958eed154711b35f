"""Dataset build: mixed real sources, manifests (CSV + JSONL), deterministic splits, identical
stores from 1 and 2 workers, a real kill -9 then resume, bad manifest rows, the summary."""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from signllm.cli.data import register_build
from signllm.data import build as build_mod
from signllm.data.build import (
    ClipTask,
    Source,
    build_dataset,
    enumerate_tasks,
    load_clip,
    parse_split_ratios,
    split_for,
)
from signllm.data.formats import read_poses
from signllm.data.manifest import iter_manifest, read_manifest
from signllm.data.store import Store, shoulder_width
from signllm.errors import DataError, UsageError

LIFT_STEPS = 10  # enough to exercise lifting; quality is tested in test_lift


@pytest.fixture(scope="module")
def corpus(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Mixed sources: PHOENIX .skels, How2Sign JSON via a CSV manifest (with text, one trimmed),
    the sgg lexicon, and fingerspelling .pose files via a JSONL manifest."""
    root = tmp_path_factory.mktemp("corpus")
    h2s = samples / "how2sign"
    with open(h2s / "clips.tsv", encoding="utf-8") as f:
        texts = {r["clip"]: r["text"] for r in csv.DictReader(f, delimiter="\t")}
    clips = sorted(texts)[:3]
    with open(root / "how2sign.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "language", "text", "gloss", "split", "signer", "start", "end"])
        for i, c in enumerate(clips):
            rel = os.path.relpath(h2s / "openpose_json" / c, root)
            start, end = ("0.5", "2.5") if i == 0 else ("", "")
            w.writerow([rel, "ASL", texts[c], "", "", "s1", start, end])
    fs = samples / "fingerspelling"
    with open(root / "letters.jsonl", "w", encoding="utf-8") as f:
        for i, p in enumerate(sorted((fs / "ase").glob("*.pose"))):
            row = {"path": str(p), "id": f"letter{i}", "text": "ABC"[i], "split": "val", "fps": 25}
            f.write(json.dumps(row) + "\n")
    sources = [
        f"{samples / 'phoenix14t' / 'dev.skels'}:lang=gsg",
        str(root / "how2sign.csv"),
        samples / "mediapipe_lexicon",
        {"path": root / "letters.jsonl", "lang": "ase"},
    ]
    return {"root": root, "sources": sources, "texts": texts, "clips": clips}


def _build(corpus: dict, out: Path, **kw) -> dict:
    kw.setdefault("lift_steps", LIFT_STEPS)
    kw.setdefault("progress", False)
    return build_dataset(corpus["sources"], out, **kw)


@pytest.fixture(scope="module")
def reference(corpus: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ref") / "store"
    return out, _build(corpus, out, workers=1)


def assert_same_store(a: Path, b: Path) -> None:
    """Same ids, rows and data; and since the build is deterministic, the same bytes."""
    sa, sb = Store(a), Store(b)
    assert sa.ids() == sb.ids()
    for cid in sa.ids():
        assert sa.row(cid) == sb.row(cid)
        np.testing.assert_allclose(sa[cid].data, sb[cid].data, atol=1e-6)
    assert sa.verify() == sb.verify() == len(sa)
    assert (a / "manifest.jsonl").read_bytes() == (b / "manifest.jsonl").read_bytes()
    shards = sorted(p.name for p in a.glob("shard-*.bin"))
    assert shards == sorted(p.name for p in b.glob("shard-*.bin"))
    for s in shards:
        assert (a / s).read_bytes() == (b / s).read_bytes()


# --- sources and splits -----------------------------------------------------------------------
def test_source_strings_and_objects(tmp_path: Path) -> None:
    s = Source.parse("data/dev.skels:lang=gsg,split=train,fps=25,scale=9")
    assert s == Source(Path("data/dev.skels"), lang="gsg", split="train", fps=25.0, scale=9.0)
    assert Source.parse("data/dev.skels") == Source(Path("data/dev.skels"))
    assert Source.parse({"path": "x.pose", "lang": "ase"}).lang == "ase"
    weird = tmp_path / "a:b=c"  # an existing path with a colon is a path
    weird.mkdir()
    assert Source.parse(str(weird)).path == weird
    with pytest.raises(UsageError, match="unknown option"):
        Source.parse("x.skels:language=gsg")
    with pytest.raises(UsageError, match="not a number"):
        Source.parse("x.skels:fps=fast")
    with pytest.raises(UsageError, match="split ratios"):
        parse_split_ratios("0.8,0.2")
    assert parse_split_ratios("8,1,1") == pytest.approx((0.8, 0.1, 0.1))


def test_hash_splits_are_stable_and_follow_ratios() -> None:
    ids = [f"ase/clip{i}" for i in range(3000)]
    ratios = (0.8, 0.1, 0.1)
    splits = [split_for(i, 0, ratios) for i in ids]
    assert splits == [split_for(i, 0, ratios) for i in reversed(ids)][::-1]
    frac = {s: splits.count(s) / len(ids) for s in ("train", "dev", "test")}
    assert frac["train"] == pytest.approx(0.8, abs=0.03)
    assert frac["dev"] == pytest.approx(0.1, abs=0.02)
    assert splits != [split_for(i, 1, ratios) for i in ids]  # the seed matters
    assert {split_for(i, 0, (1, 0, 0)) for i in ids} == {"train"}
    assert {split_for(i, 0, (0, 0, 1)) for i in ids} == {"test"}


def test_enumeration_is_cheap_and_order_independent(corpus: dict, monkeypatch) -> None:
    def boom(*a, **k):
        raise AssertionError("enumeration must not load clips")

    monkeypatch.setattr("signllm.data.formats.poseformat.read_pose_file", boom)
    monkeypatch.setattr("signllm.data.formats.openpose_json.read_openpose_folder", boom)
    tasks = enumerate_tasks(corpus["sources"], seed=3)
    back = enumerate_tasks(corpus["sources"][::-1], seed=3)
    assert {t.id: t.split for t in tasks} == {t.id: t.split for t in back}
    assert len(tasks) == 5 + 3 + 4 + 3
    by_id = {t.id: t for t in tasks}
    assert by_id["gsg/11August_2010_Wednesday_tagesschau-2"].split == "dev"  # .files prefix
    assert by_id["ase/letter0"].split == "dev"  # "val" in the manifest
    assert by_id["sgg/kleine"].language == "sgg"
    assert all(isinstance(t, ClipTask) and t.language for t in tasks)


# --- the build --------------------------------------------------------------------------------
def test_mixed_build(reference: tuple[Path, dict], corpus: dict) -> None:
    out, summary = reference
    st = Store(out)
    ids = st.ids()
    assert len(ids) == 15 and len(set(ids)) == 15
    assert {i.split("/")[0] for i in ids} == {"gsg", "ase", "sgg"}
    assert ids[:5] == [p.meta.id if p.meta.id.startswith("gsg/") else f"gsg/{p.meta.id}"
                       for p in read_poses(corpus["sources"][0].split(":")[0])]  # fmt: skip
    for cid in ids:
        pose = st[cid]
        assert pose.ndim == 3, cid
        assert pose.meta.language and pose.meta.spoken_language and pose.meta.split
        assert pose.meta.extra["prompt_template"]
        assert "norm" in pose.meta.extra  # normalised: mean ~0, pooled std ~1
        pts = pose.data[pose.mask]
        assert np.abs(pts.mean(0)[:2]).max() < 1e-3
        assert np.sqrt((pts[:, :2] ** 2).mean()) == pytest.approx(1.0, abs=1e-3)
    # How2Sign via the CSV manifest: lifted, labelled, the first one trimmed to 0.5-2.5 s
    h2s = [st[i] for i in ids if i.startswith("ase/") and "letter" not in i]
    assert len(h2s) == 3
    for pose in h2s:
        assert pose.meta.extra["lift"]["steps"] == LIFT_STEPS
        assert pose.meta.text == corpus["texts"][pose.meta.id.rsplit("/", 1)[-1]]
        assert pose.meta.signer == "s1" and "how2sign.csv:" in pose.meta.source
    assert h2s[0].num_frames <= 48  # trimmed to 2 s at 24 fps (minus pruned frames)
    # the JSONL manifest: ids, fps, split alias
    letter = st["ase/letter1"]
    assert letter.meta.text == "B" and letter.meta.split == "dev" and letter.fps == 25
    # summary numbers agree with the store
    assert json.loads((out / "summary.json").read_text()) == summary
    langs = summary["languages"]
    assert set(langs) == {"ase", "gsg", "sgg"}
    assert langs["gsg"]["clips"] == 5 and langs["gsg"]["splits"] == {"dev": 5}
    assert langs["ase"]["clips"] == 6 and langs["sgg"]["clips"] == 4
    assert langs["sgg"]["vocabulary"] == 4  # kleine, kinder, essen, pizza
    frames = {lang: sum(st[i].num_frames for i in st.ids(language=lang)) for lang in langs}
    for lang, d in langs.items():
        assert d["frames"] == frames[lang]
        assert d["hours"] == pytest.approx(
            sum(st[i].duration for i in st.ids(language=lang)) / 3600
        )
        assert sum(d["splits"].values()) == d["clips"]
    assert summary["total"]["clips"] == 15
    assert summary["build"]["added"] == 15 and summary["build"]["already_in_store"] == 0


def test_two_workers_give_the_same_store(reference, corpus, tmp_path: Path) -> None:
    out = tmp_path / "w2"
    summary = _build(corpus, out, workers=2)
    assert summary["build"]["workers"] == 2
    assert_same_store(reference[0], out)


def test_rerun_skips_everything(reference, corpus, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "again"
    import shutil

    shutil.copytree(reference[0], out)

    def boom(*a, **k):
        raise AssertionError("a clip already in the store was processed")

    monkeypatch.setattr(build_mod, "process_clip", boom)
    summary = _build(corpus, out)
    assert summary["build"]["added"] == 0 and summary["build"]["already_in_store"] == 15
    assert_same_store(reference[0], out)


KILL_SCRIPT = """
import sys, time
import signllm.data.build as b
slow = b.process_clip
def process_clip(task, opts):
    time.sleep(0.15)
    return slow(task, opts)
b.process_clip = process_clip
sources = {sources!r}
b.build_dataset(sources, sys.argv[1], lift_steps={steps}, progress=False, sync_every=1)
"""


def test_kill_9_then_resume(reference, corpus, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    script = KILL_SCRIPT.format(sources=[str(Source.parse(s).path) + _opts(s)
                                         for s in corpus["sources"]], steps=LIFT_STEPS)  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(out)])
    manifest = out / "manifest.jsonl"
    deadline = time.time() + 60
    try:
        while time.time() < deadline and proc.poll() is None:
            if manifest.exists() and manifest.read_bytes().count(b"\n") >= 4:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the build finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    part = Store(out)
    assert 4 <= len(part) < 15
    assert part.verify() == len(part)  # what is listed is whole
    summary = _build(corpus, out)
    assert summary["build"]["already_in_store"] == len(part)
    assert summary["build"]["added"] == 15 - len(part)
    assert_same_store(reference[0], out)


def _opts(spec) -> str:
    s = Source.parse(spec)
    return f":lang={s.lang}" if s.lang else ""


def test_missing_language_duplicates_and_bad_options(samples: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="lang=CODE"):
        enumerate_tasks([samples / "phoenix14t" / "dev.skels"])
    with pytest.raises(UsageError, match="unknown sign language 'xx'"):
        enumerate_tasks([f"{samples / 'phoenix14t' / 'dev.skels'}:lang=xx"])
    dev = f"{samples / 'phoenix14t' / 'dev.skels'}:lang=gsg"
    with pytest.raises(DataError, match="appears twice"):
        enumerate_tasks([dev, dev])
    with pytest.raises(UsageError, match="workers"):
        build_dataset([dev], tmp_path / "s", workers=-1, progress=False)
    build_dataset([dev], tmp_path / "s", progress=False)
    with pytest.raises(UsageError, match="no-resume"):
        build_dataset([dev], tmp_path / "s", resume=False, progress=False)


def test_no_lift_no_clean_and_dropped_clips(samples: Path, tmp_path: Path) -> None:
    src = f"{samples / 'how2sign' / 'openpose_json'}:lang=ase,split=train"
    s = build_dataset([src], tmp_path / "raw", lift_2d=False, clean=False, progress=False)
    st = Store(tmp_path / "raw")
    raw = {f"ase/{p.meta.id}": p for p in read_poses(samples / "how2sign" / "openpose_json")}
    assert st.ids() == list(raw) and s["languages"]["ase"]["splits"] == {"train": 5}
    for cid, pose in raw.items():
        got = st[cid]
        assert got.ndim == 2 and "norm" not in got.meta.extra
        err = np.linalg.norm(got.data - pose.data, axis=-1)[pose.mask].max()
        assert err <= 1e-3 * shoulder_width(pose)  # the store's error bound
    s = build_dataset([src], tmp_path / "none", min_body_confidence=1.0, progress=False)
    assert s["build"]["dropped_empty"] == 5 and s["total"]["clips"] == 0


def test_skip_bad(samples: Path, tmp_path: Path) -> None:
    (tmp_path / "broken.pose").write_bytes(b"not a pose file")
    good = samples / "mediapipe_lexicon" / "sgg" / "pizza.pose"
    (tmp_path / "m.csv").write_text(f"path,language\nbroken.pose,sgg\n{good},sgg\n")
    with pytest.raises(DataError, match=r"broken\.pose"):
        build_dataset([tmp_path / "m.csv"], tmp_path / "s1", progress=False)
    s = build_dataset([tmp_path / "m.csv"], tmp_path / "s2", progress=False, skip_bad=True)
    assert s["build"]["failed"] == 1 and s["build"]["added"] == 1
    assert "sgg/broken" in s["build"]["errors"][0]


# --- manifests --------------------------------------------------------------------------------
def test_manifest_loading_matches_readers(samples: Path, corpus: dict) -> None:
    """Per-clip loading of tasks equals streaming the same source with the readers."""
    lex = samples / "fingerspelling"
    tasks = enumerate_tasks([lex])
    poses = list(read_poses(lex))
    assert [t.id for t in tasks] == [p.meta.id for p in poses]
    for t, p in zip(tasks, poses, strict=True):
        got = load_clip(t)
        assert got.num_frames == p.num_frames and got.meta.text == p.meta.text
        np.testing.assert_array_equal(got.data, p.data)
    csv_path = corpus["root"] / "how2sign.csv"
    streamed = list(iter_manifest(csv_path))
    loaded = [load_clip(t) for t in enumerate_tasks([csv_path])]
    assert len(streamed) == len(loaded) == 3
    for a, b in zip(streamed, loaded, strict=True):
        assert "ase/" + a.meta.id == b.meta.id and a.meta.text == b.meta.text
        np.testing.assert_array_equal(a.data, b.data)
    assert streamed[0].num_frames == 48  # 0.5 s .. 2.5 s at 24 fps


def _bad(tmp_path: Path, text: str, name: str = "m.csv") -> DataError:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as e:
        list(read_manifest(p))
    assert e.value.path == str(p)
    return e.value


def test_bad_manifest_rows(tmp_path: Path, samples: Path) -> None:
    pose = samples / "mediapipe_lexicon" / "sgg" / "pizza.pose"
    head = "path,language,text,split,fps,start,end\n"
    ok = f"{pose},sgg,pizza,train,25,,\n"
    e = _bad(tmp_path, head + ok + f"{pose},klingon,x,,,,\n")
    assert (e.line, e.field) == (3, "language") and "unknown sign language 'klingon'" in str(e)
    assert "choose one of" in str(e) and f"{tmp_path / 'm.csv'}:3" in str(e)
    e = _bad(tmp_path, head + ok + "nope/missing.pose,sgg,x,,,,\n")
    assert (e.line, e.field) == (3, "path") and "does not exist" in str(e)
    e = _bad(tmp_path, head + f"{pose},sgg,x,,fast,,\n")
    assert (e.line, e.field) == (2, "fps") and "'fast' is not a number" in str(e)
    e = _bad(tmp_path, head + f"{pose},sgg,x,,,2,1\n")
    assert (e.line, e.field) == (2, "end")
    e = _bad(tmp_path, head + f"{pose},sgg,x,,,-1,\n")
    assert (e.line, e.field) == (2, "start")
    e = _bad(tmp_path, head + f"{pose},sgg,x,holdout,,,\n")
    assert (e.line, e.field) == (2, "split")
    e = _bad(tmp_path, head + f"{pose},sgg\n")
    assert e.line == 2 and "columns" in str(e)
    e = _bad(tmp_path, "file,language\nx,sgg\n")
    assert e.line == 1 and "'path' column" in str(e)
    row = json.dumps({"path": str(pose), "language": "sgg"})
    e = _bad(tmp_path, f"{row}\n{{broken\n", "m.jsonl")
    assert e.line == 2 and "broken JSON" in str(e)
    e = _bad(tmp_path, f"{row}\n" + json.dumps({"path": str(pose), "fps": "x"}), "m.jsonl")
    assert (e.line, e.field) == (2, "fps")
    e = _bad(tmp_path, json.dumps({"path": str(pose), "text": ["a"]}), "m.jsonl")
    assert (e.line, e.field) == (1, "text")


def test_manifest_start_past_end_and_missing_language(tmp_path: Path, samples: Path) -> None:
    pose = samples / "mediapipe_lexicon" / "sgg" / "pizza.pose"  # 53 frames at 24 fps
    (tmp_path / "m.csv").write_text(f"path,language,start\n{pose},sgg,100\n")
    with pytest.raises(DataError, match="past the end") as e:
        list(iter_manifest(tmp_path / "m.csv"))
    assert (e.value.line, e.value.field) == (2, "start")
    (tmp_path / "n.csv").write_text(f"path,text\n{pose},pizza\n")
    with pytest.raises(DataError, match="no sign language") as e:
        enumerate_tasks([tmp_path / "n.csv"])
    assert (e.value.line, e.value.field) == (2, "language")
    assert enumerate_tasks([f"{tmp_path / 'n.csv'}:lang=DSGS"])[0].id == "sgg/pizza"


# --- command line -----------------------------------------------------------------------------
def test_cli(samples: Path, tmp_path: Path, capsys) -> None:
    parser = argparse.ArgumentParser()
    register_build(parser.add_subparsers())
    out = tmp_path / "cli"
    dev = str(samples / "phoenix14t" / "dev.skels")
    argv = f"build -o {out} {dev} --lang DGS --seed 1 --split-ratios 1,0,0 --no-progress"
    args = parser.parse_args(argv.split())
    assert args.func(args) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["language", "clips", "frames"]
    assert "gsg" in table and "added 5 clips" in table
    assert Store(out).languages == ["gsg"]


def test_ray_missing_gives_install_hint(samples: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    dev = f"{samples / 'phoenix14t' / 'dev.skels'}:lang=gsg"
    with pytest.raises(UsageError, match=r"pip install 'signllm\[ray\]'"):
        build_dataset([dev], tmp_path / "s", ray_address="auto", progress=False)
