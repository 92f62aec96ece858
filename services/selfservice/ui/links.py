"""The sign-out link the built-in UI's pages offer: the URL `GET /self-service/logout/browser`
hands out, with its token, for the browser's session."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

from services.selfservice.flows.logout.handler import create_browser_logout
from shared.errors import WardenError

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer


async def logout_url(c: SelfserviceContainer, request: web.Request) -> str | None:
    """None without a session."""
    try:
        response = await create_browser_logout(c, request)
    except WardenError:
        return None
    return str(json.loads(response.text or "")["logout_url"])
