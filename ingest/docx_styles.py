"""DOCX styles and list numbering: what a paragraph's style says (title, heading level, inherited
paragraph properties) and the printed list numbers Word renders (`（一）`, `第一条`, `1.`).

Both are looked up per paragraph, so both are precomputed: style ids in a dict and each style's
inherited values worked out once (python-docx's get_by_id is an XPath search over every style), and
only printable list levels kept. The work stays linear in the paragraphs whatever the file declares.
"""

from __future__ import annotations

import re

from docx.enum.style import WD_STYLE_TYPE

from lawkb.core.numerals import int_to_cn

_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _w(tag: str) -> str:
    return _NS + tag


_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.I)


class Styles:
    """The document's paragraph styles, looked up by id in a dict, with what each style inherits worked
    out once. python-docx's get_by_id is an XPath search over every style, and each paragraph walks its
    basedOn chain several times: a file of 100,000 paragraphs over a long chain of styles never
    finished. A chain is followed for at most MAX_CHAIN styles (Word's own are a handful deep)."""

    MAX_CHAIN = 100

    def __init__(self, doc) -> None:
        root = doc.styles.element
        self._ids: dict[str, object] = {}
        for style in root.iterchildren(_w("style")):
            self._ids.setdefault(style.get(_w("styleId")), style)  # the first of a duplicated id wins
        self.default = root.default_for(WD_STYLE_TYPE.PARAGRAPH)
        self._chains: dict[object, list] = {}
        self._named: dict[object, tuple[str, int | None] | None] = {}
        self._inherited: dict[tuple[object, str], object] = {}

    def by_id(self, style_id: str | None):
        # python-docx formats the id into its XPath, so a missing w:val looks up the id "None".
        return self._ids.get(style_id if style_id is not None else "None")

    def chain(self, style) -> list:
        """The style and those it is based on, nearest first; a basedOn cycle stops at the repeat."""
        if style is None:
            return []
        got = self._chains.get(style)
        if got is None:
            got, seen, s = [], set(), style
            while s is not None and s not in seen and len(got) < self.MAX_CHAIN:
                seen.add(s)
                got.append(s)
                based = s.find(_w("basedOn"))
                s = self.by_id(based.get(_w("val"))) if based is not None else None
            self._chains[style] = got
        return got

    def named_hint(self, style) -> tuple[str, int | None] | None:
        """('title', None) or ('heading', n) when a style name or id in the chain says so."""
        if style is None:
            return None
        if style not in self._named:
            names = [n for s in self.chain(style) for n in (_style_name(s), s.get(_w("styleId"), ""))]
            hint = None
            if any(n.lower() in ("title", "标题") for n in names):
                hint = ("title", None)
            else:
                for n in names:
                    m = _HEADING_STYLE.match(n)
                    if m:
                        hint = ("heading", int(m.group(1)))
                        break
            self._named[style] = hint
        return self._named[style]

    def inherited(self, style, prop: str):
        """The first w:pPr/w:<prop> element along the style chain, or None."""
        if style is None:
            return None
        key = (style, prop)
        if key not in self._inherited:
            path = f"{_w('pPr')}/{_w(prop)}"
            self._inherited[key] = next((el for s in self.chain(style) if (el := s.find(path)) is not None), None)
        return self._inherited[key]


def _style_name(style) -> str:
    name = style.find(_w("name"))
    return name.get(_w("val"), "") if name is not None else ""


class Numbering:
    """Renders Word list numbers (`（一）`, `第一条`, `1.`) with counters kept in body order."""

    def __init__(self, doc) -> None:
        self.levels: dict[str, dict[int, dict]] = {}
        self.counters: dict[str, list[int | None]] = {}
        try:
            root = doc.part.numbering_part.element
        except (KeyError, NotImplementedError, ValueError):
            return
        abstract = {a.get(_w("abstractNumId")): _levels(a) for a in root.iter(_w("abstractNum"))}
        for num in root.iter(_w("num")):
            ref = num.find(_w("abstractNumId"))
            base = abstract.get(ref.get(_w("val")) if ref is not None else None, {})
            levels = {k: dict(v) for k, v in base.items()}
            for override in num.iter(_w("lvlOverride")):
                ilvl = _int(override.get(_w("ilvl")), 0)
                lvl = override.find(_w("lvl"))
                if lvl is not None and ilvl in _LEVEL_RANGE:
                    levels[ilvl] = _levels_one(lvl)
                start = override.find(_w("startOverride"))
                if start is not None and ilvl in levels:
                    levels[ilvl]["start"] = _int(start.get(_w("val")), 1)
            self.levels[num.get(_w("numId"))] = levels

    def label(self, p, num_pr) -> str:
        """The list number of paragraph p, whose w:numPr (its own or its style's) is num_pr."""
        if num_pr is None:
            return ""
        num_id_el, ilvl_el = num_pr.find(_w("numId")), num_pr.find(_w("ilvl"))
        num_id = num_id_el.get(_w("val")) if num_id_el is not None else None
        levels = self.levels.get(num_id)
        ilvl = _int(ilvl_el.get(_w("val")), 0) if ilvl_el is not None else 0
        if not levels or ilvl not in levels or not 0 <= ilvl < 10 or not _has_text(p):
            return ""  # numId 0 means "no numbering"; Word skips empty paragraphs in the count too
        counts = self.counters.setdefault(num_id, [None] * 10)
        counts[ilvl] = levels[ilvl]["start"] if counts[ilvl] is None else counts[ilvl] + 1
        for deeper in range(ilvl + 1, len(counts)):
            counts[deeper] = None
        lvl = levels[ilvl]
        if lvl["fmt"] == "bullet":
            return ""  # the bullet glyph is decoration, usually a symbol-font code point

        def number(m: re.Match) -> str:
            k = int(m.group(1)) - 1  # %1 is level 0
            src = levels.get(k)
            if src is None:
                return ""
            value = counts[k] if counts[k] is not None else src["start"]
            return _format_number(value, "decimal" if lvl["legal"] else src["fmt"])

        text = re.sub(r"%(\d)", number, lvl["text"])
        return text + {"nothing": "", "space": " "}.get(lvl["suff"], "\t") if text else ""



def _has_text(p) -> bool:
    return any((t.text or "").strip() for t in p.iter(_w("t")))


def _int(value: str | None, default: int) -> int:
    """An integer attribute of a possibly broken file."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# Levels that can be printed: ilvl 0-9, and -1 for a `%0` in a level text. Others are dropped, so that a
# file declaring thousands of levels does not copy them for every list that uses them.
_LEVEL_RANGE = range(-1, 10)


def _levels(abstract) -> dict[int, dict]:
    return {ilvl: _levels_one(lvl) for lvl in abstract.iter(_w("lvl"))
            if (ilvl := _int(lvl.get(_w("ilvl")), 0)) in _LEVEL_RANGE}


def _levels_one(lvl) -> dict:
    def val(tag: str, default: str) -> str:
        el = lvl.find(_w(tag))
        return el.get(_w("val"), default) if el is not None else default

    return {"start": _int(val("start", "1"), 1), "fmt": val("numFmt", "decimal"), "text": val("lvlText", ""),
            "suff": val("suff", "tab"), "legal": lvl.find(_w("isLgl")) is not None}


_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_STEMS = "甲乙丙丁戊己庚辛壬癸"


def _format_number(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "taiwaneseCounting",
               "ideographDigital", "taiwaneseCountingThousand"):
        return int_to_cn(n)
    if fmt == "chineseLegalSimplified":
        return int_to_cn(n).translate(str.maketrans("一二三四五六七八九十百千", "壹贰叁肆伍陆柒捌玖拾佰仟"))
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= n <= len(_CIRCLED):
        return _CIRCLED[n - 1]
    if fmt == "ideographTraditional" and 1 <= n <= len(_STEMS):
        return _STEMS[n - 1]
    if fmt == "decimalFullWidth":
        return str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        roman = _roman(n)
        return roman.lower() if fmt == "lowerRoman" else roman
    if fmt == "none":
        return ""
    return str(n)


def _roman(n: int) -> str:
    out = ""
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                       (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        count, n = divmod(n, value)
        out += sym * count
    return out
