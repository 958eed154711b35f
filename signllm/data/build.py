"""Build a training store from raw corpora: read -> clean -> lift 2D -> 3D -> normalise -> store.

Why this shape: Prompt2Sign's bottleneck was lifting (about 1000 clips in 10 hours on one GPU), and
a full build is hundreds of hours of signing. So the build is a list of independent per-clip tasks:
the parent enumerates cheap task descriptors (a file and a line or folder, plus labels; no clip is
loaded), workers do the heavy part, and the parent alone writes into the store (`StoreWriter` is
single-writer), in task order, so that the store is the same whatever the number of workers, and a
rerun after a crash (even kill -9) skips every clip already in the store.

    signllm data build -o out/store phoenix14t/train.skels:lang=gsg how2sign/openpose_json:lang=ase
    signllm data build -o out/store clips.csv --workers 8             # a manifest (see manifest.py)
    signllm data build -o out/store ... --ray auto                     # the same tasks on a Ray cluster

    from signllm.data.build import build_dataset
    summary = build_dataset(["dev.skels:lang=gsg", "sgg_lexicon/"], "out/store", workers=2)

Sources. A source is a path that `read_poses` reads (`.skels`, `.pose`, an OpenPose clip folder or a
folder of them, a lexicon folder, a folder of `.pose` files) or a manifest (`.csv`, `.tsv`, `.jsonl`;
`manifest.py`), with options written after a colon, `path:lang=gsg,split=train,fps=25,scale=9`, or
given as a `Source(...)` or a dict with the same keys. Options fill what the clips leave unsaid:
- `lang`: sign language (code, name or alias). `.skels`, `.pose` and OpenPose carry none, so they
  need it (or the build's `language=` / `--lang`); in a manifest it is the default for empty cells;
  on a lexicon it keeps only that language's entries (as `read_poses` does).
- `split`: for clips without their own split; `fps`: for formats that store none (OpenPose JSON,
  `.skels`); `scale`: `.skels` value scale (3 Progressive Transformers, 9 Prompt2Sign).
Every clip must end up with a sign language the registry knows.

Ids. A clip's store id is `<language code>/<clip id>` (a clip id that already starts with its
language, as lexicon ids do, is kept), so corpora of different languages never collide; clip ids
are the `.files` entries of a `.skels` (`<file stem>/line<n>` without one), OpenPose clip folder
names, `.pose` file stems, lexicon ids, and manifest ids. Two clips with one id stop the build
before anything is processed.

Splits. A clip keeps its own split (the `.files` prefix of PHOENIX, a manifest's or a lexicon's split
column), else its source's `split=`, else one drawn from SHA-256(seed, store id) against
`split_ratios` (train, dev, test): the same clip always lands in the same split, whatever the
worker count, the order, or the other clips.

Per clip: 2D clips are cleaned (frames whose mean body confidence is below `min_body_confidence`
dropped, gaps interpolated; `clean.clean`), lifted to 3D (`lift.lift`, `lift_steps` Adam steps) and
then every clip is normalised (`clean.normalize`; the stats to undo it stay in `meta.extra["norm"]`).
`clean=False` stores clips as read (2D ones still lifted unless `lift_2d=False`). Each clip is paired
with a prompt template as Prompt2Sign does (`meta.extra["prompt_template"]`,
`prompts.pair_with_templates` with the build seed). A clip with no frame left after pruning is
dropped (counted in the summary).

Running. `workers` processes (forkserver/spawn, one torch thread each; `workers=1` runs in this
process), at most `max_in_flight` clips submitted but not yet written, results written in task
order. `ray_address` runs the same task function on Ray (`pip install 'signllm[ray]'`; every node
needs signllm installed): "auto" or "ray://host:10001" joins a cluster, "local" starts a throwaway
one, and a Ray already initialised in this process is used as is. The store is byte-identical
either way (tested). Resume: the same command again; clips in the store (`StoreWriter.has`) are
neither read nor processed; a writer syncs every `sync_every` clips, so kill -9 loses at most that.

Measured (bench/build.py, bundled samples repeated, default 300 lift steps, a 2-core VM shared
with other jobs, load 1.5-2): How2Sign (clean + lift) 3.6-4.9 clips/s (500-660 frames/s) with 1
worker, 5.2-6.4 clips/s (710-880 frames/s) with 2, pool start included; PHOENIX `.skels` (3D,
normalise only) about 230 clips/s (30k frames/s) with 1 or 2 workers: there the single writer's
encoding (about 2.6 ms a clip) is the limit, not the workers.

At the end `summary.json` (written atomically into the store) and the returned dict hold, per
language, clips, frames, hours, signers, vocabulary (distinct words of the text) and split counts
of the whole store, plus this run's throughput.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import re
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError, SignLLMError, UsageError
from ..fileio import atomic_write
from ..pose import Pose, PoseMeta
from .manifest import (
    ManifestRow,
    is_manifest,
    lexicon_rows,
    normalize_split,
    read_manifest,
    single_clip_path,
    trim,
)

SPLITS = ("train", "dev", "test")
SOURCE_OPTIONS = ("lang", "split", "fps", "scale")
SUMMARY = "summary.json"
DEFAULT_SPLIT_RATIOS = (0.8, 0.1, 0.1)
DEFAULT_SYNC_EVERY = 16  # clips between fsyncs: a crash loses at most this much work
RAY_HINT = "pip install 'signllm[ray]'"


# --- sources ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """A path to build from, plus options for what its clips leave unsaid (module doc)."""

    path: Path
    lang: str | None = None
    split: str | None = None
    fps: float | None = None
    scale: float | None = None

    _SPEC = re.compile(r"^(?P<path>.+?):(?P<opts>\w+=[^,:]*(?:,\w+=[^,:]*)*)$")

    @classmethod
    def parse(cls, spec: str | Path | Mapping[str, Any] | Source) -> Source:
        """`"path"`, `"path:lang=gsg,split=train"`, a dict with those keys, or a Source."""
        if isinstance(spec, Source):
            return spec
        if isinstance(spec, Path):
            return cls(spec)
        if isinstance(spec, Mapping):
            opts = dict(spec)
            if "path" not in opts:
                raise UsageError(f"a source needs a 'path': {spec!r}")
            path = opts.pop("path")
        elif isinstance(spec, str):
            m = cls._SPEC.match(spec)
            if not m or Path(spec).exists():  # a real path with ':' in its name wins
                return cls(Path(spec))
            path = m["path"]
            opts = dict(kv.split("=", 1) for kv in m["opts"].split(","))
        else:
            raise UsageError(
                f"a source is a path, a 'path:key=value,...' string or a dict: {spec!r}"
            )
        unknown = sorted(set(opts) - set(SOURCE_OPTIONS))
        if unknown:
            raise UsageError(
                f"source {path}: unknown option(s) {', '.join(unknown)}; "
                f"known: {', '.join(SOURCE_OPTIONS)}"
            )
        out: dict[str, Any] = {}
        for key in ("fps", "scale"):
            if opts.get(key) not in (None, ""):
                try:
                    v = float(opts[key])
                except (TypeError, ValueError):
                    raise UsageError(
                        f"source {path}: {key}={opts[key]!r} is not a number"
                    ) from None
                if not (math.isfinite(v) and v > 0):
                    raise UsageError(f"source {path}: {key} must be a positive number")
                out[key] = v
        for key in ("lang", "split"):
            if opts.get(key):
                out[key] = str(opts[key])
        return cls(Path(path), **out)


# --- tasks ------------------------------------------------------------------------------------
@dataclass(slots=True)
class ClipTask:
    """Everything a worker needs to produce one clip; small, picklable, no data."""

    id: str  # the store id once enumerated (the clip's own id before)
    kind: str  # "skels" (one line) | "pose" (a .pose file) | "openpose" (one clip folder)
    path: str
    where: str  # the file that describes the clip, for messages and meta.source
    where_line: int = 0  # its line there (0: none)
    language: str = ""
    split: str = ""
    line: int = 0  # skels: 1-based line
    offset: int = 0  # skels: byte offset of the line
    scale: float | None = None  # skels
    fps: float | None = None  # for formats without one
    fps_override: float | None = None  # a manifest row's fps
    start: float | None = None  # seconds
    end: float | None = None
    meta: dict[str, str] = field(default_factory=dict)  # text, gloss, signer, spoken_language
    extra: dict[str, Any] = field(default_factory=dict)


def _location(task: ClipTask) -> str:
    return f"{task.where}:{task.where_line}" if task.where_line else task.where


def split_for(clip_id: str, seed: int | str, ratios: Sequence[float]) -> str:
    """train/dev/test from SHA-256(seed, id): stable across runs, orders and worker counts."""
    digest = hashlib.sha256(f"split\x00{seed}\x00{clip_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    total = 0.0
    for name, r in zip(SPLITS, ratios, strict=True):
        total += r
        if u < total:
            return name
    return next(n for n, r in zip(reversed(SPLITS), reversed(ratios), strict=True) if r > 0)


def parse_split_ratios(value: str | Sequence[float]) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' or three numbers >= 0 (normalised to sum 1)."""
    try:
        parts = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        raise UsageError(
            f"split ratios must be three numbers (train,dev,test), got {value!r}"
        ) from None
    if len(parts) != 3 or not all(math.isfinite(p) and p >= 0 for p in parts) or sum(parts) <= 0:
        raise UsageError(
            f"split ratios must be three numbers >= 0 with a positive sum (train,dev,test), "
            f"got {value!r}"
        )
    s = sum(parts)
    return (parts[0] / s, parts[1] / s, parts[2] / s)


def _skels_tasks(path: Path, src: Source) -> Iterator[ClipTask]:
    from .formats.skels import _read_side, _split_and_id, skels_prefix

    prefix = skels_prefix(path)
    skels = prefix.with_suffix(".skels")
    if not skels.is_file():
        raise DataError("no such .skels file", skels)
    offsets = []
    pos = 0
    with skels.open("rb") as f:  # offsets only: the lines are parsed by the workers
        for line in f:
            offsets.append(pos)
            pos += len(line)
    n = len(offsets)
    side = {ext: _read_side(prefix, ext, n, required=ext == "text") for ext in ("text", "gloss")}
    files = _read_side(prefix, "files", n, required=False)
    files_path = prefix.with_suffix(".files")
    for i, off in enumerate(offsets):
        split, cid = _split_and_id(files[i], i + 1)
        if not files[i]:
            cid = f"{prefix.name}/line{i + 1}"
        yield ClipTask(
            id=cid,
            kind="skels",
            path=str(skels),
            where=str(skels),
            where_line=i + 1,
            split=normalize_split(split, files_path, i + 1),
            line=i + 1,
            offset=off,
            scale=src.scale,
            fps=src.fps,
            meta={"text": side["text"][i], "gloss": side["gloss"][i]},
        )


def _row_task(row: ManifestRow, src: Source) -> ClipTask:
    """A lexicon entry: one .pose file and its row's labels."""
    return ClipTask(
        id=row.id,
        kind="pose",
        path=str(row.path),
        where=str(row.manifest),
        where_line=row.line,
        language=row.language,
        split=row.split,
        start=row.start,
        end=row.end,
        meta=dict(row.fields),
        extra=dict(row.extra),
    )


def _path_tasks(path: Path, src: Source) -> Iterator[ClipTask]:
    """The clips of one readable path (not a manifest), in `read_poses` order."""
    from .formats import detect_format
    from .formats.lexicon import is_lexicon_folder
    from .formats.openpose_json import is_openpose_folder

    fmt = detect_format(path)
    if fmt == "skels":
        yield from _skels_tasks(path, src)
    elif fmt == "pose":
        yield ClipTask(id=path.stem, kind="pose", path=str(path), where=str(path))
    elif fmt == "openpose":
        folders = [path] if is_openpose_folder(path) else [
            d for d in sorted(path.iterdir()) if is_openpose_folder(d)
        ]  # fmt: skip
        for d in folders:
            yield ClipTask(id=d.name, kind="openpose", path=str(d), where=str(d), fps=src.fps)
    elif is_lexicon_folder(path):
        for row in lexicon_rows(path, language=src.lang):
            yield _row_task(row, src)
    else:  # a folder of bare .pose files
        for f in sorted(path.rglob("*.pose")):
            rel = f.relative_to(path).with_suffix("").as_posix()
            yield ClipTask(id=rel, kind="pose", path=str(f), where=str(f))


def _manifest_tasks(path: Path, src: Source) -> Iterator[ClipTask]:
    for row in read_manifest(path, language=src.lang):
        if is_manifest(row.path):
            raise DataError("a manifest row cannot point to another manifest", row.manifest,
                            row.line, "path")  # fmt: skip
        several = not single_clip_path(row.path)
        inner = dataclasses.replace(src, lang=None)  # the row, not the source, picks a language
        for t in _path_tasks(row.path, inner):
            t.id = f"{row.id}/{t.id}" if several else row.id
            t.language = row.language or t.language
            if not t.language:
                raise DataError(
                    "no sign language: fill the language column or give the source a default "
                    f"({path}:lang=CODE, or --lang)",
                    row.manifest,
                    row.line,
                    "language",
                )
            t.split = row.split or t.split
            t.where, t.where_line = str(row.manifest), row.line
            t.meta.update(row.fields)
            t.extra.update(row.extra)
            if row.fps:
                t.fps_override = row.fps
            if row.start is not None or row.end is not None:
                t.start, t.end = row.start, row.end
            yield t


def store_id(clip_id: str, language: str) -> str:
    """`<language>/<clip id>`, unless the clip id already starts with its language."""
    return clip_id if clip_id.startswith(f"{language}/") else f"{language}/{clip_id}"


def enumerate_tasks(
    sources: Iterable[str | Path | Mapping[str, Any] | Source],
    *,
    seed: int = 0,
    split_ratios: str | Sequence[float] = DEFAULT_SPLIT_RATIOS,
    language: str | None = None,
    fps: float | None = None,
) -> list[ClipTask]:
    """Every clip of every source as a task with its final store id, language and split.

    Cheap: reads side files, manifests and folder listings, never a clip. `language` and `fps`
    are defaults for sources that give none.
    """
    from ..languages import get_language

    ratios = parse_split_ratios(split_ratios)
    tasks: list[ClipTask] = []
    seen: dict[str, str] = {}
    for spec in sources:
        src = Source.parse(spec)
        lang = src.lang or language
        src = dataclasses.replace(
            src,
            lang=get_language(lang).code if lang else None,
            fps=src.fps or fps,
            split=normalize_split(src.split, src.path, None, "split option") if src.split else None,
        )
        if not src.path.exists():
            raise DataError("no such file or folder", src.path)
        manifest = is_manifest(src.path)
        it = _manifest_tasks(src.path, src) if manifest else _path_tasks(src.path, src)
        for t in it:
            t.language = t.language or src.lang or ""
            if not t.language:
                raise UsageError(
                    f"{src.path}: which sign language are its clips? Add ':lang=CODE' to the "
                    f"source (e.g. {src.path}:lang=gsg) or pass --lang"
                )
            t.id = store_id(t.id, t.language)
            if t.id in seen:
                raise DataError(
                    f"clip id {t.id!r} appears twice (also at {seen[t.id]}); give the clips "
                    f"distinct ids (a manifest's id column)",
                    t.where,
                    t.where_line or None,
                )
            seen[t.id] = _location(t)
            t.split = t.split or src.split or split_for(t.id, seed, ratios)
            tasks.append(t)
    return tasks


# --- the per-clip work (runs in workers) ------------------------------------------------------
@dataclass(frozen=True)
class ClipOptions:
    """What the workers do to each clip (picklable, sent with every task)."""

    clean: bool = True
    lift_2d: bool = True
    lift_steps: int | None = None  # None: lift.DEFAULT_STEPS
    min_body_confidence: float = 0.3
    seed: int = 0
    skip_bad: bool = False


def load_clip(task: ClipTask) -> Pose:
    """Read one clip as the task describes it, with its final id, language, split and labels."""
    if task.kind == "skels":
        from .formats.skels import DEFAULT_FPS, DEFAULT_SCALE, _parse_line

        with open(task.path, "rb") as f:
            f.seek(task.offset)
            line = f.readline().decode("utf-8")
        data, conf = _parse_line(line, Path(task.path), task.line, task.scale or DEFAULT_SCALE)
        pose = Pose(data=data, confidence=conf, fps=task.fps or DEFAULT_FPS)
    elif task.kind == "pose":
        from .formats.poseformat import read_pose_file

        pose = read_pose_file(task.path)
    elif task.kind == "openpose":
        from .formats.openpose_json import read_openpose_folder

        pose = read_openpose_folder(task.path, fps=task.fps)
    else:
        raise ValueError(f"unknown task kind {task.kind!r}")
    if task.fps_override:
        pose = dataclasses.replace(pose, fps=task.fps_override)
    pose = trim(pose, task.start, task.end, task.where, task.where_line or None)
    meta = PoseMeta(
        id=task.id,
        language=task.language,
        split=task.split,
        source=_location(task),
        extra={**pose.meta.extra, **task.extra},
    )
    for k, v in task.meta.items():
        if v:
            setattr(meta, k, v)
    if not meta.spoken_language:
        from ..languages import get_language

        meta.spoken_language = get_language(task.language).spoken_language
    return dataclasses.replace(pose, meta=meta)


def process_clip(task: ClipTask, opts: ClipOptions) -> tuple[Pose | None, str | None]:
    """One clip through the pipeline: (pose, None), (None, None) if nothing was left after
    pruning, or (None, message) for a bad clip when `opts.skip_bad`."""
    try:
        return _pipeline(load_clip(task), opts), None
    except SignLLMError as e:
        if not opts.skip_bad:
            raise
        return None, f"{task.id}: {e}"


def _pipeline(pose: Pose, opts: ClipOptions) -> Pose | None:
    from .clean import clean, normalize
    from .prompts import pair_with_templates

    if opts.clean and pose.ndim == 2 and pose.num_frames:
        pose = clean(pose, min_body_confidence=opts.min_body_confidence, normalise=False)
    if pose.num_frames == 0:
        return None
    if opts.lift_2d and pose.ndim == 2:
        from .lift import DEFAULT_STEPS, lift

        with _one_torch_thread():  # workers are the parallelism; also makes results identical
            pose = lift(pose, steps=DEFAULT_STEPS if opts.lift_steps is None else opts.lift_steps)
    if opts.clean:
        pose, _ = normalize(pose)
    cid = pose.meta.id
    pairing = pair_with_templates([cid], pose.meta.language, opts.seed)
    pose.meta.extra["prompt_template"] = pairing[cid]
    return pose


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """One torch thread while lifting, restored after (in-process builds share the caller's)."""
    import torch

    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _init_worker() -> None:
    """Pool worker set-up: one thread per worker (workers are the parallelism; torch, imported
    only if a clip is lifted, reads this), and Ctrl-C left to the parent, which stops the pool."""
    os.environ["OMP_NUM_THREADS"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# --- runners ----------------------------------------------------------------------------------
def _ordered(
    tasks: Iterable[ClipTask],
    submit: Callable[[ClipTask], Any],
    wait: Callable[[list[Any]], Iterable[Any]],
    get: Callable[[Any], Any],
    limit: int,
) -> Iterator[tuple[ClipTask, Any]]:
    """Run tasks with at most `limit` submitted-but-unwritten, yielding results in task order."""
    it = iter(tasks)
    inflight: dict[Any, int] = {}  # handle -> index
    done: dict[int, Any] = {}  # index -> finished handle, waiting for its turn
    queued: dict[int, ClipTask] = {}
    n_in = n_out = 0
    exhausted = False
    while True:
        while not exhausted and len(inflight) + len(done) < limit:
            t = next(it, None)
            if t is None:
                exhausted = True
                break
            inflight[submit(t)] = n_in
            queued[n_in] = t
            n_in += 1
        if n_out in done:
            h = done.pop(n_out)
            yield queued.pop(n_out), get(h)
            n_out += 1
            continue
        if not inflight:
            return
        for h in wait(list(inflight)):
            done[inflight.pop(h)] = h


def _run_local(
    tasks: list[ClipTask], opts: ClipOptions, workers: int, limit: int
) -> Iterator[tuple[ClipTask, Any]]:
    if workers <= 1:
        for t in tasks:
            yield t, process_clip(t, opts)
        return
    methods = multiprocessing.get_all_start_methods()
    # Not fork: the parent may hold threads (tqdm, torch) that a forked child would inherit locked.
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    ex = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker)
    try:
        yield from _ordered(
            tasks,
            submit=lambda t: ex.submit(process_clip, t, opts),
            wait=lambda hs: futures_wait(hs, return_when=FIRST_COMPLETED).done,
            get=lambda f: f.result(),
            limit=limit,
        )
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(f"--ray needs Ray, which is not installed: {RAY_HINT}") from None
    return ray


def _run_ray(
    tasks: list[ClipTask], opts: ClipOptions, address: str, limit: int | None
) -> Iterator[tuple[ClipTask, Any]]:
    ray = _import_ray()
    started = False
    if not ray.is_initialized():  # an already initialised Ray (e.g. by the caller) is used as is
        if address == "local":
            ray.init(include_dashboard=False, logging_level="warning")
        else:
            ray.init(address=address, logging_level="warning")
        started = True
    try:
        if limit is None:
            limit = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1)(process_clip)
        opts_ref = ray.put(opts)

        def get(ref: Any) -> Any:
            try:
                return ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, SignLLMError):
                    raise cause from None
                raise

        yield from _ordered(
            tasks,
            submit=lambda t: remote.remote(t, opts_ref),
            wait=lambda refs: ray.wait(refs, num_returns=1)[0],
            get=get,
            limit=limit,
        )
    finally:
        if started:
            ray.shutdown()


# --- the build --------------------------------------------------------------------------------
def build_dataset(
    sources: Iterable[str | Path | Mapping[str, Any] | Source],
    out_dir: str | Path,
    *,
    workers: int = 1,
    ray_address: str | None = None,
    lift_2d: bool = True,
    clean: bool = True,
    seed: int = 0,
    split_ratios: str | Sequence[float] = DEFAULT_SPLIT_RATIOS,
    min_body_confidence: float = 0.3,
    resume: bool = True,
    progress: bool = True,
    language: str | None = None,
    fps: float | None = None,
    lift_steps: int | None = None,
    skip_bad: bool = False,
    max_in_flight: int | None = None,
    sync_every: int = DEFAULT_SYNC_EVERY,
) -> dict[str, Any]:
    """Build (or resume) a store at `out_dir` from `sources`; returns the summary (module doc).

    `workers` processes (1: in this process, 0: one per CPU) or a Ray cluster at `ray_address`
    ("auto", "ray://host:10001", or "local" for a throwaway local instance). `language` / `fps`:
    defaults for sources without them. `lift_steps`: Adam steps per 2D clip (default
    `lift.DEFAULT_STEPS`). `skip_bad`: a clip that fails to read is reported and skipped instead
    of stopping the build. `max_in_flight`: clips submitted but not yet written (default 4 per
    worker) bounds memory. `progress`: a tqdm bar and the summary table on the terminal.
    """
    from tqdm.auto import tqdm

    from .store import StoreWriter

    sources = list(sources)
    if not sources:
        raise UsageError("nothing to build: give at least one source")
    if workers < 0:
        raise UsageError(f"workers must be >= 0, got {workers}")
    workers = workers or os.cpu_count() or 1
    if lift_steps is not None and lift_steps < 0:
        raise UsageError(f"lift steps must be >= 0, got {lift_steps}")
    if not 0 <= min_body_confidence <= 1:
        raise UsageError(f"min body confidence must be in [0, 1], got {min_body_confidence}")
    ratios = parse_split_ratios(split_ratios)
    t0 = time.perf_counter()
    tasks = enumerate_tasks(sources, seed=seed, split_ratios=ratios, language=language, fps=fps)
    t_enum = time.perf_counter() - t0
    opts = ClipOptions(
        clean=clean,
        lift_2d=lift_2d,
        lift_steps=lift_steps,
        min_body_confidence=min_body_confidence,
        seed=seed,
        skip_bad=skip_bad,
    )
    out = Path(out_dir)
    try:
        writer = StoreWriter(out, resume=resume, sync_every=sync_every)
    except FileExistsError as e:
        raise UsageError(f"{e}; drop --no-resume to continue it, or pick another folder") from None
    stats = {"added": 0, "frames": 0, "dropped": 0, "failed": 0, "already": 0}
    errors: list[str] = []
    t1 = time.perf_counter()
    with writer:
        todo = [t for t in tasks if not writer.has(t.id)]
        stats["already"] = len(tasks) - len(todo)
        limit = max_in_flight or 4 * workers
        if ray_address:
            results = _run_ray(todo, opts, ray_address, max_in_flight)
        else:
            results = _run_local(todo, opts, workers, limit)
        bar = tqdm(total=len(todo), disable=not progress, unit="clip", desc=f"build {out.name}",
                   dynamic_ncols=True)  # fmt: skip
        last = 0.0
        try:
            for _task, (pose, err) in results:
                if pose is not None:
                    writer.add(pose)
                    stats["added"] += 1
                    stats["frames"] += pose.num_frames
                elif err is not None:
                    stats["failed"] += 1
                    errors.append(err)
                    bar.write(f"skipped {err}")
                else:
                    stats["dropped"] += 1
                bar.update(1)
                now = time.perf_counter()
                if progress and now - last > 0.5:
                    last = now
                    bar.set_postfix_str(
                        f"{stats['frames'] / (now - t1):.0f} frames/s", refresh=False
                    )
        finally:
            if progress and time.perf_counter() > t1:
                rate = stats["frames"] / (time.perf_counter() - t1)
                bar.set_postfix_str(f"{rate:.0f} frames/s", refresh=False)
            bar.close()
            results.close()  # stop the workers now, also when a clip failed
    seconds = time.perf_counter() - t1
    summary = summarize(out)
    summary["build"] = {
        "sources": [str(s) if not isinstance(s, Source) else str(s.path) for s in sources],
        "clips_listed": len(tasks),
        "added": stats["added"],
        "already_in_store": stats["already"],
        "dropped_empty": stats["dropped"],
        "failed": stats["failed"],
        "errors": errors[:100],
        "frames_added": stats["frames"],
        "enumerate_seconds": round(t_enum, 3),
        "seconds": round(seconds, 3),
        "clips_per_s": round(stats["added"] / seconds, 3) if seconds > 0 else None,
        "frames_per_s": round(stats["frames"] / seconds, 1) if seconds > 0 else None,
        "workers": None if ray_address else workers,
        "ray_address": ray_address,
        "seed": seed,
        "split_ratios": list(ratios),
        "clean": clean,
        "lift_2d": lift_2d,
        "lift_steps": lift_steps,
        "min_body_confidence": min_body_confidence,
    }
    with atomic_write(out / SUMMARY, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
        f.write("\n")
    if progress:
        print(format_summary(summary))
    return summary


def summarize(store_dir: str | Path) -> dict[str, Any]:
    """Per-language and total clips, frames, hours, signers, vocabulary and splits of a store."""
    from .store import Store

    with Store(store_dir) as st:
        langs = st.summary()
        for code, d in langs.items():
            lang = "" if code == "und" and "und" not in st.languages else code
            d["splits"] = {s: n for s in st.splits if (n := len(st.ids(split=s, language=lang)))}
        total = {
            "clips": len(st),
            "frames": st.frames_total,
            "hours": sum(d["hours"] for d in langs.values()),
            "splits": {s: len(st.ids(split=s)) for s in st.splits},
        }
    return {"store": str(store_dir), "languages": langs, "total": total}


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a small table (one row per language, then the total)."""
    splits = [s for s in SPLITS if s in summary["total"]["splits"]]
    splits += sorted(set(summary["total"]["splits"]) - set(splits))
    head = ["language", "clips", "frames", "hours", "vocab", *splits]
    rows = [head]
    for code, d in [*summary["languages"].items(), ("total", summary["total"])]:
        counts = [d["splits"].get(s, 0) for s in splits]
        vocab = d.get("vocabulary", "")
        rows.append([code, d["clips"], d["frames"], f"{d['hours']:.3f}", vocab, *counts])
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    b = summary.get("build")
    if b:
        lines.append(
            f"added {b['added']} clips ({b['frames_added']} frames) in {b['seconds']:.1f} s"
            f"; {b['already_in_store']} already in the store, {b['dropped_empty']} empty after "
            f"cleaning, {b['failed']} failed -> {summary['store']}"
        )
    return "\n".join(lines)


__all__ = [
    "ClipOptions",
    "ClipTask",
    "Source",
    "build_dataset",
    "enumerate_tasks",
    "format_summary",
    "load_clip",
    "parse_split_ratios",
    "process_clip",
    "split_for",
    "store_id",
    "summarize",
]
