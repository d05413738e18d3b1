"""A report's charts need no CJK font on the machine that makes them: their text stays text in the
SVG and the reader's browser draws it. Run in a process of its own whose matplotlib knows no CJK
font, with every warning an error."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from matplotlib import font_manager as fm
fm.fontManager.ttflist = [f for f in fm.fontManager.ttflist if "CJK" not in f.name]
import reports.render as render
render.CJK_FONT_FILES = ()
from reports.model import Chart
svg = render.chart_svg(Chart("各县预警线索", "stacked", ["阳朔县", "临桂区"], {"线索": [3, 4]}, "户"))
assert svg.startswith("<svg") and "阳朔县" in svg and "<text" in svg, svg[:200]
print("ok")
"""


def test_charts_render_as_svg_text_without_any_cjk_font() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr == ""  # not even a "findfont" line on a bare machine


def test_a_month_without_data_is_a_gap_and_an_all_zero_chart_starts_at_zero() -> None:
    import re  # noqa: PLC0415

    from reports.model import Chart  # noqa: PLC0415
    from reports.render import chart_svg  # noqa: PLC0415

    trend = chart_svg(Chart("命中率", "line", ["2022-05", "2022-06"], {"命中率": [None, 12.5]}, percent=True))
    assert "无数据" in trend
    assert "0.0%" not in trend  # the month without data is not drawn as 0%
    zeros = chart_svg(Chart("各县预警线索", "stacked", ["阳朔县", "临桂区"], {"线索": [0, 0]}, "户"))
    assert not re.search(r">\s*[−-]\s*0?\.\d", zeros)  # no negative tick labels
