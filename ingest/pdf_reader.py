"""PDF into blocks: one Block per logical paragraph, rebuilt from the layout of the text layer.

PDF text comes as positioned glyphs, not paragraphs. Every sample breaks lines in mid-word
(`中华人\n民共和国`), so paragraphs are rebuilt from geometry (pdfplumber chars with x/y):

1. Lines: glyphs grouped by vertical position, ordered left to right. Real space glyphs (U+3000 in the
   Chrome print, ASCII spaces from Word) are kept as printed; a visible gap with no glyph (WPS/Quartz
   files have no space glyphs at all) becomes one ASCII space.
2. Furniture: page numbers (`－3－`, `—3—`, `- 3 -`, `第3页`, `3/27`, bare `3`) at the top or bottom of a
   page, lines repeated at the top/bottom of most pages, and a short list of known web-page chrome
   (`_BOILERPLATE`) are dropped before anything is joined, because they sit between two halves of an
   article.
3. Paragraphs: a line starts a new paragraph when it is centred, starts with a label (第…条/章/节/编,
   （一）, 一、, 1.) after a line that ended a sentence, is indented where a continuation would not be,
   follows a line that ended early (the next line's first word would have fitted), or follows a large
   vertical gap. Otherwise it continues the paragraph, across page breaks too. Lines are joined with no
   space (CJK), except between two Latin letters/digits.

Characters are normalised only where the PDF's font mapping is wrong, not the printed typography
(`_normalise`): Kangxi / CJK radicals (`⼈⺠` from Chrome's fonts) and compatibility ideographs become
the ordinary ideographs. Full NFKC is deliberately not applied: it would turn the statute's own `，（）：；`
into ASCII and U+3000 (`第一条　`) into a space, which is not "as printed".
"""

from __future__ import annotations

import logging
import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfplumber.utils.exceptions import PdfminerException

from .blocks import Block, Extracted, IngestError

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
_CID = re.compile(r"\(cid:\d+\)")
_TERMINAL = "。；：！？!?;:"
_CLOSERS = "”’」』）)》〉】"
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
# /Title values that are left over from a template or the authoring tool, not the document's title.
_JUNK_TITLE = re.compile(
    r"^(?:|法规修改决定电子报备格式标准及示例|microsoft word\s*-.*|.*\.(?:docx?|wps|rtf|txt|pdf)|"
    r"无标题.*|untitled.*|document\d*|文档\d*|新建.*文档.*|title)$",
    re.I,
)

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


# --- margins -----------------------------------------------------------------------------------


@dataclass
class _Margins:
    left: float
    right: float
    width: float  # of the page


def _mode_value(values: list[float], bin_size: float = 2.0) -> float:
    """The most common value, binned so that 521.5 and 521.6 count together; ties go to the smaller."""
    bins = Counter(int(v // bin_size) for v in values)
    best = max(bins.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    return statistics.median(v for v in values if int(v // bin_size) == best)


def _mirror_shift(pages: list[list[_Line]]) -> float:
    """How far even pages are shifted against odd ones (Word's mirrored margins): the offset that
    best lines up the two pages' histograms of line starts."""
    odd = Counter(round(ln.x0) for lines in pages[0::2] for ln in lines)
    even = Counter(round(ln.x0) for lines in pages[1::2] for ln in lines)
    if not odd or not even:
        return 0.0
    scores = {d: sum(min(c, even[x + d]) for x, c in odd.items()) for d in range(-40, 41)}
    return float(max(scores, key=lambda d: (scores[d], -abs(d))))


def _margins(pages: list[list[_Line]], widths: list[float]) -> list[_Margins]:
    """Body margins per page: estimated once over all pages, with even pages shifted back when the
    margins are mirrored (odd pages at 79.5, even at 73.8 in the npc Word export)."""
    shift = _mirror_shift(pages)
    offset = [shift if i % 2 else 0.0 for i in range(len(pages))]
    lines = [(ln, offset[i]) for i, page in enumerate(pages) for ln in page]
    if not lines:
        return [_Margins(0.0, w, w) for w in widths]
    width = max(widths)
    wide = sorted(ln.x1 - o for ln, o in lines if ln.x1 - ln.x0 > 0.4 * width) or sorted(ln.x1 - o for ln, o in lines)
    # A high percentile, not the maximum: punctuation hangs past the margin on some lines.
    right = wide[int(0.9 * (len(wide) - 1))]
    # The left margin is where continuation lines start: lines that follow a full line.
    after_full = [
        cur.x0 - offset[i] for i, page in enumerate(pages) for prev, cur in zip(page, page[1:], strict=False)
        if prev.x1 - offset[i] >= right - 1.5 * prev.size
    ]
    left = _mode_value(after_full or [ln.x0 - o for ln, o in lines])
    return [_Margins(left + o, right + o, w) for o, w in zip(offset, widths, strict=True)]


# --- paragraphs --------------------------------------------------------------------------------


@dataclass
class _Para:
    lines: list[_Line] = field(default_factory=list)
    centred: bool = False


def _is_centred(line: _Line, m: _Margins) -> bool:
    # Three ems on both sides: a first-line indent of two ems on a line that also stops two ems
    # short can look centred by chance. Centred on the text column or on the page.
    mid = (line.x0 + line.x1) / 2
    return (
        line.x0 > m.left + 3 * line.size
        and line.x1 < m.right - 3 * line.size
        and min(abs(mid - (m.left + m.right) / 2), abs(mid - m.width / 2)) < line.size
    )


def _ends_sentence(text: str) -> bool:
    return text.rstrip(_CLOSERS)[-1:] in _TERMINAL


def _lead_width(line: _Line) -> float:
    """Width of what a line breaker must keep together at the start of the line: the first word
    (Latin) or character (CJK) plus any punctuation that may not begin a line (`施，` moves as one)."""
    t = line.text
    i = 1
    if t[0].isascii() and t[0].isalnum():
        while i < len(t) and t[i].isascii() and t[i].isalnum():
            i += 1
    while i < len(t) and t[i] in "，。、；：！？）》」』”’,.;:!?)%":
        i += 1
    return line.x1s[i - 1] - line.x0


@dataclass
class _Layout:
    margins: list[_Margins]  # per page
    pitch: float  # usual distance from one line's top to the next
    indent: float  # usual first-line indent of an article; 0 where paragraphs are not indented


def _layout(pages: list[list[_Line]], margins: list[_Margins]) -> _Layout:
    pitches = [
        b.top - a.top for lines in pages for a, b in zip(lines, lines[1:], strict=False)
        if b.top > a.top and abs(a.size - b.size) < 1
    ]
    articles = [ln for lines in pages for ln in lines if re.match(rf"第\s*{_NUM}\s*[条條]", ln.text)]
    indented = [ln.rel for ln in articles if ln.rel > 0.5 * ln.size]
    return _Layout(
        margins=margins,
        pitch=statistics.median(pitches) if pitches else 20.0,
        indent=statistics.median(indented) if len(indented) > len(articles) / 2 else 0.0,
    )


def _starts_paragraph(prev: _Line, line: _Line, para: _Para, prev_first: bool, lay: _Layout) -> bool:
    """Whether `line` starts a new paragraph rather than continuing `para`, whose last line is `prev`."""
    if line.force_new or line.page > prev.page + 1:  # a page without text lies between them
        return True
    pm, lm = lay.margins[prev.page - 1], lay.margins[line.page - 1]
    em = line.size
    labelled = bool(_LABEL.match(line.text))
    ended = _ends_sentence(prev.text)
    room = pm.right - prev.x1
    # iText (flk downloads) drops the first-line indent of a paragraph that starts a page but keeps
    # its line breaks, so that line stops one indent short of the margin without ending anything.
    lost_indent = prev_first and lay.indent and abs(prev.rel) < 0.5 * em and abs(room - lay.indent) < 0.5 * em
    # The line ended early if the next line's first word would have fitted after it.
    short = room > _lead_width(line) + 0.3 * em and not lost_indent

    # Where may a continuation start? After a first line: at the body margin, under the first line
    # when paragraphs are not indented, or anywhere from just right of a list marker to under the
    # text after it (`一、公寓大廈…` continues under `公`; Word often hangs two characters, or
    # one and a half after `1. `). After that: where the paragraph's second line started.
    if len(para.lines) >= 2:
        fits = abs(line.rel - para.lines[1].rel) < 0.5 * em
    else:
        fits = abs(line.rel) < 0.5 * em or (prev.rel <= em and abs(line.rel - prev.rel) < 0.5 * em)
        hang = prev.hang()
        if hang is not None:
            fits = fits or prev.x0 + 0.5 * em < line.x0 < max(hang, prev.x0 + 2 * em) + 0.5 * em

    # A block indented on both sides (the history note under a title): every line starts at the
    # same indented x and none reaches the margin.
    if (
        prev.rel > em and abs(line.x0 - prev.x0) < 0.5 * em and not labelled and not ended
        and abs(prev.size - line.size) < 1 and prev.x1 - prev.x0 > 0.4 * (pm.right - pm.left)
    ):
        return False
    if para.centred:
        return True
    if _is_centred(line, lm) and not (fits and not short):
        return True
    if line.page == prev.page and line.top - prev.top > 1.6 * lay.pitch:
        return True
    if short:
        return True
    if labelled:
        # A label at the start of a wrapped line (…依照本法\n第十条的规定) is a cross-reference.
        return ended or not fits
    return not fits


def _paragraphs(pages: list[list[_Line]], lay: _Layout) -> list[_Para]:
    paras: list[_Para] = []
    prev: _Line | None = None
    prev_first = False  # prev was the first line of its page
    for lines in pages:
        for i, line in enumerate(lines):
            centred = _is_centred(line, lay.margins[line.page - 1])
            if prev is None or _starts_paragraph(prev, line, paras[-1], prev_first, lay):
                paras.append(_Para([line], centred=centred))
            else:
                paras[-1].lines.append(line)
                paras[-1].centred = paras[-1].centred and centred
            prev, prev_first = line, i == 0
    return paras


def _join(lines: list[_Line]) -> str:
    out = lines[0].text
    for ln in lines[1:]:
        a, b = out[-1], ln.text[0]
        # CJK lines join with nothing; a Latin line break stood for a space.
        sep = " " if a.isascii() and a not in "-/" and b.isascii() and b.isalnum() else ""
        out += sep + ln.text
    return out


# --- document ----------------------------------------------------------------------------------


def _meta_text(value) -> str:
    if isinstance(value, bytes):
        for enc in ("utf-16", "utf-8", "gb18030"):
            try:
                return value.decode(enc)
            except UnicodeDecodeError:
                continue
        return ""
    return value if isinstance(value, str) else ""


def _open_error(exc: BaseException, path: Path) -> IngestError:
    inner = exc.args[0] if isinstance(exc, PdfminerException) and exc.args else exc
    if isinstance(inner, PDFPasswordIncorrect):
        return IngestError(f"password-protected PDF: {path.name} cannot be opened without its password; "
                           "save an unprotected copy first")
    if isinstance(inner, PDFEncryptionError):
        return IngestError(f"encrypted PDF: {path.name} uses encryption that cannot be read ({inner})")
    return IngestError(f"corrupt PDF: {path.name} cannot be parsed ({type(inner).__name__}: {inner})")


def read_pdf(path: Path) -> Extracted:
    """Read a PDF with a text layer into paragraph blocks (page = where the paragraph starts; style
    'center' for centred paragraphs). meta: pages, producer (/Producer, else /Creator) and title
    (/Title unless it is template junk). Raises IngestError for files that cannot be read: empty, not
    a PDF, truncated or corrupt, password-protected, scanned without a text layer, or fonts without a
    Unicode map. Pages with only images, and owner-password encryption, are reported in warnings."""
    path = Path(path)
    try:
        raw_size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1024)
            fh.seek(max(0, raw_size - 4096))
            tail = fh.read()
    except OSError as exc:
        raise IngestError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if raw_size == 0:
        raise IngestError(f"empty file: {path.name} has 0 bytes")
    if b"%PDF-" not in head:
        raise IngestError(f"not a PDF: {path.name} has no %PDF- header")
    if b"%%EOF" not in tail:
        # pdfminer would rebuild what it can from a cut-off file and silently lose the rest.
        raise IngestError(f"truncated PDF: {path.name} ({raw_size} bytes) has no %%EOF end marker; "
                          "download it again")

    # pdfminer logs a warning for every font without a FontBBox and similar harmless oddities.
    pdfminer_log = logging.getLogger("pdfminer")
    old_level = pdfminer_log.level
    pdfminer_log.setLevel(logging.ERROR)
    try:
        try:
            pdf = pdfplumber.open(path)
        except Exception as exc:  # pdfminer raises many unrelated types for broken files
            raise _open_error(exc, path) from exc
        with pdf:
            meta = {k: _meta_text(v) for k, v in pdf.metadata.items()}
            # An owner password alone (copy/print restrictions) does not stop reading the text.
            encrypted = pdf.doc.encryption is not None
            try:
                pages = [_page_lines(page, i) for i, page in enumerate(pdf.pages, start=1)]
                widths = [float(page.width) for page in pdf.pages]
                heights = [float(page.height) for page in pdf.pages]
                imaged = [bool(page.images) for page in pdf.pages]
            except IngestError:
                raise
            except Exception as exc:
                raise _open_error(exc, path) from exc
    finally:
        pdfminer_log.setLevel(old_level)

    n = len(pages)
    if n == 0:
        raise IngestError(f"corrupt PDF: {path.name} has no pages")
    warnings: list[str] = []
    if encrypted:
        warnings.append("encrypted PDF (owner password only): opened without a password")
    textless = [i + 1 for i, lines in enumerate(pages) if not lines]
    if len(textless) == n:
        raise IngestError(f"scanned PDF: no text layer on any of {n} pages; OCR it first")
    # pdfminer writes a glyph whose font has no Unicode map as "(cid:NN)".
    text = "".join(ln.text for lines in pages for ln in lines)
    cid = len(_CID.findall(text))
    if cid > 0.3 * (cid + len(_CID.sub("", text))):
        raise IngestError(f"unreadable text layer: the fonts in {path.name} have no Unicode mapping "
                          "(pdfminer gives '(cid:NN)'); OCR it first")
    if cid:
        warnings.append(f"{cid} glyphs have no Unicode mapping and appear as '(cid:NN)'")
    scanned = [p for p in textless if imaged[p - 1]]
    if scanned:
        warnings.append(f"no text layer on page(s) {', '.join(map(str, scanned))} of {n} "
                        "(scanned images?); their content is missing")

    pages = _drop_furniture(pages, heights)
    margins = _margins(pages, widths)
    for lines in pages:
        for ln in lines:
            ln.rel = ln.x0 - margins[ln.page - 1].left
    blocks = [
        Block(_join(p.lines), page=p.lines[0].page, style="center" if p.centred else None)
        for p in _paragraphs(pages, _layout(pages, margins))
    ]

    out_meta: dict = {"pages": n}
    title = _normalise(meta.get("Title", "")).strip()
    if title and not _JUNK_TITLE.match(title):
        out_meta["title"] = title
    producer = (meta.get("Producer") or meta.get("Creator") or "").strip()
    if producer:
        out_meta["producer"] = producer
    return Extracted(blocks=blocks, source_kind="pdf", meta=out_meta, warnings=warnings)
