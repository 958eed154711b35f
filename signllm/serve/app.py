"""HTTP API and web page over `signllm.api.Translator`: text + sign language in, poses out.

    from signllm.serve import create_app
    app = create_app(checkpoint="runs/mlsf")      # the model loads once, at startup
    # uvicorn: `signllm serve --checkpoint runs/mlsf` (127.0.0.1:8000), then open http://127.0.0.1:8000/

Endpoints: `POST /api/translate` (format json | pose | mp4 | gif | bvh), `GET /api/languages`,
`GET /api/skeleton`, `GET /health`, `GET /` (the web page with a canvas player), `/docs`,
`/redoc` and `/openapi.json` (the docs pages load nothing from other hosts: see apidocs.py).

Limits (constructor arguments): text length (413), frames per output (cap), request body size
(413), requests in flight (a semaphore; a request waits up to `queue_timeout` seconds for a slot,
then gets 503 with Retry-After). Every mistake a client can make is a 4xx with a `detail` message:
validation 422, unknown language or bad argument 400 (the message lists the choices), bad data
422. The model and the renderers run in a threadpool, so the event loop stays responsive; model
calls are serialised by a lock (the Translator decodes on one torch thread: batch-1 decoding is
per-step overhead, and parallel calls would only contend), rendering is not.
Recent translations are cached (LRU), so downloading a shown result does not run the model again
and returns exactly the pose the page shows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import tempfile
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import DataError, SignLLMError
from ..skeleton import SKELETONS, get_skeleton
from .apidocs import add_docs

if TYPE_CHECKING:
    from ..api import Translation, Translator
    from ..pose import Pose

log = logging.getLogger("signllm.serve")

STATIC_DIR = Path(__file__).parent / "static"
FORMATS: dict[str, tuple[str, str]] = {  # format -> (media type, file extension)
    "pose": ("application/octet-stream", ".pose"),
    "mp4": ("video/mp4", ".mp4"),
    "gif": ("image/gif", ".gif"),
    "bvh": ("application/octet-stream", ".bvh"),
}
FIT_SIZE = 512  # the reference canvas of the `fit` transform in JSON answers (and of the videos)
# The page and its files load nothing from elsewhere; this header makes the browser enforce it.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

Mode = Literal["auto", "mlsf", "prompt", "fingerspelling"]
Format = Literal["json", "pose", "mp4", "gif", "bvh"]


class TranslateRequest(BaseModel):
    """Body of POST /api/translate."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        description="sentence, or a prompt such as \"How do you sign 'hello' in ASL?\""
    )
    language: str | None = Field(
        None,
        description="sign language: ISO 639-3 code, name or alias (ase, ASL, DGS); "
        "may be left out when the prompt names it",
    )
    mode: Mode = Field(
        "auto",
        description="auto: words with a recording in the server's sign lexicon (--lexicon) "
        "from it, the rest by the model that has the language, else fingerspelled; "
        "mlsf | prompt: that model (and the lexicon); fingerspelling: spell every word",
    )
    format: Format = Field("json", description="json for the player; pose/mp4/gif/bvh files")
    max_frames: int | None = Field(
        None,
        ge=1,
        description="cap on output frames (at most the server's limit); a cut answer says "
        "truncated: true and frames_needed",
    )


class ApiError(Exception):
    """A client mistake: answered with `status` and {"detail": message}."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class _BodyLimit:
    """ASGI middleware: request bodies above `max_bytes` get 413 before any parsing."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _reject(self, send: Callable[..., Awaitable[None]], status: int, msg: str) -> None:
        body = json.dumps({"detail": msg}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        too_big = f"request body is larger than the limit of {self.max_bytes} bytes"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await self._reject(send, 400, "invalid Content-Length header")
                return
            if int(length) > self.max_bytes:
                await self._reject(send, 413, too_big)
                return
        chunks, total, more = [], 0, True  # buffer (bodies are small), counting chunked ones too
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._reject(send, 413, too_big)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class _Cache:
    """A small thread-safe LRU of translations, keyed by the request's parameters."""

    def __init__(self, size: int) -> None:
        self.size, self._d, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key: tuple) -> Translation | None:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        return None

    def put(self, key: tuple, value: Translation) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)


async def _acquire(sem: asyncio.Semaphore, timeout: float) -> bool:
    """Wait up to `timeout` s for a slot; True if taken. Never leaks a slot on timeout or cancel."""
    task = asyncio.ensure_future(sem.acquire())
    try:
        await asyncio.wait({task}, timeout=timeout)
    except BaseException:  # the request itself was cancelled
        if not task.cancel() and not task.cancelled() and task.exception() is None:
            sem.release()  # it had just got the slot
        raise
    if task.done():
        return True
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return False
    return True  # got the slot just before the cancel landed


def _message(exc: RequestValidationError) -> str:
    """Pydantic's errors as one readable line: `body.mode: Input should be 'auto', ...`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def skeleton_dict(name: str = "prompt2sign50") -> dict[str, Any]:
    """Joint names, limbs (index pairs), limb colours (RGB) and groups, for drawing."""
    sk = get_skeleton(name)
    return {
        "name": sk.name,
        "joints": list(sk.joints),
        "parents": list(sk.parents),
        "limbs": [list(limb) for limb in sk.limbs],
        "colours": [list(c) for c in sk.limb_colours],
        "groups": {k: list(v) for k, v in sk.groups.items()},
    }


def translation_json(
    tr: Translation, text: str, truncated: bool = False, frames_needed: int | None = None
) -> dict[str, Any]:
    """The JSON answer: frames (t, j, 3) rounded to `decimals`, confidence (t, j) to 2 decimals
    (0 = missing joint), every input word with what signed it (model / lexicon / fingerspelled /
    dropped, with the gloss and the reason), the frames each piece spans, whether the output was cut at the frame cap and how many
    frames the whole text needs, and what the player needs.

    `fit` maps pose x, y to a FIT_SIZE x FIT_SIZE canvas (pixel = xy * scale + offset, y down)
    with every observed joint inside; a player scales it to its own canvas.
    """
    from ..render import fit_to_canvas

    pose = tr.pose
    # 4 significant digits whatever the units (normalised ~1: 0.001; pixels ~1000: 0.1 px); far
    # fewer bytes than fixed decimals, no visible loss (exact values: format=pose)
    peak = float(np.abs(pose.data).max()) if pose.data.size else 1.0
    decimals = int(np.clip(3 - np.floor(np.log10(max(peak, 1e-6))), 0, 6))
    try:
        _, fit = fit_to_canvas(pose, FIT_SIZE, FIT_SIZE)
        fit_d: dict[str, Any] | None = {
            "width": fit.width, "height": fit.height, "scale": fit.scale,
            "offset": list(fit.offset),
        }  # fmt: skip
    except DataError:  # no observed joint: nothing to fit
        fit_d = None
    return {
        "input": text,
        "text": getattr(tr, "text", "") or text,  # what was signed (the quoted part of a prompt)
        "language": tr.language,
        "mode": tr.mode,
        "prompt_stage": getattr(tr, "prompt_stage", None),  # "learned" | "template" | None
        "fps": pose.fps,
        "num_frames": pose.num_frames,
        "duration": round(pose.duration, 3),
        "truncated": truncated,
        "frames_needed": max(frames_needed or 0, pose.num_frames),
        "skeleton": pose.skeleton,
        "ndim": pose.ndim,
        "decimals": decimals,
        "frames": np.round(pose.data.astype(np.float64), decimals).tolist(),
        "confidence": np.round(pose.confidence.astype(np.float64), 2).tolist(),
        "words": [w.to_dict() for w in tr.words],
        "fingerspelled": [w.word for w in tr.words if w.source == "fingerspelled"],
        "lexicon": [w.word for w in tr.words if w.source == "lexicon"],
        "dropped": [w.word for w in tr.words if w.source == "dropped"],
        "pieces": [{"start": a, "end": b, "source": k} for a, b, k in getattr(tr, "pieces", [])],
        "fit": fit_d,
    }


def _slug(text: str, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()
    return slug[:limit].rstrip("-") or "sign"


def encode_pose(pose: Pose, fmt: str, caption: str | None = None) -> bytes:
    """`pose` as the bytes of a .pose, .mp4, .gif or .bvh file."""
    if fmt == "pose":
        from ..data.formats.poseformat import to_pose_format

        buf = io.BytesIO()
        to_pose_format(pose).write(buf)
        return buf.getvalue()
    from ..render import render

    kw: dict[str, Any] = {"caption": caption} if fmt in ("mp4", "gif") and caption else {}
    with tempfile.TemporaryDirectory(prefix="signllm-serve-") as tmp:
        path = render(pose, Path(tmp) / f"out{FORMATS[fmt][1]}", **kw)
        return Path(path).read_bytes()


def _letters_warning(translator: Translator) -> str:
    """One line when only the sample of fingerspelling letters is there, saying how to get them."""
    from ..data.fingerspell import INSTALL_HINT

    letters = getattr(translator, "letters", None)  # any object with `translate` may serve
    if letters is None or not letters.is_sample:
        return ""
    have = ", ".join(letters.languages)
    return f"fingerspelling: only the sample letters ({have}) are installed; {INSTALL_HINT}"


def create_app(
    translator: Translator | None = None,
    *,
    checkpoint: str | None = None,
    lexicon: str | Path | list[str | Path] | None = None,
    fingerspelling: str | Path | None = None,
    device: str = "cpu",
    max_text_chars: int = 500,
    max_frames: int = 1000,
    max_concurrent: int = 4,
    queue_timeout: float = 10.0,
    max_body_bytes: int = 64 * 1024,
    cache_size: int = 32,
) -> FastAPI:
    """The FastAPI app. Pass a loaded `translator`, or a `checkpoint` (and a sign `lexicon`,
    `fingerspelling` letters: see `Translator`) to load at startup."""
    if max_text_chars < 1 or max_frames < 1 or max_concurrent < 1 or max_body_bytes < 1:
        raise ValueError("limits must be positive")
    state: dict[str, Any] = {"translator": translator, "languages": None, "gate": None}
    model_lock = threading.Lock()
    cache = _Cache(cache_size)
    limits = {
        "max_text_chars": max_text_chars,
        "max_frames": max_frames,
        "max_concurrent": max_concurrent,
        "queue_timeout_s": queue_timeout,
        "max_body_bytes": max_body_bytes,
    }

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if state["translator"] is None:
            from ..api import Translator

            log.info("loading model from %s", checkpoint or "the default checkpoint")
            state["translator"] = await run_in_threadpool(
                lambda: Translator(
                    checkpoint=checkpoint,
                    lexicon=lexicon,
                    fingerspelling=fingerspelling,
                    device=device,
                    max_frames=max_frames,
                )
            )
        hint = await run_in_threadpool(_letters_warning, state["translator"])
        if hint:
            log.warning(hint)
        state["languages"] = await run_in_threadpool(state["translator"].languages)
        state["gate"] = asyncio.Semaphore(max_concurrent)  # bound to this event loop
        yield

    app = FastAPI(
        title="SignLLM",
        version=__version__,
        description="Sign language production: text (or a prompt) and a sign language in, "
        "a signing 3D skeleton out (JSON for the web player, .pose, mp4, gif, BVH).",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load Swagger UI/Redoc from a CDN: see apidocs
        redoc_url=None,
    )
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes)
    add_docs(app)

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"detail": message}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_r: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
        return JSONResponse(
            {"detail": _message(exc), "errors": jsonable_encoder(errors)}, status_code=422
        )

    @app.exception_handler(ApiError)
    async def _api_error(_r: Request, exc: ApiError) -> JSONResponse:
        return error(exc.status, exc.message, exc.headers)

    @app.exception_handler(Exception)
    async def _bug(_r: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", exc_info=exc)
        return error(500, f"internal error ({type(exc).__name__}); see the server log")

    @app.exception_handler(SignLLMError)
    async def _signllm_error(_r: Request, exc: SignLLMError) -> JSONResponse:
        return error(422 if isinstance(exc, DataError) else 400, str(exc))

    def ready() -> tuple[Translator, asyncio.Semaphore]:
        if state["translator"] is None or state["gate"] is None:
            raise ApiError(503, "the model is still loading", {"Retry-After": "5"})
        return state["translator"], state["gate"]

    def run_model(
        tr: Translator, text: str, language: str | None, mode: str, cap: int
    ) -> tuple[Translation, bool, int]:
        """(translation, cut at the cap?, frames the whole text needs)."""
        key = (text, language, mode, cap)
        result = cache.get(key)
        if result is None:
            with model_lock:
                result = tr.translate(text, language, mode=mode, max_frames=cap)
            cache.put(key, result)
        needed = max(getattr(result, "frames_needed", 0), result.pose.num_frames)
        return result, needed > min(cap, result.pose.num_frames), needed

    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, Any]:
        """Liveness, version, whether the model is loaded, and the server's limits."""
        loaded = state["translator"] is not None and state["gate"] is not None
        return {"status": "ok" if loaded else "loading", "version": __version__,
                "model_loaded": loaded, "limits": limits,
                "formats": ["json", *FORMATS], "modes": list(get_args(Mode))}  # fmt: skip

    @app.get("/api/languages", tags=["translate"])
    async def languages() -> dict[str, Any]:
        """Every known sign language: {code, name, aliases, model, modes, fingerspelling,
        lexicon}; `model`, `fingerspelling` and `lexicon` (recorded signs) say what this server
        can produce for it."""
        ready()
        return {"languages": state["languages"]}

    @app.get("/api/skeleton", tags=["translate"])
    async def skeleton(name: str = "prompt2sign50") -> dict[str, Any]:
        """Joint names, limbs and their RGB colours, for drawing the `frames` of a translation."""
        if name not in SKELETONS:
            raise ApiError(404, f"unknown skeleton {name!r}; known: {', '.join(SKELETONS)}")
        return skeleton_dict(name)

    @app.post(
        "/api/translate",
        tags=["translate"],
        responses={
            200: {
                "description": "JSON for format=json, else the file as an attachment",
                "content": {
                    t: {}
                    for t in (
                        "application/json",
                        "application/octet-stream",
                        "video/mp4",
                        "image/gif",
                    )
                },
            },
            400: {"description": "unknown language or a bad argument (the message lists choices)"},
            413: {"description": "text or request body over the limit"},
            422: {"description": "malformed request"},
            503: {"description": "too many requests in flight (see Retry-After)"},
        },
    )
    async def translate(req: TranslateRequest) -> Response:
        """Text (or a prompt) in the given sign language -> poses, as JSON or a file."""
        tr, gate = ready()
        text = req.text.strip()
        if not text:
            raise ApiError(422, "text is empty")
        try:  # JSON allows "\ud800"; no response (nor file) could carry it back
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ApiError(422, f"text holds a lone surrogate at character {e.start}") from None
        if len(text) > max_text_chars:
            raise ApiError(
                413, f"text is {len(text)} characters long; the limit is {max_text_chars}"
            )
        if req.max_frames is not None and req.max_frames > max_frames:
            raise ApiError(
                422, f"max_frames {req.max_frames} is above this server's limit of {max_frames}"
            )
        cap = req.max_frames or max_frames
        if not await _acquire(gate, queue_timeout):
            raise ApiError(
                503, f"server busy: {max_concurrent} requests in flight; try again shortly",
                {"Retry-After": str(max(1, round(queue_timeout)))},
            ) from None  # fmt: skip
        try:
            result, truncated, needed = await run_in_threadpool(
                run_model, tr, text, req.language, req.mode, cap
            )
            if result.pose.num_frames > cap:  # a translator that overshoots its cap: cut
                result = dataclasses.replace(result, pose=result.pose.select_frames(slice(0, cap)))
            pose = result.pose
            signed = getattr(result, "text", "") or text  # a prompt's quoted part
            if req.format == "json":
                payload = await run_in_threadpool(translation_json, result, text, truncated, needed)
                return JSONResponse(payload)
            data = await run_in_threadpool(encode_pose, pose, req.format, signed)
        finally:
            gate.release()
        media, ext = FORMATS[req.format]
        name = f"signllm-{result.language}-{_slug(signed)}{ext}"
        headers = {
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-SignLLM-Language": result.language,
            "X-SignLLM-Mode": result.mode,
            "X-SignLLM-Frames": str(pose.num_frames),
            "X-SignLLM-Frames-Needed": str(needed),
            "X-SignLLM-Truncated": "true" if truncated else "false",
        }
        return Response(data, media_type=media, headers=headers)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html",
            headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"},
        )

    @app.middleware("http")
    async def _static_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/static/"):
            response.headers["Content-Security-Policy"] = PAGE_CSP
            response.headers["Cache-Control"] = "no-cache"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(HTTPException)
    async def _http_error(_r: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    return app
