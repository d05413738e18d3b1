"""`dixian rules check` on broken catalogues: each problem named with file, line and reason."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from rules.catalogue import load_catalogue
from rules.loader import LoadError
from rules.params import default_params

GOOD = """\
rules:
  - id: WA-TEST
    version: 1
    state: active
    department: water
    title: 测试规则一
    explanation: 测试用的规则说明
    guarantee: water
    severity: low
    suppression_days: 30
    event_types: [water.assessed]
    parameters: [water_days_lost_max]
    when:
      event.days_lost_per_year: {gt: {param: water_days_lost_max}}
    examples:
      - {name: 停水40天, event: {days_lost_per_year: 40}, fires: true}
      - {name: 停水10天, event: {days_lost_per_year: 10}, fires: false}
"""


def _errors(tmp_path: Path, text: str, name: str = "water.yaml") -> list[str]:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(LoadError) as exc:
        load_catalogue(tmp_path)
    return [str(e) for e in exc.value.errors]


def test_good_file_loads(tmp_path: Path) -> None:
    (tmp_path / "water.yaml").write_text(GOOD, encoding="utf-8")
    assert [r.id for r in load_catalogue(tmp_path).rules] == ["WA-TEST"]


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("event.days_lost_per_year", "event.days_lost"), 14, "unknown field 'event.days_lost'"),
        (("{gt: {param: water_days_lost_max}}", "{gt: 高}"), 14, "is number, compared with '高'"),
        (("{gt: {param: water_days_lost_max}}", "{around: 3}"), 14, "unknown operator 'around'"),
        (("    severity: low\n", "    severity: low\n    colour: red\n"), 10, "colour: unknown field"),
        (("severity: low", "severity: urgent"), 9, "severity"),
        (
            ("      - {name: 停水10天, event: {days_lost_per_year: 10}, fires: false}\n", ""),
            2,
            "at least one input that does not fire",
        ),
        (("parameters: [water_days_lost_max]", "parameters: []"), 12, "without declaring"),
        (("event_types: [water.assessed]", "event_types: [water.polluted]"), 11, "unknown event types"),
        (("{days_lost_per_year: 40}", "{days_lost: 40}"), 16, "example '停水40天'"),
        (("guarantee: water", "risk_type: 其他"), 2, "needs a note"),
        (("when:\n", "when: [\n"), 15, "YAML syntax"),  # where the parser finds the open bracket
    ],
)
def test_broken_rule_named_with_file_and_line(
    tmp_path: Path, change: tuple[str, str], line: int, message: str
) -> None:
    assert change[0] in GOOD
    errors = _errors(tmp_path, GOOD.replace(change[0], change[1], 1))
    assert any(e.startswith(f"water.yaml:{line}:") and message in e for e in errors), errors


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    errors = _errors(tmp_path, GOOD, name="b.yaml")
    assert any(re.match(r"b\.yaml:2: WA-TEST: duplicate id \(first at a\.yaml:2\)", e) for e in errors), (
        errors
    )


def test_type_error_on_literal_value(tmp_path: Path) -> None:
    text = GOOD.replace(
        "event.days_lost_per_year: {gt: {param: water_days_lost_max}}", "event.piped: {eq: 是}"
    )
    text = text.replace("parameters: [water_days_lost_max]", "parameters: []")
    assert any("event.piped is bool" in e for e in _errors(tmp_path, text))


def test_parameters_by_region_and_date() -> None:
    p = default_params()
    line = "monitoring_income_line"
    assert p.value(line, "450321101201", date(2021, 6, 1)).value == 6000  # type: ignore[union-attr]
    assert p.value(line, "450321101201", date(2022, 6, 1)).value == 6500  # type: ignore[union-attr]
    assert p.value(line, "450321101201", date(2024, 6, 1)).value == 7500  # type: ignore[union-attr]
    assert p.value(line, "130101001001", date(2022, 6, 1)).value == 6500  # type: ignore[union-attr]
    assert p.value(line, "610101001001", date(2022, 6, 1)).value == 6000  # type: ignore[union-attr]
    # no Shaanxi value for this one: the rule using it cannot fire there
    assert p.value("rural_disposable_income_prev_year", "610101001001", date(2022, 6, 1)) is None


def test_exponent_floats_reach_durable_rules_as_plain_decimals() -> None:
    """Regression (found by the differential property test): durable_rules rejects 1e-05 / 5e-324."""
    from rules.engine import fact_json  # noqa: PLC0415

    text = fact_json({"id": 1, "x": 1e-05, "y": 5e-324, "z": 1e16, "s": "e-"})
    assert "e-0" not in text
    assert "e+" not in text
    assert '"x":0.00001' in text
    assert '"z":10000000000000000' in text
