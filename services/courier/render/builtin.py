"""Warden's default templates: Jinja2 files under `services/courier/templates/<type>/`, with
Kratos's texts. One plain-text and one HTML body and a subject per email template, one body per
SMS template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, FileSystemLoader, TemplateNotFound, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from services.courier.errors import TemplateError
from services.courier.template_types import HTML, PLAINTEXT, SMS_BODY, SUBJECT

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
FILE_NAMES = {
    SUBJECT: "email.subject.txt",
    PLAINTEXT: "email.body.txt",
    HTML: "email.body.html",
    SMS_BODY: "sms.body.txt",
}


class JinjaTemplate:
    def __init__(self, template: Any) -> None:
        self._template = template

    def render(self, context: dict[str, Any]) -> str:
        return str(self._template.render(**context))


class BuiltinTemplates:
    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(str(directory)),
            # HTML bodies escape what they show (a name in the identity's traits may hold markup).
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            # A field the command did not send renders as nothing, also several levels deep
            # (`Identity.traits.name`), as a missing map key does in Kratos's Go templates.
            undefined=ChainableUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # They ship with Warden and never change while it runs: no stat of the file at every
            # message (two thirds of rendering one, measured).
            auto_reload=False,
        )

    def get(self, template_type: str, part: str) -> JinjaTemplate:
        try:
            return JinjaTemplate(self._env.get_template(f"{template_type}/{FILE_NAMES[part]}"))
        except TemplateNotFound as exc:
            raise TemplateError(f"no built-in {part} template for {template_type}") from exc
