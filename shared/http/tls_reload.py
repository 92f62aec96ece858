"""A renewed certificate is served without a restart, as Kratos does for `serve.<port>.tls` given by
`path` (cert-manager, certbot and Kubernetes secrets replace the files in place).

The port listens with one context whose SNI callback hands every new handshake the current context;
connections already open keep the one they began with. The files are read every few seconds and a
fresh context is built when their bytes change (a timestamp can miss a change, and reading two small
files costs nothing). A change that does not load (the certificate written before its key, a broken
file) is logged once, naming the setting, and the previous certificate is served until the files are
right again, as Kratos does. A pair given in base64 lives in the config and never changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from pathlib import Path
from typing import Any

from shared.errors import ConfigError
from shared.http.tls import PORTS, TlsPair

log = logging.getLogger(__name__)
POLL_SECONDS = 10.0


class ReloadingContext:
    def __init__(self, pair: TlsPair) -> None:
        self._pair = pair
        self._seen = self._digest()
        self._failed = ""  # the digest of files that did not load: said once, not every poll
        # What the port listens with; a renewed pair's context is handed to each handshake from here.
        self.listener = pair.server_context()
        self.listener.sni_callback = self._choose
        self._current = self.listener
        self._trusting: list[ssl.SSLContext] = []

    def trusted_by(self, client: ssl.SSLContext) -> None:
        """`client` (the internal clients' context, which trusts this admin certificate:
        `shared.http.tls.internal_client_context`) trusts each renewed certificate too, from the
        moment this process serves it, in the same context (its keep-alive pool stays as it is).
        The previous one stays trusted until restart: the other processes pick the renewal up on
        polls of their own, and until they do they still serve it."""
        self._trusting.append(client)

    @property
    def watched(self) -> bool:
        """Whether any half comes from a file that may change."""
        return not (self._pair.cert.base64 and self._pair.key.base64)

    def _choose(self, connection: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _context: ssl.SSLContext) -> None:
        connection.context = self._current

    def _digest(self) -> str:
        digest = hashlib.sha256()
        for source in (self._pair.cert, self._pair.key):
            try:
                digest.update(b"" if source.base64 else Path(source.path).read_bytes())
            except OSError:
                digest.update(b"\0unreadable")  # mid-replacement: the load below says why, if it stays so
            digest.update(b"\0")
        return digest.hexdigest()

    def reload_if_changed(self) -> bool:
        """Loads the files when their bytes changed since the last load; True when a new pair is served."""
        digest = self._digest()
        if digest in (self._seen, self._failed):
            return False
        try:
            context = self._pair.server_context()
            anchor = self._pair.certificate_pem() if self._trusting else ""
        except ConfigError as exc:
            self._failed = digest
            log.error("%s; serving the previous certificate until the files load", str(exc).removeprefix("config: "))
            return False
        self._current, self._seen, self._failed = context, digest, ""
        for client in self._trusting:
            client.load_verify_locations(cadata=anchor)
        log.info("%s: a changed certificate is served from now on", self._pair.cert.setting.removesuffix(".cert"))
        return True

    async def watch(self, interval: float = POLL_SECONDS) -> None:
        """The background task: poll until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self.reload_if_changed()


def port_contexts(settings: Any) -> dict[str, ReloadingContext]:
    """The TLS of each port that has one (a port left out serves plain HTTP); a pair that cannot be
    used stops start-up here, with one line naming the setting."""
    pairs = {port: TlsPair.from_settings(settings, port) for port in PORTS}
    return {port: ReloadingContext(pair) for port, pair in pairs.items() if pair is not None}
