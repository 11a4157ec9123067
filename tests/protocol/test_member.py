"""Validation of the personal fields a node stores (protocol.member)."""

from __future__ import annotations

import pytest

from protocol.errors import ErrorCode, InvalidField
from protocol.member import (
    MAX_EMAIL,
    MAX_INTEREST,
    MAX_LIST_ITEMS,
    MAX_NAME,
    Role,
    normalize_email,
    validate_interests,
    validate_languages,
    validate_name,
    validate_profile_text,
    validate_role,
    validate_timezone,
)

# --- E-mail ------------------------------------------------------------------------------------


def test_email_is_lower_cased() -> None:
    assert normalize_email("Ada.Lovelace@Example.ORG") == "ada.lovelace@example.org"


def test_email_differing_only_in_case_normalizes_to_the_same_address() -> None:
    assert normalize_email("ADA@example.org") == normalize_email("ada@EXAMPLE.org")


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ada",
        "ada@",
        "@example.org",
        "ada@@example.org",
        "ada@example",
        "ada lovelace@example.org",
        "ada@exa mple.org",
    ],
    ids=[
        "empty",
        "no-at",
        "no-domain",
        "no-local-part",
        "two-ats",
        "no-dot-in-domain",
        "space-in-local",
        "space-in-domain",
    ],
)
def test_email_with_bad_syntax_is_refused(email: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        normalize_email(email)

    assert excinfo.value.field == "email"


def test_email_longer_than_254_characters_is_refused() -> None:
    domain = ".".join(["a" * 60] * 3) + ".org"  # 186 characters, each label under 64
    email = "b" * (MAX_EMAIL + 1 - len(domain) - 1) + "@" + domain
    assert len(email) == 255

    with pytest.raises(InvalidField, match="longer than 254") as excinfo:
        normalize_email(email)

    assert excinfo.value.field == "email"


def test_invalid_field_carries_the_invalid_field_error_code() -> None:
    with pytest.raises(InvalidField) as excinfo:
        normalize_email("not an address")

    assert excinfo.value.code is ErrorCode.INVALID_FIELD


# --- Time zone ---------------------------------------------------------------------------------


def test_iana_timezone_is_accepted() -> None:
    assert validate_timezone("Europe/Berlin") == "Europe/Berlin"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "europe/berlin", "CEST"])
def test_name_outside_the_iana_database_is_refused_as_a_timezone(name: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        validate_timezone(name)

    assert excinfo.value.field == "timezone"


# --- Languages ---------------------------------------------------------------------------------


def test_language_tags_are_accepted() -> None:
    assert validate_languages(["en", "pt-BR"]) == ("en", "pt-BR")


def test_three_letter_language_tag_is_accepted() -> None:
    assert validate_languages(["gsw"]) == ("gsw",)


def test_duplicate_language_tags_are_removed_keeping_order() -> None:
    assert validate_languages(["de", "en", "de", " en "]) == ("de", "en")


@pytest.mark.parametrize("tag", ["english!", "e", "EN", "en_US", "", "pt-"])
def test_malformed_language_tag_is_refused(tag: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        validate_languages(["en", tag])

    assert excinfo.value.field == "languages"


def test_more_than_30_languages_are_refused() -> None:
    tags = [f"x{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(MAX_LIST_ITEMS + 1)]

    with pytest.raises(InvalidField, match="at most 30"):
        validate_languages(tags)


# --- Name --------------------------------------------------------------------------------------


def test_name_is_trimmed() -> None:
    assert validate_name("  Ada Lovelace \n") == "Ada Lovelace"


def test_name_of_200_characters_is_accepted() -> None:
    assert validate_name("a" * MAX_NAME) == "a" * MAX_NAME


@pytest.mark.parametrize("name", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
def test_empty_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidField, match="empty") as excinfo:
        validate_name(name)

    assert excinfo.value.field == "name"


def test_name_longer_than_200_characters_is_refused() -> None:
    with pytest.raises(InvalidField, match="longer than 200") as excinfo:
        validate_name("a" * (MAX_NAME + 1))

    assert excinfo.value.field == "name"


@pytest.mark.parametrize(
    "control",
    ["\x00", "\x07", "\x1b", "\x7f", "\n", "\t", "\r", "\x85"],
    ids=["nul", "bell", "escape", "delete", "newline", "tab", "carriage-return", "next-line"],
)
def test_name_with_a_control_character_is_refused(control: str) -> None:
    with pytest.raises(InvalidField, match="control") as excinfo:
        validate_name(f"Ada{control}Lovelace")

    assert excinfo.value.field == "name"


def test_name_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidField, match="expected text"):
        validate_name(42)  # type: ignore[arg-type]


# --- Profile text ------------------------------------------------------------------------------


def test_profile_text_keeps_newlines_and_tabs() -> None:
    assert validate_profile_text("Line one\n\tLine two") == "Line one\n\tLine two"


def test_empty_profile_text_is_accepted() -> None:
    assert validate_profile_text("") == ""


def test_profile_text_with_an_escape_character_is_refused() -> None:
    with pytest.raises(InvalidField, match="control") as excinfo:
        validate_profile_text("\x1b[31mred")

    assert excinfo.value.field == "profile"


# --- Interests ---------------------------------------------------------------------------------


def test_duplicate_interests_are_removed_keeping_first_occurrence_order() -> None:
    assert validate_interests(["rust", "python", "rust", "go", "python"]) == ("rust", "python", "go")


def test_interests_are_trimmed_before_duplicates_are_removed() -> None:
    assert validate_interests(["python", " python "]) == ("python",)


def test_empty_interest_is_refused() -> None:
    with pytest.raises(InvalidField) as excinfo:
        validate_interests(["python", " "])

    assert excinfo.value.field == "interests"


def test_interest_longer_than_80_characters_is_refused() -> None:
    with pytest.raises(InvalidField, match="longer than 80"):
        validate_interests(["a" * (MAX_INTEREST + 1)])


def test_more_than_30_distinct_interests_are_refused() -> None:
    with pytest.raises(InvalidField, match="at most 30"):
        validate_interests([f"topic {i}" for i in range(MAX_LIST_ITEMS + 1)])


def test_30_distinct_interests_with_duplicates_are_accepted() -> None:
    interests = [f"topic {i}" for i in range(MAX_LIST_ITEMS)]

    assert validate_interests(interests + interests) == tuple(interests)


# --- Role --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "role"), [("mentor", Role.MENTOR), ("mentee", Role.MENTEE), ("both", Role.BOTH)])
def test_known_roles_are_accepted(text: str, role: Role) -> None:
    assert validate_role(text) is role


@pytest.mark.parametrize("text", ["admin", "", "Mentor"])
def test_unknown_role_is_refused(text: str) -> None:
    with pytest.raises(InvalidField, match="mentor, mentee, both") as excinfo:
        validate_role(text)

    assert excinfo.value.field == "role"
