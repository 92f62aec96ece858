"""Template overrides from config, where Kratos takes them, in Kratos's order of precedence:

1. `courier.templates.<group>.<valid|invalid>.email.{subject, body.html, body.plaintext}` and
   `….sms.body.plaintext` (`courier.templates.verifiable_address_changed.email.…`, with no validity
   level): a `file://`, `base64://` or `http(s)://` URL (fetched once, at start-up);
2. `courier.template_override_path`: a folder in Kratos's layout (`recovery_code/valid/email.subject.gotmpl`,
   `verifiable_address_changed/email.subject.gotmpl`,
   `…/email.body.gotmpl` (HTML), `…/email.body.plaintext.gotmpl`, `…/sms.body.gotmpl`);
3. otherwise the built-in template.

Overrides are Go templates (see `gotemplate.py`); a missing file, a bad URL, a template that does not
parse or calls a function Warden lacks fails start-up with the config key in the message. In the
folder, the files beside a part that share its prefix (`email.body.de.gotmpl` beside
`email.body.gotmpl`) are parsed with it, as Kratos's `email.body*` pattern does, so that one can
`{{ template "email.body.de.gotmpl" . }}` the other: Kratos's way to translate a message.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from services.courier.errors import TemplateError
from services.courier.render.gotemplate import GoTemplate
from services.courier.template_types import HTML, PLAINTEXT, SMS_BODY, SUBJECT, TEMPLATE_TYPES, TemplateType
from shared.config.sources import Fetch, read_file, read_source
from shared.errors import ConfigError

CONFIG_KEYS = {
    SUBJECT: "email.subject",
    PLAINTEXT: "email.body.plaintext",
    HTML: "email.body.html",
    SMS_BODY: "sms.body.plaintext",
}
OVERRIDE_FILES = {
    SUBJECT: "email.subject.gotmpl",
    PLAINTEXT: "email.body.plaintext.gotmpl",
    HTML: "email.body.gotmpl",
    SMS_BODY: "sms.body.gotmpl",
}
Overrides = dict[tuple[str, str], GoTemplate]
log = logging.getLogger(__name__)


async def load_overrides(settings: Any, fetch: Fetch) -> Overrides:
    """Every override the config names, parsed, by (template type, part)."""
    found: Overrides = {}
    folder = settings.get("courier.template_override_path")
    _warn_about_what_is_never_used(folder)
    for spec in TEMPLATE_TYPES.values():
        for part in (SUBJECT, PLAINTEXT, HTML, SMS_BODY):
            key = _config_key(spec, part)
            url = settings.get(key) if key else None
            siblings: dict[str, str] = {}
            if url and key:
                source = await read_source(url, settings, fetch, key)
            elif folder and (Path(folder) / spec.override_dir / OVERRIDE_FILES[part]).is_file():
                key = f"courier.template_override_path ({spec.override_dir}/{OVERRIDE_FILES[part]})"
                source = read_file(Path(folder) / spec.override_dir / OVERRIDE_FILES[part], key)
                siblings = _siblings(Path(folder) / spec.override_dir, OVERRIDE_FILES[part], key)
            else:
                continue
            try:
                found[(spec.name, part)] = GoTemplate(source, html=part == HTML, name=key or "", associated=siblings)
            except TemplateError as exc:
                raise ConfigError(f"config: {exc}") from None
    return found


def _warn_about_what_is_never_used(folder: str | None) -> None:
    """Kratos starts with this too, so Warden does; but an override that is never used should say so.
    (Every group of `courier.templates` the config schema admits is a message Warden sends.)"""
    if folder and not Path(folder).is_dir():
        log.warning(
            "courier: courier.template_override_path %s is not a folder: the built-in templates are used", folder
        )


def _siblings(folder: Path, file_name: str, key: str) -> dict[str, str]:
    """The other files of Kratos's pattern for a part: `email.body.gotmpl` -> `email.body*`."""
    prefix = file_name.removesuffix(".gotmpl")
    return {
        path.name: read_file(path, key)
        for path in sorted(folder.glob(prefix + "*"))
        if path.name != file_name and path.is_file()
    }


def _config_key(spec: TemplateType, part: str) -> str | None:
    prefix = spec.config_prefix
    return f"{prefix}.{CONFIG_KEYS[part]}" if prefix else None
