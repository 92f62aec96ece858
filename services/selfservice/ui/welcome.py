"""The welcome page (`/ui/welcome`): who is signed in, in words a person reads. Traits are labelled
by their identity-schema titles, times are relative ("signed in 3 minutes ago") with the exact time
kept in a `<time>` element, the assurance level is "single-factor" or "two-factor", and the link to
verify an address shows only while one is unverified. A session that whoami would refuse for want of
its second factor is sent to finish signing in instead of being told it is signed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import humanize
from aiohttp import web

from services.selfservice.flows.engine import see_other
from services.selfservice.flows.login.hook import whoami_accepts
from services.selfservice.flows.logout.handler import SIGNED_OUT_COOKIE
from services.selfservice.ui.links import logout_url
from services.selfservice.ui.view import trait_rows

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer
    from services.selfservice.traits import TraitSchemas

WELCOME_PATH = "/ui/welcome"
STRENGTH = {"aal1": "Single-factor", "aal2": "Two-factor", "aal3": "Two-factor"}


@dataclass(frozen=True)
class Moment:
    """A time as the page shows it: relative words, and the exact time for `datetime` and `title`."""

    words: str
    iso: str
    exact: str


def moment(value: Any, now: datetime) -> Moment | None:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    words = humanize.naturaltime(at, when=now)
    return Moment("just now" if words == "now" else words, at.isoformat(), at.strftime("%-d %B %Y, %H:%M UTC"))


def trait_labels(schemas: TraitSchemas, schema_id: str | None) -> dict[str, str]:
    """Dotted trait path -> the schema's title for it; without one, its last name, as the forms
    label it ("name.first": "First")."""
    return {f.path: str(f.schema.get("title") or _capitalised(f.path)) for f in schemas.fields(schema_id)}


def _capitalised(path: str) -> str:
    words = path.rsplit(".", 1)[-1].replace("_", " ")
    return words[:1].upper() + words[1:]


def labelled_traits(schemas: TraitSchemas, identity: dict[str, Any]) -> list[tuple[str, str]]:
    labels = trait_labels(schemas, identity.get("schema_id"))
    rows = trait_rows(identity.get("traits") or {})
    return [(labels.get(path) or _capitalised(path), value) for path, value in rows]


def unverified(identity: dict[str, Any]) -> bool:
    return any(not a.get("verified") for a in identity.get("verifiable_addresses") or [])


async def welcome(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
    session = await c.engine.current_session(request)
    flows = c.config.flows
    if session is None:
        links = [("Sign in", flows["login"].ui_url)]
        if flows["registration"].enabled:
            links.append(("Create an account", flows["registration"].ui_url))
        signed_out = SIGNED_OUT_COOKIE in request.cookies
        page = c.pages.render("welcome.html", title="Welcome", session=None, links=links, signed_out=signed_out)
        if signed_out:  # said once
            page.del_cookie(SIGNED_OUT_COOKIE, path="/ui/")
        return page
    identity = session.get("identity") or {}
    if not whoami_accepts(c, session, await c.engine.identities.get_identity(identity.get("id", "")) or {}):
        # Half signed in: the password is done, the second factor whoami asks for is not.
        return see_other(f"{c.config.public_base_url.rstrip('/')}/self-service/login/browser?aal=aal2")
    links = [("Account settings", flows["settings"].ui_url)]
    if flows["verification"].enabled and unverified(identity):
        links.append(("Verify your email address", flows["verification"].ui_url))
    if (url := await logout_url(c, request)) is not None:
        links.append(("Log out", url))
    now = datetime.now(UTC)
    return c.pages.render(
        "welcome.html",
        title="Welcome",
        session=session,
        traits=labelled_traits(c.schemas, identity),
        signed_in=moment(session.get("authenticated_at"), now),
        expires=moment(session.get("expires_at"), now),
        strength=STRENGTH.get(str(session.get("authenticator_assurance_level")), "Single-factor"),
        links=links,
    )
