"""Income composition in the household ledger and the plan's income indicators in the monthly
report: formerly poor households' income growth against all households', where the data exists,
and 无数据 where it does not."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from reports.monthly import Sources, monthly_report
from tests.screening_helpers import Clock, china, household, open_test_store


def test_the_four_parts_add_up_to_the_per_capita_income() -> None:
    ok = household(1, per_capita_income="9000", wage_income="5000", business_income="2000",
                   property_income="0", transfer_income="2000", prev_year_income="8200")  # fmt: skip
    assert (ok.wage_income, ok.prev_year_income) == (5000, 8200)
    with pytest.raises(ValidationError, match="income_parts_mismatch"):
        household(1, per_capita_income="9000", wage_income="5000", business_income="2000",
                  property_income="0", transfer_income="1000")  # fmt: skip
    with pytest.raises(ValidationError, match="income_parts_incomplete"):
        household(1, per_capita_income="9000", wage_income="9000")


def test_growth_is_compared_where_the_roster_has_last_years_income(tmp_path: Path) -> None:
    store = open_test_store(f"sqlite:///{tmp_path / 'q.sqlite'}", Clock(china(2022, 7, 1)))
    parts = {"business_income": "1000", "property_income": "0", "transfer_income": "1000"}
    store.ledger.upsert(
        [
            # 阳朔: a formerly poor household up 12.5%, an ordinary one up 5%
            household(
                1,
                kind="脱贫户",
                per_capita_income="9000",
                wage_income="7000",
                prev_year_income="8000",
                **parts,
            ),
            household(2, per_capita_income="21000", wage_income="19000", prev_year_income="20000", **parts),
            # 灵川: no composition, no last year
            household(3, village="450323102201"),
        ]
    )
    rows = {
        r["code"]: r for r in monthly_report(Sources(store), "2022-06", date(2022, 7, 20)).table("收入").rows
    }
    yangshuo, lingchuan = rows["450321"], rows["450323"]
    persons = household(1).size
    assert yangshuo["poor_growth"] == 12.5
    assert yangshuo["all_growth"] == pytest.approx(100 * (30000 / 28000 - 1), abs=0.05)  # same persons each
    assert yangshuo["gap"] == round(12.5 - yangshuo["all_growth"], 1)
    assert yangshuo["poor_persons"] == persons
    assert yangshuo["data"] == "有"
    assert (
        lingchuan["poor_growth"],
        lingchuan["all_growth"],
        lingchuan["wage_share"],
        lingchuan["data"],
    ) == (
        None,
        None,
        None,
        "无",
    )
    store.db.close()
