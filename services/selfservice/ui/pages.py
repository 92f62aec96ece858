"""Rendering the built-in UI's pages: one Jinja2 environment (autoescape on, undefined names are
errors) over the templates beside this module, and the headers every page is sent with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.selfservice.ui.brand import Brand
from services.selfservice.ui.wording import sentence

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STYLESHEET = HERE / "static" / "style.css"
# Pages carry CSRF tokens and personal data: never cached, never framed (clickjacking), no scripts
# but the project's own WebAuthn script from this origin (focus moves to the first invalid field by
# the `autofocus` attribute, not by script).
# No `form-action`: browsers apply it to the redirects after a submission, which go to allowed
# return URLs on other origins.
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:{logo}; frame-ancestors 'none'; base-uri 'none'"
PAGE_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class Pages:
    """The templates, the stylesheet (with the brand's colours) and the brand, loaded once per
    service (the composition root builds it)."""

    def __init__(self, brand: Brand | None = None) -> None:
        self.brand = brand or Brand()
        self.stylesheet = STYLESHEET.read_bytes() + self.brand.stylesheet()
        logo = f" {self.brand.image_source}" if self.brand.image_source else ""
        self.headers = {**PAGE_HEADERS, "Content-Security-Policy": CSP.format(logo=logo)}
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["sentence"] = sentence
        self._env.globals["brand"] = self.brand

    def render(self, template: str, *, status: int = 200, **context: Any) -> web.Response:
        body = self._env.get_template(template).render(**context)
        return web.Response(status=status, text=body, content_type="text/html", charset="utf-8", headers=self.headers)


def static_response(body: bytes, content_type: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
