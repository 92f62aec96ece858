"""Recovery by a chosen address (`feature_flags.choose_recovery_address`, Kratos's recovery v2): the
user names the account by one of its recovery addresses, picks one of its recovery addresses (shown masked, picked
by an opaque token), types it in full when it is not the address typed first, and types the code
that reached that address only, by mail (the real SMTP server) or by SMS (the courier's HTTP
channel to a sink on loopback). An identifier without an account is answered as an account with one
address is, and nothing is sent for it; nor for an address confirmed wrong, answered as a right one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ory_kratos_client as kratos
import pytest
import urllib3
from ory_kratos_client.api.frontend_api import FrontendApi

from tests.code_helpers import Native, SmsSink, sms_code
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_builtin_ui import BASE, inputs, open_page, submit, ui_config
from tests.mail_helpers import RECOVERY_UI, SETTINGS_UI, code_in, mail_config, wait_for_mail
from tests.selfservice_helpers import PASSWORD, Browser, as_dict, query_param, selfservice_settings
from tests.smtp import SmtpServer

SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/recovery-addresses.json",
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
                        "recovery": {"via": "email"},
                        "verification": {"via": "email"},
                    },
                },
                "phone": {
                    "type": "string",
                    "format": "tel",
                    "ory.sh/kratos": {"recovery": {"via": "sms"}, "verification": {"via": "sms"}},
                },
                "username": {"type": "string", "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}}},
            },
            "required": ["email"],
            "additionalProperties": False,
        }
    },
}
# An account whose one recovery address is its phone number; the username signs in (and recovers nothing).
PHONE_SCHEMA: dict[str, Any] = {
    **SCHEMA,
    "$id": "https://warden.test/schemas/recovery-phone.json",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "phone": SCHEMA["properties"]["traits"]["properties"]["phone"],
                "username": SCHEMA["properties"]["traits"]["properties"]["username"],
            },
            "required": ["phone", "username"],
            "additionalProperties": False,
        }
    },
}


def _settings(directory: Path, dsn: str, smtp: SmtpServer, sms: SmsSink, *, flag: bool = True, **extra: Any) -> Any:
    config = mail_config(smtp, use="code")
    config["courier"]["channels"] = _sms_channel(sms)
    config["identity"] = _schemas(directory)
    if flag:
        config["feature_flags"] = {"choose_recovery_address": True}
    return selfservice_settings(directory, dsn, **config, **extra)


def _sms_channel(sms: SmsSink) -> list[dict[str, Any]]:
    return [{"id": "sms", "type": "http", "request_config": {"url": sms.url, "method": "POST"}}]


def _schemas(directory: Path) -> dict[str, Any]:
    (directory / "recovery.schema.json").write_text(json.dumps(SCHEMA))
    (directory / "phone.schema.json").write_text(json.dumps(PHONE_SCHEMA))
    return {
        "default_schema_id": "recovery",
        "schemas": [
            {"id": "recovery", "url": f"file://{directory}/recovery.schema.json"},
            {"id": "phone", "url": f"file://{directory}/phone.schema.json"},
        ],
    }


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("recovery-choose-address")
    with running_warden(_settings(directory, f"sqlite://{directory}/warden.sqlite", smtp, sms)) as running:
        yield running


def _phone() -> str:
    return "+4915" + str(uuid.uuid4().int)[:9]


def _person(warden: ThreadedWarden, *, phone: bool = True, schema: str = "recovery") -> Any:
    """An identity with a password: by default an email address and a phone number to recover by;
    with `schema="phone"`, a phone number (its only recovery address) and a username."""
    tag = uuid.uuid4().hex[:10]
    traits = {"email": f"recover-{tag}@example.com"} if schema == "recovery" else {}
    if phone:
        traits["phone"] = _phone()
    if schema == "phone":
        traits["username"] = f"user{tag}"
    body = {"schema_id": schema, "traits": traits, "credentials": {"password": {"config": {"password": PASSWORD}}}}
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    return {**traits, "id": json.loads(created.data)["id"]}


def _start(native: Native) -> dict[str, Any]:
    started = native.get("/self-service/recovery/api")
    assert started.status == 200, started
    return dict(started.json())


def _post(native: Native, flow: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = native.post(f"/self-service/recovery?flow={flow['id']}", body)
    return answer.status, answer.json()


def _nodes(flow: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == name]


def _choices(flow: dict[str, Any]) -> dict[str, str]:
    """The choice buttons: masked label -> token."""
    return {n["meta"]["label"]["text"]: n["attributes"]["value"] for n in _nodes(flow, "recovery_select_address")}


def _shape(status: int, flow: dict[str, Any]) -> tuple[Any, ...]:
    """What an answer looks like with the flow's own values (ids, masked text, tokens) left out."""
    nodes = [(n["group"], n["attributes"]["name"], n["attributes"]["type"]) for n in flow["ui"]["nodes"]]
    return status, flow["state"], nodes, [m["id"] for m in flow["ui"].get("messages") or []]


def _confirmed(native: Native, choice: dict[str, Any], label: str, typed: str) -> tuple[int, dict[str, Any]]:
    """Picks the option labelled `label` (not the address typed first), then types `typed` in full."""
    status, confirm = _post(native, choice, {"method": "code", "recovery_select_address": _choices(choice)[label]})
    assert status == 200 and confirm["state"] == "recovery_confirming_address", confirm
    return _post(native, confirm, {"method": "code", "recovery_confirm_address": typed})


def _masked_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-2:]


def _message_ids(flow: dict[str, Any]) -> list[int]:
    return [m["id"] for m in flow["ui"].get("messages") or []]


def test_a_new_flow_asks_for_any_identifier_of_the_account(warden: ThreadedWarden) -> None:
    flow = _start(Native(warden.public_url))
    assert flow["state"] == "recovery_awaiting_address"
    [field] = _nodes(flow, "recovery_address")
    assert field["group"] == "code" and field["attributes"]["type"] == "text" and field["attributes"]["required"]
    assert field["meta"]["label"]["id"] == 1070016
    [button] = _nodes(flow, "method")
    assert button["attributes"]["value"] == "code" and button["meta"]["label"]["id"] == 1070009
    assert not _nodes(flow, "email"), "the v1 address field is not offered"


def test_api_the_code_goes_by_sms_to_the_chosen_phone_only_and_recovers(
    warden: ThreadedWarden, smtp: SmtpServer, sms: SmsSink
) -> None:
    person = _person(warden)
    native = Native(warden.public_url)
    flow = _start(native)
    status, choice = _post(native, flow, {"method": "code", "recovery_address": person["email"].upper()})
    assert status == 200 and choice["state"] == "recovery_awaiting_address_choice", choice
    assert _message_ids(choice) == [1060006]
    masked_phone = person["phone"][:3] + "****" + person["phone"][-2:]
    masked_email = person["email"][:2] + "****@example.com"
    assert list(_choices(choice)) == [masked_phone, masked_email], "sorted by address, as Kratos lists them"
    assert all(n["meta"]["label"]["id"] == 1070000 for n in _nodes(choice, "recovery_select_address"))
    shown = json.dumps([n for n in choice["ui"]["nodes"] if n["attributes"]["name"] != "recovery_address"])
    assert person["phone"] not in shown and person["email"] not in shown, "no address in full, but as typed"

    status, confirm = _post(
        native, choice, {"method": "code", "recovery_select_address": _choices(choice)[masked_phone]}
    )
    assert status == 200 and confirm["state"] == "recovery_confirming_address", confirm
    assert _message_ids(confirm) == [1060005] and sms.to(person["phone"]) == [], "not sent before it is typed"
    assert [(n["attributes"]["name"], n["attributes"]["type"]) for n in confirm["ui"]["nodes"]] == [
        ("recovery_confirm_address", "tel"),
        ("recovery_address", "hidden"),
        ("method", "submit"),
        ("method", "hidden"),
        ("screen", "submit"),
    ], "Kratos's confirm screen"
    [field] = _nodes(confirm, "recovery_confirm_address")
    assert field["group"] == "code" and field["attributes"]["required"] and field["meta"]["label"]["id"] == 1070017
    assert person["phone"] not in json.dumps(confirm)
    spaced = f"{person['phone'][:3]} {person['phone'][3:7]} {person['phone'][7:]}"  # as people type it
    status, sent = _post(native, confirm, {"method": "code", "recovery_confirm_address": spaced})
    assert status == 200 and sent["state"] == "recovery_awaiting_code", sent
    [message] = sent["ui"]["messages"]
    assert (message["id"], message["context"]) == (1060004, {"masked_address": masked_phone}), message
    [texted] = sms.wait_for(person["phone"])
    assert texted["template_type"] == "recovery_code_valid"

    status, done = _post(native, sent, {"method": "code", "code": sms_code(texted)})
    assert status == 200 and done["state"] == "passed_challenge", done
    assert [c["action"] for c in done["continue_with"]] == ["set_ory_session_token", "show_settings_ui"]
    token = done["continue_with"][0]["ory_session_token"]
    whoami = native.get("/sessions/whoami", {"X-Session-Token": token}).json()
    assert whoami["identity"]["id"] == person["id"]
    assert [m["method"] for m in whoami["authentication_methods"]] == ["code_recovery"]
    phone = next(a for a in whoami["identity"]["verifiable_addresses"] if a["via"] == "sms")
    assert phone["verified"], "the SMS reached its owner: the phone is proven"
    assert smtp.to(person["email"]) == [], "nothing went to the address not chosen"


def test_browser_named_by_phone_the_code_goes_by_mail_to_the_chosen_email_only(
    warden: ThreadedWarden, smtp: SmtpServer, sms: SmsSink
) -> None:
    person = _person(warden)
    browser = Browser(warden.public_url)
    started = browser.get("/self-service/recovery/browser")
    assert started.status == 303 and started.location.startswith(f"{RECOVERY_UI}?flow="), started
    flow_id = query_param(started.location, "flow")

    def fetched() -> dict[str, Any]:
        return dict(browser.get(f"/self-service/recovery/flows?id={flow_id}", as_json=True).json())

    flow = fetched()
    csrf = _nodes(flow, "csrf_token")[0]["attributes"]["value"]
    action = flow["ui"]["action"]
    named = browser.post(action, {"csrf_token": csrf, "method": "code", "recovery_address": person["phone"]})
    assert named.status == 303 and named.location == f"{RECOVERY_UI}?flow={flow_id}", named
    choice = fetched()
    assert choice["state"] == "recovery_awaiting_address_choice"
    token = _choices(choice)[person["email"][:2] + "****@example.com"]
    for typed in ("someone-else@example.com", person["email"].upper()):  # a wrong one first, then right
        chosen = browser.post(action, {"csrf_token": csrf, "method": "code", "recovery_select_address": token})
        assert chosen.status == 303 and fetched()["state"] == "recovery_confirming_address", chosen
        confirmed = browser.post(action, {"csrf_token": csrf, "method": "code", "recovery_confirm_address": typed})
        assert confirmed.status == 303 and confirmed.location == f"{RECOVERY_UI}?flow={flow_id}", confirmed
        sent = fetched()
        assert sent["state"] == "recovery_awaiting_code" and _message_ids(sent) == [1060004], sent
        if typed != person["email"].upper():
            assert smtp.to(person["email"]) == [] and smtp.to(typed) == [], "a wrong address gets nothing"
            back = browser.post(action, {"csrf_token": csrf, "method": "code", "screen": "previous"})
            assert back.status == 303 and fetched()["state"] == "recovery_awaiting_address_choice"
    code = code_in(wait_for_mail(smtp, person["email"])[-1])
    done = browser.post(action, {"csrf_token": csrf, "method": "code", "code": code})
    assert done.status == 303 and done.location.startswith(f"{SETTINGS_UI}?flow="), done
    assert "ory_kratos_session" in done.set_cookies
    assert sms.to(person["phone"]) == [], "nothing went to the phone not chosen"


def test_one_address_typed_in_full_gets_its_code_at_once(warden: ThreadedWarden, smtp: SmtpServer) -> None:
    """As Kratos: nothing to choose when the only address is the one typed."""
    person = _person(warden, phone=False)
    native = Native(warden.public_url)
    status, sent = _post(native, _start(native), {"method": "code", "recovery_address": person["email"]})
    assert status == 200 and sent["state"] == "recovery_awaiting_code", sent
    assert _message_ids(sent) == [1060004]
    [resend] = _nodes(sent, "recovery_select_address")
    assert resend["meta"]["label"]["id"] == 1070008 and resend["attributes"]["value"] != person["email"]
    assert [n["attributes"]["value"] for n in _nodes(sent, "recovery_address")] == [person["email"]], "as typed"
    code = code_in(wait_for_mail(smtp, person["email"])[-1])
    status, done = _post(native, sent, {"method": "code", "code": code})
    assert status == 200 and done["state"] == "passed_challenge", done


@pytest.mark.parametrize("schema,field", [("recovery", "email"), ("phone", "phone")])
def test_an_unknown_identifier_is_answered_as_an_account_with_one_address_and_gets_nothing(
    warden: ThreadedWarden, smtp: SmtpServer, sms: SmsSink, schema: str, field: str
) -> None:
    """Kratos pretends an unknown identifier is an address of its own: the code screen comes at once,
    naming it masked, as for an account whose one address was typed in full; no code goes anywhere,
    and a guess fails as a wrong code does."""
    known = _person(warden, phone=schema == "phone", schema=schema)
    unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.com" if field == "email" else _phone()
    native = Native(warden.public_url)
    answers = {}
    for name, typed in (("unknown", unknown), ("known", known[field])):
        answers[name] = _post(native, _start(native), {"method": "code", "recovery_address": typed})
    assert _shape(*answers["unknown"]) == _shape(*answers["known"]), "same state, nodes and messages"
    status, flow = answers["unknown"]
    assert status == 200 and flow["state"] == "recovery_awaiting_code", flow
    masked = "no****@example.com" if field == "email" else unknown[:3] + "****" + unknown[-2:]
    assert flow["ui"]["messages"][0]["context"] == {"masked_address": masked}
    # The known one's code arrives; the unknown one's screen takes no code.
    received = wait_for_mail(smtp, known["email"]) if field == "email" else sms.wait_for(known["phone"])
    assert len(received) == 1
    status, refused = _post(native, flow, {"method": "code", "code": "123456"})
    assert status == 200 and _message_ids(refused) == [4060006], refused
    assert smtp.to(unknown) == [] and sms.to(unknown) == []


def test_a_username_is_answered_as_an_unknown_identifier_and_gets_nothing(warden: ThreadedWarden, sms: SmsSink) -> None:
    """Kratos looks the identifier up among recovery addresses alone: a username (or any sign-in
    identifier that is no recovery address) is answered as one without an account, the code screen
    naming it masked and nothing sent, so the answer does not tell that the account exists or show
    its addresses."""
    person = _person(warden, schema="phone")
    native = Native(warden.public_url)
    answers = {}
    for name, typed in (("unknown", f"user{uuid.uuid4().hex[:10]}"), ("known", person["username"])):
        answers[name] = _post(native, _start(native), {"method": "code", "recovery_address": typed})
    assert _shape(*answers["known"]) == _shape(*answers["unknown"]), "same state, nodes and messages"
    status, flow = answers["known"]
    assert status == 200 and flow["state"] == "recovery_awaiting_code", flow
    assert flow["ui"]["messages"][0]["context"] == {
        "masked_address": person["username"][:3] + "****" + person["username"][-2:]
    }
    masked_phone = person["phone"][:3] + "****" + person["phone"][-2:]
    assert masked_phone not in json.dumps(flow["ui"]), "the account's phone number is not offered"
    status, refused = _post(native, flow, {"method": "code", "code": "123456"})
    assert status == 200 and _message_ids(refused) == [4060006], refused
    assert sms.to(person["phone"]) == []


@pytest.mark.parametrize(
    "value", ["not-a-token", "+4915112345678", "recover@example.com"], ids=["junk", "phone", "email"]
)
def test_a_value_that_is_no_option_of_the_flow_is_refused_and_sends_nothing(
    warden: ThreadedWarden, sms: SmsSink, value: str
) -> None:
    person = _person(warden)
    native = Native(warden.public_url)
    _, choice = _post(native, _start(native), {"method": "code", "recovery_address": person["email"]})
    for picked in (value, person["phone"], person["email"]):
        status, refused = _post(native, choice, {"method": "code", "recovery_select_address": picked})
        assert status == 400 and refused["state"] == "recovery_awaiting_address_choice", refused
        [message] = refused["ui"]["messages"]
        assert (message["id"], message["text"]) == (4000001, "The selected recovery address is not valid.")
    # Another flow's token is not this flow's option either.
    _, other = _post(native, _start(native), {"method": "code", "recovery_address": person["email"]})
    status, refused = _post(native, choice, {"method": "code", "recovery_select_address": _choices(other).popitem()[1]})
    assert status == 400 and _message_ids(refused) == [4000001]
    assert sms.to(person["phone"]) == [] and sms.to(value) == []


def test_missing_fields_and_another_method_are_form_errors(warden: ThreadedWarden) -> None:
    native = Native(warden.public_url)
    flow = _start(native)
    status, refused = _post(native, flow, {"method": "code"})
    assert status == 400 and refused["state"] == "recovery_awaiting_address", refused
    assert [m["id"] for m in _nodes(refused, "recovery_address")[0]["messages"]] == [4000002]
    status, refused = _post(native, flow, {"method": "link", "recovery_address": "x@example.com"})
    assert status == 400 and _message_ids(refused) == [4010005]
    person = _person(warden)
    _, choice = _post(native, flow, {"recovery_address": person["email"]})  # v2 reads the state, not `method`
    assert choice["state"] == "recovery_awaiting_address_choice", choice
    status, refused = _post(native, choice, {"method": "code"})
    assert status == 400 and _message_ids(refused) == [4000002]
    phone = _choices(choice)[_masked_phone(person["phone"])]
    _, confirm = _post(native, choice, {"method": "code", "recovery_select_address": phone})
    status, refused = _post(native, confirm, {"method": "code", "recovery_confirm_address": " "})
    assert status == 400 and refused["state"] == "recovery_confirming_address", refused
    assert [m["id"] for m in _nodes(refused, "recovery_confirm_address")[0]["messages"]] == [4000002]


@pytest.mark.parametrize("wrong", ["stranger", "address_typed_first"])
def test_a_wrong_confirmation_sends_nothing_and_is_answered_as_a_right_one(
    warden: ThreadedWarden, smtp: SmtpServer, sms: SmsSink, wrong: str
) -> None:
    """Kratos asks for the chosen address in full when it is not the one typed first; Warden sends the
    code only when what is typed is the chosen address. Anything else is answered as the right one is
    (the code screen naming what was typed, masked), and nothing goes anywhere, Resend included: the
    screen is no oracle for guessing the rest of a masked phone number."""
    person = _person(warden)
    typed = _phone() if wrong == "stranger" else person["email"]
    native = Native(warden.public_url)
    answers = {}
    for name, confirmation in (("wrong", typed), ("right", person["phone"])):
        _, choice = _post(native, _start(native), {"method": "code", "recovery_address": person["email"]})
        answers[name] = _confirmed(native, choice, _masked_phone(person["phone"]), confirmation)
    assert _shape(*answers["wrong"]) == _shape(*answers["right"]), "same state, nodes and messages"
    status, flow = answers["wrong"]
    masked = _masked_phone(typed) if wrong == "stranger" else typed[:2] + "****@example.com"
    assert status == 200 and flow["ui"]["messages"][0]["context"] == {"masked_address": masked}, flow
    [resend] = _nodes(flow, "recovery_select_address")
    status, resent = _post(native, flow, {"method": "code", "recovery_select_address": resend["attributes"]["value"]})
    assert status == 200 and resent["state"] == "recovery_awaiting_code", resent
    status, refused = _post(native, resent, {"method": "code", "code": "123456"})
    assert status == 200 and _message_ids(refused) == [4060006], refused
    assert len(sms.wait_for(person["phone"])) == 1, "the right confirmation's code only"
    assert sms.to(typed) == [] and smtp.to(typed) == [] and smtp.to(person["email"]) == []


def test_back_returns_to_the_choice_then_to_the_identifier(warden: ThreadedWarden, sms: SmsSink) -> None:
    person = _person(warden)
    native = Native(warden.public_url)
    _, choice = _post(native, _start(native), {"method": "code", "recovery_address": person["email"]})
    phone = next(t for label, t in _choices(choice).items() if label.startswith("+"))
    _, confirm = _post(native, choice, {"method": "code", "recovery_select_address": phone})
    [back] = _nodes(confirm, "screen")
    assert (back["attributes"]["value"], back["meta"]["label"]["id"]) == ("previous", 1060007)
    status, again = _post(native, confirm, {"method": "code", "screen": "previous"})
    assert status == 200 and again["state"] == "recovery_awaiting_address_choice", again
    _, sent = _confirmed(native, again, _masked_phone(person["phone"]), person["phone"])
    [back] = _nodes(sent, "screen")
    assert (back["attributes"]["value"], back["meta"]["label"]["id"]) == ("previous", 1060007)
    status, again = _post(native, sent, {"method": "code", "screen": "previous"})
    assert status == 200 and again["state"] == "recovery_awaiting_address_choice", again
    assert _choices(again) == _choices(choice)
    status, first = _post(native, again, {"method": "code", "screen": "previous"})
    assert status == 200 and first["state"] == "recovery_awaiting_address", first
    assert _nodes(first, "recovery_address")[0]["attributes"].get("value") is None
    assert len(sms.wait_for(person["phone"])) == 1


def test_resend_and_the_per_address_budget_apply_to_the_chosen_address(warden: ThreadedWarden, sms: SmsSink) -> None:
    """Every message to the chosen address spends from its budget (five per window, send_budget.py):
    past it the flow answers as if sent and nothing goes out. Only the newest code works."""
    person = _person(warden)
    native = Native(warden.public_url)
    _, choice = _post(native, _start(native), {"method": "code", "recovery_address": person["email"]})
    phone = _choices(choice)[_masked_phone(person["phone"])]
    _, flow = _confirmed(native, choice, _masked_phone(person["phone"]), person["phone"])
    for _ in range(6):  # Resend: to the address as confirmed, not asked again
        status, flow = _post(native, flow, {"method": "code", "recovery_select_address": phone})
        assert status == 200 and flow["state"] == "recovery_awaiting_code", flow
    texts = sms.wait_for(person["phone"], 5)
    assert len(sms.to(person["phone"])) == 5, "the sixth and seventh were not sent"
    status, refused = _post(native, flow, {"method": "code", "code": sms_code(texts[0])})
    assert status == 200 and _message_ids(refused) == [4060006], "a resend ends the earlier code"


def test_the_per_client_code_send_limit_counts_the_chosen_address(
    tmp_path: Path, smtp: SmtpServer, sms: SmsSink
) -> None:
    windows = {"code_send": {"limit": 1, "window": "1h"}, "recovery": {"limit": 100, "window": "1h"}}
    settings = _settings(
        tmp_path, f"sqlite://{tmp_path}/warden.sqlite", smtp, sms, rate_limits={"enabled": True, "per_ip": windows}
    )
    with running_warden(settings) as warden:
        person = _person(warden)
        native = Native(warden.public_url)
        _, choice = _post(native, _start(native), {"method": "code", "recovery_address": person["email"]})
        assert choice["state"] == "recovery_awaiting_address_choice", "choosing sends nothing, counts nothing"
        token = _choices(choice)[person["email"][:2] + "****@example.com"]
        status, sent = _post(native, choice, {"method": "code", "recovery_select_address": token})
        assert status == 200 and sent["state"] == "recovery_awaiting_code", sent
        answer = native.post(f"/self-service/recovery?flow={sent['id']}", {"recovery_select_address": token})
        assert answer.status == 429 and int(answer.headers["Retry-After"]) > 0, answer
        assert len(wait_for_mail(smtp, person["email"])) == 1


def test_the_kratos_sdk_walks_the_three_screens(warden: ThreadedWarden, smtp: SmtpServer) -> None:
    """A native app on Kratos's own client: its `UpdateRecoveryFlowWithCodeMethod` carries the v2 fields."""
    person = _person(warden)
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        frontend = FrontendApi(client)
        flow = frontend.create_native_recovery_flow()
        assert flow.state == "recovery_awaiting_address"

        def update(**fields: str) -> dict[str, Any]:
            body = kratos.UpdateRecoveryFlowBody(kratos.UpdateRecoveryFlowWithCodeMethod(method="code", **fields))
            return as_dict(frontend.update_recovery_flow(flow.id, body))

        choice = update(recovery_address=person["email"])
        sent = update(recovery_select_address=_choices(choice)[person["email"][:2] + "****@example.com"])
        assert sent["state"] == "recovery_awaiting_code", sent
        done = update(code=code_in(wait_for_mail(smtp, person["email"])[-1]))
        assert done["state"] == "passed_challenge" and done["continue_with"], done


def test_an_operator_s_code_still_opens_the_code_form(warden: ThreadedWarden) -> None:
    """`POST /admin/recovery/code` makes a flow that waits for the code, whatever the flag: the
    operator hands the code over, no address is chosen."""
    person = _person(warden)
    body = {"identity_id": person["id"], "flow_type": "api"}
    created = urllib3.request("POST", f"{warden.admin_url}/admin/recovery/code", json=body)
    assert created.status == 201, created.data
    given = json.loads(created.data)
    native = Native(warden.public_url)
    flow = native.get(f"/self-service/recovery/flows?id={query_param(given['recovery_link'], 'flow')}").json()
    assert flow["state"] == "sent_email" and not _nodes(flow, "recovery_select_address"), flow
    status, done = _post(native, flow, {"method": "code", "code": given["recovery_code"]})
    assert status == 200 and done["state"] == "passed_challenge", done


@contextmanager
def _on(directory: Path, smtp: SmtpServer, sms: SmsSink, *, flag: bool) -> Iterator[ThreadedWarden]:
    with running_warden(_settings(directory, f"sqlite://{directory}/warden.sqlite", smtp, sms, flag=flag)) as w:
        yield w


def test_a_flow_keeps_the_kind_it_was_made_as_when_the_flag_changes(
    tmp_path: Path, smtp: SmtpServer, sms: SmsSink
) -> None:
    """Kratos decides v1 or v2 when it makes the flow: the flag can go back and forth."""
    with _on(tmp_path, smtp, sms, flag=True) as warden:
        person = _person(warden, phone=False)
        v2 = _start(Native(warden.public_url))
    with _on(tmp_path, smtp, sms, flag=False) as warden:
        native = Native(warden.public_url)
        v1 = _start(native)
        assert v1["state"] == "choose_method" and _nodes(v1, "email"), v1
        status, sent = _post(native, v2, {"method": "code", "recovery_address": person["email"]})
        assert status == 200 and sent["state"] == "recovery_awaiting_code", sent
        code = code_in(wait_for_mail(smtp, person["email"])[-1])
    with _on(tmp_path, smtp, sms, flag=True) as warden:
        native = Native(warden.public_url)
        status, done = _post(native, sent, {"method": "code", "code": code})
        assert status == 200 and done["state"] == "passed_challenge", done
        status, v1_sent = _post(native, v1, {"method": "code", "email": person["email"]})
        assert status == 200 and v1_sent["state"] == "sent_email", v1_sent


def test_the_built_in_ui_renders_each_screen(tmp_path: Path, smtp: SmtpServer, sms: SmsSink) -> None:
    """The built-in UI renders nodes generically: the identifier form, a button per masked address
    (the phone number never on the page), the chosen phone asked for in full, the code form with
    Resend and Back, then settings."""
    config = ui_config()
    mail = mail_config(smtp, use="code")
    config["selfservice"]["flows"]["recovery"].update(enabled=True, use="code")
    config["selfservice"]["methods"] = mail["methods"]
    config["courier"] = {**mail["courier"], "channels": _sms_channel(sms)}
    config["identity"] = _schemas(tmp_path)
    config["feature_flags"] = {"choose_recovery_address": True}
    with running_warden(settings_for(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", config)) as warden:
        person = _person(warden)
        browser = Browser(warden.public_url)
        _, first = open_page(browser, "/ui/recovery")
        form = first.form("recovery_address")
        assert first.labels["code-recovery_address"] == "Recovery address"
        assert [(b["name"], b["value"]) for b in form["buttons"]] == [("method", "code")]

        response, second = open_page(browser, submit(browser, form, {"recovery_address": person["email"]}).location)
        assert "How do you want to recover your account?" in second.text
        masked_phone = person["phone"][:3] + "****" + person["phone"][-2:]
        assert masked_phone in second.text and "re****@example.com" in second.text
        assert person["phone"] not in response.data.decode(), "the phone number is never on the page"
        [choices] = second.forms
        phone, email, back = choices["buttons"]
        assert (phone["name"], email["name"], back["name"], back["value"]) == (
            "recovery_select_address",
            "recovery_select_address",
            "screen",
            "previous",
        )
        body = {i["name"]: i.get("value", "") for i in choices["inputs"]} | {phone["name"]: phone["value"]}
        _, confirm = open_page(browser, browser.post(choices["action"], body).location)
        assert "Recover access to your account by providing your recovery address in full." in confirm.text
        confirm_form = confirm.form("recovery_confirm_address")
        assert inputs(confirm_form)["recovery_confirm_address"]["type"] == "tel"
        assert confirm.labels["code-recovery_confirm_address"] == "Phone number"
        assert [(b["name"], b["value"]) for b in confirm_form["buttons"]] == [
            ("method", "code"),
            ("screen", "previous"),
        ]
        confirmed = submit(browser, confirm_form, {"recovery_confirm_address": person["phone"]})
        _, third = open_page(browser, confirmed.location)
        assert f"A recovery code has been sent to {masked_phone}." in third.text
        code_form = third.form("code")
        assert inputs(code_form)["code"]["autocomplete"] == "one-time-code"
        labels = [b["name"] for b in code_form["buttons"]]
        assert labels == ["method", "recovery_select_address", "screen"], "Continue, Resend, Back"
        done = submit(browser, code_form, {"code": sms_code(sms.wait_for(person["phone"])[-1])})
        assert done.status == 303 and done.location.startswith(f"{BASE}ui/settings?flow="), done
        assert smtp.to(person["email"]) == []
