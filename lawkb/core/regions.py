"""China's province- and prefecture-level divisions, and which region a local document belongs to.

The table is `lawkb/data/regions.tsv` (one row per province, then one per prefecture-level division of
it, plus the province-administered county-level cities and the 经济特区 names used in legislation titles).
Regions are reported with short names, the way the store keeps them: Region('浙江', '杭州'); a
municipality, an SAR or a province-wide document has city None.

Place names are recognised only in their full written form (杭州市, 延边朝鲜族自治州, 内蒙古自治区) or a
common suffixed short form (延边州, 广西自治区), never as a bare short name inside running text, so that
titles such as 长江保护法 or 中国…, 全国…, 国务院… never map to a region.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

PROVINCE_KINDS = frozenset({"province", "municipality", "autonomous_region", "sar"})
# Prefecture-level divisions, and 'subprovincial_note' for county-level units administered directly by
# the province (济源, 仙桃, 神农架林区, the 兵团 cities); the note column says which.
CITY_KINDS = frozenset({
    "prefecture_city", "prefecture", "autonomous_prefecture", "league", "subprovincial_note",
})
SEZ_KIND = "special_economic_zone"  # 深圳经济特区 ...: another name for the city (or, for 海南, the province)
KINDS = PROVINCE_KINDS | CITY_KINDS | {SEZ_KIND}

# Characters dropped before matching: every kind of whitespace, and quotes or brackets a title may open with.
_LEADING_JUNK = "《〈“”\"'‘’「」『』【[(（ "


@dataclass(frozen=True)
class Region:
    """A place by short names: province '浙江', city '杭州' (None for the province itself)."""

    province: str
    city: str | None = None


@dataclass(frozen=True)
class RegionRow:
    """One row of regions.tsv."""

    province: str        # full name: 浙江省
    province_short: str  # 浙江
    city: str            # full name: 杭州市; '' on a province row
    city_short: str      # 杭州; '' on a province row (and for 海南经济特区, which is the whole province)
    kind: str
    note: str = ""


@cache
def region_rows() -> tuple[RegionRow, ...]:
    """All rows of regions.tsv, in file order (loaded once)."""
    text = resources.files("lawkb").joinpath("data").joinpath("regions.tsv").read_text(encoding="utf-8")
    lines = text.splitlines()
    header = lines[0].split("\t")
    if header[:5] != ["province", "province_short", "city", "city_short", "kind"]:
        raise ValueError(f"regions.tsv: unexpected header {header!r}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        cells += [""] * (6 - len(cells))
        row = RegionRow(*(cell.strip() for cell in cells[:6]))
        if row.kind not in KINDS:
            raise ValueError(f"regions.tsv line {number}: unknown kind {row.kind!r}")
        rows.append(row)
    return tuple(rows)


@dataclass
class _Tables:
    provinces: list[str]                       # short names, file order
    province_full: dict[str, str]              # short -> full
    cities: dict[str, list[str]]               # province short -> city short names for selectors
    exact: dict[str, Region]                   # every accepted whole name -> region
    written: dict[str, Region]                 # names recognised at the start of a title or in a body
    city_names: dict[str, dict[str, str]]      # province short -> any city name (incl. bare short) -> short
    written_re: re.Pattern[str]


def _city_suffixed_forms(row: RegionRow) -> list[str]:
    """Written forms of a city besides its full name: 延边州, 延边自治州 for 延边朝鲜族自治州."""
    if row.kind == "autonomous_prefecture":
        return [row.city_short + "州", row.city_short + "自治州"]
    return []


@cache
def _tables() -> _Tables:
    provinces: list[str] = []
    province_full: dict[str, str] = {}
    cities: dict[str, list[str]] = {}
    exact: dict[str, Region] = {}
    written: dict[str, Region] = {}
    city_names: dict[str, dict[str, str]] = {}

    for row in region_rows():
        if row.kind in PROVINCE_KINDS:
            short = row.province_short
            provinces.append(short)
            province_full[short] = row.province
            cities[short] = []
            city_names[short] = {}
            region = Region(short)
            forms = [row.province]
            if row.kind == "autonomous_region":
                forms.append(short + "自治区")  # 广西自治区, 宁夏自治区
            for form in forms:
                written[form] = region
                exact[form] = region
            exact[short] = region

    for row in region_rows():
        if row.kind in PROVINCE_KINDS:
            continue
        short = row.province_short
        region = Region(short, row.city_short or None)
        names = city_names.setdefault(short, {})
        for form in [row.city, *_city_suffixed_forms(row)]:
            written.setdefault(form, region)
            exact.setdefault(form, region)
            if row.city_short:
                names[form] = row.city_short
        if row.kind in CITY_KINDS:
            cities[short].append(row.city_short)
            names[row.city_short] = row.city_short
            # A bare short name is accepted as a whole name unless it is a province's name too (吉林, and
            # 海南 of 青海's 海南藏族自治州, stay provinces). It is never looked for inside running text.
            exact.setdefault(row.city_short, region)

    alternation = "|".join(re.escape(name) for name in sorted(written, key=len, reverse=True))
    return _Tables(provinces, province_full, cities, exact, written, city_names, re.compile(alternation))


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"\s+", "", text).lstrip(_LEADING_JUNK)


def _province_then_city(text: str, match: re.Match[str]) -> Region:
    """The region for a written place name at `match`, refined by a city of that province right after it."""
    tables = _tables()
    region = tables.written[match.group()]
    if region.city is None:
        follow = tables.written_re.match(text, match.end())
        if follow:
            inner = tables.written[follow.group()]
            if inner.province == region.province and inner.city is not None:
                return inner
    return region


def normalize_region(name: str) -> Region | None:
    """A region from a place name: 杭州, 杭州市, 浙江, 浙江省, 浙江省杭州市, 浙江杭州, 内蒙古自治区,
    延边朝鲜族自治州, 延边州, 深圳经济特区. None when the name is not a known place."""
    text = _clean(name)
    if not text:
        return None
    tables = _tables()
    if text in tables.exact:
        return tables.exact[text]
    # A province followed by one of its cities, with or without suffixes (浙江省杭州市, 浙江杭州).
    for short in tables.provinces:
        for prefix in sorted({tables.province_full[short], short + "自治区", short}, key=len, reverse=True):
            if text.startswith(prefix):
                rest = text[len(prefix):]
                city = tables.city_names.get(short, {}).get(rest)
                if city is not None:
                    return Region(short, city)
                sez = tables.exact.get(rest)
                if sez is not None and sez.province == short and sez.city is None:
                    return sez  # 海南省海南经济特区
    return None


def region_from_title(title: str) -> Region | None:
    """The region a local document belongs to, from the place name its title starts with.

    杭州市城市市容和环境卫生管理条例 -> Region('浙江', '杭州');
    深圳经济特区物业管理条例 -> Region('广东', '深圳');
    北京市实施《…》若干规定 -> Region('北京');
    中华人民共和国民法典, 国务院…, 长江保护… -> None.
    """
    text = _clean(title)
    match = _tables().written_re.match(text)
    return _province_then_city(text, match) if match else None


def region_from_body(issuing_body: str) -> Region | None:
    """The region of an issuing body: 浙江省人民代表大会常务委员会 -> Region('浙江');
    杭州市第十四届人民代表大会常务委员会第十次会议 -> Region('浙江', '杭州'); 国务院 -> None.

    The first written place name anywhere in the text counts, so a whole history line
    (2019年8月28日杭州市第十三届人民代表大会常务委员会第二十次会议通过) works too.
    """
    text = _clean(issuing_body)
    match = _tables().written_re.search(text)
    return _province_then_city(text, match) if match else None


def provinces() -> list[str]:
    """Short names of all 34 province-level divisions, in the order of the administrative codes."""
    return list(_tables().provinces)


def cities_of(province: str) -> list[str]:
    """Short names of a province's prefecture-level divisions (and its province-administered county-level
    cities such as 济源), for selectors. Accepts 浙江 or 浙江省; [] for a municipality or an unknown name."""
    region = normalize_region(province)
    if region is None or region.city is not None:
        return []
    return list(_tables().cities.get(region.province, []))


def province_full_name(province: str) -> str | None:
    """浙江 -> 浙江省, 广西 -> 广西壮族自治区; None when unknown."""
    region = normalize_region(province)
    if region is None:
        return None
    return _tables().province_full.get(region.province)
