"""A delivery's facts: what one ingest run of a department file or push read and published.

Published on the compacted ``feed-runs`` topic keyed by run id, when the run starts, at each point
the broker acknowledged its records, and when it ends; the queue's sink keeps the last one in the
store, and the reports read them there (whichever machine ingested). The run id is derived from the
delivery (department, month, source and the content's digest), so running the same file or push
again is the same delivery: its facts replace the earlier ones, and the rows it published before are
counted as its own, not as duplicates. A run that stopped before its end stays ``running``: the
reports show it as 未完成.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FeedSource = Literal["file", "http", "snapshot"]
RunStatus = Literal["running", "complete"]


def delivery_id(dept: str, month: str, source: str, content_digest: str) -> str:
    """The run id of a delivery: the same department, month, source and content give the same id."""
    return hashlib.sha256(f"{dept}|{month}|{source}|{content_digest}".encode()).hexdigest()[:32]


class FeedRun(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(min_length=8, max_length=64)
    dept: str = Field(description="department code, or 'roster'")
    month: str = Field(
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="reporting month the rows count for"
    )
    source: FeedSource
    file: str | None = None
    encoding: str = ""
    status: RunStatus
    started_at: datetime
    updated_at: datetime
    rows_read: int = Field(0, ge=0)
    accepted: int = Field(0, ge=0)
    duplicates: int = Field(
        0, ge=0, description="rows the department sent twice (in this or an earlier delivery)"
    )
    rejected: int = Field(0, ge=0)
    late: int = Field(0, ge=0)
    ownership_conflicts: int = Field(0, ge=0)
    rejections: dict[str, int] = Field(default_factory=dict, description="rejected rows by reason code")
    event_types: dict[str, int] = Field(default_factory=dict, description="accepted events by event type")

    @property
    def key(self) -> bytes:
        return self.run_id.encode()
