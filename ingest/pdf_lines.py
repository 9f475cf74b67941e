"""PDF glyphs into text lines: steps 1 and 2 of the PDF reader (the overview is in `pdf_reader`).
Each page's pdfplumber chars are grouped by vertical position into `_Line`s, ordered left to right,
with a visible gap that has no glyph turned into one space and articles run together in one line split
apart; characters are normalised only where the PDF's font mapping is wrong (`_normalise`). Page
furniture (page numbers, running headers/footers, web-page chrome) is then dropped (`_drop_furniture`)
so that it no longer sits between two halves of an article.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass

# --- character normalisation -------------------------------------------------------------------

# CJK Radicals Supplement code points have no NFKC mapping, yet Chrome/PingFang PDFs use them for
# ordinary characters (⺠ for 民, ⻔ for 门). These are the ones that are whole characters.
_RADICALS = str.maketrans({
    "⺠": "民", "⻄": "西", "⻅": "见", "⻆": "角", "⻉": "贝", "⻋": "车", "⻓": "长", "⻔": "门",
    "⻘": "青", "⻙": "韦", "⻚": "页", "⻛": "风", "⻜": "飞", "⻝": "食", "⻢": "马", "⻣": "骨",
    "⻤": "鬼", "⻥": "鱼", "⻦": "鸟", "⻧": "卤", "⻨": "麦", "⻩": "黄", "⻬": "齐", "⻮": "齿",
    "⻰": "龙", "⻁": "虎", "⻪": "黾",
})
_DROP = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)  # soft hyphen, zero-width


def _needs_nfkc(ch: str) -> bool:
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x2FDF  # CJK radicals supplement, Kangxi radicals
        or 0xF900 <= o <= 0xFAFF  # CJK compatibility ideographs
        or 0x2F800 <= o <= 0x2FA1F
        or 0xFB00 <= o <= 0xFB06  # Latin ligatures (ﬁ)
        or o == 0xA0 or 0x2000 <= o <= 0x200A  # NBSP and typographic spaces
    )


def _normalise(text: str) -> str:
    """NFKC for the code points a broken font map produces; everything else stays as printed."""
    text = text.translate(_DROP).translate(_RADICALS)
    if not any(_needs_nfkc(ch) for ch in text):
        return text
    return "".join(unicodedata.normalize("NFKC", ch) if _needs_nfkc(ch) else ch for ch in text)


# --- patterns ----------------------------------------------------------------------------------

_NUM = r"[〇零○一二两三四五六七八九十廿卅百千0-9０-９]+"
# A structural label or list marker at the start of a line: 第…条/章/节/编 (第 1 條 in Taiwan), （一）,
# 一、, 1. and the Taiwan 項 number `1  `. Its end is where a hanging item's text begins.
_LABEL = re.compile(
    rf"^(?:第\s*{_NUM}\s*[条條章节節编編款](?:之{_NUM})?"
    rf"|[（(]{_NUM}[）)]|{_NUM}、|[0-9]{{1,3}}[.．、](?![0-9])|[0-9]{{1,2}}\s+(?=\D)|[①-⑳]|序\s*言|目\s*录)"
)
_ARTICLE_SPLIT = re.compile(  # 执行。　　第三十二条 — articles run together inside one line
    rf"(?<=[。；：])[\s\u3000]+(?=第{_NUM}[条條章节節编編]|[（(][一二三四五六七八九十]+[）)])"
)
_PAGE_NUMBER = [
    re.compile(r"^[-－—–―‐‑~～·•]*\d{1,4}[-－—–―‐‑~～·•]*$"),  # 3, -3-, －3－, —3—, —- 3 -—
    re.compile(r"^(?:第\d{1,4}页(?:[,，/／]?共\d{1,4}页)?|共\d{1,4}页第\d{1,4}页|\d{1,4}[/／]\d{1,4})$"),
    re.compile(r"^(?:page|p\.)\d{1,4}(?:(?:of|/)\d{1,4})?$", re.I),
]
# Web-page chrome that survives copy-paste into Word (npc.gov.cn, gov.cn article pages). Matched
# against the line with whitespace removed.
_BOILERPLATE = [
    re.compile(r"^浏览字号[:：]?大中小"),  # npc.gov.cn: 浏览字号： 大 中 小来源： 中国人大网 2016年…
    re.compile(r"^【?字体[:：]?【?大】?【?中】?【?小】?"),  # gov.cn: 【字体：大 中 小】
    re.compile(r"^来源[:：](?:中国人大网|中国政府网|新华社|人民网)"),
    re.compile(r"^(?:打印本页|关闭窗口|【?打印】?【?关闭】?|扫一扫在手机打开当前页|分享到[:：]?)$"),
]

# --- lines -------------------------------------------------------------------------------------


@dataclass
class _Line:
    page: int  # 1-based
    text: str  # normalised, stripped
    xs: list[float]  # x0 of each character of text
    x1s: list[float]  # x1 of each character of text
    top: float
    bottom: float
    size: float
    force_new: bool = False  # second half of a run-together line (`…执行。　　第三十二条…`)
    rel: float = 0.0  # x0 relative to the page's body margin, set once margins are known

    @property
    def x0(self) -> float:
        return self.xs[0]

    @property
    def x1(self) -> float:
        return self.x1s[-1]

    def hang(self) -> float | None:
        """x where the text after a leading list marker starts (continuations of a hanging item)."""
        m = _LABEL.match(self.text)
        if not m:
            return None
        i = m.end()
        while i < len(self.text) and self.text[i].isspace():
            i += 1
        return self.xs[i] if i < len(self.text) else None


def _page_lines(page, page_no: int) -> list[_Line]:
    width, height = page.width, page.height
    chars = [
        c for c in page.chars
        # Rotated glyphs are watermarks or margin notes; glyphs outside the page are not printed.
        if c.get("upright", True) and c["x1"] > 0 and c["x0"] < width and c["bottom"] > 0 and c["top"] < height
    ]
    chars.sort(key=lambda c: (c["top"] + c["bottom"]) / 2)
    rows: list[list[dict]] = []
    anchor = 0.0
    for c in chars:
        mid = (c["top"] + c["bottom"]) / 2
        # Mixed fonts on one line (bold SimHei label, Latin digits) sit a point or two apart.
        if rows and mid - anchor <= 0.45 * max(c["size"], 1.0):
            rows[-1].append(c)
        else:
            rows.append([c])
            anchor = mid
    lines = []
    for row in rows:
        row.sort(key=lambda c: c["x0"])
        line = _build_line(row, page_no)
        if line is not None:
            lines.extend(_split_run_together(line))
    return lines


def _build_line(row: list[dict], page_no: int) -> _Line | None:
    text: list[str] = []
    xs: list[float] = []
    x1s: list[float] = []
    prev = None
    for c in row:
        t = _normalise(c["text"])
        if not t or (t.isspace() and prev is not None and c["x0"] < prev["x1"] - 1):
            continue  # a space glyph drawn on top of the previous character shows no gap
        if prev is not None and not t.isspace() and not prev["text"].isspace():
            # A gap with no glyph in it is a printed space (WPS/Quartz emit no space glyphs at all);
            # Word's 1/4-em autospace between CJK and digits is not. Latin word spaces (TeX) are
            # narrower than that.
            latin = t.isascii() and prev["text"].isascii()
            if c["x0"] - prev["x1"] > (0.15 if latin else 0.35) * c["size"]:
                text.append(" ")
                xs.append(prev["x1"])
                x1s.append(c["x0"])
        for ch in t:
            text.append(ch)
            xs.append(c["x0"])
            x1s.append(c["x1"])
        prev = c
    s = "".join(text)
    lead = len(s) - len(s.lstrip())
    end = len(s.rstrip())
    if end <= lead:
        return None
    sizes = [c["size"] for c in row if not c["text"].isspace()]
    return _Line(
        page=page_no, text=s[lead:end], xs=xs[lead:end], x1s=x1s[lead:end],
        top=min(c["top"] for c in row), bottom=max(c["bottom"] for c in row),
        size=statistics.median(sizes) if sizes else row[0]["size"],
    )


def _split_run_together(line: _Line) -> list[_Line]:
    out = []
    start = 0
    for m in _ARTICLE_SPLIT.finditer(line.text):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(line.text)))
    if len(out) == 1:
        return [line]
    return [
        _Line(line.page, line.text[a:b], line.xs[a:b], line.x1s[a:b], line.top, line.bottom, line.size,
              force_new=i > 0)
        for i, (a, b) in enumerate(out)
    ]


# --- page furniture ----------------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _drop_furniture(pages: list[list[_Line]], heights: list[float]) -> list[list[_Line]]:
    n = len(pages)

    def band(line: _Line, h: float) -> str | None:
        if line.top < 0.15 * h:
            return "top"
        if line.bottom > 0.85 * h:
            return "bottom"
        return None

    def key(line: _Line) -> tuple:
        # Numbers ignored (page counters), position kept: a header sits at the same height on every
        # page, while `第 5 條` at the foot of two pages is text. Labels are never furniture.
        return (round(line.top / 6), re.sub(r"\d+", "#", _squash(line.text)))

    # Lines repeated at the top or bottom of most pages (running headers/footers).
    seen: Counter = Counter()
    for lines, h in zip(pages, heights, strict=True):
        seen.update({key(ln) for ln in lines if band(ln, h) and not _LABEL.match(ln.text)})
    repeated = {k for k, count in seen.items() if n >= 3 and count >= max(3, 0.5 * n)}

    out = []
    for lines, h in zip(pages, heights, strict=True):
        order = sorted(lines, key=lambda ln: ln.top)
        edge = {id(order[0]), id(order[-1])} if order else set()
        kept = []
        for ln in lines:
            flat = _squash(ln.text)
            b = band(ln, h)
            at_edge = id(ln) in edge or b is not None
            if at_edge and any(p.match(flat) for p in _PAGE_NUMBER):
                continue
            if b and key(ln) in repeated:
                continue
            if len(flat) < 80 and any(p.match(flat) for p in _BOILERPLATE):
                continue
            kept.append(ln)
        out.append(kept)
    return out
