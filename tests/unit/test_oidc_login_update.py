"""What `update_identity_on_login: automatic` changes (Kratos's `UpdateIdentityFromClaims`): the
mapper's traits over the current ones, metadata only where the mapper outputs it, nothing at all
when the provider says what the identity already holds."""

from __future__ import annotations

import pytest

from services.selfservice.strategies.oidc.errors import MapperFailed
from services.selfservice.strategies.oidc.login_update import changes, merged
from services.selfservice.strategies.oidc.mapper import MappedIdentity

CURRENT = {
    "traits": {"email": "old@example.com", "name": {"first": "Ada", "last": "Old"}},
    "metadata_public": {"plan": "pro"},
    "metadata_admin": {"crm": 7},
}


def test_the_mappers_traits_win_and_the_others_are_kept() -> None:
    mapped = {"email": "new@example.com", "name": {"last": "New"}}
    assert merged(mapped, CURRENT["traits"]) == {
        "email": "new@example.com",
        "name": {"first": "Ada", "last": "New"},
    }
    assert merged({"name": "flat"}, {"name": {"first": "Ada"}}) == {"name": "flat"}


def test_metadata_is_replaced_only_where_the_mapper_outputs_it() -> None:
    mapped = MappedIdentity(
        {"email": "new@example.com"}, metadata_public={"plan": "free"}, metadata_given=frozenset({"metadata_public"})
    )
    traits, metadata = changes(CURRENT, mapped)
    assert traits == {"email": "new@example.com", "name": {"first": "Ada", "last": "Old"}}
    assert metadata == {"metadata_public": {"plan": "free"}}  # metadata_admin, not output, is kept


def test_nothing_changes_when_the_provider_says_what_the_identity_holds() -> None:
    mapped = MappedIdentity(
        {"email": "old@example.com"}, metadata_public={"plan": "pro"}, metadata_given=frozenset({"metadata_public"})
    )
    assert changes(CURRENT, mapped) == (None, {})


@pytest.mark.parametrize("value", [None, "text", [1]])
def test_metadata_output_that_is_not_an_object_fails_the_sign_in(value: object) -> None:
    mapped = MappedIdentity({}, metadata_admin=value, metadata_given=frozenset({"metadata_admin"}))
    with pytest.raises(MapperFailed):
        changes(CURRENT, mapped)
