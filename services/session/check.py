"""The session check that gateways and internal services ask for: `GET /sessions/check` (nginx's
`auth_request`, Traefik's `forwardAuth`), gRPC `Check` and Envoy's `ext_authz` all come here.

It goes through `SessionManager.whoami`, the same path as `/sessions/whoami`: a hit is one cache GET,
and whatever whoami learns about revocations and stale entries, the check knows too. What it adds is
the answer as headers: who is signed in, which session, at which AAL, and the traits that
`session.check.headers` names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.session.cache import CachedSession
from services.session.errors import Aal2Required, NoActiveSession
from services.session.manager import SessionManager
from shared.aal import AAL2
from shared.errors import ConfigError

IDENTITY_HEADER = "X-Kratos-Authenticated-Identity-Id"
SESSION_HEADER = "X-Warden-Session-Id"
AAL_HEADER = "X-Warden-Aal"
FIXED_HEADERS = (IDENTITY_HEADER, SESSION_HEADER, AAL_HEADER)
# Longer than any token Warden or Kratos issues: such a value is refused before it is hashed.
MAX_TOKEN_LENGTH = 512
DERIVED_MEMO_SIZE = 4096  # sessions' bodies (about 1-2 KiB each) whose headers are remembered
# Printable ASCII but `%`: what a header value keeps as it is; everything else is %-encoded (UTF-8).
_KEPT = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"%"}


@dataclass(frozen=True)
class CheckedSession:
    entry: CachedSession
    session_id: str
    headers: tuple[tuple[str, str], ...]  # every header of `session.check.headers`, present or not

    @property
    def identity_id(self) -> str:
        return self.entry.identity_id

    @property
    def aal(self) -> str:
        return self.entry.aal

    def present_headers(self) -> list[tuple[str, str]]:
        """The headers to set: the fixed ones, then the traits the identity has."""
        fixed = [(IDENTITY_HEADER, self.identity_id), (SESSION_HEADER, self.session_id), (AAL_HEADER, self.aal)]
        return fixed + [(name, value) for name, value in self.headers if value]

    def absent_headers(self) -> list[str]:
        """Trait headers this identity has no value for: a gateway must remove them from the request,
        or a client could send its own."""
        return [name for name, value in self.headers if not value]


class SessionChecker:
    def __init__(self, manager: SessionManager, trait_headers: Mapping[str, str]) -> None:
        self._manager = manager
        # What a cached body says (session id, trait headers), by the body itself: a hit costs a hash
        # of the bytes instead of parsing the JSON, and a changed body is a different key, never stale.
        self._derived: dict[bytes, tuple[str, tuple[tuple[str, str], ...]]] = {}
        self._traits = [(tuple(path.split(".")), header) for path, header in trait_headers.items()]
        taken = {h.lower() for h in FIXED_HEADERS}
        for path, header in trait_headers.items():
            if header.lower() in taken:
                raise ConfigError(f"config: session.check.headers.{path}: {header} is already set by the check")
            taken.add(header.lower())

    @property
    def header_names(self) -> list[str]:
        return [*FIXED_HEADERS, *(header for _, header in self._traits)]

    async def check(self, token: str | None, *, require_aal2: bool = False) -> CheckedSession:
        """The checked session, or NoActiveSession / Aal2Required as whoami raises them."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise NoActiveSession()
        entry = await self._manager.whoami(token)
        if require_aal2 and entry.aal != AAL2:
            raise Aal2Required(self._manager.aal2_login_url())
        derived = self._derived.get(entry.body)
        if derived is None:
            derived = self._derive(entry.body)
            if len(self._derived) >= DERIVED_MEMO_SIZE:
                self._derived.clear()
            self._derived[entry.body] = derived
        return CheckedSession(entry, *derived)

    def _derive(self, body: bytes) -> tuple[str, tuple[tuple[str, str], ...]]:
        session = json.loads(body)
        traits = (session.get("identity") or {}).get("traits") or {}
        return session["id"], tuple((header, header_value(_at(traits, path))) for path, header in self._traits)


def _at(tree: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(part)
    return tree


def header_value(value: Any) -> str:
    """A trait as a header value: strings as they are, anything else as JSON; characters outside
    printable ASCII (and `%`) percent-encoded as UTF-8, so that a trait can never end a header or
    start another."""
    if value is None or value == "":
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if all(c in _KEPT for c in text):
        return text
    return "".join(c if c in _KEPT else "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass")) for c in text)
