"""/docs and /redoc work offline: every file they load comes from this server."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from signllm.serve import apidocs
from signllm.serve.app import create_app

# every URL an HTML page loads or links: src=, href=, url: '...' (Swagger's spec URL)
_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']|url:\s*'([^']*)'""")


class _Idle:
    """A translator that is never asked to translate: the docs need only the app."""

    def languages(self) -> list[dict]:
        return []


def _client() -> TestClient:
    return TestClient(create_app(_Idle()))


def _urls(page: str) -> list[str]:
    return [a or b for a, b in _URL.findall(page)]


def test_docs_and_redoc_load_only_local_files():
    if apidocs.offline_assets() is None:
        pytest.skip("fastapi-offline is not installed (pip install 'signllm[serve]')")
    with _client() as c:
        for page in ("/docs", "/redoc"):
            r = c.get(page)
            assert r.status_code == 200
            assert "http://" not in r.text and "https://" not in r.text, page
            urls = _urls(r.text)
            assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
            for u in urls:  # each of them is served here
                got = c.get(u)
                assert got.status_code == 200 and len(got.content) > 0, u
        docs = c.get("/docs").text
        assert "/docs-assets/swagger-ui-bundle.js" in docs and "/openapi.json" in docs
        assert '"validatorUrl": null' in docs  # no badge fetched from validator.swagger.io
        assert c.get("/openapi.json").json()["paths"]["/api/translate"]


def test_static_reference_without_fastapi_offline(monkeypatch):
    monkeypatch.setattr(apidocs, "offline_assets", lambda: None)
    with _client() as c:
        r = c.get("/docs")
        assert r.status_code == 200
        page = r.text
        assert "http://" not in page and "https://" not in page
        assert "<script" not in page and "<link" not in page
        assert all(u.startswith("/") for u in _urls(page))
        # every endpoint, and the request body's fields with their descriptions
        for path in c.get("/openapi.json").json()["paths"]:
            assert f"<code>{path}</code>" in page
        assert "max_frames" in page and "cap on output frames" in page
        assert "fastapi-offline" in c.get("/redoc").text


CHROMIUM = os.environ.get("SIGNLLM_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.slow
def test_swagger_ui_renders_in_a_browser_without_internet(tmp_path: Path):
    """Headless Chromium opens /docs with every other host unreachable: the operations show."""
    uvicorn = pytest.importorskip("uvicorn")
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    if apidocs.offline_assets() is None:
        pytest.skip("fastapi-offline is not installed (pip install 'signllm[serve]')")
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(_Idle()), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    outside: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = browser.new_page()

                def route(r):  # the machine may be online: make every other host unreachable
                    if r.request.url.startswith((base, "data:", "blob:")):
                        return r.continue_()
                    outside.append(r.request.url)
                    return r.abort()

                page.route("**/*", route)
                page.goto(base + "/docs")
                page.wait_for_selector(".opblock", timeout=30000)
                text = page.inner_text("body")
                assert "/api/translate" in text and "/api/languages" in text
            finally:
                browser.close()
    finally:
        srv.should_exit = True
        thread.join(10)
    assert not outside, outside
