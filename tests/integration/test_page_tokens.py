"""`secrets.pagination` over real HTTP, on SQLite and on PostgreSQL: the `Link` header's tokens read
as nothing, open in another process with the same config, survive a rotation that keeps the old
secret listed, and anything else given as a token is Kratos's 400 with nothing lost."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import urllib3

from shared.page_tokens import PageTokens
from tests.factories import ThreadedWarden, running_warden, settings_for

OLD, NEW = "an-old-pagination-secret-0123456789", "a-new-pagination-secret-0123456789"
REFUSED = "The page token is invalid, do not craft your own page tokens"  # Kratos's x.PageTokenInvalid


@contextmanager
def warden_with(directory: Path, dsn: str, *pagination: str) -> Iterator[ThreadedWarden]:
    """A Warden process of its own (own config file and ports) on the shared database."""
    directory.mkdir()
    secrets = {"secrets": {"pagination": list(pagination)}} if pagination else {}
    with running_warden(settings_for(directory, dsn, secrets)) as warden:
        yield warden


def links(response: urllib3.BaseHTTPResponse) -> dict[str, str]:
    return {rel: target for target, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])}


def get(warden: ThreadedWarden, path: str) -> urllib3.BaseHTTPResponse:
    return urllib3.request("GET", warden.admin_url + path)


def ids(response: urllib3.BaseHTTPResponse) -> list[str]:
    assert response.status == 200, response.data
    return [i["id"] for i in json.loads(response.data)]


def walk(warden: ThreadedWarden, path: str) -> list[str]:
    seen: list[str] = []
    while path:
        answer = get(warden, path)
        seen += ids(answer)
        path = links(answer).get("next", "")
    return seen


def make_identities(warden: ThreadedWarden, n: int) -> list[str]:
    made = []
    for i in range(n):
        body = {"schema_id": "default", "traits": {"email": f"paged{i}@example.com"}}
        answer = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
        assert answer.status == 201, answer.data
        made.append(json.loads(answer.data)["id"])
    return sorted(made)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["page_token"][0]


def names(token: str, key: str) -> bool:
    """Whether the token gives its key away: as it is, or base64url as Warden's tokens were."""
    return key in token or base64.urlsafe_b64encode(key.encode()).decode().rstrip("=") in token


def test_tokens_read_as_nothing_and_the_link_header_pages_on(tmp_path: Path, any_dsn: str) -> None:
    with warden_with(tmp_path / "a", any_dsn, NEW) as warden:
        made = make_identities(warden, 5)
        first = get(warden, "/admin/identities?page_size=2")
        shown, following = ids(first), links(first)["next"]
        token = token_of(following)
        assert shown == made[:2]
        assert not any(names(token, i) for i in made), "the last id of the page is not in its token"
        assert PageTokens([NEW]).open(token) == shown[-1], "sealed with the configured secret"
        assert walk(warden, "/admin/identities?page_size=2") == made


def test_a_token_opens_in_another_process_and_across_a_rotation(tmp_path: Path, any_dsn: str) -> None:
    with warden_with(tmp_path / "a", any_dsn, OLD) as one:
        made = make_identities(warden=one, n=3)
        following = links(get(one, "/admin/identities?page_size=1"))["next"]
    with warden_with(tmp_path / "b", any_dsn, OLD) as other:  # the same config, another process
        assert ids(get(other, following)) == made[1:2]
    with warden_with(tmp_path / "c", any_dsn, NEW, OLD) as rotated:
        answer = get(rotated, following)
        assert ids(answer) == made[1:2], "a token handed out before the rotation pages on"
        resealed = links(answer)["next"]
    with warden_with(tmp_path / "d", any_dsn, NEW) as dropped:
        assert ids(get(dropped, resealed)) == made[2:3], "the new first secret sealed it"
        refused = get(dropped, following)
        assert refused.status == 400, "the old secret is gone: its tokens are refused"
        assert json.loads(refused.data)["error"]["reason"] == REFUSED


def test_tampered_and_foreign_tokens_are_kratos_s_400_and_nothing_is_lost(tmp_path: Path, any_dsn: str) -> None:
    with warden_with(tmp_path / "a", any_dsn, NEW) as warden:
        made = make_identities(warden, 3)
        token = token_of(links(get(warden, "/admin/identities?page_size=1"))["next"])
        middle = len(token) // 2
        flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
        foreign = PageTokens(["someone-else-s-secret-0123456789"]).seal(made[0])
        lists = ("/admin/identities", "/admin/sessions", "/admin/courier/messages", "/admin/courier/webhooks")
        for path in lists:
            for bad in (flipped, foreign, token[:-3]):
                answer = urllib3.request("GET", warden.admin_url + path, fields={"page_token": bad})
                assert answer.status == 400, (path, answer.data)
                error = json.loads(answer.data)
                assert error["error"].pop("request"), "the request id, as Kratos gives it"
                assert error == {
                    "error": {
                        "code": 400,
                        "status": "Bad Request",
                        "message": "The request was malformed or contained invalid parameters",
                        "reason": REFUSED,
                    }
                }, path
        assert walk(warden, "/admin/identities?page_size=2") == made, "every identity is still there"


def test_the_public_schema_list_pages_with_sealed_tokens(tmp_path: Path, any_dsn: str) -> None:
    """`GET /schemas` hands out tokens too: the id of the last schema shown is not in them."""
    with warden_with(tmp_path / "a", any_dsn, NEW) as warden:
        first = urllib3.request("GET", f"{warden.public_url}/schemas?page_size=1")
        assert first.status == 200 and [s["id"] for s in json.loads(first.data)] == ["default"]
        following = links(first)["next"]
        assert not names(token_of(following), "default")
        rest = urllib3.request("GET", warden.public_url + following)
        assert [s["id"] for s in json.loads(rest.data)] == ["username"] and "next" not in links(rest)
