"""Guilin (桂林市, 450300): its 17 county-level units with their real GB/T 2260 codes."""

from __future__ import annotations

CITY_CODE = "450300"
CITY_NAME = "桂林市"
CITY_SCOPE = CITY_CODE[:4]  # the city as an area-code prefix (a city operator's scope)

COUNTIES: dict[str, str] = {
    "450302": "秀峰区",
    "450303": "叠彩区",
    "450304": "象山区",
    "450305": "七星区",
    "450311": "雁山区",
    "450312": "临桂区",
    "450321": "阳朔县",
    "450323": "灵川县",
    "450324": "全州县",
    "450325": "兴安县",
    "450326": "永福县",
    "450327": "灌阳县",
    "450328": "龙胜各族自治县",
    "450329": "资源县",
    "450330": "平乐县",
    "450332": "恭城瑶族自治县",
    "450381": "荔浦市",
}
# Urban districts have few rural households; the seed names 龙胜, 资源, 全州 as key counties.
URBAN = frozenset({"450302", "450303", "450304", "450305"})
KEY_COUNTIES = frozenset({"450328", "450329", "450324"})


def county_name(code: str) -> str:
    return COUNTIES.get(code[:6], code[:6])
