"""The built-in UI with passwordless code and both two-step styles (`login.style: identifier_first`,
`registration.style: profile_first`), driven like a browser without JavaScript: forms read from the
HTML, codes read from real mail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.code_helpers import SmsSink, code_config
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_builtin_ui import WELCOME, Page, _email, follow, inputs, open_page, submit, ui_config
from tests.mail_helpers import code_in, wait_for_mail
from tests.selfservice_helpers import PASSWORD, Browser, create_identity
from tests.smtp import SmtpServer


def _ui_warden(directory: Path, smtp: SmtpServer, styles: dict[str, str]) -> Iterator[ThreadedWarden]:
    sms = SmsSink()
    code = code_config(smtp, sms)
    config = ui_config()
    flows = config["selfservice"]["flows"]
    for kind, style in styles.items():
        flows[kind]["style"] = style
    flows["registration"]["after"] = code["flows"]["registration"]["after"]
    config["selfservice"]["methods"] = code["methods"]
    config["courier"] = code["courier"]
    try:
        with running_warden(settings_for(directory, f"sqlite://{directory}/warden.sqlite", config)) as running:
            yield running
    finally:
        sms.close()


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[ThreadedWarden]:
    styles = {"login": "identifier_first", "registration": "profile_first"}
    yield from _ui_warden(tmp_path_factory.mktemp("builtin-ui-code"), smtp, styles)


@pytest.fixture(scope="module")
def unified(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[ThreadedWarden]:
    yield from _ui_warden(tmp_path_factory.mktemp("builtin-ui-code-unified"), smtp, {})


@pytest.fixture
def browser(warden: ThreadedWarden) -> Browser:
    return Browser(warden.public_url)


def _buttons(page: Page) -> list[tuple[str, str]]:
    return [(b["name"], b["value"]) for form in page.forms for b in form["buttons"]]


def test_identifier_first_then_a_code_signs_in(browser: Browser, warden: ThreadedWarden, smtp: SmtpServer) -> None:
    email = _email("ui-idfirst")
    create_identity(warden.admin_url, email)
    _, first = open_page(browser, "/ui/login")
    assert _buttons(first) == [("method", "identifier_first")]
    assert "password" not in inputs(first.form("identifier")), "the first screen asks for the identifier only"

    _, second = open_page(browser, submit(browser, first.form("identifier"), {"identifier": email}).location)
    assert ("method", "password") in _buttons(second) and ("method", "code") in _buttons(second)
    code_form = next(f for f in second.forms if ("method", "code") in [(b["name"], b["value"]) for b in f["buttons"]])
    assert inputs(code_form)["identifier"] == {"type": "hidden", "name": "identifier", "value": email}

    _, sent = open_page(browser, submit(browser, code_form, {}).location)
    assert "A code was sent to the address you provided." in sent.text
    code_screen = sent.form("code")
    assert inputs(code_screen)["code"]["autocomplete"] == "one-time-code"
    assert ("resend", "code") in [(b["name"], b["value"]) for b in code_screen["buttons"]]
    [mail] = wait_for_mail(smtp, email)
    done = submit(browser, code_screen, {"code": code_in(mail)})
    assert done.status == 303 and done.location == WELCOME, done
    assert email in Page(browser.get(done.location).data.decode()).text


def test_identifier_first_then_the_password_signs_in(browser: Browser, warden: ThreadedWarden) -> None:
    email = _email("ui-idfirst-password")
    create_identity(warden.admin_url, email)
    _, first = open_page(browser, "/ui/login")
    _, second = open_page(browser, submit(browser, first.form("identifier"), {"identifier": email}).location)
    done = submit(browser, second.form("password"), {"password": PASSWORD})
    assert done.status == 303 and done.location == WELCOME, done


def test_profile_first_registration_by_code_with_back_buttons(browser: Browser, smtp: SmtpServer) -> None:
    email = _email("ui-profile")
    _, profile = open_page(browser, "/ui/registration")
    assert _buttons(profile) == [("method", "profile")]
    chosen = follow(browser, submit(browser, profile.form("traits.email"), {"traits.email": email}))
    credentials = Page(chosen.data.decode())
    assert "Please choose a credential to authenticate yourself with." in credentials.text
    assert ("screen", "previous") in _buttons(credentials)

    back = follow(browser, submit(browser, credentials.forms[-1], {}, button="screen"))
    again = Page(back.data.decode())
    assert inputs(again.form("traits.email"))["traits.email"]["value"] == email, "back to the traits, kept"
    credentials = Page(follow(browser, submit(browser, again.form("traits.email"), {})).data.decode())

    code_form = next(
        f for f in credentials.forms if ("method", "code") in [(b["name"], b["value"]) for b in f["buttons"]]
    )
    sent = Page(follow(browser, submit(browser, code_form, {})).data.decode())
    assert ("screen", "credential-selection") in _buttons(sent)
    [mail] = wait_for_mail(smtp, email)
    done = submit(browser, sent.form("code"), {"code": code_in(mail)})
    assert done.status == 303 and done.location == WELCOME, done


def test_one_step_forms_offer_a_code_beside_the_password(unified: ThreadedWarden, smtp: SmtpServer) -> None:
    browser = Browser(unified.public_url)
    email = _email("ui-unified")
    _, signup = open_page(browser, "/ui/registration")
    code_form = next(f for f in signup.forms if ("method", "code") in [(b["name"], b["value"]) for b in f["buttons"]])
    assert "traits.email" in inputs(code_form) and "password" not in inputs(code_form)
    sent = Page(follow(browser, submit(browser, code_form, {"traits.email": email})).data.decode())
    assert "A code has been sent to the address(es) you provided." in sent.text
    assert inputs(sent.form("code"))["traits.email"]["type"] == "hidden"
    done = submit(browser, sent.form("code"), {"code": code_in(wait_for_mail(smtp, email)[0])})
    assert done.status == 303 and done.location == WELCOME, done

    browser = Browser(unified.public_url)
    _, login = open_page(browser, "/ui/login")
    code_form = next(f for f in login.forms if ("method", "code") in [(b["name"], b["value"]) for b in f["buttons"]])
    sent = Page(follow(browser, submit(browser, code_form, {"identifier": email})).data.decode())
    done = submit(browser, sent.form("code"), {"code": code_in(wait_for_mail(smtp, email, 2)[1])})
    assert done.status == 303 and done.location == WELCOME, done
