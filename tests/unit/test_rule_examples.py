"""Every example of every shipped rule, one test case each: durable_rules and the reference
evaluator must both give the expected outcome."""

from __future__ import annotations

import pytest

from rules.catalogue import load_catalogue
from rules.examples import ExampleResult, run_examples

RESULTS = run_examples(load_catalogue())


@pytest.mark.parametrize("result", RESULTS, ids=[f"{r.rule.id}:{r.example.name}" for r in RESULTS])
def test_rule_example(result: ExampleResult) -> None:
    expected = "fires" if result.example.fires else "does not fire"
    assert result.engine_fired == result.example.fires, f"durable_rules: expected the rule {expected}"
    assert result.reference_fired == result.example.fires, (
        f"reference evaluator: expected the rule {expected}"
    )


def test_catalogue_covers_the_domain() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.rules) >= 20
    assert len({r.rule.department for r in catalogue.rules}) >= 9
    assert {"因病", "因学", "因残", "因自然灾害", "因意外事故", "因务工就业不稳", "缺劳动力"} <= {
        r.rule.risk_type for r in catalogue.rules
    }
    assert {"housing", "water", "schooling"} <= {r.rule.guarantee for r in catalogue.rules}
