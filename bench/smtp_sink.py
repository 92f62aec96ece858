"""A local SMTP server that accepts everything and prints one line per message: its Message-ID.

    .venv/bin/python bench/smtp_sink.py --port 2525

It runs as a process of its own, so that what it costs is not charged to whoever sends to it, nor
shares an interpreter lock with them. It prints `ready` once it listens. The benchmark reading its
output counts the lines, and the ids tell a message sent twice from two messages.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class Handler:
    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        found = _MESSAGE_ID.search(envelope.original_content or envelope.content or b"")
        sys.stdout.write((found.group(1).decode() if found else "-") + "\n")
        sys.stdout.flush()
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    controller = Controller(Handler(), hostname="127.0.0.1", port=args.port)
    controller.start()
    print("ready", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
