"""PDF text lines into paragraphs: step 3 of the PDF reader (the overview is in `pdf_reader`).
From the `_Line`s left once page furniture is dropped, it estimates the body margins of each page
(`_margins`, mirrored margins included) and the usual line pitch and article indent (`_layout`),
decides for each line whether it starts a new paragraph or continues the last one, across page breaks
too (`_paragraphs`), and joins a paragraph's lines into its text (`_join`: no space between CJK lines,
one space between two Latin letters/digits).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from .pdf_lines import _LABEL, _NUM, _Line

# --- patterns ----------------------------------------------------------------------------------

_TERMINAL = "。；：！？!?;:"
_CLOSERS = "”’」』）)》〉】"


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
