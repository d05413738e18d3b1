"""Identifiers of the national monitoring system: resident IDs, village codes, household numbers.

Also the masking used wherever a person could be identified (logs, metrics, reports, notices).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

# GB 11643-1999: the check character is CHECK[sum(a_i * W_i) mod 11] over the first 17 digits,
# W_i = 2^(18-i) mod 11 (ISO 7064 MOD 11-2, where the value 10 is written "X").
_CHECK = "10X98765432"
_RESIDENT_ID = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII digits (\d: any script's)
_VILLAGE_CODE = re.compile(r"^[0-9]{12}$")
_HOUSEHOLD_ID = re.compile(r"^[0-9A-Za-z-]{6,40}$")
# Province-level codes of GB/T 2260 (first two digits of any region code).
PROVINCE_CODES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


def resident_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID."""
    # 13 ≡ 2 (mod 11), so the digits read as a base-13 number are sum(a_i * 2^(17-i)) mod 11, and
    # twice that is the weighted sum mod 11 (one C-level int() instead of 17 multiplications)
    return _CHECK[2 * int(first17, 13) % 11]


@lru_cache(maxsize=1 << 15)  # ~90 years of birth dates
def _is_date(yyyymmdd: str) -> bool:
    try:
        date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return False
    return True


def check_resident_id(value: str) -> str:
    v = value.strip().upper()
    if not _RESIDENT_ID.match(v):
        raise PydanticCustomError(
            "resident_id_format",
            "身份证号须为18位(前17位数字,末位数字或X) / resident ID must be 17 digits + digit or X",
        )
    if v[:2] not in PROVINCE_CODES:
        raise PydanticCustomError(
            "resident_id_region", "身份证号地区码无效 / unknown region code in resident ID"
        )
    if not _is_date(v[6:14]):
        raise PydanticCustomError(
            "resident_id_birthdate", "身份证号出生日期无效 / invalid birth date in resident ID"
        )
    if resident_id_check_char(v[:17]) != v[17]:
        raise PydanticCustomError(
            "resident_id_checksum", "身份证号校验位错误 / resident ID check digit does not match"
        )
    return v


def check_village_code(value: str) -> str:
    v = value.strip()
    if not _VILLAGE_CODE.match(v):
        raise PydanticCustomError(
            "village_code_format", "行政村代码须为12位数字 / village code must be 12 digits"
        )
    if v[:2] not in PROVINCE_CODES or v[9:] == "000":
        raise PydanticCustomError(
            "village_code_region", "行政村代码不是村级代码 / village code is not a village-level region code"
        )
    return v


def check_household_id(value: str) -> str:
    v = value.strip()
    if not _HOUSEHOLD_ID.match(v):
        raise PydanticCustomError(
            "household_id_format", "户编号格式错误 / household number must be 6-40 letters, digits or '-'"
        )
    return v


def check_village_of_household(village_code: str, household_id: str | None) -> str:
    """A national household number (16 or more digits) begins with its village's code: a record
    whose village code says otherwise contradicts itself (a typo in one of them), and is refused
    rather than sent to the wrong village's queue."""
    if (
        household_id
        and household_id.isdigit()
        and len(household_id) >= 16
        and household_id[:12] != village_code
    ):
        raise PydanticCustomError(
            "village_household_mismatch",
            "行政村代码与户编号不符（户编号前12位为 {expected}）/ the village code contradicts the household"
            " number (whose first 12 digits are {expected})",
            {"expected": household_id[:12]},
        )
    return village_code


ResidentId = Annotated[str, AfterValidator(check_resident_id)]
VillageCode = Annotated[str, AfterValidator(check_village_code)]
HouseholdId = Annotated[str, AfterValidator(check_household_id)]


def county_of(village_code: str) -> str:
    return village_code[:6]


def township_of(village_code: str) -> str:
    return village_code[:9]


def mask_resident_id(value: str) -> str:
    """``450321199001011234`` → ``450321********1234``: region kept, birth date hidden."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """``13812345678`` → ``138****5678``."""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
