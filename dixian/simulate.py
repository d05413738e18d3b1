"""A reproducible synthetic Guilin: villages, households, members, and a month of department feeds
written as departments deliver them (CSV in UTF-8 or GBK, XLSX, JSON Lines, Chinese headers).

A configurable share of rows is malformed on purpose, and some rows are re-sent; ``manifest.json``
records exactly what was injected so ingestion counts can be checked against it.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import io
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from connectors.mapping import ColumnMapping, load_mapping
from dixian.contract import Dept
from dixian.contract.ids import resident_id_check_char
from dixian.geo import COUNTIES, KEY_COUNTIES, URBAN

# How each department delivers its file.
DELIVERY: dict[Dept, tuple[str, str]] = {
    Dept.MEDICAL_INSURANCE: ("csv", "utf-8"),
    Dept.HEALTH: ("csv", "utf-8"),
    Dept.HRSS: ("csv", "gbk"),
    Dept.DISABILITY: ("xlsx", ""),
    Dept.HOUSING: ("xlsx", ""),
    Dept.WATER: ("csv", "gbk"),
    Dept.EDUCATION: ("jsonl", "utf-8"),
    Dept.CIVIL_AFFAIRS: ("csv", "utf-8"),
    Dept.EMERGENCY: ("xlsx", ""),
    Dept.PUBLIC_SECURITY: ("csv", "gbk"),
    Dept.AGRICULTURE: ("xlsx", ""),
}
# Monthly probability that a household appears in a department's feed.
RATES: dict[Dept, float] = {
    Dept.MEDICAL_INSURANCE: 0.10,
    Dept.HEALTH: 0.003,
    Dept.HRSS: 0.02,
    Dept.DISABILITY: 0.002,
    Dept.HOUSING: 0.008,
    Dept.WATER: 0.015,
    Dept.EDUCATION: 0.005,
    Dept.CIVIL_AFFAIRS: 0.006,
    Dept.EMERGENCY: 0.0,  # disasters strike a few counties, see _disaster_counties
    Dept.PUBLIC_SECURITY: 0.0005,
    Dept.AGRICULTURE: 0.01,  # registered households' industry projects followed, and assessed farm losses
}
MALFORMED_KINDS = (
    "bad_id",
    "bad_village",
    "wrong_type",
    "bad_date",
    "unknown_value",
    "missing_columns",
    "encoding",
)
# Departments whose records carry their own record id (业务流水号); the others are identified by content.
WITH_SOURCE_REF = frozenset(Dept) - {Dept.HOUSING, Dept.WATER}


@dataclass
class Member:
    member_id: str
    relation: str
    age: int
    can_work: bool
    disabled: bool
    seriously_ill: bool
    insured: bool
    in_school: bool


@dataclass
class SimHousehold:
    household_id: str
    village_code: str
    household_type: str
    monitoring_category: str
    monitoring_status: str
    risk_types: list[str]
    per_capita_income: int
    housing_safe: bool
    water_safe: bool
    dibao: bool
    tekun: bool
    members: list[Member]


@dataclass
class City:
    villages: list[str]
    households: list[SimHousehold]


@dataclass
class FeedManifest:
    dept: str
    file: str
    rows: int
    valid_unique: int
    duplicates: int
    malformed: Counter[str] = field(default_factory=Counter)


def _resident_id(rng: random.Random, county: str, age: int, ref_year: int, used: set[str]) -> str:
    while True:
        birth = date(ref_year - age, 1, 1) + timedelta(days=rng.randrange(365))
        first17 = f"{county}{birth:%Y%m%d}{rng.randrange(1000):03d}"
        rid = first17 + resident_id_check_char(first17)
        if rid not in used:
            used.add(rid)
            return rid


def build_city(households: int, seed: int, year: int = 2022) -> City:
    """Counties → townships → villages (12-digit codes) → households and members."""
    rng = random.Random(seed)
    villages: list[str] = []
    weights: list[float] = []
    for county in COUNTIES:
        rural = 0.15 if county in URBAN else 1.0
        for t in range(rng.randint(3, 5) if county in URBAN else rng.randint(8, 15)):
            for v in range(rng.randint(6, 18)):
                villages.append(f"{county}{100 + t:03d}{200 + v:03d}")
                weights.append(rural * rng.uniform(0.5, 1.5))
    chosen = rng.choices(villages, weights=weights, k=households)
    per_village: Counter[str] = Counter()
    used: set[str] = set()
    out: list[SimHousehold] = []
    for village in chosen:
        per_village[village] += 1
        county = village[:6]
        poor_share = 0.16 if county in KEY_COUNTIES else (0.02 if county in URBAN else 0.08)
        formerly_poor = rng.random() < poor_share
        monitored = rng.random() < (0.12 if formerly_poor else 0.015)
        category, status = "", "未纳入"
        risk_types: list[str] = []
        if monitored:
            category = "脱贫不稳定户" if formerly_poor else rng.choice(["边缘易致贫户", "突发严重困难户"])
            status = rng.choice(["监测中", "监测中", "风险已消除"])
            risk_types = rng.sample(
                ["因病", "因学", "因残", "因务工就业不稳", "缺劳动力", "因自然灾害"], k=rng.randint(1, 2)
            )
        size = max(1, min(8, round(rng.gauss(2.68, 1.2))))
        members: list[Member] = []
        head_age = rng.randint(28, 75)
        for i in range(size):
            if i == 0:
                relation, age = "户主", head_age
            elif i == 1 and size > 2:
                relation, age = "配偶", max(20, head_age + rng.randint(-5, 5))
            elif head_age > 55 and rng.random() < 0.3:
                relation, age = "孙辈", rng.randint(1, 18)
            else:
                relation, age = "子女", max(0, head_age - rng.randint(20, 35))
            members.append(
                Member(
                    member_id=_resident_id(rng, county, age, year, used),
                    relation=relation,
                    age=age,
                    can_work=18 <= age <= 65 and rng.random() > 0.08,
                    disabled=rng.random() < (0.08 if monitored else 0.02),
                    seriously_ill=rng.random() < (0.10 if "因病" in risk_types else 0.01),
                    insured=rng.random() > 0.01,
                    in_school=6 <= age <= 22 and rng.random() < 0.9,
                )
            )
        income = int(rng.lognormvariate(9.5, 0.45)) if not monitored else rng.randint(4500, 9000)
        out.append(
            SimHousehold(
                household_id=f"{village}{per_village[village]:05d}",
                village_code=village,
                household_type="脱贫户" if formerly_poor else "一般农户",
                monitoring_category=category,
                monitoring_status=status,
                risk_types=risk_types,
                per_capita_income=income,
                housing_safe=rng.random() > 0.01,
                water_safe=rng.random() > 0.02,
                dibao=rng.random() < (0.2 if monitored else 0.02),
                tekun=rng.random() < 0.005,
                members=members,
            )
        )
    return City(sorted(set(villages)), out)


def _disaster_counties(rng: random.Random) -> set[str]:
    rural = [c for c in COUNTIES if c not in URBAN]
    return set(rng.sample(rural, k=2))


def _event_fields(dept: Dept, hh: SimHousehold, rng: random.Random, month: date) -> dict[str, Any]:
    """The department-specific fields of one plausible event for ``hh`` (English names)."""
    member = rng.choice(hh.members)
    f: dict[str, Any] = {"member_id": member.member_id}
    if dept is Dept.MEDICAL_INSURANCE:
        inpatient = rng.random() < 0.3
        total = round(rng.lognormvariate(9.3 if inpatient else 6.5, 0.9), 2)
        f.update(
            event_type="medical.settlement",
            visit="inpatient" if inpatient else "outpatient",
            total_cost=f"{total:.2f}",
            out_of_pocket=f"{total * rng.uniform(0.1, 0.6):.2f}",
            serious_illness=rng.random() < (0.25 if member.seriously_ill else 0.03),
        )
    elif dept is Dept.HEALTH:
        f.update(
            event_type="health.serious_illness",
            category=rng.choice(["cancer", "chronic", "chronic", "rare", "mental", "other"]),
        )
    elif dept is Dept.HRSS:
        kind = rng.choices(["lost", "gap", "reemployed"], weights=[3, 5, 2])[0]
        if kind == "lost":
            f.update(event_type="employment.job_lost", returned_home=rng.random() < 0.5)
        elif kind == "gap":
            f.update(event_type="employment.contribution_gap", months=rng.randint(1, 8))
        else:
            f.update(event_type="employment.reemployed", monthly_wage=f"{rng.randint(1800, 6000)}.00")
    elif dept is Dept.DISABILITY:
        if rng.random() < 0.75:
            f.update(
                event_type="disability.certified",
                grade=rng.randint(1, 4),
                kind=rng.choice(["physical", "visual", "hearing", "intellectual", "mental", "speech"]),
            )
        else:
            old = rng.randint(2, 4)
            f.update(event_type="disability.grade_changed", old_grade=old, grade=old - 1)
    elif dept is Dept.HOUSING:
        f = {
            "event_type": "housing.dwelling_rated",
            "grade": rng.choices("ABCD", weights=[50, 35, 12, 3])[0],
            "only_dwelling": rng.random() < 0.9,
        }
    elif dept is Dept.WATER:
        bad = rng.random() < 0.1
        f = {
            "event_type": "water.assessed",
            "litres_per_person_day": round(
                rng.uniform(15, 34) if bad and rng.random() < 0.5 else rng.uniform(40, 150), 1
            ),
            "water_short_area": rng.random() < 0.1,
            "piped": rng.random() < 0.8,
            "trip_minutes": rng.randint(25, 40) if bad else rng.randint(0, 15),
            "horizontal_m": rng.randint(0, 600),
            "vertical_m": rng.randint(0, 60),
            "days_lost_per_year": rng.randint(37, 60) if bad and rng.random() < 0.3 else rng.randint(0, 10),
            "quality_ok": not (bad and rng.random() < 0.3),
        }
    elif dept is Dept.EDUCATION:
        if rng.random() < 0.12:
            f.update(
                event_type="education.dropout",
                status=rng.choice(["dropout", "suspected"]),
                stage=rng.choice(["primary", "junior"]),
                age=rng.randint(7, 15),
            )
        else:
            f.update(
                event_type="education.self_paid_cost",
                stage=rng.choice(["senior", "vocational", "college"]),
                school_year=f"{month.year}-{month.year + 1}",
                amount=f"{rng.randint(2000, 16000)}.00",
            )
    elif dept is Dept.CIVIL_AFFAIRS:
        granted = rng.random() < 0.7
        f = {
            "event_type": "assistance.granted" if granted else "assistance.ended",
            "kind": rng.choices(["dibao", "tekun", "temporary"], weights=[5, 1, 4])[0],
        }
        if granted:
            f["amount"] = f"{rng.randint(300, 3000)}.00"
    elif dept is Dept.EMERGENCY:
        f = {
            "event_type": "disaster.loss",
            "disaster_type": rng.choice(["flood", "flood", "geological"]),
            "house_damage": rng.choices(
                ["none", "damaged", "badly_damaged", "collapsed"], weights=[5, 3, 1, 1]
            )[0],
            "harvest_loss_share": round(rng.uniform(0, 1), 2),
            "deaths": 0,
            "injuries": int(rng.random() < 0.05),
            "loss_amount": f"{rng.randint(500, 80000)}.00",
        }
    elif dept is Dept.AGRICULTURE:
        if rng.random() < 0.7:
            invested = rng.randint(2000, 30000)
            status = rng.choices(["running", "suspended", "failed"], weights=[85, 8, 7])[0]
            loss = 0 if status == "running" and rng.random() < 0.7 else rng.randint(0, invested)
            f = {
                "event_type": "industry.project",
                "project_type": rng.choice(["planting", "planting", "breeding", "processing", "other"]),
                "status": status,
                "invested": f"{invested}.00",
                "loss_amount": f"{loss}.00",
                "unsold_share": round(
                    rng.uniform(0.4, 0.9) if rng.random() < 0.08 else rng.uniform(0, 0.3), 2
                ),
            }
        else:
            cause = rng.choices(["disaster", "disease", "market", "other"], weights=[4, 3, 2, 1])[0]
            f = {
                "event_type": "agriculture.loss",
                "product": rng.choice(["crop", "crop", "livestock", "aquatic"]),
                "cause": cause,
                "loss_share": round(rng.uniform(0, 1), 2),
                "loss_amount": f"{rng.randint(300, 40000)}.00",
            }
            if cause == "disaster":
                f["disaster_type"] = rng.choice(["flood", "drought", "meteorological"])
    elif dept is Dept.PUBLIC_SECURITY:
        f.update(
            event_type="security.casualty",
            outcome=rng.choice(["death", "injury", "injury"]),
            cause=rng.choice(["traffic", "traffic", "crime", "other"]),
            age=member.age,
        )
    return f


def _reverse(mapping: ColumnMapping) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    header_of: dict[str, str] = {}
    for header, name in mapping.columns.items():
        header_of.setdefault(name, header)
    zh_value = {
        f: {str(v): k for k, v in table.items()} for f, table in mapping.values.items() if f != "_bool"
    }
    zh_value["event_type"] = {v: k for k, v in mapping.event_types.items()}
    return header_of, zh_value


def _to_row(
    fields: dict[str, Any], header_of: dict[str, str], zh_value: dict[str, dict[str, str]], headers: list[str]
) -> list[Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        cell = value
        if isinstance(value, bool):
            cell = "是" if value else "否"
        elif name in zh_value and str(value) in zh_value[name]:
            cell = zh_value[name][str(value)]
        out[header_of.get(name, name)] = cell
    return [out.get(h, "") for h in headers]


def _corrupt(
    kind: str, row: list[Any], headers: list[str], header_of: dict[str, str], rng: random.Random, fmt: str
) -> list[Any] | bytes | None:
    """Damage a row the way real extracts are damaged. Returns None when the kind does not apply."""
    row = list(row)

    def idx(name: str) -> int | None:
        h = header_of.get(name)
        return headers.index(h) if h in headers else None

    if kind == "bad_id":
        i = idx("member_id")
        if i is None or not row[i]:
            return None
        rid = str(row[i])
        row[i] = rid[:17] + ("0" if rid[17] != "0" else "1")
    elif kind == "bad_village":
        i = idx("village_code")
        assert i is not None
        row[i] = str(row[i])[:11]
    elif kind == "bad_date":
        i = idx("occurred_at")
        assert i is not None
        row[i] = rng.choice(["2022-13-05", "2022/06/31", "六月五日"])
    elif kind == "wrong_type":
        numeric = [
            n
            for n in (
                "out_of_pocket",
                "total_cost",
                "months",
                "litres_per_person_day",
                "amount",
                "age",
                "grade",
                "harvest_loss_share",
                "loss_amount",
            )
            if idx(n) is not None
        ]
        cands = [n for n in numeric if row[idx(n) or 0] != ""]
        if not cands:
            return None
        row[idx(rng.choice(cands)) or 0] = rng.choice(["约三千", "N/A", "12,5x"])
    elif kind == "unknown_value":
        i = idx("event_type")
        if i is None:
            return None
        row[i] = "未知类型"
    elif kind == "missing_columns":
        if fmt == "csv":
            return row[:-2]
        # In a spreadsheet or JSON a short row just has empty trailing cells, which may be valid:
        # the damage that matters there is a required value left blank.
        i = idx(rng.choice(["household_id", "occurred_at", "village_code"]))
        assert i is not None
        row[i] = ""
    elif kind == "encoding":
        return None  # handled by the CSV writer, which alone knows the file's encoding
    return row


def _month_dates(month: str) -> tuple[date, date]:
    y, m = (int(x) for x in month.split("-"))
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def generate_feed(
    dept: Dept,
    city: City,
    month: str,
    out_dir: Path,
    *,
    seed: int,
    malformed: float,
    rows: int | None = None,
    duplicate_share: float = 0.01,
) -> FeedManifest:
    rng = random.Random(f"{seed}-{dept.value}-{month}")
    first, last = _month_dates(month)
    fmt, encoding = DELIVERY[dept]
    mapping = load_mapping(dept.value)
    header_of, zh_value = _reverse(mapping)
    headers = ["业务流水号"] if dept in WITH_SOURCE_REF else []
    headers += ["户编号", "身份证号", "行政村代码", "事件类型", "发生日期", "报送时间"]
    headers += list(mapping.own_headers)
    if dept is Dept.EMERGENCY:
        hit = _disaster_counties(rng)
        pool = [h for h in city.households if h.village_code[:6] in hit and rng.random() < 0.05]
    else:
        pool = [h for h in city.households if rng.random() < RATES[dept]]
    if rows is not None:
        pool = [rng.choice(city.households) for _ in range(rows)]
    reported = f"{last:%Y-%m-%d} 18:00:00"
    body: list[list[Any] | bytes] = []
    manifest = FeedManifest(dept.value, "", 0, 0, 0)
    seen_rows: set[tuple[str, ...]] = set()
    for n, hh in enumerate(pool, start=1):
        fields = _event_fields(dept, hh, rng, first)
        occurred = first + timedelta(days=rng.randrange((last - first).days + 1))
        if rng.random() < 0.02:
            occurred -= timedelta(days=rng.randint(60, 120))  # a late report
        base = {
            "source_ref": f"{dept.value[:2].upper()}{month.replace('-', '')}{n:08d}",
            "household_id": hh.household_id,
            "village_code": hh.village_code,
            "occurred_at": occurred.isoformat(),
            "reported_at": reported,
        }
        if dept not in WITH_SOURCE_REF:
            base.pop("source_ref")
        row = _to_row({**base, **fields}, header_of, zh_value, headers)
        if rng.random() < malformed:
            kinds = [k for k in MALFORMED_KINDS if not (k == "encoding" and fmt != "csv")]
            kind = rng.choice(kinds)
            damaged: list[Any] | bytes | None
            if kind == "encoding":
                other = "gbk" if encoding == "utf-8" else "utf-8"
                damaged = _csv_line(row).encode(other)
                # A row that is plain ASCII, or valid in both encodings, is not damaged at all.
                try:
                    damaged.decode(encoding)
                    damaged = None
                except UnicodeDecodeError:
                    pass
            else:
                damaged = _corrupt(kind, row, headers, header_of, rng, fmt)
            if damaged is not None:
                body.append(damaged)
                manifest.malformed[kind] += 1
                continue
        body.append(row)
        resent = rng.random() < duplicate_share
        if dept not in WITH_SOURCE_REF:
            # without a business serial number an event is known by its content: the same
            # household drawn twice with the same day and values is the same event sent twice
            seen_key = tuple(map(str, row))
            if seen_key in seen_rows:
                manifest.duplicates += 1
                continue
            seen_rows.add(seen_key)
        manifest.valid_unique += 1
        if resent:
            body.append(row)  # the department re-sent the same record
            manifest.duplicates += 1
    manifest.rows = len(body)
    ext = {"csv": "csv", "xlsx": "xlsx", "jsonl": "jsonl"}[fmt]
    path = out_dir / f"{dept.value}-{month}.{ext}"
    manifest.file = path.name
    if fmt == "csv":
        _write_csv(path, headers, body, encoding)
    elif fmt == "xlsx":
        _write_xlsx(path, headers, [r for r in body if isinstance(r, list)])
    else:
        _write_jsonl(path, headers, [r for r in body if isinstance(r, list)])
    return manifest


def _csv_line(row: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row)
    return buf.getvalue()


def _write_csv(path: Path, headers: list[str], body: list[list[Any] | bytes], encoding: str) -> None:
    with path.open("wb") as fh:
        fh.write(_csv_line(headers).encode(encoding))
        for row in body:
            fh.write(row if isinstance(row, bytes) else _csv_line(row).encode(encoding))


def _write_xlsx(path: Path, headers: list[str], body: list[list[Any]]) -> None:
    from openpyxl import Workbook  # noqa: PLC0415

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("数据")
    ws.append(headers)
    for row in body:
        ws.append(row)
    wb.save(path)


def _write_jsonl(path: Path, headers: list[str], body: list[list[Any]]) -> None:
    with path.open("wb") as fh:
        for row in body:
            fh.write(orjson.dumps({h: v for h, v in zip(headers, row, strict=False) if v != ""}) + b"\n")


_SURNAMES = (
    "李王张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁宋郑谢韦蒋唐莫覃蓝潘"  # 覃、韦、蓝、莫: common in Guangxi
)
_GIVEN = "建国华明秀英桂芳玉兰志强海燕春梅文军丽娟德福永红小平金凤家豪子涵思雨俊杰"


def simulated_name(member_id: str, household_id: str, relation: str) -> str:
    """A made-up name, stable per member: children and the householder share the household's surname."""
    h = int(hashlib.blake2b(member_id.encode(), digest_size=4).hexdigest(), 16)
    family = int(hashlib.blake2b(household_id.encode(), digest_size=4).hexdigest(), 16)
    shares = relation in ("户主", "子女", "孙辈", "兄弟姐妹")
    surname = _SURNAMES[family % len(_SURNAMES)] if shares else _SURNAMES[h % len(_SURNAMES)]
    given = _GIVEN[(h >> 8) % len(_GIVEN)] + ("" if h % 3 == 0 else _GIVEN[(h >> 16) % len(_GIVEN)])
    return surname + given


def income_parts(hh: SimHousehold) -> tuple[list[Any], Any]:
    """A made-up, stable income composition (wage, business, property, transfer per person, adding up
    to the per-capita income) and last year's income (empty for one household in ten: the export does
    not always carry it). Drawn from a digest of the household id, not from the city's random stream,
    so the rest of the simulated city is unchanged."""
    h = int(hashlib.blake2b(hh.household_id.encode(), digest_size=8).hexdigest(), 16)
    total = hh.per_capita_income
    wage = total * (40 + h % 20) // 100
    business = total * (10 + (h >> 8) % 20) // 100
    prop = total * ((h >> 16) % 4) // 100
    transfer = total - wage - business - prop
    growth = (3 + (h >> 24) % 12 + (3 if hh.household_type == "脱贫户" else 0)) / 100  # 3–17%
    prev: Any = "" if (h >> 32) % 10 == 0 else round(total / (1 + growth))
    return [wage, business, prop, transfer], prev


def roster_rows(city: City) -> Iterator[list[Any]]:
    for hh in city.households:
        parts, prev = income_parts(hh)
        for m in hh.members:
            yield [
                hh.household_id,
                hh.village_code,
                hh.household_type,
                hh.monitoring_category,
                hh.monitoring_status,
                "、".join(hh.risk_types),
                hh.per_capita_income,
                *parts,
                prev,
                *("是" if b else "否" for b in (hh.housing_safe, hh.water_safe, hh.dibao, hh.tekun)),
                m.member_id,
                simulated_name(m.member_id, hh.household_id, m.relation),
                m.relation,
                *(
                    "是" if b else "否"
                    for b in (m.can_work, m.disabled, m.seriously_ill, m.insured, m.in_school)
                ),
            ]


ROSTER_HEADERS = [
    "户编号",
    "行政村代码",
    "户类型",
    "监测对象类别",
    "监测状态",
    "风险类型",
    "人均纯收入",
    "人均工资性收入",
    "人均经营净收入",
    "人均财产净收入",
    "人均转移净收入",
    "上年人均纯收入",
    "住房安全",
    "饮水安全",
    "是否低保",
    "是否特困",
    "成员身份证号",
    "姓名",
    "与户主关系",
    "有劳动能力",
    "是否残疾",
    "是否大病",
    "是否参保",
    "是否在校生",
]


def write_roster(city: City, out_dir: Path) -> Path:
    path = out_dir / "roster.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(ROSTER_HEADERS)
        w.writerows(roster_rows(city))
    return path


_PLACE = "龙凤石岩桥塘坪江山田溪岭源水口湾洞头平安福兴和新东西南北金竹沙冲"
_TOWN_SUFFIX = ("镇", "镇", "乡")


def simulated_place(code: str) -> str:
    """A made-up, stable name for a simulated township (9-digit code) or village (12 digits)."""
    h = int(hashlib.blake2b(code.encode(), digest_size=4).hexdigest(), 16)
    stem = _PLACE[h % len(_PLACE)] + _PLACE[(h >> 8) % len(_PLACE)]
    return stem + (_TOWN_SUFFIX[(h >> 16) % 3] if len(code) == 9 else "村")


def write_areas(city: City, out_dir: Path) -> Path:
    """The simulated city's area table (代码, 名称), as ``dixian screening areas`` loads it."""
    path = out_dir / "areas.csv"
    codes = sorted({v[:9] for v in city.villages} | set(city.villages))
    sites = relocation_sites(city)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["代码", "名称"])
        w.writerows([c, sites.get(c) or simulated_place(c)] for c in codes)
    return path


def relocation_sites(city: City) -> dict[str, str]:
    """One relocation site (易地搬迁集中安置点) per rural county: its first village by code becomes the
    site's community, named so that the area table marks it."""
    first: dict[str, str] = {}
    for v in sorted(city.villages):
        if v[:6] not in URBAN:
            first.setdefault(v[:6], v)
    return {v: simulated_place(v).removesuffix("村") + "易地扶贫搬迁安置点" for v in first.values()}


def simulate(
    out_dir: Path,
    *,
    households: int,
    month: str,
    seed: int,
    malformed: float,
    depts: list[Dept] | None = None,
    rows: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write ``roster.csv``, the area table ``areas.csv``, one feed per department and
    ``manifest.json`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    city = build_city(households, seed, int(month[:4]))
    if progress:
        progress("roster")
    write_roster(city, out_dir)
    write_areas(city, out_dir)
    feeds = []
    for dept in depts or list(Dept):
        if progress:
            progress(dept.value)
        m = generate_feed(dept, city, month, out_dir, seed=seed, malformed=malformed, rows=rows)
        feeds.append(
            {
                "dept": m.dept,
                "file": m.file,
                "rows": m.rows,
                "valid_unique": m.valid_unique,
                "duplicates": m.duplicates,
                "malformed": dict(m.malformed),
            }
        )
    manifest = {
        "seed": seed,
        "month": month,
        "households": households,
        "members": sum(len(h.members) for h in city.households),
        "villages": len(city.villages),
        "roster": "roster.csv",
        "areas": "areas.csv",
        "feeds": feeds,
    }
    (out_dir / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest
