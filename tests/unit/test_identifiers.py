"""Identifier folding: the regular-expression and ASCII shortcuts give what the code-point ranges say."""

from __future__ import annotations

import sys
import unicodedata

from shared.identifiers import DEFAULT_IGNORABLE, fold, fold_address, is_default_ignorable


def _ignorable_by_range(char: str) -> bool:
    return any(low <= ord(char) <= high for low, high in DEFAULT_IGNORABLE)


def _visible_by_range(value: str) -> str:
    value = unicodedata.normalize("NFKC", value)
    return "".join(c for c in value if not _ignorable_by_range(c))


def test_every_code_point_is_classified_as_the_ranges_say() -> None:
    assert all(is_default_ignorable(chr(c)) == _ignorable_by_range(chr(c)) for c in range(sys.maxunicode + 1))


def test_folding_matches_the_range_definition() -> None:
    samples = [
        "alice@example.com",
        "  Alice@Example.COM ",
        "ａｌｉｃｅ",
        "al\u200bice",
        "ali\u00adce",
        "Stra\u00dfe",
        "e\u0301",
        "\ufeffbob\U000e0001",
        "\u3164x",
    ]
    for value in samples:
        assert fold(value) == unicodedata.normalize("NFKC", _visible_by_range(value).casefold()).strip()
        assert fold_address(value) == unicodedata.normalize("NFKC", _visible_by_range(value).lower()).strip()


def test_look_alikes_fold_to_one_identifier() -> None:
    assert fold("ＡＬＩＣＥ") == fold("al\u200bice") == fold("ali\u00adce") == fold(" Alice ") == "alice"
    assert fold_address("Straße@Example.com") == "straße@example.com"
