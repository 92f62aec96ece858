"""The identity admin API (admin port), as Kratos's `identity/handler.go` describes it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.identity.api.bodies import (
    CreateIdentityBody,
    IdentityPatch,
    PatchIdentitiesBody,
    UpdateIdentityBody,
    parse,
)
from services.identity.batch import create_many
from services.identity.credentials import clear_codes
from services.identity.domain import Identity
from services.identity.errors import IdentityNotFound, MalformedBody
from services.identity.manager import IdentityInput
from services.identity.search import find_by_identifier
from services.identity.views import admin_view
from shared.errors import WardenError
from shared.http.bodies import read_json
from shared.http.page_numbers import NumberedPage, numbered_headers, read_numbered_page
from shared.http.pagination import link_header, read_page
from shared.json_codec import json_response
from shared.service import Route

if TYPE_CHECKING:
    from services.identity.service import IdentityContainer

IDENTITIES = "/admin/identities"
IDENTITY = "/admin/identities/{id}"
BY_EXTERNAL_ID = "/admin/identities/by/external/{external_id}"
CREDENTIAL = "/admin/identities/{id}/credentials/{type}"
MAX_BATCH = 1000
MAX_BATCH_WITH_CLEAR_PASSWORDS = 200
# Backup codes in clear a batch may carry: 200 identities' sets of 12. Each is an argon2 run on the
# threads that check passwords, as a clear password is hashed on them.
MAX_BATCH_CLEAR_CODES = 2400
MAX_IDS = 500
# api.json's `include_credential` enum: anything else is a 400, as in Kratos.
INCLUDABLE_CREDENTIALS = frozenset(
    {
        "password", "oidc", "totp", "lookup_secret", "webauthn", "code", "passkey", "profile", "saml",
        "deviceauthn", "identifier_first", "link_recovery", "code_recovery",
    }
)  # fmt: skip
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _identity_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if not _UUID.match(value):
        raise IdentityNotFound()
    return value.lower()


def _issued_id(key: str) -> bool:
    """An identity id as stored, and so as a page token Warden gave carries it: a lower-case UUID."""
    return _UUID.fullmatch(key) is not None and key == key.lower()


def _included(request: web.Request) -> list[str]:
    include = request.query.getall("include_credential", [])
    if unknown := [i for i in include if i not in INCLUDABLE_CREDENTIALS]:
        raise MalformedBody(f"Invalid value `{unknown[0][:64]}` for parameter `include_credential`.")
    return include


def _uuid_param(name: str, value: str) -> str:
    if not _UUID.match(value):
        raise MalformedBody(f"Invalid UUID value `{value[:64]}` for parameter `{name}`.")
    return value.lower()


def _render(c: IdentityContainer, request: web.Request, identity: Identity, status: int = 200) -> web.Response:
    return json_response(admin_view(identity, c.schemas.schema_url, _included(request), c.cipher), status=status)


async def create(c: IdentityContainer, request: web.Request) -> web.Response:
    body = parse(CreateIdentityBody, await read_json(request))
    return _render(c, request, await c.manager.create(body.to_input()), status=201)


async def list_identities(c: IdentityContainer, request: web.Request) -> web.Response:
    numbered = read_numbered_page(request)
    page = read_page(request, c.page_tokens, key=_issued_id) if numbered is None else None
    include = _included(request)
    ids = [_uuid_param("ids", i) for i in request.query.getall("ids", []) if i]
    identifier = request.query.get("credentials_identifier") or None  # empty: no filter, as in Kratos
    similar = request.query.get("preview_credentials_identifier_similar") or None
    organization = request.query.get("organization_id") or None
    organization_id = _uuid_param("organization_id", organization) if organization else None
    if len(ids) > MAX_IDS:
        raise MalformedBody(f"The number of ids to filter must not exceed {MAX_IDS}.")
    # Kratos counts the organization as a filter too; none of them goes with another.
    if sum(bool(f) for f in (ids, identifier is not None, similar, organization_id)) > 1:
        raise MalformedBody("You cannot combine multiple filters in this API")
    if numbered is not None:
        return await _numbered_list(c, request, numbered, include, ids, identifier, similar, organization_id)
    assert page is not None
    if identifier is not None:
        found = await find_by_identifier(c.manager, identifier, page.size)
    else:
        found = await c.manager.list(
            after=page.after,
            size=page.probe,
            ids=ids,
            similar=similar,
            organization_id=organization_id,
        )
    last = None
    if not ids and identifier is None:  # a page of every identity, or of the similar ones
        found, after = page.split(found)
        last = after.id if after else None
    response = json_response([admin_view(i, c.schemas.schema_url, include, c.cipher) for i in found])
    response.headers["Link"] = link_header(request, page, last, c.page_tokens)
    return response


async def _numbered_list(
    c: IdentityContainer,
    request: web.Request,
    numbered: NumberedPage,
    include: list[str],
    ids: list[str],
    identifier: str | None,
    similar: str | None,
    organization_id: str | None,
) -> web.Response:
    """The deprecated `page`/`per_page` list, as Kratos still serves it: the page at its offset, and
    `X-Total-Count` of every identity (of the matches, for `credentials_identifier`)."""
    end = numbered.offset + numbered.per_page
    if identifier is not None:
        matches = await find_by_identifier(c.manager, identifier, end)
        found, total = matches[numbered.offset : end], len(matches)
    elif ids:
        found = (await c.manager.list(after=None, size=len(ids), ids=ids))[numbered.offset : end]
        total = await c.manager.count()
    else:
        found = await c.manager.list(
            after=None,
            size=numbered.per_page,
            offset=numbered.offset,
            similar=similar,
            organization_id=organization_id,
        )
        total = await c.manager.count()
    response = json_response([admin_view(i, c.schemas.schema_url, include, c.cipher) for i in found])
    response.headers.update(numbered_headers(request, numbered, total))
    return response


async def get(c: IdentityContainer, request: web.Request) -> web.Response:
    return _render(c, request, await c.manager.get(_identity_id(request)))


async def get_by_external_id(c: IdentityContainer, request: web.Request) -> web.Response:
    return _render(c, request, await c.manager.get_by_external_id(request.match_info["external_id"]))


async def update(c: IdentityContainer, request: web.Request) -> web.Response:
    identity_id = _identity_id(request)
    body = parse(UpdateIdentityBody, await read_json(request))
    return _render(c, request, await c.manager.update(identity_id, body.to_input()))


async def patch(c: IdentityContainer, request: web.Request) -> web.Response:
    identity_id = _identity_id(request)
    return _render(c, request, await c.manager.patch(identity_id, await read_json(request)))


async def delete(c: IdentityContainer, request: web.Request) -> web.Response:
    await c.manager.delete(_identity_id(request))
    return web.Response(status=204)


async def delete_credential(c: IdentityContainer, request: web.Request) -> web.Response:
    identifier = request.query.get("identifier")
    # Kratos: a WebAuthn credential loses its second-factor keys here, never its passwordless ones.
    kind = request.match_info["type"]
    await c.manager.delete_credential(_identity_id(request), kind, identifier, keep_passwordless_keys=True)
    return web.Response(status=204)


async def batch(c: IdentityContainer, request: web.Request) -> web.Response:
    body = parse(PatchIdentitiesBody, await read_json(request))
    _check_batch_size(body.identities)
    outcomes = await create_many(c.manager, c.uow, [_batch_input(p) for p in body.identities])
    return json_response(
        {"identities": [_batch_result(item, outcome) for item, outcome in zip(body.identities, outcomes)]}
    )


def _batch_input(item: IdentityPatch) -> IdentityInput | WardenError:
    """The item's input, or the error that is its answer alone."""
    if item.create is None:
        return MalformedBody("each patch needs a create body")
    try:
        return item.create.to_input()
    except WardenError as error:
        return error


def _check_batch_size(items: list[IdentityPatch]) -> None:
    if len(items) > MAX_BATCH:
        raise MalformedBody(f"at most {MAX_BATCH} identities can be patched at once")
    clear = sum(1 for i in items if i.create and _has_clear_password(i.create))
    if clear > MAX_BATCH_WITH_CLEAR_PASSWORDS:
        raise MalformedBody(
            f"at most {MAX_BATCH_WITH_CLEAR_PASSWORDS} identities with clear-text passwords can be imported at once"
        )
    codes = sum(clear_codes(i.create.credentials_given()) for i in items if i.create)
    if codes > MAX_BATCH_CLEAR_CODES:
        raise MalformedBody(
            f"at most {MAX_BATCH_CLEAR_CODES} backup codes in clear can be imported at once, not {codes}"
        )


def _has_clear_password(body: CreateIdentityBody) -> bool:
    password = (body.credentials or {}).get("password")
    return bool(password and password.config and password.config.get("password"))


def _batch_result(item: IdentityPatch, outcome: Identity | WardenError) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if item.patch_id:
        result["patch_id"] = str(item.patch_id)
    if isinstance(outcome, WardenError):
        result.update(action="error", error=outcome.to_json()["error"])
    else:
        result.update(action="create", identity=outcome.id)
    return result


ROUTES: list[Route[IdentityContainer]] = [
    Route("admin", "POST", IDENTITIES, create),
    Route("admin", "GET", IDENTITIES, list_identities),
    Route("admin", "PATCH", IDENTITIES, batch),
    Route("admin", "GET", BY_EXTERNAL_ID, get_by_external_id),
    Route("admin", "GET", IDENTITY, get),
    Route("admin", "PUT", IDENTITY, update),
    Route("admin", "PATCH", IDENTITY, patch),
    Route("admin", "DELETE", IDENTITY, delete),
    Route("admin", "DELETE", CREDENTIAL, delete_credential),
]
