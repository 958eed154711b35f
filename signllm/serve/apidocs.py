"""API docs that work offline: /docs and /redoc from files inside the installed packages.

Why: FastAPI's default /docs and /redoc pages load Swagger UI and Redoc from a CDN, so without
internet they are blank. The `serve` extra installs `fastapi-offline` (MIT), which ships the
Swagger UI (5.x, reads OpenAPI 3.1) and Redoc bundles; they are served from /docs-assets. Where
it is missing (FastAPI installed by hand), /docs is a plain HTML reference written here from the
OpenAPI schema (every endpoint, its parameters, request body fields and answers), and /redoc
says how to get the interactive pages. Neither page references another host.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from functools import partial
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
INSTALL_HINT = "pip install 'signllm[serve]' (adds fastapi-offline: Swagger UI and Redoc files)"


def offline_assets() -> Path | None:
    """fastapi-offline's static folder (swagger-ui-bundle.js, swagger-ui.css, redoc), if any."""
    spec = find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "static"
        if (folder / "swagger-ui-bundle.js").is_file():
            return folder
    return None


def _asset_page(app: FastAPI, path: str, render: Callable[..., HTMLResponse], **files: str) -> None:
    """GET `path` (not in the schema): `render(openapi_url=..., <key>=<asset URL>, ...)` for the
    asset `files`, every URL under the request's root_path so the page works behind a proxy."""

    @app.get(path, include_in_schema=False)
    async def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        urls = {key: f"{root}{ASSETS_URL}/{name}" for key, name in files.items()}
        return render(openapi_url=f"{root}{app.openapi_url}", **urls)


def add_docs(app: FastAPI) -> str:
    """Add /docs and /redoc to an app made with docs_url=None, redoc_url=None; returns which
    kind: "swagger" (interactive, files from fastapi-offline) or "static" (our own page)."""
    assets = offline_assets()
    title = f"{app.title} {app.version} - API"
    if assets is not None:
        app.mount(ASSETS_URL, StaticFiles(directory=assets), name="docs-assets")

        _asset_page(
            app,
            "/docs",
            # no validator badge: it would send the schema to validator.swagger.io
            partial(get_swagger_ui_html, title=title, swagger_ui_parameters={"validatorUrl": None}),
            swagger_js_url="swagger-ui-bundle.js",
            swagger_css_url="swagger-ui.css",
            swagger_favicon_url="favicon.png",
        )
        _asset_page(
            app,
            "/redoc",
            partial(get_redoc_html, title=title, with_google_fonts=False),
            redoc_js_url="redoc.standalone.js",
            redoc_favicon_url="favicon.png",
        )
        return "swagger"

    @app.get("/docs", include_in_schema=False)
    async def reference() -> HTMLResponse:
        return HTMLResponse(api_page(app.openapi()))

    @app.get("/redoc", include_in_schema=False)
    async def no_redoc() -> HTMLResponse:
        return HTMLResponse(
            f"<!DOCTYPE html><title>{html.escape(title)}</title><p>The API reference is at "
            f'<a href="/docs">/docs</a>. For the interactive Swagger UI and Redoc pages: '
            f"<code>{html.escape(INSTALL_HINT)}</code></p>"
        )

    return "static"


# --- the static reference page ----------------------------------------------------------------
def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return spec.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    return schema


def _type(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    """A short type: "string", "integer | null", "auto | mlsf", "TranslateRequest"."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type(s, spec) for s in schema[key])
    t = schema.get("type", "any")
    if t == "array":
        return f"array of {_type(schema.get('items', {}), spec)}"
    return str(t)


def _fields(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    schema = _resolve(schema, spec)
    props = schema.get("properties", {})
    if not props:
        return f"<p><code>{html.escape(_type(schema, spec))}</code></p>"
    required = set(schema.get("required", []))
    rows = []
    for name, p in props.items():
        default = f" (default {json.dumps(p['default'])})" if "default" in p else ""
        need = " <b>required</b>" if name in required else ""
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code>{need}</td>"
            f"<td><code>{html.escape(_type(p, spec))}</code>{html.escape(default)}</td>"
            f"<td>{html.escape(p.get('description', ''))}</td></tr>"
        )
    return "<table><tr><th>field</th><th>type</th><th></th></tr>" + "".join(rows) + "</table>"


def api_page(spec: dict[str, Any]) -> str:
    """The OpenAPI schema as one self-contained HTML page (no script, no other host)."""
    info = spec.get("info", {})
    title = f"{info.get('title', 'API')} {info.get('version', '')}".strip()
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)} - API</title><style>",
        "body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}",
        "h2{border-top:1px solid #ccc;padding-top:.8em}code{background:#f3f3f3;padding:0 .2em}",
        "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;",
        "text-align:left;vertical-align:top}.m{font-weight:bold;color:#07c}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(info.get('description', ''))}</p>",
        '<p>Machine-readable schema: <a href="/openapi.json">/openapi.json</a>. Interactive '
        f"Swagger UI: <code>{html.escape(INSTALL_HINT)}</code>.</p>",
    ]
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            out.append(
                f"<h2><span class='m'>{method.upper()}</span> <code>{html.escape(path)}</code>"
                f" {html.escape(op.get('summary', ''))}</h2>"
            )
            out.append("<p>" + html.escape(op.get("description", "")).replace("\n\n", "</p><p>"))
            out.append("</p>")
            params = op.get("parameters", [])
            if params:
                rows = "".join(
                    f"<tr><td><code>{html.escape(p['name'])}</code> ({p.get('in', '')})</td>"
                    f"<td><code>{html.escape(_type(p.get('schema', {}), spec))}</code></td>"
                    f"<td>{html.escape(p.get('description', ''))}</td></tr>"
                    for p in params
                )
                out.append(f"<h3>Parameters</h3><table>{rows}</table>")
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                out.append(f"<h3>Request body ({html.escape(media)})</h3>")
                out.append(_fields(content.get("schema", {}), spec))
            answers = "".join(
                f"<li><code>{html.escape(code)}</code> {html.escape(r.get('description', ''))}"
                f" ({html.escape(', '.join(r.get('content', {})) or 'no body')})</li>"
                for code, r in op.get("responses", {}).items()
            )
            out.append(f"<h3>Answers</h3><ul>{answers}</ul>")
    out.append("</body></html>")
    return "\n".join(out)


__all__ = ["ASSETS_URL", "INSTALL_HINT", "add_docs", "api_page", "offline_assets"]
