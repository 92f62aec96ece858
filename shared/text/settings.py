"""Settings texts (1050xxx) and errors (4050xxx), `text/message_settings.go`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.text.message import (
    Message,
    error,
    flow_expired,
    go_time_json,
    go_time_string,
    info,
    success,
    unix,
)


def settings_saved() -> Message:
    return success(1050001, "Your changes have been saved!")


def link_provider(provider: str) -> Message:
    return info(1050002, f"Link {provider}", {"provider": provider})


def unlink_provider(provider: str) -> Message:
    return info(1050003, f"Unlink {provider}", {"provider": provider})


def unlink_totp() -> Message:
    return info(1050004, "Unlink TOTP Authenticator App")


def totp_qr_code() -> Message:
    return info(1050005, "Authenticator app QR code")


def totp_secret(secret: str) -> Message:
    return info(1050006, secret, {"secret": secret})


def reveal_lookup_codes() -> Message:
    return info(1050007, "Reveal backup recovery codes")


def regenerate_lookup_codes() -> Message:
    return info(1050008, "Generate new backup recovery codes")


def lookup_code(secret: str) -> Message:
    return info(1050009, secret, {"secret": secret})


def label_lookup_codes() -> Message:
    return info(1050010, "These are your back up recovery codes. Please keep them in a safe place!")


def confirm_lookup_codes() -> Message:
    return info(1050011, "Confirm backup recovery codes")


def add_security_key() -> Message:
    return info(1050012, "Add security key")


def label_security_key_name() -> Message:
    return info(1050013, "Name of the security key")


def lookup_code_used(used_at: datetime) -> Message:
    context = {"used_at": go_time_json(used_at), "used_at_unix": unix(used_at)}
    return info(1050014, f"Secret was used at {go_time_string(used_at)}", context)


def lookup_code_list(codes: Sequence[Message]) -> Message:
    """The codes as 1050009 (unused) or 1050014 (used) messages, joined as Kratos does."""
    return info(1050015, ", ".join(code.text for code in codes), {"secrets": [code.to_json() for code in codes]})


def disable_lookup_codes() -> Message:
    return info(1050016, "Disable this method")


def label_totp_secret() -> Message:
    return info(1050017, "This is your authenticator app secret. Use it if you can not scan the QR code.")


def remove_security_key(display_name: str, added_at: datetime) -> Message:
    return info(1050018, f'Remove security key "{display_name}"', _added(display_name, added_at))


def add_passkey() -> Message:
    return info(1050019, "Add passkey")


def remove_passkey(display_name: str, added_at: datetime) -> Message:
    return info(1050020, f'Remove passkey "{display_name}"', _added(display_name, added_at))


def settings_flow_expired(expired_at: datetime, now: datetime) -> Message:
    return flow_expired(4050001, "settings", expired_at, now)


def one_address_at_a_time() -> Message:
    return error(4050002, "You can only change one address at a time. Please update each address separately.")


def _added(display_name: str, added_at: datetime) -> dict[str, object]:
    return {"display_name": display_name, "added_at": go_time_json(added_at), "added_at_unix": unix(added_at)}


def lookup_codes_exhausted() -> Message:
    """Warden's own (Kratos has no such message): the last backup recovery code was just used."""
    return info(
        1050099, "You have used your last backup recovery code. Please generate new backup recovery codes in settings."
    )
