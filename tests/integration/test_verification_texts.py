"""Verification by SMS after a sign-up and after a settings change, as Kratos's verification hook
does it (`hook/verification.go`, the code strategy's `SendVerificationCode`): with the code method
every unverified address gets a verification flow and a code, a phone number (`verification.via:
sms`) by the courier's SMS channel (an HTTP sink on loopback here); with the link method a phone
number gets nothing, since a link goes by mail only.

Each flow is named by a `show_verification_ui` item with its address, shows what was sent (1080003
for a mail, 1080004 and a Resend button named `sms` for a text), and takes only its own code."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.code_helpers import Native, SmsSink, sms_code
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_builtin_ui import UI, ui_config
from tests.mail_folder import wait_for_mails
from tests.mail_helpers import code_in
from tests.selfservice_helpers import PASSWORD, message_ids, node

# An account signing in by email, with a phone number to verify too.
SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/email-phone.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "email": {
                    "type": "string",
                    "format": "email",
                    "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": True}},
                        "verification": {"via": "email"},
                    },
                },
                "phone": {"type": "string", "format": "tel", "ory.sh/kratos": {"verification": {"via": "sms"}}},
            },
            "required": ["email", "phone"],
            "additionalProperties": False,
        }
    },
}


# Each client may cause this many code or link messages a window (rate_limits.per_ip.code_send).
SENDS_PER_CLIENT = 2


@pytest.fixture(scope="module", params=["code", "link"])
def warden(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sms: SmsSink
) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp(f"verification-texts-{request.param}")
    with running_warden(
        settings_for(directory, f"sqlite://{directory}/warden.sqlite", _config(directory, request.param, sms))
    ) as running:
        yield running


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, sms: SmsSink) -> Iterator[ThreadedWarden]:
    """Verification by code, with the per-client limits on (the other tests make more flows from
    127.0.0.1 than a client may)."""
    directory: Path = tmp_path_factory.mktemp("verification-texts-limited")
    config = _config(directory, "code", sms)
    config["rate_limits"] = {"enabled": True, "per_ip": {"code_send": {"limit": SENDS_PER_CLIENT, "window": "1h"}}}
    with running_warden(settings_for(directory, f"sqlite://{directory}/warden.sqlite", config)) as running:
        yield running


def _config(directory: Path, use: str, sms: SmsSink) -> dict[str, Any]:
    config: dict[str, Any] = ui_config()
    flows = config["selfservice"]["flows"]
    flows["verification"].update(enabled=True, use=use)
    flows["registration"]["after"] = {"password": {"hooks": [{"hook": "session"}, {"hook": "show_verification_ui"}]}}
    config["selfservice"]["methods"] = {method: {"enabled": True} for method in ("password", "code", "link")}
    config["courier"] = {
        "channels": [{"id": "sms", "type": "http", "request_config": {"url": sms.url, "method": "POST"}}]
    }
    (directory / "email-phone.schema.json").write_text(json.dumps(SCHEMA))
    config["identity"] = {
        "default_schema_id": "email-phone",
        "schemas": [{"id": "email-phone", "url": f"file://{directory}/email-phone.schema.json"}],
    }
    return config


@pytest.fixture
def mail_dir(warden: ThreadedWarden) -> Path:
    return Path(warden.process.settings.get("services.courier.mail_dir"))


def _by_code(warden: ThreadedWarden) -> bool:
    return warden.process.settings.get("selfservice.flows.verification.use") == "code"


def _phone() -> str:
    return "+4915" + str(uuid.uuid4().int)[:9]


def _sign_up(native: Native, email: str, phone: str) -> dict[str, Any]:
    """A sign-up by password in an app; Warden's answer (identity, session token, continue_with)."""
    flow = native.get("/self-service/registration/api").json()
    body = {"method": "password", "traits": {"email": email, "phone": phone}, "password": PASSWORD}
    registered = native.post(f"/self-service/registration?flow={flow['id']}", body)
    assert registered.status == 200, registered
    answer: dict[str, Any] = registered.json()
    return answer


def _shown(answer: dict[str, Any]) -> dict[str, str]:
    """The verification flows the answer names, by their address: {address: flow id}."""
    items = [c for c in answer.get("continue_with") or [] if c["action"] == "show_verification_ui"]
    for item in items:
        assert item["flow"]["url"] == f"{UI}verification?flow={item['flow']['id']}", item
    return {item["flow"]["verifiable_address"]: item["flow"]["id"] for item in items}


def _verified(warden: ThreadedWarden, identity_id: str) -> dict[str, bool]:
    fetched = urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}")
    assert fetched.status == 200, fetched.data
    return {a["value"]: a["verified"] for a in json.loads(fetched.data)["verifiable_addresses"]}


def _courier_messages_to(warden: ThreadedWarden, recipient: str) -> list[dict[str, Any]]:
    listed = urllib3.request("GET", f"{warden.admin_url}/admin/courier/messages", fields={"recipient": recipient})
    assert listed.status == 200, listed.data
    messages: list[dict[str, Any]] = json.loads(listed.data)
    return messages


def _submit_code(native: Native, flow_id: str, code: str) -> dict[str, Any]:
    answer = native.post(f"/self-service/verification?flow={flow_id}", {"method": "code", "code": code})
    assert answer.status == 200, answer
    flow: dict[str, Any] = answer.json()
    return flow


def _nothing_texted(warden: ThreadedWarden, mail_dir: Path, sms: SmsSink, phone: str) -> None:
    """No text to `phone`, once a later sign-up's mail has come (the courier takes the events in
    order, so a message for `phone` would be stored by then)."""
    marker = f"marker-{uuid.uuid4().hex[:10]}@example.com"
    _sign_up(Native(warden.public_url), marker, _phone())
    wait_for_mails(mail_dir, marker)
    assert _courier_messages_to(warden, phone) == [] and sms.to(phone) == []


def test_a_sign_up_mails_the_email_address_and_texts_the_phone_number_each_its_own_code(
    warden: ThreadedWarden, mail_dir: Path, sms: SmsSink
) -> None:
    native, email, phone = Native(warden.public_url), f"both-{uuid.uuid4().hex[:10]}@example.com", _phone()
    answer = _sign_up(native, email, phone)
    identity_id, flows = answer["identity"]["id"], _shown(answer)
    [mail] = wait_for_mails(mail_dir, email)
    if not _by_code(warden):
        assert list(flows) == [email], "a link goes by mail only: no flow for the phone number"
        _nothing_texted(warden, mail_dir, sms, phone)
        return
    assert set(flows) == {email, phone}, answer

    by_mail = native.get(f"/self-service/verification/flows?id={flows[email]}").json()
    assert by_mail["state"] == "sent_email" and message_ids(by_mail) == [1080003], by_mail
    assert node(by_mail, "email")["attributes"]["value"] == email
    by_text = native.get(f"/self-service/verification/flows?id={flows[phone]}").json()
    assert by_text["state"] == "sent_email" and message_ids(by_text) == [1080004], by_text
    resend = node(by_text, "sms")["attributes"]
    assert (resend["type"], resend["value"]) == ("submit", phone), "resend, to that number"
    [text] = sms.wait_for(phone)
    assert text["template_type"] == "verification_code_valid", text
    resent = native.post(f"/self-service/verification?flow={flows[phone]}", {"method": "code", "sms": phone})
    assert resent.status == 200 and message_ids(resent.json()) == [1080004], resent
    [_, text] = sms.wait_for(phone, 2)

    # Each flow takes its own code only.
    refused = _submit_code(native, flows[email], sms_code(text))
    assert refused["state"] == "sent_email" and message_ids(refused) == [4070006], refused
    done = _submit_code(native, flows[phone], sms_code(text))
    assert done["state"] == "passed_challenge" and message_ids(done) == [1080005], done
    assert _verified(warden, identity_id) == {email: False, phone: True}
    done = _submit_code(native, flows[email], code_in(mail))
    assert done["state"] == "passed_challenge" and message_ids(done) == [1080002], done
    assert _verified(warden, identity_id) == {email: True, phone: True}


def test_a_settings_change_of_the_phone_number_texts_the_new_number(
    warden: ThreadedWarden, mail_dir: Path, sms: SmsSink
) -> None:
    native, email = Native(warden.public_url), f"set-{uuid.uuid4().hex[:10]}@example.com"
    phone, new = _phone(), _phone()
    signed_up = _sign_up(native, email, phone)  # and signed in a moment ago: a privileged session
    token = {"X-Session-Token": signed_up["session_token"]}
    flow = native.get("/self-service/settings/api", token).json()
    body = {"method": "profile", "traits": {"email": email, "phone": new}}
    changed = native.post(f"/self-service/settings?flow={flow['id']}", body, token)
    assert changed.status == 200, changed
    flows = _shown(changed.json())
    if not _by_code(warden):
        assert flows == {}, changed.json()
        _nothing_texted(warden, mail_dir, sms, new)
        return
    assert list(flows) == [new], "the new number only: the email address is as it was"
    verification = native.get(f"/self-service/verification/flows?id={flows[new]}").json()
    assert message_ids(verification) == [1080004] and node(verification, "sms")["attributes"]["value"] == new
    [text] = sms.wait_for(new)
    done = _submit_code(native, flows[new], sms_code(text))
    assert done["state"] == "passed_challenge" and message_ids(done) == [1080005], done
    assert _verified(warden, signed_up["identity"]["id"]) == {email: False, new: True}


def test_settings_changes_text_no_more_numbers_than_the_clients_code_send_window_allows(
    limited: ThreadedWarden, sms: SmsSink
) -> None:
    """SMS pumping: each settings change of the phone number texts the new number, and settings
    submissions have no per-client window of their own. One account, signed in once, could have
    Warden text as many numbers of its choosing (premium-rate ones) as it can post changes. The
    messages a settings change causes count on the client's `code_send` window, as the docs of
    `rate_limits.per_ip.code_send` say every code a client causes to be sent does; past it, the change
    is kept and nothing is sent (as past an address's own send budget)."""
    native, email = Native(limited.public_url), f"pump-{uuid.uuid4().hex[:10]}@example.com"
    token = {"X-Session-Token": _sign_up(native, email, _phone())["session_token"]}
    numbers = [_phone() for _ in range(SENDS_PER_CLIENT + 2)]
    shown = []
    for number in numbers:
        flow = native.get("/self-service/settings/api", token).json()
        body = {"method": "profile", "traits": {"email": email, "phone": number}}
        changed = native.post(f"/self-service/settings?flow={flow['id']}", body, token)
        assert changed.status == 200 and changed.json()["identity"]["traits"]["phone"] == number, changed
        shown.append(list(_shown(changed.json())))
    assert shown == [[n] for n in numbers[:SENDS_PER_CLIENT]] + [[]] * 2, shown
    sms.wait_for(numbers[SENDS_PER_CLIENT - 1])
    mail_dir = Path(limited.process.settings.get("services.courier.mail_dir"))
    for number in numbers[SENDS_PER_CLIENT:]:
        _nothing_texted(limited, mail_dir, sms, number)
