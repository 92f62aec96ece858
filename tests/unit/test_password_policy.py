"""The password policy: Kratos's length, identifier-similarity and breached-password rules, read from
`selfservice.methods.password.config`, with the offline breached list shipped in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.selfservice.strategies.password.breach_range import BreachRangeConfig, parse_range
from services.selfservice.strategies.password.policy import (
    BREACHED_LIST,
    PasswordPolicy,
    levenshtein,
    load_breached,
    longest_common_substring,
    too_similar,
)
from shared import errors, text
from shared.config import Settings, load_settings
from tests.factories import write_config

PASSPHRASE = "violet-gravel-anchor-52-tundra"


@pytest.fixture(scope="module")
def default_policy() -> PasswordPolicy:
    return PasswordPolicy.from_settings(load_settings([], {}, dev=True))


def settings_with(tmp_path: Path, password_config: dict[str, Any], **extra: Any) -> Settings:
    path = write_config(tmp_path, "memory", extra)
    config = yaml.safe_load(path.read_text())
    config.setdefault("selfservice", {})["methods"] = {"password": {"enabled": True, "config": password_config}}
    path.write_text(yaml.safe_dump(config))
    return load_settings([path], {}, dev=True)


# --- configuration --------------------------------------------------------------------------------


def test_defaults_are_kratos_defaults(default_policy: PasswordPolicy) -> None:
    assert default_policy.min_length == 8
    assert default_policy.max_length is None  # Warden's default hasher is argon2, which takes any length
    assert default_policy.identifier_similarity_check_enabled
    assert default_policy.haveibeenpwned_enabled
    assert "password123" in default_policy.breached


def test_config_overrides(tmp_path: Path) -> None:
    policy = PasswordPolicy.from_settings(
        settings_with(
            tmp_path,
            {
                "min_password_length": 12,
                "identifier_similarity_check_enabled": False,
                "haveibeenpwned_enabled": False,
                "ignore_network_errors": False,
                "max_breaches": 5,
            },
            hashers={"algorithm": "argon2"},
        )
    )
    assert policy.min_length == 12
    assert policy.max_length is None
    assert not policy.identifier_similarity_check_enabled
    assert not policy.haveibeenpwned_enabled
    assert policy.breached == frozenset()
    # Each switch takes effect.
    assert policy.check("qwerty123", []) == text.password_too_short(12, 9)
    assert policy.check("foo@bar.com1", ["foo@bar.com"]) is None
    assert policy.check("password1234", []) is None
    assert policy.check("x" * 100, []) is None


def test_min_length_from_config(tmp_path: Path) -> None:
    policy = PasswordPolicy.from_settings(settings_with(tmp_path, {"min_password_length": 10}))
    assert policy.check("rfqyfjied", []) == text.password_too_short(10, 9)
    assert policy.check("kuobahcaas", []) is None


# --- length ---------------------------------------------------------------------------------------


def test_too_short(default_policy: PasswordPolicy) -> None:
    message = default_policy.check("l3f9to", ["someone@example.com"])
    assert message == text.password_too_short(8, 6)
    assert message is not None and message.to_json() == {
        "id": 4000032,
        "text": "The password must be at least 8 characters long, but got 6.",
        "type": "error",
        "context": {"min_length": 8, "actual_length": 6},
    }
    assert default_policy.check("", []) == text.password_too_short(8, 0)
    assert default_policy.check("l3f9toh1", []) is None


@pytest.fixture(scope="module")
def bcrypt_policy(tmp_path_factory: pytest.TempPathFactory) -> PasswordPolicy:
    return PasswordPolicy.from_settings(
        settings_with(tmp_path_factory.mktemp("bcrypt"), {}, hashers={"algorithm": "bcrypt"})
    )


def test_too_long_for_bcrypt(bcrypt_policy: PasswordPolicy) -> None:
    exactly_72 = "a1-" * 23 + "xyz"
    assert bcrypt_policy.check(exactly_72, []) is None
    assert bcrypt_policy.check(exactly_72 + "z", []) == text.password_too_long(72, 73)


def test_under_the_default_hasher_a_password_of_any_length_is_taken(default_policy: PasswordPolicy) -> None:
    # ASVS 6.2.9: at least 64 characters allowed. 64 Cyrillic letters are 128 bytes, past bcrypt's 72.
    assert default_policy.check("пароль-" * 10 + "abcd", []) is None
    assert default_policy.check("correct horse battery staple " * 5 + "!", []) is None


def test_finding_12_password_length_counts_characters_and_whitespace_only_is_refused(
    default_policy: PasswordPolicy, bcrypt_policy: PasswordPolicy
) -> None:
    """Review finding 12: NIST SP 800-63B counts characters; Kratos's byte count let three CJK
    characters (9 bytes) pass a minimum of 8. bcrypt's own limit stays in bytes."""
    assert default_policy.check("密码密", []) == text.password_too_short(8, 3)
    assert default_policy.check("ééé", []) == text.password_too_short(8, 3)
    assert bcrypt_policy.check("ü" * 37, []) == text.password_too_long(72, 74)
    whitespace = text.password_policy_violation("it consists of whitespace only")
    assert default_policy.check(" " * 12, []) == whitespace
    assert default_policy.check("\t\u3000 \n\u00a0" * 3, []) == whitespace
    assert default_policy.check(" Quartz-Lantern-Nimbus-4817 ", []) is None


# --- similarity -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "password"),
    [
        ("foo@bar.com", "foo@bar.com1"),
        ("foo@bar.com", "foobar.com"),
        ("foo@bar.com", "FOO@BAR.COM"),
        # Kratos's own cases (validator_test.go).
        ("l3f9toh1uaf81n21", "l3f9toh1uaf81n21"),
        ("hello@example.com", "hello@example.com12345"),
        ("hello@example.com", "123hello@example.com123"),
        ("hello@example.com", "hello@exam"),
        ("hello@example.com", "HELLO@example.com"),
        ("hello@exam", "hello@example.com"),
        ("hello@example.com", "h3ll0@example"),
        ("bosqwfaxee", "bosqwfaxee"),
    ],
)
def test_too_similar_to_the_identifier(default_policy: PasswordPolicy, identifier: str, password: str) -> None:
    assert default_policy.check(password, [identifier]) == text.password_too_similar()


@pytest.mark.parametrize(
    ("identifier", "password"),
    [
        ("abcd", "9d3c8a1b"),
        ("a", "kjOklafe"),
        ("ab", "0000ab0000123"),
        ("d4f6090b-5a84", "d4f6090b-5a84-2184-4404-8d1b-8da3eb00ebbe"),
        ("asdflasdflasdf", "asdflasdflpiuhefnciluaksdzuföfhg"),
        ("foo@bar.com", PASSPHRASE),
    ],
)
def test_not_similar(default_policy: PasswordPolicy, identifier: str, password: str) -> None:
    assert default_policy.check(password, [identifier]) is None


def test_every_identifier_is_compared(default_policy: PasswordPolicy) -> None:
    assert default_policy.check("ada-lovelace", ["foo@bar.com", "ada-lovelace"]) == text.password_too_similar()


def test_no_identifiers_means_no_similarity_check(default_policy: PasswordPolicy) -> None:
    assert default_policy.check(PASSPHRASE, []) is None
    assert default_policy.check(PASSPHRASE, ["", ""]) is None


def test_long_strings_skip_the_quadratic_checks_but_not_equality() -> None:
    long = "q7-" * 100
    assert too_similar(long, long)
    assert not too_similar(long, long + "x")
    assert PasswordPolicy(max_length=None).check(long, [long]) == text.password_too_similar()


def test_similarity_helpers() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert longest_common_substring("hello@example.com", "h3ll0@example") == 8
    assert longest_common_substring("abc", "xyz") == 0


def test_no_range_api_unless_its_host_is_in_the_config(tmp_path: Path) -> None:
    """Kratos's schema defaults the host to api.pwnedpasswords.com; Warden calls out only when told."""
    assert BreachRangeConfig.from_settings(load_settings([], {}, dev=True)) is None
    assert BreachRangeConfig.from_settings(settings_with(tmp_path, {"max_breaches": 5})) is None
    off = {"haveibeenpwned_host": "hibp.internal", "haveibeenpwned_enabled": False}
    assert BreachRangeConfig.from_settings(settings_with(tmp_path, off)) is None
    assert BreachRangeConfig.from_settings(settings_with(tmp_path, {"haveibeenpwned_host": "hibp.internal"})) == (
        BreachRangeConfig("hibp.internal", max_breaches=0, ignore_network_errors=True)
    )
    strict = {"haveibeenpwned_host": "hibp.internal", "max_breaches": 5, "ignore_network_errors": False}
    assert BreachRangeConfig.from_settings(settings_with(tmp_path, strict)) == BreachRangeConfig(
        "hibp.internal", 5, False
    )


def test_a_range_is_read_as_kratos_reads_it() -> None:
    body = b"00AAA:3\r\n00bbb:1\r\n00CCC\r\n00DDD:1,234\r\n\r\n00EEE:0\r\n"
    assert parse_range(body, 0) == {"00AAA": 3, "00BBB": 1, "00CCC": 1, "00DDD": 1234}
    assert parse_range(body, 1) == {"00AAA": 3, "00DDD": 1234}, "only counts over max_breaches are kept"
    with pytest.raises(errors.BadGateway):
        parse_range(b"00AAA:3\n00BBB:many\n", 0)


# --- breached passwords ---------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["password123", "qwerty123", "Password123", "iloveyou1", "12345678"])
def test_common_breached_passwords_are_refused(default_policy: PasswordPolicy, password: str) -> None:
    message = default_policy.check(password, ["someone@example.com"])
    assert message == text.password_breached()
    assert message is not None and message.id == 4000034


@pytest.mark.parametrize(
    "password",
    ["qwertyuiopasdf", "QWERTYUIOPASDFGHJKL", "zyxwvutsrqpon", "0987654321", "4rfv5tgb6yhn7ujm", "trustno1trustno1"]
    + ["aaaaaaaaaaaaaaaaaaaa", "abcabcabcabc", "lkjhgfdsapoiuy", "mnbvcxzlkjhg"],
)
def test_runs_of_keys_or_characters_and_repeats_are_refused_with_the_reason(
    default_policy: PasswordPolicy, password: str
) -> None:
    # NIST SP 800-63B §3.1.1.2: sequential and repetitive values are refused, with a reason. A list
    # cannot hold every length of them: `qwertyuiopasdf` (the checklist's example) is in none.
    assert password.lower() not in default_policy.breached
    assert default_policy.check(password, []) == text.password_policy_violation(
        "it is a run of keys or characters, or one part repeated"
    )
    assert PasswordPolicy(haveibeenpwned_enabled=False).check(password, []) is None, "the same switch as the list"


@pytest.mark.parametrize(
    "password", ["qwertyuiop-asdf", "abcdefgh1", "trustno1trustno2", "aaaaaaaaaaab", "ba" * 8 + "c"]
)
def test_a_run_or_a_repeat_with_anything_else_in_it_is_not_refused_as_one(
    default_policy: PasswordPolicy, password: str
) -> None:
    assert default_policy.check(password, []) is None


def test_the_repeat_check_stays_linear_on_a_huge_password(default_policy: PasswordPolicy) -> None:
    # A 1 MiB password is refused before (the request body's limit) or checked in one pass here.
    assert default_policy.check("ab" * 2**19, []) is not None
    assert default_policy.check("ab" * 2**19 + "c", []) is None


def test_strong_passphrase_is_accepted(default_policy: PasswordPolicy) -> None:
    assert default_policy.check(PASSPHRASE, ["ada@example.com", "ada"]) is None


def test_breach_check_only_when_enabled() -> None:
    breached = frozenset({"password123"})
    assert PasswordPolicy(breached=breached).check("password123", []) == text.password_breached()
    assert PasswordPolicy(haveibeenpwned_enabled=False, breached=breached).check("password123", []) is None


def test_rules_apply_in_kratos_order(default_policy: PasswordPolicy) -> None:
    # "password" is both short of 10 and breached; "password123" both similar and breached.
    assert PasswordPolicy(min_length=10, breached=frozenset({"password"})).check("password", []) == (
        text.password_too_short(10, 8)
    )
    assert default_policy.check("password123", ["password12"]) == text.password_too_similar()


def test_shipped_list() -> None:
    listed = load_breached(BREACHED_LIST)
    assert 20_000 < len(listed) <= 30_000
    assert all(len(p) >= 6 and p == p.lower() for p in listed)
    assert not any(p.startswith("#") for p in listed)
    assert load_breached(BREACHED_LIST) is listed  # read once per file
