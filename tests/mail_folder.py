"""Reading the development mail folder (`services.courier.mail_dir`, `./.warden/mail/` by default)
as a person reads their inbox: the mails to one address, oldest first, parsed like the SMTP sink's."""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from tests.smtp import Received


def mails_to(folder: Path, recipient: str) -> list[Received]:
    found = []
    for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["To"]) == recipient:
            found.append(Received(str(message["From"]), [recipient], message))
    return found


def wait_for_mails(folder: Path, recipient: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
    """The mails to `recipient`, once at least `count` are in the folder."""
    deadline = time.monotonic() + timeout
    while len(found := mails_to(folder, recipient)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} mails to {recipient} in {folder} within {timeout}s")
        time.sleep(0.05)
    return found
