"""A minimal valid payload per event type, used by the property tests to build full events."""

from __future__ import annotations

from typing import Any

PAYLOADS: dict[str, dict[str, Any]] = {
    "medical.settlement": {"visit": "outpatient", "total_cost": "10.50", "out_of_pocket": "3.20"},
    "health.serious_illness": {"category": "chronic"},
    "employment.job_lost": {"returned_home": True},
    "employment.contribution_gap": {"months": 3},
    "employment.reemployed": {"monthly_wage": "3200.00"},
    "disability.certified": {"grade": 2, "kind": "physical"},
    "disability.grade_changed": {"old_grade": 3, "grade": 2},
    "housing.dwelling_rated": {"grade": "C"},
    "water.assessed": {"litres_per_person_day": 30.5},
    "education.dropout": {"status": "suspected", "stage": "junior", "age": 14},
    "education.self_paid_cost": {"stage": "vocational", "school_year": "2022-2023", "amount": "12000"},
    "assistance.granted": {"kind": "dibao", "amount": "450"},
    "assistance.ended": {"kind": "temporary"},
    "disaster.loss": {"disaster_type": "flood", "house_damage": "collapsed"},
    "security.casualty": {"outcome": "injury", "cause": "traffic", "age": 41},
}
