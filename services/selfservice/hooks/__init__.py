"""Hooks that run before and after flows, from `selfservice.flows.<flow>.<before|after>[.<method>].hooks`.

The one table of hook names, in a file each named after what the hook does; `registry.py` holds the
machinery that runs them in config order.
"""

from __future__ import annotations

from services.selfservice.hooks.notify_previous_addresses import notify_previous_addresses
from services.selfservice.hooks.registry import SESSION, HookFactory
from services.selfservice.hooks.require_verified_address import require_verified_address
from services.selfservice.hooks.revoke_active_sessions import revoke_active_sessions
from services.selfservice.hooks.session_issuer import session_hook
from services.selfservice.hooks.show_verification_ui import show_verification_ui
from services.selfservice.hooks.web_hook import web_hook

HOOKS: dict[str, HookFactory] = {
    SESSION: session_hook,
    "revoke_active_sessions": revoke_active_sessions,
    "require_verified_address": require_verified_address,
    "show_verification_ui": show_verification_ui,
    "web_hook": web_hook,
    "notify_previous_addresses": notify_previous_addresses,
}
