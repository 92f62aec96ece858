"""Sessions through Kratos's own SDK (FrontendApi and IdentityApi), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ory_kratos_client as kratos
import pytest
import urllib3
from ory_kratos_client.api.frontend_api import FrontendApi
from ory_kratos_client.api.identity_api import IdentityApi
from ory_kratos_client.exceptions import ApiException

from shared.cookies import CookieSigner, SignedCookie
from tests.conftest import eventually
from tests.factories import ThreadedWarden, running_warden, settings_for

TOKEN = "session-tests-internal-token"
COOKIE_SECRETS = ["new-cookie-secret-0123456789", "old-cookie-secret-0123456789"]


@pytest.fixture
def warden(tmp_path: Path, any_dsn: str) -> Iterator[ThreadedWarden]:
    extra = {
        "secrets": {"cookie": COOKIE_SECRETS},
        "services": {"internal_token": TOKEN},
        "session": {"lifespan": "1h", "earliest_possible_extend": "30m"},
    }
    with running_warden(settings_for(tmp_path, any_dsn, extra)) as running:
        yield running


@pytest.fixture
def admin(warden: ThreadedWarden) -> Iterator[IdentityApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as client:
        yield IdentityApi(client)


@pytest.fixture
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


def _identity(admin: IdentityApi, email: str, **credentials: Any) -> str:
    body = kratos.CreateIdentityBody(
        schema_id="default",
        traits={"email": email},
        credentials=kratos.IdentityWithCredentials(**credentials) if credentials else None,
    )
    return admin.create_identity(body).id


def _issue(warden: ThreadedWarden, identity_id: str, aal: str = "aal1") -> dict[str, Any]:
    response = urllib3.request(
        "POST",
        f"{warden.admin_url}/internal/session/sessions",
        headers={"X-Warden-Internal-Token": TOKEN},
        json={
            "identity_id": identity_id,
            "methods": [{"method": "password", "aal": aal}],
            "device": {"ip_address": "203.0.113.9", "user_agent": "pytest"},
        },
    )
    assert response.status == 201, response.data
    return json.loads(response.data)


def _status(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)


def test_whoami_by_token_bearer_and_signed_cookie(
    warden: ThreadedWarden, admin: IdentityApi, frontend: FrontendApi
) -> None:
    identity_id = _identity(admin, "who@example.com")
    issued = _issue(warden, identity_id)
    token = issued["session_token"]
    assert token.startswith("ory_st_") and len(token) >= 7 + 43

    session = frontend.to_session(x_session_token=token)
    assert session.id == issued["session"]["id"] and session.active
    assert session.identity.id == identity_id and session.identity.traits == {"email": "who@example.com"}
    assert session.authenticator_assurance_level == "aal1"
    assert session.devices[0].ip_address == "203.0.113.9"
    assert session.identity.credentials is None and session.identity.metadata_admin is None

    bearer = urllib3.request(
        "GET", f"{warden.public_url}/sessions/whoami", headers={"Authorization": f"Bearer {token}"}
    )
    assert bearer.status == 200 and bearer.headers["X-Kratos-Authenticated-Identity-Id"] == identity_id
    for secret in COOKIE_SECRETS:  # signed with a rotated-out secret still verifies
        cookie = f"ory_kratos_session={CookieSigner([secret]).sign(token)}"
        assert frontend.to_session(cookie=cookie).id == session.id
    forged = f"ory_kratos_session={CookieSigner(['not-one-of-ours-0123456789']).sign(token)}"
    assert _status(lambda: frontend.to_session(cookie=forged))[0] == 401


def test_no_or_unknown_session_is_401_session_inactive(frontend: FrontendApi) -> None:
    status, body = _status(lambda: frontend.to_session(x_session_token="ory_st_unknown"))
    assert status == 401 and body["error"]["id"] == "session_inactive"
    assert _status(lambda: frontend.to_session())[0] == 401


def test_my_sessions_list_revoke_one_and_revoke_others(
    warden: ThreadedWarden, admin: IdentityApi, frontend: FrontendApi
) -> None:
    identity_id = _identity(admin, "many@example.com")
    mine = [_issue(warden, identity_id) for _ in range(3)]
    stranger = _issue(warden, _identity(admin, "stranger@example.com"))
    current = mine[0]["session_token"]

    others = frontend.list_my_sessions(x_session_token=current)
    assert sorted(s.id for s in others) == sorted(m["session"]["id"] for m in mine[1:])

    assert _status(lambda: frontend.disable_my_session(mine[0]["session"]["id"], x_session_token=current))[0] == 400
    assert _status(lambda: frontend.disable_my_session(stranger["session"]["id"], x_session_token=current))[0] == 404
    frontend.disable_my_session(mine[1]["session"]["id"], x_session_token=current)
    assert _status(lambda: frontend.to_session(x_session_token=mine[1]["session_token"]))[0] == 401

    assert frontend.disable_my_other_sessions(x_session_token=current).count == 1
    assert _status(lambda: frontend.to_session(x_session_token=mine[2]["session_token"]))[0] == 401
    assert frontend.to_session(x_session_token=current).id == mine[0]["session"]["id"]
    assert frontend.to_session(x_session_token=stranger["session_token"]).active


def _add_method(warden: ThreadedWarden, session_id: str, method: str, aal: str) -> dict[str, Any]:
    response = urllib3.request(
        "POST",
        f"{warden.admin_url}/internal/session/sessions/{session_id}/methods",
        headers={"X-Warden-Internal-Token": TOKEN},
        json={"method": method, "aal": aal},
    )
    assert response.status == 200, response.data
    return json.loads(response.data)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_refresh_or_a_second_factor_renews_the_session_as_kratos_activate_session_does(
    warden: ThreadedWarden, admin: IdentityApi
) -> None:
    """Kratos's login hook runs `ActivateSession` on the session a refresh or an AAL step upgrades:
    it counts as authenticated now and runs a whole `session.lifespan` (1h here) from now; the
    method is appended to `authentication_methods`, a second password refresh as a second entry."""
    issued = _issue(warden, _identity(admin, "renewed@example.com"))["session"]
    refreshed = _add_method(warden, issued["id"], "password", "aal1")
    upgraded = _add_method(warden, issued["id"], "totp", "aal2")
    for view in (refreshed, upgraded):
        assert _at(view["expires_at"]) - _at(view["authenticated_at"]) == timedelta(hours=1), view
    assert _at(refreshed["authenticated_at"]) > _at(issued["authenticated_at"])
    assert [(m["method"], m["aal"]) for m in upgraded["authentication_methods"]] == [
        ("password", "aal1"),
        ("password", "aal1"),
        ("totp", "aal2"),
    ]
    stored = admin.get_session(issued["id"])
    assert stored.expires_at == _at(upgraded["expires_at"]) and stored.authenticator_assurance_level == "aal2"


def test_session_lists_of_one_identity_come_with_its_identity_and_the_devices(
    warden: ThreadedWarden, admin: IdentityApi, frontend: FrontendApi
) -> None:
    """Kratos's listMySessions and listIdentitySessions read with ExpandEverything (they take no
    `expand`): every session with its devices and its identity, never the identity's credentials."""
    identity_id = _identity(admin, "listed@example.com")
    current, other = _issue(warden, identity_id), _issue(warden, identity_id)
    [mine] = frontend.list_my_sessions(x_session_token=current["session_token"])
    assert mine.id == other["session"]["id"] and mine.devices[0].user_agent == "pytest"
    assert mine.identity.id == identity_id and mine.identity.traits == {"email": "listed@example.com"}
    assert mine.identity.credentials is None and mine.identity.metadata_admin is None
    listed = admin.list_identity_sessions(identity_id)
    assert len(listed) == 2
    for session in listed:
        assert session.identity.id == identity_id and session.identity.credentials is None
        assert session.devices[0].ip_address == "203.0.113.9"


def test_a_disabled_identity_cannot_use_its_sessions_apis(
    warden: ThreadedWarden, admin: IdentityApi, frontend: FrontendApi
) -> None:
    """Kratos's IsActive asks the identity too: a disabled account can neither list nor revoke."""
    identity_id = _identity(admin, "disabled@example.com")
    current, other = (_issue(warden, identity_id) for _ in range(2))
    token = current["session_token"]
    admin.patch_identity(identity_id, json_patch=[kratos.JsonPatch(op="replace", path="/state", value="inactive")])
    for call in (
        lambda: frontend.list_my_sessions(x_session_token=token),
        lambda: frontend.disable_my_session(other["session"]["id"], x_session_token=token),
        lambda: frontend.disable_my_other_sessions(x_session_token=token),
    ):
        status, body = _status(call)
        assert status == 401 and body["error"]["id"] == "session_inactive"
    admin.patch_identity(identity_id, json_patch=[kratos.JsonPatch(op="replace", path="/state", value="active")])
    _wait(lambda: not _refused(frontend, other["session_token"]))  # nothing was revoked


def test_following_the_link_header_keeps_the_lists_filters(warden: ThreadedWarden, admin: IdentityApi) -> None:
    identity_id = _identity(admin, "paged@example.com")
    issued = [_issue(warden, identity_id) for _ in range(3)]
    admin.disable_session(issued[0]["session"]["id"])
    url = f"/admin/identities/{identity_id}/sessions?active=true&page_size=1"
    seen = []
    while url:
        answer = urllib3.request("GET", warden.admin_url + url)
        assert answer.status == 200, answer.data
        seen += [(s["id"], s["active"]) for s in json.loads(answer.data)]
        links = dict((rel, link) for link, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', answer.headers["Link"]))
        url = links.get("next", "")
        assert "active=true" in links["first"]
        assert not any(i["session"]["id"] in url for i in issued), "a token names no session (secrets.pagination)"
    assert sorted(seen) == sorted((i["session"]["id"], True) for i in issued[1:]), "the revoked one never came"


def test_session_lists_end_without_a_next_link_after_a_full_page(warden: ThreadedWarden, admin: IdentityApi) -> None:
    identity_id = _identity(admin, "full-page@example.com")
    current, *_ = [_issue(warden, identity_id) for _ in range(3)]
    for url, headers in (
        (f"{warden.admin_url}/admin/sessions?page_size=3", {}),
        (f"{warden.admin_url}/admin/identities/{identity_id}/sessions?page_size=3", {}),
        (f"{warden.public_url}/sessions?page_size=2", {"X-Session-Token": current["session_token"]}),
    ):
        response = urllib3.request("GET", url, headers=headers)
        assert response.status == 200 and len(json.loads(response.data)) in (2, 3), url
        assert 'rel="next"' not in response.headers["Link"], (url, response.headers["Link"])


def test_admin_lists_gets_extends_and_disables(
    warden: ThreadedWarden, admin: IdentityApi, frontend: FrontendApi
) -> None:
    identity_id = _identity(admin, "admin-view@example.com")
    first, second = _issue(warden, identity_id), _issue(warden, identity_id)
    frontend.to_session(x_session_token=first["session_token"])  # cached now

    listed = admin.list_sessions(expand=["identity"])
    assert {s.id for s in listed} >= {first["session"]["id"], second["session"]["id"]}
    assert all(s.identity is not None for s in listed)
    fetched = admin.get_session(first["session"]["id"], expand=["identity", "devices"])
    assert fetched.identity.id == identity_id and fetched.devices[0].user_agent == "pytest"

    before = admin.get_session(first["session"]["id"]).expires_at
    assert admin.extend_session(first["session"]["id"]).expires_at == before, "earliest_possible_extend not reached"

    admin.disable_session(first["session"]["id"])
    assert _status(lambda: frontend.to_session(x_session_token=first["session_token"]))[0] == 401, "cache entry dropped"
    assert [s.id for s in admin.list_sessions(active=False)] == [first["session"]["id"]]
    assert [s.id for s in admin.list_identity_sessions(identity_id, active=True)] == [second["session"]["id"]]
    admin.delete_identity_sessions(identity_id)
    assert _status(lambda: frontend.to_session(x_session_token=second["session_token"]))[0] == 401
    assert _status(lambda: admin.get_session("00000000-0000-4000-8000-000000000000"))[0] == 404


def test_admin_get_session_expands_only_what_expand_names(warden: ThreadedWarden, admin: IdentityApi) -> None:
    """Kratos's getSession: "If no value is provided, the expandable properties are skipped"; values
    are read case-insensitively, and one that is neither `identity` nor `devices` is a 400."""
    identity_id = _identity(admin, "expand@example.com")
    session_id = _issue(warden, identity_id)["session"]["id"]
    bare = admin.get_session(session_id)
    assert bare.identity is None and not bare.devices
    named = admin.get_session(session_id, expand=["Identity"])
    assert named.identity.id == identity_id and not named.devices
    assert named.identity.credentials is None, "Kratos loads a session's identity without credentials"
    for path in (f"/admin/sessions/{session_id}", "/admin/sessions"):
        answer = urllib3.request("GET", f"{warden.admin_url}{path}?expand=identity&expand=credentials")
        error = json.loads(answer.data)["error"]
        assert answer.status == 400 and error["reason"] == "Could not parse expand option: credentials", path


def test_deleting_an_identity_s_sessions_removes_them_and_is_404_when_there_are_none(
    warden: ThreadedWarden, admin: IdentityApi, frontend: FrontendApi
) -> None:
    """Kratos's DELETE /admin/identities/{id}/sessions "irrecoverably and permanently deletes" the
    sessions, inactive ones too, and answers 404 when it deleted nothing."""
    identity_id = _identity(admin, "deleted-sessions@example.com")
    first, second = _issue(warden, identity_id), _issue(warden, identity_id)
    admin.disable_session(first["session"]["id"])
    admin.delete_identity_sessions(identity_id)
    assert admin.list_identity_sessions(identity_id) == []
    assert _status(lambda: admin.get_session(first["session"]["id"]))[0] == 404
    assert _refused(frontend, second["session_token"])
    status, body = _status(lambda: admin.delete_identity_sessions(identity_id))
    assert status == 404 and body["error"]["message"] == "Unable to locate the resource"
    assert _status(lambda: admin.delete_identity_sessions("00000000-0000-4000-8000-000000000000"))[0] == 404


def test_a_session_route_s_id_that_is_not_a_uuid_is_kratos_s_400(
    warden: ThreadedWarden, admin: IdentityApi, frontend: FrontendApi
) -> None:
    """Kratos parses the id in the path first ("could not parse UUID", 400), before any lookup
    (404); `DELETE /sessions/whoami` is whoami, as in Kratos's deleteMySession."""
    identity_id = _identity(admin, "not-a-uuid@example.com")
    token = _issue(warden, identity_id)["session_token"]
    for call in (
        lambda: admin.get_session("nope"),
        lambda: admin.disable_session("nope"),
        lambda: admin.extend_session("nope"),
        lambda: admin.list_identity_sessions("nope"),
        lambda: admin.delete_identity_sessions("nope"),
        lambda: frontend.disable_my_session("nope", x_session_token=token),
    ):
        status, body = _status(call)
        assert status == 400 and "could not parse UUID" in body["error"]["reason"], body
    assert _status(lambda: admin.list_identity_sessions("00000000-0000-4000-8000-000000000000"))[0] == 404
    whoami = urllib3.request("DELETE", f"{warden.public_url}/sessions/whoami", headers={"X-Session-Token": token})
    assert whoami.status == 200 and json.loads(whoami.data)["identity"]["id"] == identity_id


def test_a_session_past_its_lifespan_is_refused_even_when_its_answer_was_cached(tmp_path: Path, any_dsn: str) -> None:
    extra = {"services": {"internal_token": TOKEN}, "session": {"lifespan": "2s"}}
    with (
        running_warden(settings_for(tmp_path, any_dsn, extra)) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as a,
        kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as f,
    ):
        admin, frontend = IdentityApi(a), FrontendApi(f)
        token = _issue(warden, _identity(admin, "lifespan@example.com"))["session_token"]
        session = frontend.to_session(x_session_token=token)
        assert frontend.to_session(x_session_token=token).id == session.id  # the second from the cache
        check = f"{warden.public_url}/sessions/check"
        assert urllib3.request("GET", check, headers={"X-Session-Token": token}).status == 200
        time.sleep(max(0.0, session.expires_at.timestamp() - time.time()) + 0.2)
        assert _status(lambda: frontend.to_session(x_session_token=token))[0] == 401
        assert urllib3.request("GET", check, headers={"X-Session-Token": token}).status == 401


def test_a_session_token_in_the_query_string_is_not_read(warden: ThreadedWarden, admin: IdentityApi) -> None:
    # A token in a URL ends up in access logs, browser history and Referer headers (ASVS 7.2.x).
    token = _issue(warden, _identity(admin, "query-token@example.com"))["session_token"]
    for path in ("/sessions/whoami", "/sessions/check"):
        for name in ("session_token", "x-session-token", "token"):
            url = f"{warden.public_url}{path}?{name}={token}"
            assert urllib3.request("GET", url).status == 401, (path, name)
    assert (
        urllib3.request("GET", f"{warden.public_url}/sessions/whoami", headers={"X-Session-Token": token}).status == 200
    )


def test_extend_moves_expiry_when_allowed(tmp_path: Path, any_dsn: str) -> None:
    extra = {"services": {"internal_token": TOKEN}, "session": {"lifespan": "2h"}}
    with (
        running_warden(settings_for(tmp_path, any_dsn, extra)) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as client,
    ):
        admin = IdentityApi(client)
        identity_id = _identity(admin, "extend@example.com")
        issued = _issue(warden, identity_id)
        before = admin.get_session(issued["session"]["id"]).expires_at
        extended = admin.extend_session(issued["session"]["id"])
        assert extended.expires_at > before
        # Kratos's legacy answer: the session as GetSession reads it with ExpandDefault.
        assert extended.identity.id == identity_id and not extended.devices


def test_extend_answers_204_under_faster_session_extend(tmp_path: Path, any_dsn: str) -> None:
    extra = {
        "services": {"internal_token": TOKEN},
        "session": {"lifespan": "2h"},
        "feature_flags": {"faster_session_extend": True},
    }
    with (
        running_warden(settings_for(tmp_path, any_dsn, extra)) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as client,
    ):
        admin = IdentityApi(client)
        identity_id = _identity(admin, "faster-extend@example.com")
        session_id, revoked_id = (_issue(warden, identity_id)["session"]["id"] for _ in range(2))
        before = admin.get_session(session_id).expires_at
        answer = _extend(warden, session_id)
        assert answer.status == 204 and answer.data == b""
        assert admin.get_session(session_id).expires_at > before

        # Kratos's ExtendSession finds the session first: 404 for none, 204 for an inactive one.
        unknown = _extend(warden, "00000000-0000-4000-8000-000000000000")
        error = json.loads(unknown.data)["error"]
        assert (unknown.status, error["message"]) == (404, "Unable to locate the resource")
        admin.disable_session(revoked_id)
        revoked = admin.get_session(revoked_id)
        assert _extend(warden, revoked_id).status == 204
        after = admin.get_session(revoked_id)
        assert after.active is False and after.expires_at == revoked.expires_at, "Warden leaves a revoked one as it is"
        assert _extend(warden, "nope").status == 400


def _extend(warden: ThreadedWarden, session_id: str) -> urllib3.BaseHTTPResponse:
    return urllib3.request("PATCH", f"{warden.admin_url}/admin/sessions/{session_id}/extend")


@pytest.mark.parametrize("faster", [False, True], ids=["legacy", "faster_session_extend"])
def test_whoami_answers_the_extended_expiry_after_an_extension_in_either_mode(
    tmp_path: Path, any_dsn: str, redis_url: str, redis_prefix: str, faster: bool
) -> None:
    """The extension drops the session's entry from whoami's cache (Redis), with or without the
    faster extension: a cached answer still fresh would otherwise carry the old expiry."""
    extra = {
        "services": {"internal_token": TOKEN},
        "session": {"lifespan": "2h"},
        "cache": {"url": redis_url, "prefix": redis_prefix},
        "feature_flags": {"faster_session_extend": faster},
    }
    with (
        running_warden(settings_for(tmp_path, any_dsn, extra)) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as a,
        kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as f,
    ):
        admin, frontend = IdentityApi(a), FrontendApi(f)
        issued = _issue(warden, _identity(admin, "cached-extend@example.com"))
        token, session_id = issued["session_token"], issued["session"]["id"]
        before = frontend.to_session(x_session_token=token).expires_at
        assert frontend.to_session(x_session_token=token).expires_at == before  # the second from the cache
        assert _extend(warden, session_id).status == (204 if faster else 200)
        extended = admin.get_session(session_id).expires_at
        assert extended > before
        assert frontend.to_session(x_session_token=token).expires_at == extended
        assert frontend.to_session(x_session_token=token).expires_at == extended  # cached again, the new one


def _whoami_by_cookie(warden: ThreadedWarden, value: str, **headers: str) -> urllib3.BaseHTTPResponse:
    cookie = {"Cookie": f"ory_kratos_session={value}", **headers}
    answer = urllib3.request("GET", f"{warden.public_url}/sessions/whoami", headers=cookie)
    assert answer.status == 200, answer.data
    return answer


def test_whoami_sets_the_cookie_again_once_the_session_was_extended(tmp_path: Path, any_dsn: str) -> None:
    """Kratos's `RefreshCookie`: a cookie set before an admin extended the session would expire (Max-Age)
    while the session still runs. The cookie carries the expiry it was set for; whoami sets it again
    when the session ends later, and only then."""
    extra = {
        "secrets": {"cookie": COOKIE_SECRETS},
        "services": {"internal_token": TOKEN},
        "session": {"lifespan": "2h"},
    }
    signer = CookieSigner(COOKIE_SECRETS)
    with (
        running_warden(settings_for(tmp_path, any_dsn, extra)) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as client,
    ):
        issued = _issue(warden, _identity(IdentityApi(client), "extended@example.com"))
        token, session_id = issued["session_token"], issued["session"]["id"]
        expires = datetime.fromisoformat(issued["session"]["expires_at"].replace("Z", "+00:00"))
        as_set = signer.sign(token, int(expires.timestamp()))  # what a login sets
        assert "Set-Cookie" not in _whoami_by_cookie(warden, as_set).headers, "nothing to refresh"
        time.sleep(1.1)  # the extension then ends at least a second later
        extended = IdentityApi(client).extend_session(session_id).expires_at
        refreshed = _whoami_by_cookie(warden, as_set).headers["Set-Cookie"]
        value = re.search(r"ory_kratos_session=([^;]+)", refreshed)
        max_age = re.search(r"Max-Age=(\d+)", refreshed)
        assert value and max_age and "HttpOnly" in refreshed, refreshed
        assert signer.open(value[1]) == SignedCookie(token, int(extended.timestamp()))
        assert abs(int(max_age[1]) - (extended.timestamp() - time.time())) < 5
        assert "Set-Cookie" not in _whoami_by_cookie(warden, value[1]).headers, "set once, not at every whoami"
        before_expiry_was_signed = signer.sign(token)
        legacy = _whoami_by_cookie(warden, before_expiry_was_signed).headers
        assert "Set-Cookie" not in legacy, "a cookie of before is left in its format, which older processes read"
        by_token = _whoami_by_cookie(warden, as_set, **{"X-Session-Token": token})
        assert "Set-Cookie" not in by_token.headers, "a caller that did not authenticate by the cookie gets none"


def test_highest_available_requires_aal2_for_an_identity_with_a_second_factor(tmp_path: Path, any_dsn: str) -> None:
    extra = {"services": {"internal_token": TOKEN}, "session": {"whoami": {"required_aal": "highest_available"}}}
    with (
        running_warden(settings_for(tmp_path, any_dsn, extra)) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as a,
        kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as f,
    ):
        admin, frontend = IdentityApi(a), FrontendApi(f)
        # This SDK version has no model for importing TOTP credentials: plain JSON, as the API takes it.
        created = urllib3.request(
            "POST",
            f"{warden.admin_url}/admin/identities",
            json={
                "schema_id": "default",
                "traits": {"email": "mfa@example.com"},
                "credentials": {
                    "totp": {
                        "config": {
                            "totp_url": "otpauth://totp/Warden:mfa?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Warden"
                        }
                    }
                },
            },
        )
        assert created.status == 201
        with_mfa = json.loads(created.data)["id"]
        without = _issue(warden, _identity(admin, "plain@example.com"))
        assert frontend.to_session(x_session_token=without["session_token"]).authenticator_assurance_level == "aal1"

        weak = _issue(warden, with_mfa)
        status, body = _status(lambda: frontend.to_session(x_session_token=weak["session_token"]))
        assert status == 403 and body["error"]["id"] == "session_aal2_required"
        assert body["redirect_browser_to"].endswith("/self-service/login/browser?aal=aal2")
        strong = _issue(warden, with_mfa, aal="aal2")
        assert frontend.to_session(x_session_token=strong["session_token"]).authenticator_assurance_level == "aal2"


def test_identity_changes_reach_cached_sessions(
    warden: ThreadedWarden, admin: IdentityApi, frontend: FrontendApi
) -> None:
    identity_id = _identity(admin, "change@example.com")
    token = _issue(warden, identity_id)["session_token"]
    assert frontend.to_session(x_session_token=token).identity.traits["email"] == "change@example.com"

    admin.patch_identity(
        identity_id, json_patch=[kratos.JsonPatch(op="replace", path="/traits/email", value="moved@example.com")]
    )
    # At once, with the answer cached (checklist SE-5): not when the identity's event arrives.
    assert frontend.to_session(x_session_token=token).identity.traits["email"] == "moved@example.com"

    admin.patch_identity(identity_id, json_patch=[kratos.JsonPatch(op="replace", path="/state", value="inactive")])
    assert _refused(frontend, token)
    [session_id] = [s.id for s in admin.list_sessions()]
    admin.delete_identity(identity_id)
    assert session_id not in {s.id for s in admin.list_sessions()}
    assert _refused(frontend, token)


def _refused(frontend: FrontendApi, token: str) -> bool:
    try:
        frontend.to_session(x_session_token=token)
        return False
    except ApiException as exc:
        return exc.status == 401


def _wait(check: Any) -> None:
    import asyncio

    asyncio.run(eventually(check, timeout=10))
