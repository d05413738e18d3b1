"""The alert store: one database and one clock, and the rooms that use them — accounts and sessions
(``screening.accounts``), the audit log (``screening.audit``), area names (``screening.areas``),
clues and their steps, which are also the outbox (``screening.clues``), and the household ledger
(``screening.ledger``), and the deliveries' facts (``screening.feeds``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from dixian.config import Settings
from dixian.contract.deadlines import VISIT_DAYS
from dixian.contract.events import now_china
from screening.accounts import Accounts
from screening.areas import Areas
from screening.audit import Audit
from screening.clues import Clues
from screening.db import Database
from screening.feeds import FeedRuns
from screening.ledger import Ledger


class Store:
    def __init__(
        self,
        db: Database,
        now: Callable[[], datetime] = now_china,
        visit_days: int = VISIT_DAYS,
        id_key: bytes | None = None,
    ) -> None:
        self.db = db
        self.now = now
        self.id_key = id_key  # campaign item ids are keyed with it (None: they name the household)
        self.audit = Audit(db, now)
        self.accounts = Accounts(db, now, self.audit)
        self.ledger = Ledger(db, now)
        self.areas = Areas(db, now)
        self.clues = Clues(db, now, self.ledger, visit_days)
        self.feeds = FeedRuns(db)

    def today(self) -> date:
        return self.now().date()


def open_store(
    url: str,
    now: Callable[[], datetime] = now_china,
    visit_days: int = VISIT_DAYS,
    id_key: bytes | None = None,
) -> Store:
    """Open and migrate the store at ``url``."""
    db = Database(url)
    db.migrate()
    return Store(db, now, visit_days, id_key)


def store_for(settings: Settings) -> Store:
    """The deployment's store, with its clock, visit deadline and id key."""
    return open_store(settings.screening_url(), settings.now, settings.visit_days, settings.id_key())
