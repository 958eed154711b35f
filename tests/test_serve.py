"""HTTP API (signllm.serve): endpoints, formats, limits, and bad input -> 4xx with a message.

Endpoint and format tests run against the real `signllm.api.Translator`; the server mechanics
(limits, queueing, cache, responsiveness) run against a small stand-in whose timing we control.
"""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from signllm.api import Word
from signllm.errors import UsageError
from signllm.pose import Pose, PoseMeta
from signllm.serve.app import create_app


# --- a stand-in translator for the server mechanics ------------------------------------------
@dataclass
class FakeTranslation:
    pose: Pose
    language: str
    mode: str
    words: list[Word] = field(default_factory=list)


class FakeTranslator:
    """Waves an arm; `frames` per call (ignoring max_frames if `overshoot`), optional gate."""

    def __init__(self, frames: int = 30, overshoot: bool = False) -> None:
        self.frames, self.overshoot, self.calls = frames, overshoot, 0
        self.gate: threading.Event | None = None
        self.started = threading.Event()

    def languages(self) -> list[dict]:
        return [{"code": "ase", "name": "American Sign Language", "aliases": ["ASL"],
                 "model": True, "fingerspelling": True}]  # fmt: skip

    def translate(self, text: str, language: str, mode: str = "auto", max_frames: int = 600):
        if not language:
            raise UsageError("which sign language? pass a language or name one in the prompt")
        if language.lower() not in ("ase", "asl"):
            raise UsageError(f"unknown sign language {language!r}; choose one of: ase (ASL)")
        if not text.strip():
            raise UsageError("text is empty")
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            self.gate.wait(10)
        t = self.frames if self.overshoot else min(self.frames, max_frames)
        rng = np.random.default_rng(0)
        data = rng.normal(size=(1, 50, 3)).astype(np.float32).repeat(t, axis=0)
        data[:, 4, 1] += np.sin(np.linspace(0, 6, t))  # the right wrist waves
        conf = np.ones((t, 50), np.float32)
        conf[:, 30] = 0  # one missing joint
        pose = Pose(data, conf, fps=25.0, meta=PoseMeta(language="ase", text=text))
        words = [Word(w, "fingerspelled" if w.isupper() else "model") for w in text.split()]
        return FakeTranslation(pose, "ase", "mlsf" if mode == "auto" else mode, words)


def fake_client(**kw) -> tuple[TestClient, FakeTranslator]:
    fake = kw.pop("translator", None) or FakeTranslator()
    return TestClient(create_app(fake, **kw)), fake


def post(client: TestClient, **body):
    return client.post("/api/translate", json={"text": "hello NASA", "language": "ase", **body})


def assert_4xx(r, status: int | None = None) -> dict:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    if status is not None:
        assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail
    return r.json()


def test_json_answer_shape_and_fit():
    c, _ = fake_client()
    with c:
        r = post(c)
        assert r.status_code == 200, r.text
        d = r.json()
    assert d["language"] == "ase" and d["mode"] == "mlsf" and d["fps"] == 25.0
    assert np.asarray(d["frames"]).shape == (30, 50, 3)
    assert np.asarray(d["confidence"]).shape == (30, 50)
    assert d["words"] == [{"word": "hello", "source": "model"},
                          {"word": "NASA", "source": "fingerspelled"}]  # fmt: skip
    assert d["fingerspelled"] == ["NASA"]
    # the fit puts every observed joint inside the reference canvas
    fit, xy = d["fit"], np.asarray(d["frames"])[..., :2]
    seen = np.asarray(d["confidence"]) > 0
    px = xy[seen] * fit["scale"] + np.asarray(fit["offset"])
    assert (
        px.min() >= 0 and px[:, 0].max() <= fit["width"] - 1 and px[:, 1].max() <= fit["height"] - 1
    )


def test_limits_text_body_frames():
    c, _ = fake_client(max_text_chars=20, max_frames=10, max_body_bytes=2000)
    with c:
        assert "20" in assert_4xx(post(c, text="x" * 21), 413)["detail"]
        assert_4xx(post(c, text="y" * 5000), 413)  # over the body limit: refused before parsing
        assert_4xx(post(c, max_frames=11), 422)
        assert_4xx(post(c, max_frames=0), 422)
        assert len(post(c).json()["frames"]) == 10  # the server's cap
        assert len(post(c, max_frames=4).json()["frames"]) == 4
        h = c.get("/health").json()
        assert h["limits"]["max_text_chars"] == 20 and h["model_loaded"]


def test_chunked_body_over_limit():
    c, _ = fake_client(max_body_bytes=100)

    def chunks():
        yield b'{"text": "'
        yield b"a" * 500
        yield b'", "language": "ase"}'

    with c:
        r = c.post("/api/translate", content=chunks(), headers={"content-type": "application/json"})
    assert_4xx(r, 413)


def test_overshooting_translator_is_cut():
    c, _ = fake_client(translator=FakeTranslator(frames=50, overshoot=True), max_frames=20)
    with c:
        d = post(c).json()
        assert len(d["frames"]) == 20 and d["truncated"] and d["frames_needed"] == 50
        r = post(c, format="bvh")
        assert r.status_code == 200 and r.headers["x-signllm-frames"] == "20"
        assert r.headers["x-signllm-truncated"] == "true"
        assert r.headers["x-signllm-frames-needed"] == "50"
    c, _ = fake_client(translator=FakeTranslator(frames=20), max_frames=20)
    with c:  # exactly at the cap is not a cut
        d = post(c).json()
        assert len(d["frames"]) == 20 and not d["truncated"] and d["frames_needed"] == 20


def test_busy_server_answers_503_and_stays_responsive():
    fake = FakeTranslator()
    fake.gate = threading.Event()
    c, _ = fake_client(translator=fake, max_concurrent=1, queue_timeout=0.3)
    with c:
        first: dict = {}
        worker = threading.Thread(target=lambda: first.setdefault("r", post(c)))
        worker.start()
        assert fake.started.wait(5)
        t0 = time.monotonic()
        assert c.get("/health").status_code == 200  # the event loop is free while the model runs
        assert time.monotonic() - t0 < 1.0
        busy = post(c, text="another")
        assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
        assert "busy" in busy.json()["detail"]
        fake.gate.set()
        worker.join(10)
        assert first["r"].status_code == 200
        assert post(c, text="after").status_code == 200  # the slot was given back


def test_cache_serves_downloads_without_rerunning_the_model():
    c, fake = fake_client()
    with c:
        post(c)
        post(c, format="pose")
        assert fake.calls == 1
        post(c, text="something else")
        assert fake.calls == 2
    c, fake = fake_client(cache_size=0)
    with c:
        post(c)
        post(c)
        assert fake.calls == 2


@pytest.mark.parametrize(
    "body, status",
    [
        ({"text": "", "language": "ase"}, 422),
        ({"text": "   \n ", "language": "ase"}, 422),
        ({"language": "ase"}, 422),
        ({"text": "hi"}, 400),  # no language given nor named in a prompt
        ({"text": "hi", "language": "ase", "mode": "best"}, 422),
        ({"text": "hi", "language": "ase", "format": "avi"}, 422),
        ({"text": "hi", "language": "ase", "colour": "red"}, 422),
        ({"text": 5, "language": "ase"}, 422),
        ({"text": "hi", "language": "klingon"}, 400),
        ([1, 2], 422),
    ],
)
def test_bad_requests_get_4xx_with_a_message(body, status):
    c, _ = fake_client()
    with c:
        r = c.post("/api/translate", json=body)
    assert_4xx(r, status)


def test_malformed_json_and_wrong_method():
    c, _ = fake_client()
    with c:
        r = c.post("/api/translate", content=b'{"text": "hi", ',
                   headers={"content-type": "application/json"})  # fmt: skip
        assert_4xx(r, 422)
        assert_4xx(
            c.post(
                "/api/translate", content=b"\xff\xfe", headers={"content-type": "application/json"}
            )
        )
        assert_4xx(c.get("/api/translate"), 405)
        assert_4xx(c.get("/nope"), 404)
        assert_4xx(c.get("/api/skeleton", params={"name": "nope"}), 404)


# --- against the real Translator ---------------------------------------------------------------
@pytest.fixture(scope="module")
def real(real_translator):
    langs = real_translator.languages()
    usable = [x for x in langs if x["model"]] or [x for x in langs if x["fingerspelling"]]
    if not usable:
        pytest.skip("the Translator offers no language")
    with TestClient(create_app(real_translator, max_text_chars=200, max_frames=300)) as client:
        yield client, usable[0]["code"]


def real_post(real, **body):
    client, lang = real
    return client.post("/api/translate", json={"text": "hello", "language": lang, **body})


def test_real_health_languages_skeleton_openapi(real):
    client, lang = real
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["model_loaded"]
    langs = client.get("/api/languages").json()["languages"]
    assert any(x["code"] == lang for x in langs)
    assert {"code", "name", "aliases", "spoken_languages", "model", "fingerspelling"} <= set(
        langs[0]
    )
    assert any(x["model"] or x["fingerspelling"] for x in langs)
    sk = client.get("/api/skeleton").json()
    assert len(sk["joints"]) == 50 and len(sk["limbs"]) == len(sk["colours"])
    schema = client.get("/openapi.json").json()
    assert "/api/translate" in schema["paths"] and "/api/languages" in schema["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("player.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_real_translate_json(real):
    r = real_post(real)
    assert r.status_code == 200, r.text
    d = r.json()
    t = len(d["frames"])
    assert 0 < t <= 300 and d["num_frames"] == t
    assert np.asarray(d["frames"]).shape == (t, 50, 3)
    assert np.asarray(d["confidence"]).shape == (t, 50)
    assert d["mode"] in ("mlsf", "prompt", "fingerspelling")
    assert d["words"] and all(
        w["source"] in ("model", "fingerspelled", "dropped") for w in d["words"]
    )
    assert all(w.get("reason") for w in d["words"] if w["source"] == "dropped")
    assert set(d["fingerspelled"]) <= {w["word"] for w in d["words"]}
    assert d["num_frames"] == t and d["frames_needed"] >= t
    assert d["fit"] is None or d["fit"]["scale"] > 0


def test_real_translate_language_alias_and_frame_cap(real):
    client, lang = real
    langs = {x["code"]: x for x in client.get("/api/languages").json()["languages"]}
    alias = (langs[lang]["aliases"] or [lang])[0]
    r = client.post("/api/translate", json={"text": "hello", "language": alias, "max_frames": 5})
    assert r.status_code == 200, r.text
    assert r.json()["language"] == lang and len(r.json()["frames"]) <= 5


@pytest.mark.parametrize(
    "fmt, media, magic",
    [("pose", "application/octet-stream", None), ("mp4", "video/mp4", b"ftyp"),
     ("gif", "image/gif", b"GIF8"), ("bvh", "application/octet-stream", b"HIERARCHY")],
)  # fmt: skip
def test_real_translate_files(real, fmt, media, magic):
    r = real_post(real, format=fmt, max_frames=40)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(media)
    assert (
        f".{fmt}" in r.headers["content-disposition"]
        and "attachment" in r.headers["content-disposition"]
    )
    assert len(r.content) > 0
    if magic:
        assert magic in r.content[:64]
    if fmt == "pose":
        from pose_format import Pose as PFPose

        pf = PFPose.read(io.BytesIO(r.content).read())
        assert pf.body.data.shape[2] == 50 and 0 < pf.body.data.shape[0] <= 40


def test_real_cap_is_reported_not_hidden(real):
    """The translator signs the whole text and cuts at the server's cap itself: the answer must
    still say it was cut, and how many frames the whole text needs."""
    client, lang = real
    words = " ".join(["zyxq", "blorv", "quand"] * 10)  # 30 words no model knows, 169 chars
    d = client.post("/api/translate", json={"text": words, "language": lang}).json()
    assert d["num_frames"] == 300 and d["truncated"] is True and d["frames_needed"] > 300
    assert [w["source"] for w in d["words"]].count("fingerspelled") >= 20
    assert d["mode"] == "fingerspelling"  # no word came from the model: not "mlsf"
    short = client.post("/api/translate", json={"text": "zyxqwort", "language": lang}).json()
    assert short["truncated"] is False and short["frames_needed"] == short["num_frames"]


def test_real_prompt_mode_reports_its_stage_and_every_word(real):
    client, lang = real
    d = client.post(
        "/api/translate", json={"text": "regen und wind", "language": lang, "mode": "prompt"}
    )
    if d.status_code == 400:
        pytest.skip(f"this model has no prompt mode for {lang}")
    d = d.json()
    assert d["prompt_stage"] in ("learned", "template")
    assert [w["word"] for w in d["words"] if w["word"]] == ["regen", "und", "wind"]


def test_real_prompt_names_the_language(real):
    client, lang = real
    name = {x["code"]: x for x in client.get("/api/languages").json()["languages"]}[lang]["name"]
    prompt = f"How would you sign 'good morning' in {name}?"
    r = client.post("/api/translate", json={"text": prompt})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["language"] == lang and d["text"] == "good morning" and d["input"] == prompt
    r = client.post("/api/translate", json={"text": prompt, "format": "bvh"})
    assert r.headers["content-disposition"].endswith('-good-morning.bvh"')


def test_real_bad_inputs(real):
    client, lang = real
    r = real_post(real, language="klingon")
    detail = assert_4xx(r, 400)["detail"]
    assert lang in detail  # the message lists the choices
    assert_4xx(real_post(real, text=""), 422)
    assert_4xx(real_post(real, text="hello " * 100), 413)
    assert_4xx(real_post(real, mode="nonsense"), 422)
    assert_4xx(real_post(real, format="webm"), 422)
    assert_4xx(client.post("/api/translate", content=b"{not json",
                           headers={"content-type": "application/json"}))  # fmt: skip
    assert_4xx(client.post("/api/translate", content=json.dumps({"text": "hi"}).encode(),
                           headers={"content-type": "application/json"}))  # fmt: skip


def test_internal_errors_are_json_and_cli_checks_arguments(capsys):
    class Broken(FakeTranslator):
        def translate(self, *a, **k):
            raise RuntimeError("boom")

    with TestClient(create_app(Broken()), raise_server_exceptions=False) as c:
        r = post(c)
    assert r.status_code == 500 and "RuntimeError" in r.json()["detail"]

    from signllm.cli import main

    assert main(["serve", "--port", "-1"]) == 2
    assert "--port" in capsys.readouterr().err


def test_page_picks_the_browser_language_and_its_example(real):
    """The page's own JS (run by node) with the server's language list: a German browser gets
    a German sign language the model signs and a German example; English gets English."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    client, _ = real
    langs = client.get("/api/languages").json()["languages"]
    script = Path(__file__).parents[1] / "signllm" / "serve" / "static" / "player.js"
    harness = """
const vm = require("vm"), fs = require("fs");
const [path, langs, browser] = [process.argv[1], JSON.parse(process.argv[2]), process.argv[3]];
const ctx = { navigator: { languages: browser.split(",") },
  document: { addEventListener() {}, getElementById() { return null; } } };
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(path, "utf8"), ctx);
ctx.langs = langs;
console.log(JSON.stringify(vm.runInContext(`state.languages = langs;
  const code = pickLanguage(langs.filter((l) => l.model || l.fingerspelling));
  ({ code, example: exampleFor(code) })`, ctx)));
"""

    def pick(browser: str) -> dict:
        out = subprocess.run([node, "-e", harness, str(script), json.dumps(langs), browser],
                             capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        return json.loads(out.stdout)

    by_code = {x["code"]: x for x in langs}
    for browser, spoken in (("de-DE,en", "de"), ("en-US", "en"), ("fr-CH,fr", "fr")):
        got = pick(browser)
        lang = by_code[got["code"]]
        assert lang["spoken_languages"][0] == spoken, (browser, got)
        assert lang["model"] or not any(
            x["model"] and x["spoken_languages"][0] == spoken for x in langs
        ), (browser, got)  # the model's language first
        assert got["example"], got
    usable = [x for x in langs if x["model"] or x["fingerspelling"]]
    assert pick("xx")["code"] == usable[0]["code"]  # no match: the first usable language
