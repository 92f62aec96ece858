"""What the built-in UI renders from a flow's JSON, grouped the way Kratos's reference UI groups it:
the `default` group's nodes (CSRF token, identifier, traits) go into every method's form, then one
form per method group, in the order the flow lists them. Reads the same JSON an external UI gets
from `GET /self-service/<flow>/flows`, so it depends on the contract and not on Warden's internals."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlsplit

DEFAULT = "default"
IDENTIFIER_FIRST = "identifier_first"
# Social sign-in forms only need the hidden default nodes: a required identifier would block them.
# Unless no other form is there to show the default fields: a social sign-up that still needs traits
# has them in the `default` group, beside its Continue button alone.
HIDDEN_DEFAULTS_ONLY = frozenset({"oidc", "saml"})
GROUP_TITLES = {
    "password": "Password",
    "profile": "Profile",
    "code": "One-time code",
    "link": "Email link",
    "oidc": "Sign in with a provider",
    "saml": "Single sign-on",
    "totp": "Authenticator app",
    "lookup_secret": "Backup recovery codes",
    "webauthn": "Hardware token",
    "passkey": "Passkey",
    "identifier_first": "Identifier",
    "captcha": "Captcha",
}
# Input attributes passed through to the HTML element (anything else, `onclick` included, is dropped).
PASSED_ATTRIBUTES = ("required", "disabled", "autocomplete", "pattern", "maxlength")
WEBAUTHN_SCRIPT = "/.well-known/ory/webauthn.js"
# Labels this UI words differently from the flow's node label: settings' password field sits under a
# "Password" heading, so two things would read "Password".
RELABELLED = {("settings", "password", "password"): "New password"}
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class Field:
    kind: str  # hidden, input, checkbox, submit, trigger, script, text, codes, img, a
    id: str
    name: str
    type: str
    value: Any  # the input's value; for text nodes the text, for img the src, for a the href
    label: str
    attrs: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def invalid(self) -> bool:
        return any(m.get("type") == "error" for m in self.messages)


@dataclass(frozen=True)
class Section:
    group: str
    title: str
    fields: list[Field]


def sections(ui: dict[str, Any], kind: str = "") -> list[Section]:
    """The forms of a `kind` flow's page (the kind only changes some labels, see RELABELLED)."""
    return [Section(s.group, s.title, [_relabelled(kind, s.group, f) for f in s.fields]) for s in _sections(ui)]


def first_invalid(found: list[Section]) -> str:
    """The id of the first field with an error message, where the page puts the focus ("" for none)."""
    return next((f.id for s in found for f in s.fields if f.invalid and f.kind in FOCUSABLE), "")


FOCUSABLE = frozenset({"input", "checkbox", "submit", "trigger"})


def _relabelled(kind: str, group: str, f: Field) -> Field:
    label = RELABELLED.get((kind, group, f.name))
    return replace(f, label=label) if label else f


def _sections(ui: dict[str, Any]) -> list[Section]:
    nodes = ui.get("nodes") or []
    # Identifier-first's second screen keeps the identifier as a hidden node of its own group: every
    # method's form must carry it, as the default group's.
    defaults = [
        n
        for n in nodes
        if n.get("group") == DEFAULT or (n.get("group") == IDENTIFIER_FIRST and _input_type(n) == "hidden")
    ]
    # The page's scripts (Kratos puts its WebAuthn script in the `webauthn` group whichever method
    # asked for it) go with the first form shown, not with a group that may have nothing to press.
    scripts = [n for n in nodes if n.get("type") == "script"]
    nodes = [n for n in nodes if n.get("type") != "script"]
    groups = list(dict.fromkeys(n.get("group") for n in nodes if n.get("group") != DEFAULT))
    if not groups:
        return [Section(DEFAULT, "", _fields(defaults + scripts, DEFAULT))] if defaults else []
    owned = {group: _fields([n for n in nodes if n.get("group") == group], group) for group in groups}
    pressable = [group for group in groups if not all(f.kind == "hidden" for f in owned[group])]
    social_only = all(group in HIDDEN_DEFAULTS_ONLY for group in pressable)
    found: list[Section] = []
    for group in pressable:
        own = owned[group]
        shared = [n for n in defaults if social_only or group not in HIDDEN_DEFAULTS_ONLY or _input_type(n) == "hidden"]
        page_scripts = _fields(scripts, group) if not found else []
        found.append(
            Section(
                group,
                GROUP_TITLES.get(group, group.replace("_", " ").capitalize()),
                _fields(shared, group) + own + page_scripts,
            )
        )
    return found


def _fields(nodes: list[dict[str, Any]], group: str) -> list[Field]:
    return [f for f in (_field(n, group) for n in nodes) if f is not None]


def _field(node: dict[str, Any], group: str) -> Field | None:
    attributes = node.get("attributes") or {}
    label = _text((node.get("meta") or {}).get("label"))
    messages = list(node.get("messages") or [])
    kind = node.get("type")
    if kind == "text" and (codes := _backup_codes(attributes.get("text"))) is not None:
        shown = "\n".join(codes)
        download = "data:text/plain;charset=utf-8," + quote(shown + "\n")
        return Field(
            "codes", _id(attributes.get("id") or group), "", "", shown, label, {"download": download}, messages
        )
    if kind == "text" and (lines := _secret_lines(attributes.get("text"))):
        return Field("text", _id(attributes.get("id") or group), "", "", "\n".join(lines), label, {}, messages)
    if kind == "text":
        return Field(
            "text", _id(attributes.get("id") or group), "", "", _text(attributes.get("text")), label, {}, messages
        )
    if kind == "img":
        return Field("img", _id(attributes.get("id") or group), "", "", attributes.get("src", ""), label, {}, messages)
    if kind == "a":
        return Field(
            "a",
            _id(attributes.get("id") or group),
            "",
            "",
            attributes.get("href", ""),
            _text(attributes.get("title")) or label,
            {},
            messages,
        )
    if kind == "script":
        return _script(attributes)
    if kind != "input":
        return None
    return _input(node, group, attributes, label, messages)


def _input(
    node: dict[str, Any], group: str, attributes: dict[str, Any], label: str, messages: list[dict[str, Any]]
) -> Field | None:
    name, input_type = str(attributes.get("name") or ""), _input_type(node)
    attrs = {k: attributes[k] for k in PASSED_ATTRIBUTES if attributes.get(k) not in (None, False, "")}
    element_id = _id(f"{group}-{name}")
    value = attributes.get("value")
    if input_type == "hidden":
        on_load = {"on_load": str(attributes["onloadTrigger"])} if attributes.get("onloadTrigger") else {}
        return Field("hidden", element_id, name, input_type, _form_value(value), label, on_load, messages)
    if input_type in ("submit", "button"):
        if attributes.get("onclickTrigger"):  # WebAuthn and passkeys: our script calls it by name
            trigger = {"trigger": str(attributes["onclickTrigger"])}
            return Field("trigger", element_id, name, "button", _form_value(value), label, trigger, messages)
        if attributes.get("onclick"):
            return None  # someone else's JavaScript: never run here
        return Field(
            "submit", element_id, name, "submit", _form_value(value), label or _form_value(value), attrs, messages
        )
    if input_type == "checkbox":
        return Field(
            "checkbox",
            element_id,
            name,
            input_type,
            value is True or value == "true",
            label or _unlabelled(name),
            attrs,
            messages,
        )
    if input_type == "password":
        value = None  # never echo a password back, whatever the flow holds
    return Field(
        "input",
        element_id,
        name,
        input_type,
        None if value is None else _form_value(value),
        label or _unlabelled(name),
        attrs,
        messages,
    )


def _unlabelled(name: str) -> str:
    """What a field without a label is called: a trait by its own name (`first` of `traits.name.first`,
    whose schema gives no title, which Kratos's flows label with nothing), anything else by its name."""
    return name.rsplit(".", 1)[-1] if name.startswith("traits.") else name


def _script(attributes: dict[str, Any]) -> Field | None:
    """Only the project's own WebAuthn script, from this origin (the one place this UI runs JavaScript):
    a script node pointing anywhere else is not rendered."""
    path = urlsplit(str(attributes.get("src") or "")).path
    if path != WEBAUTHN_SCRIPT:
        return None
    return Field("script", _id(str(attributes.get("id") or "script")), "", "", path, "", {})


def _secret_lines(message: Any) -> list[str]:
    """Backup codes as Kratos lists them (`context.secrets`, 1050009 or 1050014 each), one a line."""
    secrets = ((message or {}).get("context") or {}).get("secrets") if isinstance(message, dict) else None
    return [str(s.get("text") or "") for s in secrets if isinstance(s, dict)] if isinstance(secrets, list) else []


def _backup_codes(message: Any) -> list[str] | None:
    """The codes of a freshly generated set (every entry a 1050009 with its secret), to copy or save;
    None for anything else (a revealed set shows only when codes were used, never a code)."""
    secrets = ((message or {}).get("context") or {}).get("secrets") if isinstance(message, dict) else None
    if not isinstance(secrets, list) or not secrets:
        return None
    codes = [str((s.get("context") or {}).get("secret") or "") for s in secrets if isinstance(s, dict)]
    fresh = all(isinstance(s, dict) and s.get("id") == 1050009 for s in secrets)
    return codes if fresh and all(c.isalnum() for c in codes) else None


def _input_type(node: dict[str, Any]) -> str:
    return str((node.get("attributes") or {}).get("type") or "text")


def _text(message: Any) -> str:
    return str(message.get("text") or "") if isinstance(message, dict) else ""


def _form_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _id(raw: str) -> str:
    return _UNSAFE_ID.sub("-", raw)


def trait_rows(traits: Any, prefix: str = "") -> list[tuple[str, str]]:
    """An identity's traits as (dotted path, text) rows, nested objects flattened, empty ones left out."""
    if traits is None or traits == "":
        return []
    if isinstance(traits, dict):
        return [row for key, value in traits.items() for row in trait_rows(value, f"{prefix}{key}.")]
    if isinstance(traits, list):
        return [(prefix.rstrip("."), ", ".join(_form_value(v) for v in traits))]
    return [(prefix.rstrip("."), _form_value(traits))]
