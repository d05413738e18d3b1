"""What never reaches a log line in clear: resident ID numbers, mobile phone numbers and people's
names given as a field (姓名, 户主, ``"name"``). Installed once per process as a log record factory,
so it covers every logger and handler, Faust's and aiohttp's included."""

from __future__ import annotations

import logging
import re
from typing import Any

from dixian.contract.ids import mask_phone, mask_resident_id

_RESIDENT_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_NAME = re.compile(r"((?:户主姓名|姓名|户主|\"?name\"?)\s*[:：=]\s*\"?)([\u4e00-\u9fff·]{2,20})")


_BANK_CARD = re.compile(r"(?<![0-9])62[0-9]{14,17}(?![0-9])")  # UnionPay; household numbers start 45
MASKED_NOTE = "〔已按隐私规定隐去号码〕"


def mask_free_text(text: str) -> str:
    """Free text an officer or a household typed (visit notes, applications, measures), as it may be
    stored and published: ID, mobile and UnionPay card numbers masked, and a marker saying so, which
    the officer sees on the record."""
    masked = mask_numbers(text)
    return masked if masked == text else masked + MASKED_NOTE


def mask_numbers(text: str) -> str:
    """``text`` with ID, mobile and UnionPay card numbers masked (no marker: for form answers)."""
    masked = _RESIDENT_ID.sub(lambda m: mask_resident_id(m.group()), text)
    masked = _PHONE.sub(lambda m: mask_phone(m.group()), masked)
    return _BANK_CARD.sub(lambda m: m.group()[:4] + "*" * (len(m.group()) - 8) + m.group()[-4:], masked)


def _mask_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 1)


def mask_text(text: str) -> str:
    """``text`` with every ID number, mobile number and named person masked."""
    text = _RESIDENT_ID.sub(lambda m: mask_resident_id(m.group()), text)
    text = _PHONE.sub(lambda m: mask_phone(m.group()), text)
    return _NAME.sub(lambda m: m.group(1) + _mask_name(m.group(2)), text)


def install_log_masking() -> None:
    """Mask every log record's message from now on (idempotent)."""
    base = logging.getLogRecordFactory()
    if getattr(base, "dixian_masking", False):
        return

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: logging reports it itself
            return record
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    make.dixian_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)
