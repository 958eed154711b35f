"""Fuzz every public reader with mutated copies of the bundled real samples; prints ONE JSON line.

Why: the contract is that bad input gets the project's own error (`SignLLMError`) naming the file,
never another exception, a hang or a runaway allocation. Each parser runs in its own child process
(so its peak RSS is its own) under an address-space limit (a size taken from the file on trust
shows up as a MemoryError instead of swapping the machine) and a per-case alarm (a hang is
counted, not waited for). A case is one mutated copy of a real sample, read to the end:

- "clean":    a SignLLMError whose message names a file of the case;
- "unnamed":  a SignLLMError that names no file of the case (a clean exit; e.g. a manifest's
              absolute path to a system file, which manifests allow, names that file);
- "accepted": read without error (the mutation left the input valid, e.g. a changed digit);
- "crashes":  any other exception, by type (the first few reproducers are kept);
- "hangs":    the case ran past `--timeout` seconds;
- "destroyed" (store only): a resume that refused the store but changed a byte of it, or a
              resume that went through and lost a clip that read fine before it.

Case i is drawn from its own seed (parser, --seed, i): `--first i --cases 1` reproduces it.

Mutations: truncation, byte flips, non-UTF-8 bytes, numbers replaced by NaN/inf/huge/negative
values, lines deleted/duplicated, JSON values replaced by other types, deep nesting, huge declared
sizes (OpenPose frame numbers, store record headers, model dimensions), paths that climb out of
their folder, files where folders are expected and back.

    python bench/fuzz.py                       # 10,000 cases per parser
    python bench/fuzz.py --cases 2000 --parsers skels,store
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import signllm

PKG = Path(signllm.__file__).resolve().parent  # the samples of the signllm under test
SAMPLES = PKG / "assets" / "samples"
MODELS = PKG / "assets" / "models" / "default"
PARSERS = ("skels", "openpose", "pose", "manifest", "lexicon", "model", "store")


class Hang(BaseException):
    """Raised by the alarm; a BaseException so `except Exception` in the code under test misses it."""


# --- mutations --------------------------------------------------------------------------------
_NUM_RE = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
BAD_NUMBERS = [b"NaN", b"nan", b"inf", b"-Infinity", b"Infinity", b"1e309", b"-1", b"0", b"-0",
               b"1e7", b"10000000", b"1000000000", b"99999999999999999999", b"2.5", b"\"7\"",
               b"null", b"true", b"[]", b"{}", b"", b"0x10", b"1_000"]  # fmt: skip
BAD_VALUES: list[Any] = [None, True, False, -1, 0, 1e309, float("nan"), 10**6, 10**12, 2**63,
                         -(2**63), 1.5, "", "x", "../../etc/passwd", "/etc/passwd", [], {},
                         [1, 2], {"a": 1}, "\udcff", "é" * 3]  # fmt: skip


def _numbers(b: bytes, rng: random.Random) -> bytes:
    ms = list(_NUM_RE.finditer(b))
    if not ms:
        return b + rng.choice(BAD_NUMBERS)
    for _ in range(rng.choice((1, 1, 1, 2, 5))):
        m = rng.choice(ms)
        b = b[: m.start()] + rng.choice(BAD_NUMBERS) + b[m.end() :]
        ms = list(_NUM_RE.finditer(b))
        if not ms:
            break
    return b


def _lines(b: bytes, rng: random.Random) -> bytes:
    lines = b.split(b"\n")
    i = rng.randrange(len(lines))
    op = rng.randrange(5)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[i])
    elif op == 2:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 3:
        lines.insert(i, b"")
    else:
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    return b"\n".join(lines)


def _fields(b: bytes, rng: random.Random) -> bytes:
    """Add or remove a separator in one line (wrong field counts)."""
    seps = [m.start() for m in re.finditer(rb"[,\t ]", b)]
    if not seps:
        return b + b","
    i = rng.choice(seps)
    return b[:i] + b[i + 1 :] if rng.random() < 0.5 else b[:i] + b[i : i + 1] * 2 + b[i + 1 :]


def mutate_bytes(b: bytes, rng: random.Random) -> bytes:
    op = rng.randrange(9)
    if op == 0 and b:  # truncate
        return b[: rng.randrange(len(b))]
    if op == 1 and b:  # flip bytes
        a = bytearray(b)
        for _ in range(rng.choice((1, 1, 3, 10))):
            a[rng.randrange(len(a))] = rng.randrange(256)
        return bytes(a)
    if op == 2:  # non-UTF-8
        i = rng.randrange(len(b) + 1)
        return (
            b[:i]
            + rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\xfe\xff"))
            + b[i:]
        )
    if op == 3:
        return _numbers(b, rng)
    if op == 4:
        return _lines(b, rng)
    if op == 5:
        return _fields(b, rng)
    if op == 6:
        return b"" if rng.random() < 0.5 else b * rng.choice((2, 3))
    if op == 7:  # deep nesting where a value starts
        i = rng.randrange(len(b) + 1)
        n = rng.choice((100, 1000, 100_000))
        return b[:i] + b"[" * n + b"1" + b"]" * n + b[i:]
    return mutate_bytes(mutate_bytes(b, rng), rng)


def _walk(doc: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(doc, dict):
        for k, v in list(doc.items())[:200]:
            out += _walk(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:50]):
            out += _walk(v, (*path, i))
    return out


def mutate_json(b: bytes, rng: random.Random) -> bytes:
    """A structure-aware change: one value replaced by another type, deleted, or nested deep."""
    if rng.random() < 0.3:
        return mutate_bytes(b, rng)
    try:
        doc = json.loads(b)
    except (ValueError, RecursionError):
        return mutate_bytes(b, rng)
    paths = _walk(doc)
    path = rng.choice(paths)
    op = rng.randrange(4)
    if not path:
        new: Any = rng.choice(BAD_VALUES)
        doc = new if op else [doc]
    else:
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        k = path[-1]
        if op == 0:
            parent[k] = rng.choice(BAD_VALUES)
        elif op == 1 and isinstance(parent, dict):
            del parent[k]
        elif op == 2:
            v: Any = parent[k]
            for _ in range(rng.choice((50, 500, 5000))):
                v = [v]
            parent[k] = v
        else:
            v = parent[k]
            parent[k] = rng.choice((v * 1000 if isinstance(v, int | float | str) else v,
                                    -v if isinstance(v, int | float) else v, [v], str(v)))  # fmt: skip
    try:
        text = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    except (ValueError, RecursionError):
        return mutate_bytes(b, rng)
    return text.encode("utf-8", "surrogatepass")


def _copy(src: Path, dst: Path) -> None:
    """Copy a tree cheaply: hard links (no case writes in place; mutations replace files)."""
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=os.link)
    else:
        os.link(src, dst)


def _replace(path: Path, data: bytes) -> None:
    path.unlink()
    path.write_bytes(data)


def _swap_kind(path: Path) -> None:
    """A file becomes a folder, or a folder a file."""
    if path.is_dir():
        shutil.rmtree(path)
        path.write_bytes(b"")
    else:
        path.unlink()
        path.mkdir()


# --- parsers: (prepare(tmp) -> template, case(template, work, rng) -> callable) ----------------
def _skels_template(tmp: Path) -> Path:
    d = tmp / "skels"
    d.mkdir()
    src = SAMPLES / "phoenix14t" / "dev"
    for ext in ("skels", "text", "gloss", "files"):
        lines = src.with_suffix(f".{ext}").read_bytes().split(b"\n")[:2]
        (d / f"dev.{ext}").write_bytes(b"\n".join(lines) + b"\n")
    return d


def _skels_case(tpl: Path, work: Path, rng: random.Random) -> Callable[[], Any]:
    from signllm.data.formats import read_poses

    _copy(tpl, work / "d")
    ext = rng.choice(("skels", "skels", "skels", "text", "gloss", "files"))
    f = work / "d" / f"dev.{ext}"
    if rng.random() < 0.02:
        _swap_kind(f)
    else:
        _replace(f, mutate_bytes(f.read_bytes(), rng))
    return lambda: [p.num_frames for p in read_poses(work / "d" / "dev.skels")]


def _openpose_template(tmp: Path) -> Path:
    src = SAMPLES / "how2sign" / "openpose_json" / "_2FBDaOPYig_2-3-rgb_front"
    d = tmp / "op" / src.name
    d.mkdir(parents=True)
    for p in sorted(src.iterdir())[:6]:
        shutil.copy(p, d / p.name)
    return d.parent


def _openpose_case(tpl: Path, work: Path, rng: random.Random) -> Callable[[], Any]:
    from signllm.data.formats import read_poses

    _copy(tpl, work / "op")
    clip = next((work / "op").iterdir())
    files = sorted(clip.iterdir())
    f = rng.choice(files)
    r = rng.random()
    if r < 0.1:  # a frame number far beyond the others
        n = rng.choice((10**4, 10**7, 10**9, 10**15, 10**30))
        f.rename(clip / re.sub(r"_\d+_keypoints", f"_{n}_keypoints", f.name))
    elif r < 0.13:
        _swap_kind(f)
    elif r < 0.6:
        _replace(f, mutate_json(f.read_bytes(), rng))
    else:
        _replace(f, mutate_bytes(f.read_bytes(), rng))
    return lambda: [p.num_frames for p in read_poses(work / "op")]


def _pose_template(tmp: Path) -> Path:
    d = tmp / "pose"
    d.mkdir()
    shutil.copy(SAMPLES / "pose_format" / "openpose.pose", d / "a.pose")
    shutil.copy(SAMPLES / "mediapipe_lexicon" / "sgg" / "kinder.pose", d / "b.pose")
    return d


def _pose_case(tpl: Path, work: Path, rng: random.Random) -> Callable[[], Any]:
    from signllm.data.formats import read_poses

    name = rng.choice(("a.pose", "b.pose"))
    b = (tpl / name).read_bytes()
    if rng.random() < 0.5:  # header-local damage, where sizes and counts live
        a = bytearray(b)
        for _ in range(rng.choice((1, 2, 4))):
            i = rng.randrange(min(len(a), 4000))
            a[i] = rng.choice((0, 0xFF, rng.randrange(256)))
        b = bytes(a)
    else:
        b = mutate_bytes(b, rng)
    (work / name).write_bytes(b)
    return lambda: [p.num_frames for p in read_poses(work / name)]


def _manifest_template(tmp: Path) -> Path:
    d = tmp / "man"
    d.mkdir()
    shutil.copy(SAMPLES / "pose_format" / "openpose.pose", d / "a.pose")
    texts = [
        line.split("\t")[2].strip('"')
        for line in (SAMPLES / "how2sign" / "clips.tsv").read_text("utf-8").splitlines()[1:3]
    ]
    with open(d / "m.csv", "w", encoding="utf-8", newline="") as f:
        f.write("path,language,text,split,start,end,fps,mirror\n")
        f.write(f'a.pose,ASL,"{texts[0]}",train,0,0.5,25,auto\n')
        f.write(f'a.pose,ase,"{texts[1]}",dev,,,,\n')
    rows = [{"path": "a.pose", "language": "ase", "text": t, "split": "test", "start_ms": 0,
             "fps": 24} for t in texts]  # fmt: skip
    (d / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return d


def _manifest_case(tpl: Path, work: Path, rng: random.Random) -> Callable[[], Any]:
    from signllm.data.manifest import iter_manifest

    _copy(tpl, work / "m")
    name = rng.choice(("m.csv", "m.jsonl"))
    f = work / "m" / name
    b = f.read_bytes()
    if name == "m.jsonl" and rng.random() < 0.6:
        lines = b.split(b"\n")
        i = rng.randrange(2)
        lines[i] = mutate_json(lines[i], rng).replace(b"\n", b" ")
        b = b"\n".join(lines)
    else:
        b = mutate_bytes(b, rng)
    _replace(f, b)
    return lambda: [p.num_frames for p in iter_manifest(f)]


def _lexicon_template(tmp: Path) -> Path:
    d = tmp / "lex"
    (d / "sgg").mkdir(parents=True)
    src = SAMPLES / "mediapipe_lexicon"
    lines = (src / "index.csv").read_bytes().split(b"\n")[:3]
    (d / "index.csv").write_bytes(b"\n".join(lines) + b"\n")
    for line in lines[1:]:
        rel = line.split(b",")[0].decode()
        shutil.copy(src / rel, d / rel)
    return d


def _lexicon_case(tpl: Path, work: Path, rng: random.Random) -> Callable[[], Any]:
    from signllm.data.formats import read_poses

    _copy(tpl, work / "lex")
    f = work / "lex" / "index.csv"
    b = f.read_bytes()
    r = rng.random()
    if r < 0.1:  # a path out of the folder
        bad = rng.choice((b"/etc/hostname", b"../../../etc/hostname", b"sgg/../../outside.pose",
                          str(SAMPLES / "pose_format" / "openpose.pose").encode()))  # fmt: skip
        b = b.replace(b"sgg/kinder.pose", bad, 1)
        (work / "outside.pose").write_bytes((SAMPLES / "pose_format/openpose.pose").read_bytes())
    elif r < 0.13:
        _swap_kind(work / "lex" / "sgg" / "kinder.pose")
    else:
        b = mutate_bytes(b, rng)
    _replace(f, b)
    return lambda: [p.num_frames for p in read_poses(work / "lex")]


def _model_template(tmp: Path) -> Path:
    d = tmp / "model"
    shutil.copytree(MODELS / "prompt", d)
    return d


_DIMS = ("d_model", "n_heads", "n_enc_layers", "n_dec_layers", "d_ff", "vocab_size", "max_len",
         "num_joints", "max_frames")  # fmt: skip


def _model_case(tpl: Path, work: Path, rng: random.Random) -> Callable[[], Any]:
    from signllm.train.checkpoint import load_checkpoint

    d = work / "model"
    _copy(tpl, d)
    r = rng.random()
    if r < 0.15:  # a model dimension far beyond any real model
        doc = json.loads((d / "config.json").read_bytes())
        model = doc.get("model", {})
        keys = [k for k in model if k in _DIMS] or list(model)
        k = rng.choice(keys)
        model[k] = rng.choice((10**6, 10**9, -1, 0, 2**40, 1.5, "8", None))
        _replace(d / "config.json", json.dumps(doc).encode())
    elif r < 0.5:
        _replace(d / "config.json", mutate_json((d / "config.json").read_bytes(), rng))
    elif r < 0.8:
        _replace(d / "tokenizer.json", mutate_json((d / "tokenizer.json").read_bytes(), rng))
    elif r < 0.83:
        _swap_kind(d / rng.choice(("config.json", "tokenizer.json", "model.safetensors")))
    else:  # the weights: header (sizes, offsets) or body
        b = bytearray((d / "model.safetensors").read_bytes())
        if rng.random() < 0.7:
            n = int.from_bytes(b[:8], "little")
            header = mutate_json(bytes(b[8 : 8 + n]), rng)
            b = bytearray(len(header).to_bytes(8, "little") + header + b[8 + n :])
        else:
            b = bytearray(mutate_bytes(bytes(b), rng))
        _replace(d / "model.safetensors", bytes(b))
    return lambda: load_checkpoint(d).model


def _store_template(tmp: Path) -> Path:
    from signllm.data.formats.skels import read_skels
    from signllm.data.store import StoreWriter

    d = tmp / "store"
    poses = read_skels(SAMPLES / "phoenix14t" / "dev.skels")[:3]
    with StoreWriter(d, shard_bytes=60_000, sync_every=1) as w:
        for p in poses:
            w.add(p)
    return d


@functools.cache
def _bomb(n: int) -> bytes:
    """n zero bytes, zlib-compressed (streamed: the harness itself never holds n bytes)."""
    c = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    parts = [c.compress(chunk) for _ in range(n >> 20)]
    return b"".join([*parts, c.compress(b"\0" * (n & ((1 << 20) - 1))), c.flush()])


def _store_case(tpl: Path, work: Path, rng: random.Random) -> Callable[[], Any]:
    from signllm.data.store import MANIFEST, Store, StoreWriter, export_skels

    d = work / "store"
    _copy(tpl, d)
    man = d / MANIFEST
    shards = sorted(d.glob("shard-*.bin"))
    r = rng.random()
    if r < 0.35:  # one manifest row changed
        lines = man.read_bytes().split(b"\n")
        i = rng.randrange(len(lines) - 1)
        row = json.loads(lines[i])
        if rng.random() < 0.5:
            k = rng.choice(("shard", "offset", "nbytes", "crc32", "frames", "fps", "id", "ndim"))
            row[k] = rng.choice([*BAD_VALUES, "shard-00001.bin", "shard-00000.bin", "shard-x.bin",
                                 "../store.json", "/etc/hostname", 0, 52, 10**15])  # fmt: skip
            lines[i] = json.dumps(row).encode()
        else:
            lines[i] = mutate_json(lines[i], rng).replace(b"\n", b" ")
        _replace(man, b"\n".join(lines))
    elif r < 0.5:
        _replace(man, mutate_bytes(man.read_bytes(), rng))
    elif r < 0.6:
        _replace(d / "store.json", mutate_json((d / "store.json").read_bytes(), rng))
    elif r < 0.7:  # a record header field (frames, joints, dims, blob size)
        s = rng.choice(shards)
        b = bytearray(s.read_bytes())
        i = rng.choice((4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 48, 49, 50, 51))
        b[i] = rng.choice((0, 0xFF, rng.randrange(256)))
        _replace(s, bytes(b))
    elif r < 0.75:  # a decompression bomb as a valid record, with its CRC in the manifest
        from signllm.data.store import _HEADER, MAGIC

        size = rng.choice((10**6, 10**8, 10**9))
        blob = _bomb(size)
        rec = _HEADER.pack(MAGIC, 1, 0, 1, 0, rng.choice((1, 10**6, 2**31)), 50, 3, 0.0, 0, 0, 0,
                           len(blob)) + blob + _bomb(10)  # fmt: skip
        s = shards[0]
        _replace(s, s.read_bytes() + rec)
        lines = man.read_bytes().split(b"\n")
        row = json.loads(lines[0])
        off = s.stat().st_size - len(rec)
        row.update(id="bomb", shard=s.name, offset=off, nbytes=len(rec), crc32=zlib.crc32(rec))
        _replace(man, man.read_bytes() + json.dumps(row).encode() + b"\n")
    elif r < 0.78:
        (d / rng.choice(("shard-x.bin", "shard-0.bin", "shard-99999.bin"))).write_bytes(b"x")
    elif r < 0.8:
        _swap_kind(d / rng.choice((MANIFEST, "store.json", shards[0].name)))
    else:
        s = rng.choice(shards)
        _replace(s, mutate_bytes(s.read_bytes(), rng))

    def resume() -> None:
        """Resume must refuse a corrupt store without touching it, and never lose a clip that
        read fine before (a torn tail may be cut: it lists nothing readable)."""
        before, good = _snapshot(d), _good_clips(d)
        try:
            with StoreWriter(d, resume=True):
                pass
        except BaseException:
            if _snapshot(d) != before:
                raise Destroyed("resume refused the store but changed its files") from None
            raise
        if not good <= _good_clips(d):
            raise Destroyed("resume lost clips that read fine before")

    def run() -> Any:
        with Store(d) as st:
            st.verify()
            st.summary()
            export_skels(st, work / "out")
        resume()

    def run_resume_first() -> Any:
        resume()
        with Store(d) as st:
            st.verify()

    return run if rng.random() < 0.5 else run_resume_first


class Destroyed(Exception):
    pass


def _good_clips(d: Path) -> set[str]:
    from signllm.data.store import Store
    from signllm.errors import SignLLMError

    good = set()
    try:
        with Store(d) as st:
            for cid in st.ids():
                with contextlib.suppress(SignLLMError):
                    st[cid]
                    good.add(cid)
    except SignLLMError:
        pass
    return good


def _snapshot(d: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(d.iterdir()):
        if p.name == ".lock":
            continue
        out[p.name] = p.read_bytes() if p.is_file() else b"<dir>"
    return out


CASES = {
    "skels": (_skels_template, _skels_case),
    "openpose": (_openpose_template, _openpose_case),
    "pose": (_pose_template, _pose_case),
    "manifest": (_manifest_template, _manifest_case),
    "lexicon": (_lexicon_template, _lexicon_case),
    "model": (_model_template, _model_case),
    "store": (_store_template, _store_case),
}


# --- one parser, in a child process -----------------------------------------------------------
def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def run_parser(name: str, cases: int, seed: int, timeout: float, mem_gib: float,
               keep: int, first: int = 0) -> dict[str, Any]:  # fmt: skip
    import torch  # noqa: F401  (imported before the limit: its own mappings are large)

    from signllm.errors import SignLLMError

    prepare, make_case = CASES[name]
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    vm = _vm_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (vm + int(mem_gib * 2**30), hard))
    signal.signal(signal.SIGALRM, _alarm)
    out: dict[str, Any] = {"cases": 0, "clean": 0, "unnamed": 0, "accepted": 0, "crashes": {},
                           "hangs": 0, "destroyed": 0, "examples": []}  # fmt: skip
    crashes: Counter = Counter()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"signllm-fuzz-{name}-") as tmp:
        tpl = prepare(Path(tmp))
        for i in range(first, first + cases):
            work = Path(tmp) / f"case{i}"
            work.mkdir()
            rng = random.Random(f"{name}-{seed}-{i}")  # case i alone reproduces it
            try:
                fn = make_case(tpl, work, rng)
                signal.setitimer(signal.ITIMER_REAL, timeout)
                try:
                    fn()
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                out["accepted"] += 1
            except Hang:
                out["hangs"] += 1
                _example(out, keep, "hang", i, "")
            except SignLLMError as e:
                if tmp in str(e):
                    out["clean"] += 1
                else:
                    out["unnamed"] += 1
                    _example(out, keep, "unnamed", i, str(e)[:200])
            except Destroyed:
                out["destroyed"] += 1
                _example(out, keep, "destroyed", i, "")
            except BaseException as e:
                if isinstance(e, KeyboardInterrupt):
                    raise
                kind = type(e).__name__
                crashes[kind] += 1
                tb = traceback.extract_tb(e.__traceback__)
                at = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb)
                           if "/signllm/" in f.filename), "?")  # fmt: skip
                _example(out, keep, kind, i, f"{at}: {str(e)[:160]}")
            out["cases"] += 1
            shutil.rmtree(work, ignore_errors=True)
    out["crashes"] = dict(crashes.most_common())
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def _example(out: dict, keep: int, kind: str, i: int, msg: str) -> None:
    if sum(1 for e in out["examples"] if e["kind"] == kind) < keep:
        out["examples"].append({"kind": kind, "case": i, "msg": msg})


def _vm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=10_000, help="cases per parser")
    ap.add_argument("--parsers", default=",".join(PARSERS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per case = a hang")
    ap.add_argument("--mem-gib", type=float, default=3.0, help="address space allowed per parser")
    ap.add_argument("--examples", type=int, default=3, help="reproducers kept per outcome")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, default=0, help="first case number (to reproduce one)")
    ap.add_argument("--out", help="also write the full result (with examples) to this file")
    args = ap.parse_args()
    if args.child:
        res = run_parser(args.child, args.cases, args.seed, args.timeout, args.mem_gib,
                         args.examples, args.first)  # fmt: skip
        print(json.dumps(res))
        return
    result: dict[str, Any] = {"cases_per_parser": args.cases, "seed": args.seed,
                              "timeout_s": args.timeout, "parsers": {}}  # fmt: skip
    for name in args.parsers.split(","):
        cmd = [sys.executable, __file__, "--child", name, "--cases", str(args.cases),
               "--seed", str(args.seed), "--timeout", str(args.timeout),
               "--mem-gib", str(args.mem_gib), "--examples", str(args.examples),
               "--first", str(args.first)]  # fmt: skip
        p = subprocess.run(cmd, capture_output=True, text=True)
        try:
            res = json.loads(p.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            res = {"died": p.returncode, "stderr": p.stderr[-500:]}
        result["parsers"][name] = res
        print(f"fuzz: {name}: {json.dumps({k: v for k, v in res.items() if k != 'examples'})}",
              file=sys.stderr)  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1), "utf-8")
    for res in result["parsers"].values():
        res.pop("examples", None)
    print(json.dumps(result))


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main()
