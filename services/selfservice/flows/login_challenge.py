"""Ory Hydra's `login_challenge` on the browser login and registration endpoints (Kratos's
`hydra.GetLoginChallengeID`).

Kratos takes the parameter only with `oauth2_provider.url` set, and refuses it otherwise: present
at all (empty too) is a 500 `invalid_configuration` that names the setting, forwarded like any
init error (JSON for a SPA, the error UI for a browser). Warden has no Hydra integration (the
setting is one it does not act on, `shared/config/coverage.py`), so it refuses the parameter
whatever the config says: a flow made as if the challenge were not there would sign the user in
and leave the OAuth2 client waiting for an answer that never comes."""

from __future__ import annotations

from aiohttp import web

from shared.config import Settings
from shared.errors import InvalidConfiguration

PARAMETER = "login_challenge"
SETTING = "oauth2_provider.url"


def refuse_login_challenge(request: web.Request, settings: Settings) -> None:
    """Raises when the request carries a `login_challenge`; Kratos reads it first on the login
    endpoint, after building the flow on the registration one."""
    if PARAMETER not in request.query:
        return
    if settings.get(SETTING):
        because = f"Warden does not implement the Ory Hydra integration that {SETTING} configures"
    else:
        because = f"{SETTING} is invalid or unset"  # Kratos's words
    raise InvalidConfiguration(f"refusing to parse {PARAMETER} query parameter because {because}")
