"""Log lines never carry an ID number, a mobile number or a named person in clear."""

from __future__ import annotations

import logging

import pytest

from dixian.privacy import install_log_masking, mask_text


def test_ids_phones_and_names_are_masked_household_numbers_are_not() -> None:
    line = (
        'member 450321199001011234 (phone 13812345678) of 4503211012010001: {"name": "李建国"}, 户主：覃秀英'
    )
    assert mask_text(line) == (
        'member 450321********1234 (phone 138****5678) of 4503211012010001: {"name": "李**"}, 户主：覃**'
    )


def test_every_logger_masks_once_installed(caplog: pytest.LogCaptureFixture) -> None:
    install_log_masking()
    install_log_masking()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("faust.anything").info("refused %s: 姓名=%s", "45032119900101123X", "韦小平")
    assert caplog.records[-1].getMessage() == "refused 450321********123X: 姓名=韦**"
