"""What a live Warden answers where a client strays from the code method's happy path, as Kratos's
`code/strategy_login.go` and `strategy_registration.go` answer it: a sign-in code entered with
another account's identifier signs no one in (4010008), a sign-in code without any identifier and a
registration code without the traits are missing properties (4000002), and a flow past its fifth
try is "submitted too often" (4000001), the right code included."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.code_helpers import CodeStack, SmsSink, code_config
from tests.factories import running_warden
from tests.selfservice_helpers import create_identity, message_ids, selfservice_settings
from tests.smtp import SmtpServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[CodeStack]:
    sms = SmsSink()
    directory = tmp_path_factory.mktemp("code-answers")
    settings = selfservice_settings(directory, f"sqlite://{directory}/w.sqlite", **code_config(smtp, sms))
    with running_warden(settings) as warden:
        yield CodeStack(warden, smtp, sms)
    sms.close()


def _email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def _whoami(stack: CodeStack, token: str) -> int:
    return stack.native.get("/sessions/whoami", {"X-Session-Token": token}).status


def _login_code_sent_to(stack: CodeStack, email: str) -> tuple[str, str]:
    """A native login flow that mailed a code to `email`: the flow's id and the code."""
    flow = stack.native.get("/self-service/login/api").json()
    sent = stack.native.post(f"/self-service/login?flow={flow['id']}", {"method": "code", "identifier": email})
    assert sent.status == 400 and sent.json()["state"] == "sent_email", sent.data
    return str(flow["id"]), stack.mailed_code(email)


@pytest.mark.parametrize("field", ["identifier", "address"])
def test_a_login_code_entered_with_another_account_s_identifier_signs_no_one_in(stack: CodeStack, field: str) -> None:
    """Kratos looks up the account the second step names and uses the flow's code only if it was
    sent to that account (`loginVerifyCode`, `UseLoginCode(flow, identity, code)`): 4010008, and the
    code still works for the account it went to."""
    victim, other = _email("victim"), _email("other")
    create_identity(stack.warden.admin_url, victim)
    create_identity(stack.warden.admin_url, other)
    flow_id, code = _login_code_sent_to(stack, victim)
    crossed = stack.native.post(f"/self-service/login?flow={flow_id}", {"method": "code", "code": code, field: other})
    assert crossed.status == 400 and message_ids(crossed.json()) == [4010008], crossed.data
    assert "session_token" not in crossed.json()
    right = stack.native.post(f"/self-service/login?flow={flow_id}", {"method": "code", "code": code, field: victim})
    assert right.status == 200, right.data
    assert right.json()["session"]["identity"]["traits"]["email"] == victim
    assert _whoami(stack, right.json()["session_token"]) == 200


def test_a_login_code_entered_with_an_identifier_no_account_has_is_the_same_4010008(stack: CodeStack) -> None:
    """Kratos answers 4000035 here; Warden answers as for a wrong code, so that the second step
    does not tell which identifiers have an account (DESIGN §9)."""
    victim = _email("victim")
    create_identity(stack.warden.admin_url, victim)
    flow_id, code = _login_code_sent_to(stack, victim)
    body = {"method": "code", "code": code, "identifier": _email("nobody")}
    crossed = stack.native.post(f"/self-service/login?flow={flow_id}", body)
    assert crossed.status == 400 and message_ids(crossed.json()) == [4010008], crossed.data


def test_the_same_account_by_another_spelling_of_its_identifier_signs_in(stack: CodeStack) -> None:
    """It is the account that must match, not the string: Kratos folds an email's case."""
    email = _email("spelled")
    create_identity(stack.warden.admin_url, email)
    flow_id, code = _login_code_sent_to(stack, email)
    body = {"method": "code", "code": code, "identifier": email.upper()}
    signed_in = stack.native.post(f"/self-service/login?flow={flow_id}", body)
    assert signed_in.status == 200, signed_in.data


def _registration_code_sent(stack: CodeStack, email: str) -> tuple[str, str]:
    flow = stack.native.get("/self-service/registration/api").json()
    body: dict[str, Any] = {"method": "code", "traits": {"email": email}}
    sent = stack.native.post(f"/self-service/registration?flow={flow['id']}", body)
    assert sent.status == 400 and sent.json()["state"] == "sent_email", sent.data
    return str(flow["id"]), stack.mailed_code(email)


def test_a_registration_code_without_the_traits_is_a_missing_property(stack: CodeStack) -> None:
    """Kratos's `registrationVerifyCode`: `len(p.Traits) == 0` is `NewRequiredError("#/traits")`,
    a validation error in the flow, before the code is tried; the flow is still good afterwards."""
    email = _email("signup")
    flow_id, code = _registration_code_sent(stack, email)
    bare = stack.native.post(f"/self-service/registration?flow={flow_id}", {"method": "code", "code": code})
    assert bare.status == 400, bare.data
    answer = bare.json()
    assert answer["state"] == "sent_email" and "session_token" not in answer
    missing = [m for n in answer["ui"]["nodes"] for m in n["messages"]] + answer["ui"].get("messages", [])
    assert [(m["id"], m["text"]) for m in missing] == [(4000002, "Property traits is missing.")], answer
    done = stack.native.post(
        f"/self-service/registration?flow={flow_id}", {"method": "code", "code": code, "traits": {"email": email}}
    )
    assert done.status == 200 and done.json()["identity"]["traits"]["email"] == email, done.data


TOO_OFTEN = (4000001, "The request was submitted too often. Please request another code.")


def _messages(answer: dict[str, Any]) -> list[tuple[int, str]]:
    return [(m["id"], m["text"]) for m in answer["ui"].get("messages") or []]


def test_a_login_code_after_the_flow_s_five_tries_is_submitted_too_often(stack: CodeStack) -> None:
    """Kratos's strategy_login_test.go, "should not be able to use valid code after 5 attempts": five
    wrong codes are 4010008, and then the right one is `ErrCodeSubmittedTooOften` in the flow (400,
    4000001), and signs no one in."""
    email = _email("tries")
    create_identity(stack.warden.admin_url, email)
    flow_id, code = _login_code_sent_to(stack, email)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        body = {"method": "code", "code": wrong, "identifier": email}
        refused = stack.native.post(f"/self-service/login?flow={flow_id}", body)
        assert refused.status == 400 and message_ids(refused.json()) == [4010008], refused.data
    body = {"method": "code", "code": code, "identifier": email}
    locked = stack.native.post(f"/self-service/login?flow={flow_id}", body)
    assert locked.status == 400 and _messages(locked.json()) == [TOO_OFTEN], locked.data
    assert locked.json()["id"] == flow_id and "session_token" not in locked.json()


def test_a_registration_code_after_the_flow_s_five_tries_is_submitted_too_often(stack: CodeStack) -> None:
    """Kratos's `UseRegistrationCode` counts the flow's submissions the same way: the sixth is 4000001."""
    email = _email("signup-tries")
    flow_id, code = _registration_code_sent(stack, email)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        body = {"method": "code", "code": wrong, "traits": {"email": email}}
        refused = stack.native.post(f"/self-service/registration?flow={flow_id}", body)
        assert refused.status == 400 and message_ids(refused.json()) == [4040003], refused.data
    body = {"method": "code", "code": code, "traits": {"email": email}}
    locked = stack.native.post(f"/self-service/registration?flow={flow_id}", body)
    assert locked.status == 400 and _messages(locked.json()) == [TOO_OFTEN], locked.data
    assert "identity" not in locked.json()


def test_a_login_code_for_an_identifier_without_an_account_runs_out_of_tries_alike(stack: CodeStack) -> None:
    """The stand-in code of an unknown identifier counts its tries as a real one does, so the sixth
    answer does not tell the two apart either."""
    nobody = _email("nobody")
    flow = stack.native.get("/self-service/login/api").json()
    sent = stack.native.post(f"/self-service/login?flow={flow['id']}", {"method": "code", "identifier": nobody})
    assert sent.status == 400 and sent.json()["state"] == "sent_email", sent.data
    answers = []
    for _ in range(6):
        body = {"method": "code", "code": "123456", "identifier": nobody}
        answers.append(stack.native.post(f"/self-service/login?flow={flow['id']}", body))
    assert [a.status for a in answers] == [400] * 6
    assert [message_ids(a.json()) for a in answers[:5]] == [[4010008]] * 5
    assert _messages(answers[5].json()) == [TOO_OFTEN]


def test_a_login_code_without_an_identifier_is_a_missing_property(stack: CodeStack) -> None:
    """Kratos's `loginVerifyCode` looks the account up by the step's `address` or `identifier`
    before it tries the code: neither is `NewRequiredError("#/identifier")` (4000002), and no code
    was compared, so the flow's tries are untouched and the code still works."""
    email = _email("bare")
    create_identity(stack.warden.admin_url, email)
    flow_id, code = _login_code_sent_to(stack, email)
    for _ in range(6):
        bare = stack.native.post(f"/self-service/login?flow={flow_id}", {"method": "code", "code": code})
        assert bare.status == 400 and "session_token" not in bare.json(), bare.data
        assert message_ids(bare.json(), "identifier") == [4000002], bare.data
        assert bare.json()["state"] == "sent_email"
    body = {"method": "code", "code": code, "identifier": email}
    signed_in = stack.native.post(f"/self-service/login?flow={flow_id}", body)
    assert signed_in.status == 200, signed_in.data


def test_the_code_sent_answers_show_the_submitted_transient_payload_and_a_refusal_does_not(stack: CodeStack) -> None:
    """Kratos's code method writes the flow as it holds it when it sends a code (`loginSendCode`,
    `registrationSendEmail`), the submitted `transient_payload` included; a refused submission's
    answer is the flow re-read from storage, which never holds it."""
    payload = {"campaign": "spring", "n": 1}
    email = _email("payload")
    create_identity(stack.warden.admin_url, email)
    login = stack.native.get("/self-service/login/api").json()
    body = {"method": "code", "identifier": email, "transient_payload": payload}
    sent = stack.native.post(f"/self-service/login?flow={login['id']}", body)
    assert sent.status == 400 and sent.json()["state"] == "sent_email", sent.data
    assert sent.json()["transient_payload"] == payload
    wrong = {"method": "code", "identifier": email, "code": "000000", "transient_payload": payload}
    refused = stack.native.post(f"/self-service/login?flow={login['id']}", wrong)
    assert refused.status == 400 and "transient_payload" not in refused.json(), refused.data

    registration = stack.native.get("/self-service/registration/api").json()
    signup = {"method": "code", "traits": {"email": _email("signup")}, "transient_payload": payload}
    sent = stack.native.post(f"/self-service/registration?flow={registration['id']}", signup)
    assert sent.status == 400 and sent.json()["state"] == "sent_email", sent.data
    assert sent.json()["transient_payload"] == payload
    stored = stack.native.get(f"/self-service/registration/flows?id={registration['id']}").json()
    assert "transient_payload" not in stored
