from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from dixian.contract.ids import (
    ResidentId,
    VillageCode,
    mask_phone,
    mask_resident_id,
    resident_id_check_char,
)

RID = TypeAdapter(ResidentId)
VC = TypeAdapter(VillageCode)


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        # The worked example printed in GB 11643-1999 (ISO 7064 MOD 11-2).
        ("11010519491231002", "X"),
        # Computed by hand: weighted sum 196, 196 mod 11 = 9, CHECK[9] = "3".
        ("44052419800101001", "3"),
    ],
)
def test_check_char_matches_published_examples(first17: str, check: str) -> None:
    assert resident_id_check_char(first17) == check


def test_valid_id_accepted_lowercase_x_normalised() -> None:
    assert RID.validate_python("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("11010519491231002", "resident_id_format"),
        ("110105194912310021", "resident_id_checksum"),
        ("990105194912310021", "resident_id_region"),
        ("110105194913310021", "resident_id_birthdate"),
        ("110105190002290021", "resident_id_birthdate"),  # 1900 was not a leap year
        ("11010519491231002\u0662", "resident_id_format"),  # an Arabic-Indic digit
        ("1101051949123100\uff12X", "resident_id_format"),  # a full-width digit
    ],
)
def test_invalid_ids_name_the_reason(value: str, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        RID.validate_python(value)
    assert exc.value.errors()[0]["type"] == code


def test_village_code_must_be_village_level() -> None:
    assert VC.validate_python("450321101201") == "450321101201"
    # the last two: digits of other scripts (Arabic-Indic, full-width), which a \d pattern would take
    for bad in (
        "45032110120",
        "450321101000",
        "990321101201",
        "45032110120a",
        "4503\u06622101201",
        "45032110120\uff11",
    ):
        with pytest.raises(ValidationError):
            VC.validate_python(bad)


def test_masks_hide_birth_date_and_phone_middle() -> None:
    assert mask_resident_id("11010519491231002X") == "110105********002X"
    assert mask_phone("13812345678") == "138****5678"
