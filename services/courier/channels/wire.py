"""An email as the bytes SMTP's DATA carries, built without `EmailMessage`.

`mime.build_email` (an `EmailMessage` on the standard library's default policy) parses every header
it is given into objects and then renders them again: about 4 ms of CPU per message, more than the
rest of a courier's work on it put together. The same message built on the `compat32` classes takes
a fraction of that. Non-ASCII text is encoded as the standard says (RFC 2047 words in headers,
quoted-printable bodies), so the result is 7-bit clean and needs no 8BITMIME from the server.

A message whose sender or recipient address is not ASCII (it needs SMTPUTF8, where headers are raw
UTF-8) takes `mime.build_email`'s path: compat32 would RFC 2047-encode the address, which breaks it.
"""

from __future__ import annotations

import email.charset
import email.policy
import io
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message as MimeMessage
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr

from aiosmtplib.email import flatten_message

from services.courier.channels.mime import OWN_HEADERS, build_email, message_id
from services.courier.config import Sender
from services.courier.domain import Message

_UTF8 = email.charset.Charset("utf-8")
_UTF8.body_encoding = email.charset.QP
_POLICY = email.policy.compat32.clone(linesep="\r\n")


def needs_smtputf8(message: Message, sender: Sender) -> bool:
    return not (sender.from_address + message.recipient).isascii()


def wire_email(message: Message, sender: Sender) -> bytes:
    if needs_smtputf8(message, sender):
        return flatten_message(build_email(message, sender), utf8=True)
    root: MimeMessage = _text(message.body, "plain")
    if message.html_body:
        root = MIMEMultipart("alternative", _subparts=[root, _text(message.html_body, "html")])
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
    BytesGenerator(out, policy=_POLICY).flatten(root)
    return out.getvalue()


def _text(text: str, subtype: str) -> MIMENonMultipart:
    """`MIMEText(text, subtype, charset)` with quoted-printable rather than its base64 for UTF-8."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part.set_payload(text, _UTF8)
    return part


def _header(value: str) -> str:
    # compat32 writes what it is given: a line break here would start a header of the caller's choosing.
    if "\r" in value or "\n" in value:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    return value if value.isascii() else Header(value, "utf-8").encode()
