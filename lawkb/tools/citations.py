"""Find legal citations in free text, in the forms lawyers and staff write them:

《中华人民共和国民法典》第一千零三十二条 · 《民法典》第1032条第二款第（三）项 · 民法典第1032条 ·
根据《物业管理条例》第十五条 · 第八十二条之一 · 第X条至第Y条 · 第X条、第Y条和第Z条 ·
本法 / 该法 / 同法 第X条 (the law named before) · （以下简称《条例》） · a bare 《X》 with no article.

Extraction knows nothing about the knowledge base except through `is_law`, a callback that says whether a
name is a known law: it decides where an unbracketed name starts (根据民法典第1032条 → 民法典).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lawkb.core.refs import (
    ARTICLE,
    ITEM,
    LAW_SUFFIXES,
    LAW_TITLE,
    PARAGRAPH,
    parse_article,
    parse_item,
    parse_paragraph,
)

# 本法 / 该条例 / 同法 / 上述法律: the law named before.
_PRONOUN = r"(?:本|该|同|前述|上述)(?:法典|法律|法|条例|办法|规定|细则|解释)"
_TOKEN = re.compile(
    rf"(?P<title>{LAW_TITLE})|(?P<art>{ARTICLE})|(?P<para>{PARAGRAPH})|(?P<item>{ITEM})|(?P<pron>{_PRONOUN})"
)
# Between a law and its article: spaces, a version note （2018年修正）, 的 / 中的.
_LAW_GAP = re.compile(r"^\s*(?:[（(](?P<ver>[^（）()\n]{0,24})[）)])?\s*(?:中的|的)?\s*$")
_LIST_SEP = re.compile(r"^\s*(?:、|，|,|和|及|以及|与|或者|或|并)\s*$")
_RANGE_SEP = re.compile(r"^\s*(?:至|到|—|－|-|~|～)\s*$")
_YEAR = re.compile(r"((?:19|20)\d\d)\s*年")
_ALIAS_DEF = re.compile(r"^\s*[（(]\s*以下(?:简称|称)\s*[“\"《「]?(?P<alias>[^”\"》」）)\n]{1,20})[”\"》」]?\s*[）)]")
# An unbracketed name right before an article: a run of Chinese ending in a legal-instrument word.
_BARE_RUN = re.compile(r"[\u4e00-\u9fff〈〉]{2,40}$")
# Words that end in 法 (etc.) but do not name a law, and words that lead into a citation.
_NOT_LAWS = {"依法", "合法", "违法", "非法", "立法", "司法", "执法", "守法", "方法", "说法", "做法", "看法", "想法",
             "用法", "办法", "规定", "条例", "解释", "规则", "决定", "细则", "章程", "公约", "规约", "法律", "宪法法"}
_LEADS = ("根据", "依据", "依照", "按照", "参照", "对照", "违反了", "违反", "适用", "援引", "引用", "依", "按", "据",
          "照", "即", "如", "见", "是", "的", "在", "与", "和", "及", "对", "由", "经", "符合", "属于", "关于", "而",
          "了", "之", "中", "或", "并", "亦", "也", "还", "但")


@dataclass
class Citation:
    span: str               # the text as written
    start: int
    end: int
    law: str | None         # the law's name as written or resolved from 本法 / an alias (None: none named)
    law_form: str           # title (《》), bare, pronoun, alias
    number: int | None      # None for a law cited without an article
    sub: int = 0
    paragraph: int | None = None
    item: int | None = None
    version_note: str | None = None   # （2018年修正）
    version_year: str | None = None
    range_end_of: int | None = None   # for 第X条至第Y条: Y's entry points at X's index
    context: str = ""                 # the rest of the sentence after the citation (quoted or paraphrased text)
    lead: str = ""                    # the sentence before the citation (对殴打他人的，依据…): what it is cited for
    law_start: int | None = None      # where the law's name starts (for a bare name)
    extra: dict = field(default_factory=dict)


def _strip_title(title: str) -> str:
    return title[1:-1].strip()


def bare_law_name(before: str, is_law: Callable[[str], bool] | None) -> tuple[str, int] | None:
    """The law named by the unbracketed words that end `before` (…根据民法典 → 民法典), with its length.
    The longest known name wins; an unknown name loses its leading function words."""
    m = _BARE_RUN.search(before)
    if not m:
        return None
    run = m.group(0)
    if not run.endswith(LAW_SUFFIXES):
        return None
    name = _drop_leads(run)
    if is_law is not None:
        for i in range(len(run) - 1):
            known = run[i:]
            if is_law(known):
                # 江苏省物业管理条例 is not the national 物业管理条例: a place name before a known title makes
                # another (perhaps unknown) law.
                if len(name) > len(known) and _is_place(name[:len(name) - len(known)]):
                    break
                return known, len(known)
    if name in _NOT_LAWS or len(name) < 2:
        return None
    return name, len(name)


def _drop_leads(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for lead in _LEADS:
            if name.startswith(lead) and len(name) - len(lead) >= 2:
                name = name[len(lead):]
                changed = True
    return name


_PLACE = re.compile(r"^[\u4e00-\u9fff]{1,10}(?:省|市|自治区|自治州|自治县|县|区|盟|旗)$")


def _is_place(text: str) -> bool:
    from lawkb.core.regions import normalize_region

    return bool(_PLACE.match(text)) or normalize_region(text) is not None


def _sentence_rest(text: str, pos: int) -> str:
    """The text after a citation up to the end of its sentence: what the writer says the article says."""
    end = len(text)
    for ch in "。；;\n":
        i = text.find(ch, pos)
        if i != -1:
            end = min(end, i)
    return text[pos:end][:300]


def _sentence_lead(text: str, pos: int) -> str:
    """The text before a citation back to the start of its sentence (or the previous citation's clause)."""
    start = max(text.rfind(ch, 0, pos) for ch in "。；;\n") + 1
    return text[start:pos][-300:]


def extract(text: str, is_law: Callable[[str], bool] | None = None) -> list[Citation]:
    """Every citation in text, in order of appearance."""
    out: list[Citation] = []
    aliases: dict[str, str] = {}
    last_law: str | None = None          # for 本法 / 该法
    prev_end = -1                        # end of the previous citation's last token
    prev: Citation | None = None         # the citation a following 、第Y条 continues
    pending: tuple[str, str, int, int, str | None] | None = None  # law named, waiting for its article
    skip_until = -1                      # inside a （以下简称《X》） just read
    for m in _TOKEN.finditer(text):
        if m.start() < skip_until:
            continue
        kind = None
        if m.group("title") is not None:
            kind = "title"
        elif m.group("art") is not None:
            kind = "art"
        elif m.group("para") is not None:
            kind = "para"
        elif m.group("item") is not None:
            kind = "item"
        elif m.group("pron") is not None:
            kind = "pron"
        if kind == "title":
            if pending is not None:
                _bare_title(out, pending, text)
            name = _strip_title(m.group("title"))
            form = "title"
            after = text[m.end():m.end() + 40]
            alias = _ALIAS_DEF.match(after)
            end = m.end()
            if alias:
                aliases[alias.group("alias").strip("《》")] = name
                end = skip_until = m.end() + alias.end()
            elif name in aliases:
                name, form = aliases[name], "alias"
            pending = (name, form, m.start(), end, None)
            last_law = name
            prev = None
            continue
        if kind == "pron":
            if not _pronoun_stands_alone(text, m.start()):
                continue  # the 同法 of 合同法, the 本法 of 基本法: part of a name
            if pending is not None:
                _bare_title(out, pending, text)
                pending = None
            if last_law is not None:
                pending = (last_law, "pronoun", m.start(), m.end(), None)
            prev = None
            continue
        if kind == "art":
            parsed = parse_article(m.group("art"))
            if parsed is None:
                continue
            number, sub = parsed
            has_di = m.group("art").startswith("第")   # 1032条 without 第 counts only after a law's name
            law = None
            if pending is not None:
                gap = _LAW_GAP.match(text[pending[3]:m.start()])
                if gap:
                    law = pending
                    ver = gap.group("ver")
                    pending = None
                else:
                    _bare_title(out, pending, text)
                    pending = None
            if law is not None:
                name, form, lstart, _lend, _ = law
                c = Citation(span="", start=lstart, end=m.end(), law=name, law_form=form, number=number, sub=sub,
                             version_note=ver or None, law_start=lstart)
                if ver:
                    y = _YEAR.search(ver)
                    c.version_year = y.group(1) if y else None
            elif prev is not None and (_LIST_SEP.match(text[prev_end:m.start()])
                                       or _RANGE_SEP.match(text[prev_end:m.start()])) and has_di:
                c = Citation(span="", start=m.start(), end=m.end(), law=prev.law, law_form=prev.law_form,
                             number=number, sub=sub, version_note=prev.version_note, version_year=prev.version_year)
                if _RANGE_SEP.match(text[prev_end:m.start()]):
                    c.extra["range_start"] = prev
            else:
                named = bare_law_name(text[:m.start()].rstrip(), is_law)
                if named is None:
                    prev = None
                    continue
                name, length = named
                lstart = len(text[:m.start()].rstrip()) - length
                if name in aliases:
                    name, form = aliases[name], "alias"
                else:
                    form = "bare"
                c = Citation(span="", start=lstart, end=m.end(), law=name, law_form=form, number=number, sub=sub,
                             law_start=lstart)
                last_law = name
            if not has_di and c.law_form not in ("title", "bare", "alias"):
                continue
            out.append(c)
            prev = c
            prev_end = m.end()
            continue
        if kind in ("para", "item") and prev is not None:
            between = text[prev_end:m.start()]
            number = parse_paragraph(m.group("para")) if kind == "para" else parse_item(m.group("item"))
            if number is None:
                continue
            if between.strip() == "":
                # 第1032条第二款第（三）项: refines the citation just read.
                if kind == "para" and prev.paragraph is None and prev.item is None:
                    prev.paragraph = number
                elif kind == "item" and prev.item is None:
                    prev.item = number
                else:
                    continue
                prev.end = m.end()
                prev_end = m.end()
            elif _LIST_SEP.match(between):
                # 第二款、第三款 / 第（一）项、第（三）项: another part of the same article.
                c = Citation(span="", start=m.start(), end=m.end(), law=prev.law, law_form=prev.law_form,
                             number=prev.number, sub=prev.sub, version_note=prev.version_note,
                             version_year=prev.version_year)
                if kind == "para":
                    c.paragraph = number
                else:
                    if prev.paragraph is None and prev.item is None:
                        continue  # 第X条、第三项 is not a form statutes use
                    c.paragraph, c.item = prev.paragraph, number
                out.append(c)
                prev = c
                prev_end = m.end()
    if pending is not None:
        _bare_title(out, pending, text)
    out.sort(key=lambda c: c.start)
    position = {id(c): i for i, c in enumerate(out)}
    for c in out:
        start_of_range = c.extra.pop("range_start", None)
        if start_of_range is not None:
            c.range_end_of = position[id(start_of_range)]
        c.span = text[c.start:c.end]
        c.context = _sentence_rest(text, c.end)
        c.lead = _sentence_lead(text, c.start)
    return out


def _pronoun_stands_alone(text: str, start: int) -> bool:
    before = text[max(0, start - 4):start]
    if not before or not re.match(r"[\u4e00-\u9fff]", before[-1]):
        return True
    return before.endswith(_LEADS)


def _bare_title(out: list[Citation], pending: tuple, text: str) -> None:
    """A 《law》 cited with no article: still worth checking (a repealed law cited by name)."""
    name, form, start, end, _ = pending
    if form != "title" or not name.endswith(LAW_SUFFIXES + ("法律",)):
        return
    out.append(Citation(span="", start=start, end=end, law=name, law_form=form, number=None, law_start=start))
