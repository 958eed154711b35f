"""The web page end to end: a real server on 127.0.0.1 and headless Chromium driven by Playwright.

Needs the `playwright` Python package and Debian's Chromium at /usr/bin/chromium (Playwright's own
browser download is never used): `apt-get install -y chromium`.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("playwright")

CHROMIUM = os.environ.get("SIGNLLM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Canvas background drawn by player.js; anything else is ink.
BACKGROUND = (255, 255, 255)

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
if importlib.util.find_spec("signllm.api") is None:
    pytest.skip("signllm/api.py (Translator) is not in this checkout yet", allow_module_level=True)


from signllm.serve.app import create_app  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(real_translator) -> Iterator[str]:
    app = create_app(real_translator, max_frames=300)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_page_translates_draws_and_downloads(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    outside: list[str] = []
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            accept_downloads=True,
            viewport={"width": 900, "height": 1300},
        )
        try:
            page = ctx.new_page()
            page.on(
                "request",
                lambda req: None if req.url.startswith((server, "data:", "blob:"))
                else outside.append(req.url),
            )  # fmt: skip
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server + "/")
            select = page.get_by_label("Sign language")
            # locator waits, not wait_for_function: the page's CSP forbids eval
            expect(page.get_by_role("button", name="Translate")).to_be_enabled(timeout=30000)
            # a language the model signs if there is one (they come first), else fingerspelling
            codes = select.evaluate(
                "s => [...s.options].filter(o => !o.disabled).map(o => o.value)"
            )
            assert codes, "no language in the picker"
            # preselected: the browser's language (English here), its example in the text box
            assert select.input_value() in codes
            assert page.get_by_label("Text").input_value()
            select.select_option(codes[-1])
            select.select_option(codes[0])
            page.get_by_label("Text").fill("Hello, how are you?")
            page.get_by_role("button", name="Translate").click()
            expect(page.locator("#scrubber")).to_be_enabled(timeout=30000)
            assert not page.locator("#error").is_visible(), page.locator("#error").inner_text()
            # every word is listed with what signed it
            assert page.locator("#words li").count() == 4  # hello, how, are, you

            # the canvas holds a drawn skeleton: many pixels that are not background
            ink = page.evaluate(
                """([r, g, b]) => {
                    const c = document.getElementById('player');
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0, xs = [], ys = [];
                    for (let i = 0; i < d.length; i += 4) {
                        if (d[i] !== r || d[i + 1] !== g || d[i + 2] !== b) {
                            n++; const p = i / 4; xs.push(p % c.width); ys.push(Math.floor(p / c.width));
                        }
                    }
                    return {n, w: c.width, h: c.height,
                            minx: Math.min(...xs), maxx: Math.max(...xs),
                            miny: Math.min(...ys), maxy: Math.max(...ys)};
                }""",
                list(BACKGROUND),
            )
            assert ink["n"] > 200, ink
            # fitted: the figure spans a good part of the canvas and touches no edge
            assert (
                ink["maxx"] - ink["minx"] > ink["w"] * 0.2
                or ink["maxy"] - ink["miny"] > ink["h"] * 0.2
            ), ink
            assert ink["minx"] > 0 and ink["miny"] > 0, ink
            assert ink["maxx"] < ink["w"] - 1 and ink["maxy"] < ink["h"] - 1, ink

            # the player controls work: scrub to the last frame, pause/play toggles
            page.get_by_role("button", name="Pause").click()
            n = int(page.locator("#scrubber").get_attribute("max"))
            page.locator("#scrubber").fill(str(n))
            assert page.locator("#frame-label").inner_text() == f"{n + 1} / {n + 1}"
            page.get_by_label("Speed").select_option("2")

            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            assert (tmp_path / "page.png").stat().st_size > 0

            for label, ext in ((".pose", ".pose"), (".gif", ".gif")):
                with page.expect_download(timeout=60000) as info:
                    page.get_by_role("button", name=label).click()
                download = info.value
                saved = tmp_path / download.suggested_filename
                download.save_as(saved)
                assert saved.suffix == ext and saved.stat().st_size > 0
            assert not errors, errors
        finally:
            ctx.close()
    assert not outside, f"the page requested outside resources: {outside}"
