"""Safety numbers: both members see the same digits; any other key gives other digits."""

from __future__ import annotations

import re

from crypto.safety import safety_number

ALICE, BOB, MALLORY = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32


def test_both_sides_see_the_same_sixty_digits() -> None:
    ours = safety_number(ALICE, "alice@a", BOB, "bob@b")
    assert ours == safety_number(BOB, "bob@b", ALICE, "alice@a")
    assert re.fullmatch(r"(\d{5} ){11}\d{5}", ours)


def test_another_key_or_identifier_changes_the_number() -> None:
    genuine = safety_number(ALICE, "alice@a", BOB, "bob@b")
    assert safety_number(ALICE, "alice@a", MALLORY, "bob@b") != genuine
    assert safety_number(ALICE, "alice@a", BOB, "bob@c") != genuine
