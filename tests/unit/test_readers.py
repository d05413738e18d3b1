from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from openpyxl import Workbook

from connectors.mapping import MappingError, load_mapping
from connectors.readers import FileFormatError, open_source

HEADER = "户编号,身份证号,行政村代码,发生日期,报送时间,就诊类型,医疗总费用,个人自付费用\n"
ROW = "4503211012010001,11010519491231002X,450321101201,2022-06-01,2022-06-30 18:00:00,住院,100,50\n"


def test_utf8_csv_with_bom(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes(("\ufeff" + HEADER + ROW).encode("utf-8"))
    src = open_source(p)
    assert src.encoding == "utf-8"
    (row,) = list(src.rows())
    assert row.values is not None
    assert row.values["就诊类型"] == "住院"
    assert row.line == 2


def test_gbk_csv_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes((HEADER + ROW).encode("gbk"))
    src = open_source(p)
    assert src.encoding == "gb18030"
    (row,) = list(src.rows())
    assert row.values is not None
    assert row.values["就诊类型"] == "住院"


def test_gbk_row_in_utf8_file_is_a_row_problem(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes(HEADER.encode() + ROW.encode() + ROW.encode("gbk") + ROW.encode())
    rows = list(open_source(p).rows())
    assert [r.line for r in rows] == [2, 3, 4]
    assert rows[1].problem is not None
    assert rows[1].problem.code == "encoding"
    assert "住院" in rows[1].raw  # shown decoded with the other encoding, for the department to fix
    assert rows[0].problem is None
    assert rows[2].problem is None


def test_short_row_is_a_column_count_problem(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text(HEADER + "4503211012010001,x\n" + "\n" + ROW, encoding="utf-8")
    rows = list(open_source(p).rows())
    assert len(rows) == 2  # the blank line is not a record
    assert rows[0].problem is not None
    assert rows[0].problem.code == "column_count"
    assert rows[1].line == 4


def test_xlsx_rows_and_types(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["户编号", "鉴定等级", "发生日期"])
    ws.append(["4503211012010001", "C级", "2022-06-01"])
    ws.append([None, None, None])
    ws.append([4503211012010002, "D级", 3.0])
    p = tmp_path / "h.xlsx"
    wb.save(p)
    rows = list(open_source(p).rows())
    assert [r.line for r in rows] == [2, 4]
    assert rows[1].values == {"户编号": "4503211012010002", "鉴定等级": "D级", "发生日期": "3"}


def test_jsonl_bad_lines_are_row_problems(tmp_path: Path) -> None:
    p = tmp_path / "e.jsonl"
    p.write_bytes(orjson.dumps({"户编号": "1"}) + b"\n{oops\n[1]\n")
    rows = list(open_source(p).rows())
    assert [r.problem.code if r.problem else None for r in rows] == [None, "not_json", "not_object"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "空文件"),
        ("x.pdf", b"%PDF", "不支持的文件类型"),
        ("bad.xlsx", b"not a zip", "无法作为XLSX打开"),
        ("nul.csv", b"a,b\n\x00\x00", "NUL"),
    ],
)
def test_unreadable_files_fail_whole(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(FileFormatError, match=message):
        open_source(p).check_structure()


def test_missing_required_columns_named() -> None:
    mapping = load_mapping("medical_insurance")
    assert mapping.check_headers(["户编号", "行政村代码"]) == ["occurred_at", "reported_at"]
    with pytest.raises(MappingError, match="unknown department"):
        load_mapping("tax_bureau")


def test_mapping_translates_values_and_booleans() -> None:
    m = load_mapping("medical_insurance")
    fields = m.to_fields(
        {"就诊类型": "住院", "是否大病": "是", "个人自付费用": " 12.50 ", "无关列": "x", "户编号": ""}
    )
    assert fields == {
        "visit": "inpatient",
        "serious_illness": True,
        "out_of_pocket": "12.50",
        "event_type": "medical.settlement",
    }


def test_an_unclosed_quote_refuses_its_line_and_reads_every_line_it_swallowed(tmp_path: Path) -> None:
    """Seen: a row with an unclosed quote swallowed the 13 lines after it into one record, and the
    file still reconciled. Now every physical line is a row of its own: one refused, 14 read."""
    p = tmp_path / "a.csv"
    broken = ROW.replace(",住院,", ',"住院,')
    p.write_text(HEADER + ROW + broken + ROW * 13, encoding="utf-8")
    rows = list(open_source(p).rows())
    assert [r.line for r in rows] == list(range(2, 17))
    refused = [r for r in rows if r.problem is not None]
    assert [(r.line, r.problem.code) for r in refused if r.problem] == [(3, "unclosed_quote")]
    assert "第3行" in refused[0].problem.zh  # type: ignore[union-attr]
    assert sum(r.values is not None for r in rows) == 14
