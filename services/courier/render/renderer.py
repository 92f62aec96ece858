"""Turns a message request into the texts the courier stores and sends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from services.courier.commands import MessageRequest
from services.courier.domain import EMAIL
from services.courier.errors import TemplateError
from services.courier.render.builtin import BuiltinTemplates
from services.courier.render.overrides import Overrides
from services.courier.template_types import HTML, PLAINTEXT, SMS_BODY, SUBJECT, TEMPLATE_TYPES


class Template(Protocol):
    def render(self, context: dict[str, Any]) -> str: ...


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str  # the plain-text email body, or the SMS text
    html_body: str | None


class Renderer:
    def __init__(self, builtin: BuiltinTemplates, overrides: Overrides | None = None) -> None:
        self._builtin = builtin
        self._overrides = overrides or {}

    def template(self, template_type: str, part: str) -> Template:
        return self._overrides.get((template_type, part)) or self._builtin.get(template_type, part)

    def check(self) -> None:
        """Loads every built-in template once, so a broken file fails start-up, not a send."""
        for spec in TEMPLATE_TYPES.values():
            for channel in ("email", "sms") if spec.sms else ("email",):
                for part in spec.parts(channel):
                    self.template(spec.name, part)

    def render(self, request: MessageRequest) -> Rendered:
        data = request.template_data
        try:
            if request.channel == EMAIL:
                # Kratos trims the subject; folding it to one line also keeps it a valid mail header.
                subject = " ".join(self.template(request.template_type, SUBJECT).render(data).split())
                body = self.template(request.template_type, PLAINTEXT).render(data)
                return Rendered(subject, body, self.template(request.template_type, HTML).render(data))
            return Rendered("", self.template(request.template_type, SMS_BODY).render(data), None)
        except TemplateError:
            raise
        except Exception as exc:  # a Jinja2 runtime error in a template: report it, not the data
            raise TemplateError(f"rendering {request.template_type} failed: {type(exc).__name__}") from exc
