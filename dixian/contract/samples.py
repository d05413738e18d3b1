"""A minimal valid payload per event type: defaults for rule examples and generated test events."""

from __future__ import annotations

from typing import Any

SAMPLE_PAYLOADS: dict[str, dict[str, Any]] = {
    "medical.settlement": {"visit": "outpatient", "total_cost": "10.50", "out_of_pocket": "3.20"},
    "health.serious_illness": {"category": "chronic"},
    "employment.job_lost": {"returned_home": False},
    "employment.contribution_gap": {"months": 1},
    "employment.reemployed": {"monthly_wage": "3200.00"},
    "disability.certified": {"grade": 4, "kind": "physical"},
    "disability.grade_changed": {"old_grade": 4, "grade": 3},
    "housing.dwelling_rated": {"grade": "A"},
    "water.assessed": {"litres_per_person_day": 80},
    "education.dropout": {"status": "suspected", "stage": "junior", "age": 14},
    "education.self_paid_cost": {"stage": "vocational", "school_year": "2022-2023", "amount": "2000"},
    "assistance.granted": {"kind": "temporary", "amount": "450"},
    "assistance.ended": {"kind": "temporary"},
    "disaster.loss": {"disaster_type": "flood"},
    "security.casualty": {"outcome": "injury", "cause": "traffic", "age": 41},
    "industry.project": {"project_type": "planting", "status": "running"},
    "agriculture.loss": {"product": "crop", "cause": "disease", "loss_share": 0.1},
}
