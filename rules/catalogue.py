"""A rule catalogue: every rule file of a directory, checked as a whole, with a content version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from dixian.contract import MODEL_BY_TYPE
from dixian.contract.samples import SAMPLE_PAYLOADS
from dixian.contract.vocabulary import RuleState
from rules.conditions import ConditionError, Node, check, params_used, parse
from rules.facts import CONTEXT_SCHEMA, HouseholdContext, MemberContext, event_schema
from rules.loader import LINES, LoadError, SourceError, line_of, load_yaml, strip_lines
from rules.params import ParamTable, default_params, params_from_data
from rules.schema import Example, Rule

SHIPPED = Path(str(resources.files("rules").joinpath("catalogue")))  # the catalogue shipped with dixian


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    condition: Node
    file: str
    line: int

    @property
    def id(self) -> str:
        return self.rule.id


@dataclass(frozen=True)
class Catalogue:
    rules: tuple[CompiledRule, ...]
    params: ParamTable
    version: str  # content hash of the rules: equal catalogues have equal versions
    source: str

    @property
    def active(self) -> tuple[CompiledRule, ...]:
        return tuple(r for r in self.rules if r.rule.state == RuleState.ACTIVE)

    def get(self, rule_id: str) -> CompiledRule | None:
        return self._by_id.get(rule_id)

    @cached_property
    def _by_id(self) -> dict[str, CompiledRule]:
        return {r.id: r for r in self.rules}

    def as_data(self) -> dict[str, Any]:
        """The catalogue as plain data (what `dixian rules publish` puts on the control topic)."""
        return {
            "version": self.version,
            "source": self.source,
            "rules": [r.rule.model_dump(mode="json") for r in self.rules],
            "parameters": self.params.as_data(),
        }


def _schema_for(rule: Rule, params: ParamTable) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    per_type = [event_schema(t) for t in rule.event_types]
    shared = set(per_type[0]).intersection(*per_type[1:]) if per_type else set()
    schema.update({k: v for k, v in per_type[0].items() if k in shared})
    member_level = all(MODEL_BY_TYPE[t].member_level for t in rule.event_types)
    schema.update({k: v for k, v in CONTEXT_SCHEMA.items() if member_level or not k.startswith("member.")})
    schema.update({f"param.{name}": ("number", ()) for name in params.params})
    return schema


def _pydantic_errors(file: str, raw: dict[str, Any], exc: ValidationError) -> list[SourceError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = [str(x) for x in err["loc"]]
        line = line_of(raw, loc[0]) if loc else line_of(raw)
        if len(loc) >= 2 and loc[0] == "examples" and loc[1].isdigit():
            ex = raw.get("examples", [])[int(loc[1])] if int(loc[1]) < len(raw.get("examples", [])) else None
            line = line_of(ex, loc[2]) if ex is not None and len(loc) > 2 else line_of(ex) or line
        where = ".".join(loc) or "rule"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        out.append(SourceError(file, line, f"{raw.get('id', '?')}: {where}: {msg}"))
    return out


def compile_rules(
    file: str, raws: list[Any], params: ParamTable, default_dept: str | None = None
) -> tuple[list[CompiledRule], list[SourceError]]:
    """Validate and parse rules given as mappings (from a YAML file, with line numbers, or from
    published data, without)."""
    errors: list[SourceError] = []
    out: list[CompiledRule] = []
    for raw in raws:
        if not isinstance(raw, dict):
            errors.append(SourceError(file, 0, "each rule is a mapping"))
            continue
        plain = strip_lines(raw)
        if default_dept and "department" not in plain:
            plain["department"] = default_dept
        try:
            rule = Rule.model_validate(plain)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(file, raw, exc))
            continue
        try:
            condition = parse(raw["when"], line_of(raw, "when"))
        except ConditionError as exc:
            errors.append(SourceError(file, exc.line, f"{rule.id}: when: {exc}"))
            continue
        for ce in check(condition, _schema_for(rule, params)):
            errors.append(SourceError(file, ce.line, f"{rule.id}: when: {ce}"))
        used = params_used(condition)
        declared = set(rule.parameters)
        if used - declared:
            errors.append(
                SourceError(
                    file,
                    line_of(raw, "parameters") or line_of(raw, "when"),
                    f"{rule.id}: parameters: uses {sorted(used - declared)} without declaring them",
                )
            )
        if declared - used:
            errors.append(
                SourceError(
                    file,
                    line_of(raw, "parameters"),
                    f"{rule.id}: parameters: declares {sorted(declared - used)} but never uses them",
                )
            )
        for i, ex in enumerate(rule.examples):
            problem = example_problem(rule, ex)
            if problem:
                errors.append(
                    SourceError(
                        file, line_of(raw["examples"][i]), f"{rule.id}: example {ex.name!r}: {problem}"
                    )
                )
        out.append(CompiledRule(rule, condition, file, line_of(raw)))
    return out, errors


def parse_rule_file(path: Path, params: ParamTable) -> tuple[list[CompiledRule], list[SourceError]]:
    try:
        data = load_yaml(path)
    except LoadError as exc:
        return [], exc.errors
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        return [], [SourceError(path.name, 1, "a rule file needs a top-level 'rules:' list")]
    errors: list[SourceError] = []
    unknown_top = [k for k in data if k not in ("rules", "department", LINES, "__line__")]
    if unknown_top:
        errors.append(
            SourceError(path.name, line_of(data, unknown_top[0]), f"unknown top-level key {unknown_top[0]!r}")
        )
    rules, more = compile_rules(path.name, data["rules"], params, data.get("department"))
    return rules, errors + more


def example_problem(rule: Rule, ex: Example) -> str | None:
    event_type = ex.event_type or rule.event_types[0]
    if event_type not in rule.event_types:
        return f"event_type {event_type} is not one of the rule's event types"
    unknown_hh = set(ex.household) - set(HouseholdContext.__dataclass_fields__)
    unknown_m = set(ex.member) - set(MemberContext.__dataclass_fields__)
    if unknown_hh or unknown_m:
        return f"unknown context fields {sorted(unknown_hh | unknown_m)}"
    try:
        date.fromisoformat(ex.date)
        example_event(rule, ex)
    except (ValidationError, ValueError) as exc:
        return f"the example event is invalid: {exc}".splitlines()[0]
    return None


def example_event(rule: Rule, ex: Example) -> Any:
    """The example as a validated contract event (sample payload + the example's fields)."""
    event_type = ex.event_type or rule.event_types[0]
    model = MODEL_BY_TYPE[event_type]
    region = ex.region.ljust(12, "1") if len(ex.region) < 12 else ex.region
    envelope = {
        "event_id": "example-event",
        "dept": model.owner.value,
        "household_id": region + "0001",
        "village_code": region,
        "occurred_at": ex.date,
        "reported_at": f"{ex.date} 12:00:00",
        "event_type": event_type,
    }
    if model.member_level:
        envelope["member_id"] = "11010519491231002X"
    return model.model_validate({**envelope, **SAMPLE_PAYLOADS[event_type], **ex.event})


def _version(rules: list[CompiledRule], params: ParamTable) -> str:
    canonical = orjson.dumps(
        {
            "rules": [r.rule.model_dump(mode="json") for r in sorted(rules, key=lambda r: r.id)],
            "parameters": params.as_data(),
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()[:12]


def load_catalogue(directory: Path | None = None, params: ParamTable | None = None) -> Catalogue:
    """Load and check every ``*.yaml`` of a catalogue directory (default: the shipped one).

    Raises LoadError listing every problem with file and line."""
    params = params or default_params()
    if directory is None:
        paths = sorted(SHIPPED.glob("*.yaml"))
        source = "rules/catalogue"
    else:
        paths = sorted(directory.glob("*.yaml"))
        source = str(directory)
    if not paths:
        raise LoadError([SourceError(source, 0, "no rule files (*.yaml) found")])
    errors: list[SourceError] = []
    rules: list[CompiledRule] = []
    for path in paths:
        found, errs = parse_rule_file(path, params)
        rules.extend(found)
        errors.extend(errs)
    return _assemble(rules, errors, params, source)


def _assemble(
    rules: list[CompiledRule], errors: list[SourceError], params: ParamTable, source: str
) -> Catalogue:
    seen: dict[str, CompiledRule] = {}
    for r in rules:
        if r.id in seen:
            first = seen[r.id]
            errors.append(
                SourceError(r.file, r.line, f"{r.id}: duplicate id (first at {first.file}:{first.line})")
            )
        seen[r.id] = r
    if errors:
        raise LoadError(errors)
    return Catalogue(tuple(rules), params, _version(rules, params), source)


def catalogue_from_data(data: dict[str, Any]) -> Catalogue:
    """A catalogue from its published form (``Catalogue.as_data``), checked exactly like files."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or "parameters" not in data:
        raise LoadError([SourceError("published catalogue", 0, "expected {rules: [...], parameters: {...}}")])
    params = params_from_data("published parameters", {"parameters": data["parameters"]})
    rules, errors = compile_rules("published catalogue", data["rules"], params)
    catalogue = _assemble(rules, errors, params, str(data.get("source", "published")))
    claimed = data.get("version")
    if claimed is not None and claimed != catalogue.version:
        raise LoadError(
            [
                SourceError(
                    "published catalogue",
                    0,
                    f"version {claimed} does not match its content ({catalogue.version})",
                )
            ]
        )
    return catalogue
