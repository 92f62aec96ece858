"""An email message as it goes over SMTP (and into the dev mail folder)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from services.courier.config import Sender
from services.courier.domain import Message

# Headers the courier sets itself; `courier.smtp.headers` cannot replace them.
OWN_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}


def build_email(message: Message, sender: Sender) -> EmailMessage:
    email = EmailMessage()
    email["From"] = formataddr((sender.from_name, sender.from_address)) if sender.from_name else sender.from_address
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message_id(message, sender)
    for name, value in sender.headers.items():
        if name.lower() not in OWN_HEADERS:
            email[name] = value
    email.set_content(message.body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    return email


def message_id(message: Message, sender: Sender) -> str:
    """The same Message-ID on every try: a server that got a message twice (a crash after the send,
    before it was recorded) can tell it is one message."""
    domain = sender.from_address.rpartition("@")[2] or "localhost"
    return f"<{message.id}@{domain}>"
