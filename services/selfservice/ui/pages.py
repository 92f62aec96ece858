"""Rendering the built-in UI's pages: one Jinja2 environment (autoescape on, undefined names are
errors) over the templates beside this module, and the headers every page is sent with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STYLESHEET = HERE / "static" / "style.css"
# Pages carry CSRF tokens and personal data: never cached, never framed (clickjacking), no scripts
# but the project's own WebAuthn script from this origin (passkeys and security keys need it).
# No `form-action`: browsers apply it to the redirects after a submission, which go to allowed
# return URLs on other origins.
PAGE_HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class Pages:
    """The templates and the stylesheet, loaded once per service (the composition root builds it)."""

    def __init__(self) -> None:
        self.stylesheet = STYLESHEET.read_bytes()
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["sentence"] = sentence

    def render(self, template: str, *, status: int = 200, **context: Any) -> web.Response:
        body = self._env.get_template(template).render(**context)
        return web.Response(status=status, text=body, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS)


def stylesheet_response(css: bytes) -> web.Response:
    return web.Response(
        body=css,
        content_type="text/css",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def sentence(text: Any) -> str:
    """A message as a sentence on the page: some of Kratos's texts (and hooks' ones) start in lower case;
    the API keeps them as they are, the page starts them with a capital."""
    words: str = str(text or "")
    return words[:1].upper() + words[1:]
