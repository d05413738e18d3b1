"""The household ledger (户台账): the roster's latest record of every household, as the national
monitoring system exported it. Pages, reports, campaigns and the workflow read households here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from dixian.contract import Household
from dixian.contract.ids import county_of, township_of
from dixian.contract.vocabulary import MonitoringStatus, Outcome
from screening.db import Database, Row

DECIDED_STATUS = {
    Outcome.INCLUDED: MonitoringStatus.MONITORED,
    Outcome.ALREADY_MONITORED: MonitoringStatus.MONITORED,
    Outcome.ELIMINATED: MonitoringStatus.RISK_ELIMINATED,
    Outcome.ROLLED_BACK: MonitoringStatus.MONITORED,
}

_COLUMNS = (
    "household_id, village_code, township_code, county_code, household_type, category, status, dibao,"
    " tekun, persons, risk_types, updated_at, income_pc, housing_safe, water_safe, heads, can_work,"
    " disabled, ill, uninsured, head_name, wage_pc, business_pc, property_pc, transfer_pc, prev_income_pc"
)


def _yuan(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class Ledger:
    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self.now = now

    def upsert(self, households: Iterable[Household]) -> int:
        """The roster's latest record of each household (the national system's export wins)."""
        ts = self.now().isoformat(timespec="seconds")
        rows = [
            (
                h.household_id, h.village_code, township_of(h.village_code), county_of(h.village_code),
                h.household_type.value, h.monitoring_category.value if h.monitoring_category else None,
                h.monitoring_status.value, int(h.dibao), int(h.tekun), h.size, ",".join(h.risk_types), ts,
                float(h.per_capita_income), int(h.housing_safe), int(h.water_safe),
                sum(m.relation == "户主" for m in h.members), sum(m.can_work for m in h.members),
                sum(m.disabled for m in h.members), sum(m.seriously_ill for m in h.members),
                sum(not m.insured for m in h.members), h.head_name, _yuan(h.wage_income),
                _yuan(h.business_income), _yuan(h.property_income), _yuan(h.transfer_income),
                _yuan(h.prev_year_income),
            )
            for h in households
        ]  # fmt: skip
        if not rows:
            return 0
        names = [c.strip() for c in _COLUMNS.split(",")]
        update = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
        with self.db.transaction():
            self.db.executemany(
                f"INSERT INTO households ({_COLUMNS}) VALUES ({','.join('?' * len(names))})"
                f" ON CONFLICT (household_id) DO UPDATE SET {update}",
                rows,
            )
        return len(rows)

    def decided(self, household_id: str, outcome: Outcome, category: str | None) -> None:
        """A county decision, until the national system's next export says otherwise: an inclusion
        makes the household a monitoring object of its category, an elimination ends its risk, a
        rollback of an elimination resumes monitoring; other outcomes change nothing."""
        status = DECIDED_STATUS.get(outcome)
        if status is None:
            return
        self.db.execute(
            "UPDATE households SET status = ?, category = COALESCE(?, category), updated_at = ?"
            " WHERE household_id = ?",
            (status.value, category, self.now().isoformat(timespec="seconds"), household_id),
        )

    def household(self, household_id: str) -> Row | None:
        return self.db.one("SELECT * FROM households WHERE household_id = ?", (household_id,))
