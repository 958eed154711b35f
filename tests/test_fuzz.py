"""Property tests (hypothesis) over the public readers: whatever the bytes, a reader returns clips
or raises the project's own error naming the file; never another exception, never a read outside
its folder, never a change to a store that resume refuses. Example counts are bounded so CI stays
fast; `bench/fuzz.py` runs the same idea at scale (>= 10,000 cases per parser)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from signllm.assets import samples_dir  # noqa: E402
from signllm.errors import SignLLMError  # noqa: E402

SAMPLES = samples_dir()
FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never flakes on a new draw
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                   max_size=5),
    max_leaves=30,
)  # fmt: skip


def _bytes_edit(data: bytes, edits: list[tuple[int, bytes]], cut: int | None) -> bytes:
    b = bytearray(data)
    for pos, chunk in edits:
        i = pos % (len(b) + 1)
        b[i : i + len(chunk)] = chunk
    return bytes(b[:cut] if cut is not None else b)


edits = st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=4)), max_size=4)


def _named_error(e: SignLLMError, tmp: Path) -> None:
    assert str(tmp) in str(e), f"error names no file: {e}"


@FAST
@given(edits=edits, cut=st.none() | st.integers(0, 5000))
def test_skels_any_bytes(edits, cut) -> None:
    from signllm.data.formats import read_poses

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for ext in ("skels", "text", "gloss", "files"):
            src = (SAMPLES / "phoenix14t" / f"dev.{ext}").read_bytes().split(b"\n")[:1]
            data = b"\n".join(src) + b"\n"
            if ext == "skels":
                data = _bytes_edit(data[:8000] + data[data.rfind(b" ", 0, 9000) :], edits, cut)
            (d / f"dev.{ext}").write_bytes(data)
        try:
            list(read_poses(d / "dev.skels"))
        except SignLLMError as e:
            _named_error(e, d)


@FAST
@given(doc=json_values, where=st.sampled_from(["people", "person", "keypoints", "root"]))
def test_openpose_frame_any_json(doc, where) -> None:
    from signllm.data.formats.openpose_json import read_frame

    src = SAMPLES / "how2sign" / "openpose_json" / "_2FBDaOPYig_2-3-rgb_front"
    real = json.loads(next(iter(sorted(src.iterdir()))).read_text())
    if where == "people":
        real["people"] = doc
    elif where == "person":
        real["people"] = [doc]
    elif where == "keypoints":
        real["people"][0]["pose_keypoints_2d"] = doc
    else:
        real = doc
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "c_000000000000_keypoints.json"
        f.write_text(json.dumps(real))
        try:
            xy, conf = read_frame(f)
            assert xy.shape == (50, 3) and conf.shape == (50,)
        except SignLLMError as e:
            _named_error(e, Path(tmp))


@FAST
@given(row=st.dictionaries(st.sampled_from(["path", "language", "text", "split", "start", "end",
                                            "fps", "mirror", "id", "start_ms"]),
                           json_values, max_size=6))  # fmt: skip
def test_manifest_jsonl_any_row(row) -> None:
    from signllm.data.manifest import read_manifest

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        shutil.copy(SAMPLES / "pose_format" / "openpose.pose", d / "a.pose")
        row.setdefault("path", "a.pose")
        (d / "m.jsonl").write_text(json.dumps(row) + "\n")
        try:
            for r in read_manifest(d / "m.jsonl"):
                assert r.path.exists()
        except SignLLMError as e:
            _named_error(e, d)


@FAST
@given(
    rel=st.text(min_size=1, max_size=40)
    | st.sampled_from(
        ["../x.pose", "/etc/hostname", "sgg/../../x.pose", "sgg/./kinder.pose", "./sgg/kinder.pose"]
    )
)
def test_lexicon_paths_never_leave_the_folder(rel) -> None:
    from signllm.data.formats.lexicon import iter_lexicon_entries

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "lex"
        (d / "sgg").mkdir(parents=True)
        (d / "sgg" / "kinder.pose").write_bytes(b"")
        (Path(tmp) / "x.pose").write_bytes(b"")
        rel_csv = '"' + rel.replace('"', '""') + '"'
        (d / "index.csv").write_text(
            f"path,signed_language,words\n{rel_csv},sgg,kinder\n", encoding="utf-8",
            errors="surrogatepass",
        )  # fmt: skip
        try:
            for e in iter_lexicon_entries(d):
                assert e.path.is_relative_to(d.resolve())
        except SignLLMError as e:
            _named_error(e, d)


@FAST
@given(doc=json_values, key=st.sampled_from(["tokens", "languages", "type", "format_version",
                                              None]))  # fmt: skip
def test_tokenizer_any_json(doc, key) -> None:
    from signllm.assets import default_model_dir
    from signllm.text.tokenizers import load_tokenizer

    real = json.loads((default_model_dir() / "prompt" / "tokenizer.json").read_text())
    if key is None:
        real = doc
    else:
        real[key] = doc
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "tokenizer.json"
        f.write_text(json.dumps(real))
        try:
            load_tokenizer(f)
        except SignLLMError as e:
            _named_error(e, Path(tmp))


@pytest.fixture(scope="module")
def store_template(tmp_path_factory) -> Path:
    from signllm.data.formats.skels import read_skels
    from signllm.data.store import StoreWriter

    d = tmp_path_factory.mktemp("tpl") / "store"
    with StoreWriter(d, shard_bytes=60_000, sync_every=1) as w:
        for p in read_skels(SAMPLES / "phoenix14t" / "dev.skels")[:3]:
            w.add(p)
    return d


def _snapshot(d: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file() and p.name != ".lock"
    }


@FAST
@given(line=st.integers(0, 2), key=st.sampled_from(["shard", "offset", "nbytes", "crc32",
                                                     "frames", "fps", "id", "ndim", "extra"]),
       value=json_values)  # fmt: skip
def test_store_row_any_value_resume_refuses_untouched(store_template, line, key, value) -> None:
    from signllm.data.store import Store, StoreWriter

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "store"
        shutil.copytree(store_template, d)
        lines = (d / "manifest.jsonl").read_text().splitlines()
        row = json.loads(lines[line])
        row[key] = value
        lines[line] = json.dumps(row)
        (d / "manifest.jsonl").write_text("\n".join(lines) + "\n")
        try:
            with Store(d) as s:
                s.verify()
        except SignLLMError as e:
            _named_error(e, d)
        before = _snapshot(d)
        try:
            with StoreWriter(d, resume=True):
                pass
        except SignLLMError as e:
            _named_error(e, d)
            assert _snapshot(d) == before, "a refused resume changed the store"


@FAST
@given(edits=edits)
def test_store_record_bytes(store_template, edits) -> None:
    from signllm.data.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "store"
        shutil.copytree(store_template, d)
        shard = sorted(d.glob("shard-*.bin"))[0]
        shard.write_bytes(_bytes_edit(shard.read_bytes(), edits, None))
        try:
            with Store(d) as s:
                s.verify()
        except SignLLMError as e:
            _named_error(e, d)


@FAST
@given(text=st.text(alphabet='[]{}":,0123456789naNIf -e.tr', max_size=300))
def test_json_loads_any_text(text) -> None:
    from signllm.safeio import MAX_JSON_DEPTH, json_depth, loads

    try:
        doc = loads(text, "x.json")
    except SignLLMError as e:
        assert "x.json" in str(e)
    else:
        assert json_depth(doc) <= MAX_JSON_DEPTH
