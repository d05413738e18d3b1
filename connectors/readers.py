"""Readers for files as departments deliver them: CSV (UTF-8 or GBK/GB18030), XLSX, JSON Lines.

A reader yields one ``SourceRow`` per record with its line number in the file (header = line 1),
so a dead letter can say exactly where to look. Whole-file problems (not a spreadsheet, no
header, a broken CSV structure) raise ``FileFormatError`` before anything is published.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from dixian.contract import Problem

_SURROGATE = re.compile("[\udc80-\udcff]")
# Characters Chinese government extracts contain besides ASCII: CJK ideographs and punctuation,
# full-width forms, general punctuation and a few symbols. Anything else in a UTF-8 file is a hint
# of mojibake, e.g. a GBK row whose bytes happen to be valid UTF-8 ("住院" → "סԺ").
_UNEXPECTED = re.compile(
    "[^\x00-\x7f\u00b0\u00b7\u00d7\u2000-\u206f\u2460-\u24ff\u3000-\u303f"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
)


def _is_gbk_mojibake(text: str) -> bool:
    """True when ``text`` (read as UTF-8) is really GB18030 bytes of Chinese text."""
    if not _UNEXPECTED.search(text):
        return False
    try:
        again = text.encode("utf-8").decode("gb18030")
    except UnicodeDecodeError:
        return False
    return not _UNEXPECTED.search(again)


csv.field_size_limit(1 << 20)


class FileFormatError(ValueError):
    """The file cannot be read at all; nothing from it is published."""


@dataclass(slots=True)
class SourceRow:
    line: int
    values: dict[str, Any] | None
    raw: str
    problem: Problem | None = None


class SourceFile:
    """An opened department file: its headers, encoding and a way to iterate its rows."""

    def __init__(self, path: Path, fmt: str, headers: list[str], encoding: str) -> None:
        self.path = path
        self.format = fmt
        self.headers = headers
        self.encoding = encoding

    def rows(self) -> Iterator[SourceRow]:
        raise NotImplementedError

    def check_structure(self) -> int:
        """Read the whole file once without validating content; returns the record count.
        Raises FileFormatError where the structure is broken, before anything is published."""
        return sum(1 for _ in self.rows())


def _detect_encoding(data: bytes) -> tuple[str, bool]:
    """(encoding, strict): strict when the whole file decodes; otherwise rows that do not decode
    become row-level encoding problems."""
    try:
        data.decode("utf-8")
        return "utf-8-sig", True
    except UnicodeDecodeError:
        pass
    header = data.split(b"\n", 1)[0]
    try:
        header.decode("utf-8")
        header_utf8 = not header.isascii()
    except UnicodeDecodeError:
        header_utf8 = False
    if not header_utf8:
        try:
            data.decode("gb18030")
            return "gb18030", True
        except UnicodeDecodeError:
            pass
    if header_utf8:
        return "utf-8-sig", False
    lines = data.splitlines()[:2000]
    utf8_ok = 0
    for line in lines:
        try:
            line.decode("utf-8")
            utf8_ok += 1
        except UnicodeDecodeError:
            pass
    return ("utf-8-sig", False) if utf8_ok * 2 >= len(lines) else ("gb18030", False)


class CsvFile(SourceFile):
    def __init__(self, path: Path, encoding: str | None = None) -> None:
        data = path.read_bytes()
        if b"\x00" in data[:65536]:
            raise FileFormatError(
                f"{path.name}: 含有NUL字节, 不是文本CSV / contains NUL bytes: not a text CSV file"
            )
        if encoding:
            enc, strict = encoding, False
        else:
            enc, strict = _detect_encoding(data)
        self._text = data.decode(enc, errors="strict" if strict else "surrogateescape")
        self._alt = "gb18030" if enc.startswith("utf") else "utf-8"
        try:
            headers = next(csv.reader(io.StringIO(self._text)))
        except StopIteration:
            raise FileFormatError(f"{path.name}: 空文件, 没有表头 / empty file, no header row") from None
        if any(_SURROGATE.search(h) for h in headers):
            raise FileFormatError(f"{path.name}: 表头无法按{enc}解码 / header row is not valid {enc}")
        super().__init__(path, "csv", [h.strip() for h in headers], enc.replace("-sig", ""))

    def rows(self) -> Iterator[SourceRow]:
        reader = csv.reader(io.StringIO(self._text))
        try:
            next(reader)
            start = reader.line_num + 1
            for cells in reader:
                line, start = start, reader.line_num + 1
                if reader.line_num > line and any("\n" in c or "\r" in c for c in cells):
                    # A quote left open swallows the lines after it into one record: the line with
                    # the open quote is refused, each swallowed line is read as the record it was.
                    yield from self._unclosed_quote(line, reader.line_num)
                    continue
                yield from self._record(line, cells)
        except csv.Error as exc:
            raise FileFormatError(
                f"{self.path.name} 第{reader.line_num}行: CSV结构错误 / "
                f"line {reader.line_num}: broken CSV: {exc}"
            ) from None

    def _unclosed_quote(self, first: int, last: int) -> Iterator[SourceRow]:
        lines = self._text.splitlines()
        yield SourceRow(
            first,
            None,
            lines[first - 1],
            Problem(
                "(row)",
                "unclosed_quote",
                f"引号未闭合: 第{first}行的引号一直延续到第{last}行; 本行拒收, 其后各行逐行读取",
                f"unclosed quote: the quote on line {first} runs to line {last}; this line is refused,"
                " the lines after it are read one by one",
            ),
        )
        for n in range(first + 1, last + 1):
            text = lines[n - 1]
            cells = next(csv.reader([text]), [])
            yield from self._record(n, cells)

    def _record(self, line: int, cells: list[str]) -> Iterator[SourceRow]:
        n_headers = len(self.headers)
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            return  # blank lines are not records
        joined = ",".join(cells)
        if _UNEXPECTED.search(joined) and (
            _SURROGATE.search(joined) or (self._alt == "gb18030" and _is_gbk_mojibake(joined))
        ):
            raw = joined.encode(
                "utf-8" if self.encoding == "utf-8" else self.encoding, "surrogateescape"
            ).decode(self._alt, "replace")
            yield SourceRow(
                line,
                None,
                raw,
                Problem(
                    "(row)",
                    "encoding",
                    f"该行不是{self.encoding}编码(疑似{self._alt})",
                    f"row is not valid {self.encoding} (looks like {self._alt})",
                ),
            )
            return
        if len(cells) != n_headers:
            yield SourceRow(
                line,
                None,
                joined,
                Problem(
                    "(row)",
                    "column_count",
                    f"列数不符: 应为{n_headers}列, 实为{len(cells)}列",
                    f"expected {n_headers} columns, found {len(cells)}",
                ),
            )
            return
        yield SourceRow(line, dict(zip(self.headers, cells, strict=True)), joined)


def _cell_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str | bool) else str(value)


class XlsxFile(SourceFile):
    def __init__(self, path: Path) -> None:
        from openpyxl import load_workbook  # noqa: PLC0415

        try:
            self._wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise FileFormatError(f"{path.name}: 无法作为XLSX打开 / cannot open as XLSX: {exc}") from None
        ws = self._wb.worksheets[0]
        first = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), None)
        if not first or not any(first):
            raise FileFormatError(f"{path.name}: 第一个工作表没有表头 / first sheet has no header row")
        headers = [str(h).strip() if h is not None else "" for h in first]
        while headers and headers[-1] == "":
            headers.pop()
        super().__init__(path, "xlsx", headers, "xlsx")

    def rows(self) -> Iterator[SourceRow]:
        ws = self._wb.worksheets[0]
        n = len(self.headers)
        for line, cells in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
            texts = [_cell_text(c) for c in cells]
            if not any(t != "" for t in texts):
                continue
            extra = [t for t in texts[n:] if t != ""]
            raw = ",".join(str(t) for t in texts[: max(n, len(texts) - len(extra))])
            if extra:
                yield SourceRow(
                    line,
                    None,
                    raw,
                    Problem(
                        "(row)",
                        "column_count",
                        f"列数不符: 表头{n}列, 该行有多余数据",
                        f"row has data beyond the {n} header columns",
                    ),
                )
                continue
            yield SourceRow(
                line, dict(zip(self.headers, texts[:n] + [""] * (n - len(texts)), strict=True)), raw
            )


class JsonLinesFile(SourceFile):
    def __init__(self, path: Path) -> None:
        self._data = path.read_bytes()
        headers: set[str] = set()
        for line in self._data.splitlines()[:100]:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                headers.update(obj)
        super().__init__(path, "jsonl", sorted(headers), "utf-8")

    def rows(self) -> Iterator[SourceRow]:
        for line_no, line in enumerate(self._data.splitlines(), start=1):
            if not line.strip():
                continue
            raw = line.decode("utf-8", "replace")
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield SourceRow(line_no, None, raw, Problem("(row)", "not_json", "不是有效的JSON", str(exc)))
                continue
            if not isinstance(obj, dict):
                yield SourceRow(
                    line_no,
                    None,
                    raw,
                    Problem("(row)", "not_object", "该行不是JSON对象", "line is not a JSON object"),
                )
                continue
            yield SourceRow(line_no, obj, raw)


def open_source(path: Path, *, encoding: str | None = None) -> SourceFile:
    """Open a department file by its extension (.csv, .txt, .xlsx, .jsonl / .ndjson)."""
    if not path.is_file():
        raise FileFormatError(f"{path}: 文件不存在 / no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return CsvFile(path, encoding)
    if suffix == ".xlsx":
        return XlsxFile(path)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return JsonLinesFile(path)
    raise FileFormatError(
        f"{path.name}: 不支持的文件类型 {suffix} (支持 .csv .xlsx .jsonl) / unsupported file type {suffix}"
    )
