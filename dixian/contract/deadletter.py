"""A refused record: where it came from, which field failed, why (Chinese + English), and the raw data."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dixian.contract.validate import Problem


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["file", "http", "stream", "snapshot"]
    dept: str
    file: str | None = None
    row: int | None = Field(None, description="1-based data row number in the file (header excluded)")
    field: str
    code: str
    reason_zh: str
    reason_en: str
    problems: list[dict[str, str]] = Field(
        default_factory=list, description="every problem, not only the first"
    )
    raw: str = Field(description="the record as received")
    at: datetime

    @classmethod
    def from_problems(
        cls,
        problems: list[Problem],
        *,
        source: Literal["file", "http", "stream", "snapshot"],
        dept: str,
        raw: str,
        at: datetime,
        file: str | None = None,
        row: int | None = None,
    ) -> DeadLetter:
        first = problems[0]
        return cls(
            source=source,
            dept=dept,
            file=file,
            row=row,
            field=first.field,
            code=first.code,
            reason_zh=first.zh,
            reason_en=first.en,
            problems=[{"field": p.field, "code": p.code, "zh": p.zh, "en": p.en} for p in problems],
            raw=raw,
            at=at,
        )
