"""Reading a self-service request the way Kratos does: JSON or HTML, JSON or form bodies, the device."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shared.errors import BadRequest
from shared.http.bodies import parse_json, unstorable_text
from shared.http.client_ip import client_ip


def wants_json(request: web.Request) -> bool:
    """Kratos's `IsJSONRequest`: a JSON body, or an Accept header that prefers JSON to HTML."""
    if request.content_type == "application/json":
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


async def read_body(request: web.Request) -> dict[str, Any]:
    """A submitted body as a nested dict: JSON as is; form fields `traits.email` become {"traits": {"email": …}}."""
    if request.method == "GET":
        return dict(request.query)
    if request.content_type == "application/json":
        body = parse_json(await request.read() or b"{}")
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object")
        return _expand_dotted(body)
    try:
        form = await request.post()
    except ValueError as exc:  # aiohttp's answer to a multipart type without a boundary, or a torn body
        raise BadRequest(f"Unable to parse the form body: {str(exc)[:200]}") from exc
    nested: dict[str, Any] = {}
    for key in form:
        values = form.getall(key)
        value = values[-1] if len(values) == 1 or key != "traits" else values
        if problem := unstorable_text(key) or unstorable_text(str(value)):
            raise BadRequest(f"The form contains {problem}.")
        _put(nested, key.split("."), value if isinstance(value, str) else str(value))
    return nested


def string_field(body: dict[str, Any], *names: str) -> str:
    """The first of `names` that is set, as a string; "" when none is. Anything else (a JSON array,
    an object, a number) is a 400: Kratos's typed decoding refuses it, and `str()` of it would
    silently turn `["a"]` into a password."""
    for name in names:
        value = body.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise BadRequest(f"The field {name} must be a string.")
        return value
    return ""


def _expand_dotted(body: dict[str, Any]) -> dict[str, Any]:
    """SPAs post node names as keys (`{"traits.email": …}`); Kratos reads them like form fields."""
    expanded: dict[str, Any] = {}
    for key, value in body.items():
        if "." in key:
            _put(expanded, key.split("."), value)
        elif isinstance(value, dict) and isinstance(expanded.get(key), dict):
            expanded[key].update(value)
        else:
            expanded[key] = value
    return expanded


def _put(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise BadRequest(f"form field {'.'.join(path)} conflicts with another field")
    target[path[-1]] = value


def device(request: web.Request) -> dict[str, Any]:
    ip = client_ip.get() or request.remote  # X-Forwarded-For only from trusted proxies
    location = ", ".join(filter(None, (request.headers.get("Cf-Ipcity"), request.headers.get("Cf-Ipcountry"))))
    return {"ip_address": ip, "user_agent": request.headers.get("User-Agent"), "location": location or None}


def request_url(request: web.Request, public_base_url: str) -> str:
    """The URL the client asked for, on the public base URL (behind a proxy `request.url` is internal)."""
    return public_base_url.rstrip("/") + request.path_qs
