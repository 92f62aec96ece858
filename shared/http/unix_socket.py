"""`serve.<port>.host: unix:/path`: a port served on a Unix socket, as Kratos does (ory/x networkx).

As in Kratos, a host that starts with `unix:` is the socket's path and the port is then ignored;
`serve.<port>.socket.mode` (default 0755) and `socket.owner`/`socket.group` (names; empty keeps the
running user's and their primary group) are set on the file. Connecting needs write permission on
the file, so the mode is the port's access control: 0755 lets only the owner in, and a reverse proxy
running as another user needs to be in the group with 0770 (or 0775).

Kratos sets them just after it starts listening; here the socket is bound, given its mode and owner,
and only then listens, so no one connects while the file still has the umask's permissions.
A socket file left behind by a process that died (nothing answers on it) is replaced; one a server
still answers on, or a path that is not a socket, stops start-up rather than being taken away.
The file is removed at stop, as Go's listener does when it closes.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import socket
import stat
from dataclasses import dataclass
from typing import Any

from shared.errors import ConfigError

UNIX_PREFIX = "unix:"
DEFAULT_MODE = 0o755


def socket_path(host: str) -> str | None:
    """The socket's path when `serve.<port>.host` names one, else None (a TCP interface)."""
    return host[len(UNIX_PREFIX) :] if host.startswith(UNIX_PREFIX) else None


@dataclass(frozen=True)
class SocketPermission:
    key: str  # `serve.<port>.socket`, for error lines
    owner: str = ""
    group: str = ""
    mode: int = DEFAULT_MODE

    @classmethod
    def from_settings(cls, settings: Any, port: str) -> SocketPermission:
        key = f"serve.{port}.socket"
        config = settings.get(key) or {}
        mode = config.get("mode")
        return cls(
            key=key,
            owner=str(config.get("owner") or ""),
            group=str(config.get("group") or ""),
            mode=DEFAULT_MODE if mode is None else int(mode),
        )

    def apply(self, path: str) -> None:
        os.chmod(path, self.mode)
        uid = self._uid() if self.owner else -1
        gid = self._gid() if self.group else -1
        if uid != -1 or gid != -1:
            os.chown(path, uid, gid)

    def _uid(self) -> int:
        try:
            return pwd.getpwnam(self.owner).pw_uid
        except KeyError:
            raise ConfigError(f"config: {self.key}.owner: there is no user named {self.owner!r}") from None

    def _gid(self) -> int:
        try:
            return grp.getgrnam(self.group).gr_gid
        except KeyError:
            raise ConfigError(f"config: {self.key}.group: there is no group named {self.group!r}") from None


def bound_socket(path: str, permission: SocketPermission) -> socket.socket:
    """A socket bound at `path` with its permission applied, not yet listening (the server that is
    given it listens)."""
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except BaseException:
        sock.close()
        raise
    try:
        permission.apply(path)
    except BaseException:
        sock.close()
        remove(path)
        raise
    return sock


def _clear_stale(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            remove(path)  # no one listens: left by a process that stopped without removing it
            return
    raise OSError(f"a server is already listening on {path}")


def remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
