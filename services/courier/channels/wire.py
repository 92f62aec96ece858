"""An email as the bytes SMTP's DATA carries, built without `EmailMessage`.

`mime.build_email` (an `EmailMessage` on the standard library's default policy) parses every header
it is given into objects and then renders them again: about 4 ms of CPU per message, more than the
rest of a courier's work on it put together. The same message built on the `compat32` classes takes
a fraction of that. Non-ASCII text is encoded as the standard says (RFC 2047 words in headers,
quoted-printable bodies), so the result is 7-bit clean and needs no 8BITMIME from the server.

A message whose sender or recipient address is not ASCII (it needs SMTPUTF8, where headers are raw
UTF-8) takes `mime.build_email`'s path: compat32 would RFC 2047-encode the address, which breaks it.

Three of compat32's own costs are left out too, each about a tenth of a courier's CPU per message:
a `Header` object made to fold each of some eleven headers, though a header that fits on its line
comes out as it went in; a regular expression compiled for every message to check that the boundary
it picked at random appears in no part (a boundary holding "==" cannot: quoted-printable writes "="
only before two hex digits or a line break); and each text part's charset parameter parsed back
and written again after it was set.
"""

from __future__ import annotations

import email.charset
import io
import secrets
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message as MimeMessage
from email.policy import Compat32
from email.utils import format_datetime, formataddr

from aiosmtplib.email import flatten_message

from services.courier.channels.mime import OWN_HEADERS, build_email, message_id
from services.courier.config import Sender
from services.courier.domain import Message

_UTF8 = email.charset.Charset("utf-8")
_UTF8.body_encoding = email.charset.QP


class _ShortHeadersAsTheyAre(Compat32):
    """compat32 that writes a header fitting on one line without folding it through a `Header`:
    what that gives back for such a header is the header as it is (tests/unit/test_courier_channels.py)."""

    def fold_binary(self, name: str, value: str) -> bytes:
        limit = self.max_line_length or 78  # what `Header` takes None for
        plain = isinstance(value, str) and value.isascii() and "\r" not in value and "\n" not in value
        if plain and len(name) + 2 + len(value) <= limit:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


WIRE_POLICY = _ShortHeadersAsTheyAre(linesep="\r\n")


def needs_smtputf8(message: Message, sender: Sender) -> bool:
    return not (sender.from_address + message.recipient).isascii()


def wire_email(message: Message, sender: Sender) -> bytes:
    if needs_smtputf8(message, sender):
        return flatten_message(build_email(message, sender), utf8=True)
    root = _text(message.body, "plain")
    if message.html_body:
        root = _alternatives(root, _text(message.html_body, "html"))
    name = sender.from_name
    root["From"] = formataddr((name, sender.from_address), charset="utf-8") if name else sender.from_address
    root["To"] = message.recipient
    root["Subject"] = _header(message.subject)
    root["Date"] = format_datetime(message.created_at)
    root["Message-ID"] = message_id(message, sender)
    for header, value in sender.headers.items():
        if header.lower() not in OWN_HEADERS:
            root[header] = _header(value)
    out = io.BytesIO()
    BytesGenerator(out, policy=WIRE_POLICY).flatten(root)
    return out.getvalue()


def _text(text: str, subtype: str) -> MimeMessage:
    """`MIMEText(text, subtype, "utf-8")`, but quoted-printable rather than its base64 for UTF-8."""
    part = MimeMessage()
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["MIME-Version"] = "1.0"
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(_UTF8.body_encode(text))
    return part


def _alternatives(*parts: MimeMessage) -> MimeMessage:
    root = MimeMessage()
    # Random, and with "==", which a quoted-printable part never holds; short enough for the header
    # to fit on its line.
    root["Content-Type"] = f'multipart/alternative; boundary="=_{secrets.token_hex(12)}=="'
    root["MIME-Version"] = "1.0"
    for part in parts:
        root.attach(part)
    return root


def _header(value: str) -> str:
    # compat32 writes what it is given: a line break here would start a header of the caller's choosing.
    if "\r" in value or "\n" in value:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    return value if value.isascii() else Header(value, "utf-8").encode()
