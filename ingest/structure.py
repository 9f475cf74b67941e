"""From a reader's blocks to a ParsedDocument: title, history, table of contents, 编/章/节, 条/款/项.

This is the one place that knows how Chinese legal documents are laid out, so every format gets the same
treatment. The rule it keeps: every block of the body lands in exactly one unit (article, preamble,
attachment or section), unaltered, so concatenating the units gives back the body. A convention
numbered 1. / 一、 / （一） instead of 第X条 is cut into clauses (`clauses.py`), stored as articles under
their own printed labels.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from lawkb.core.model import (
    KIND_ARTICLE,
    KIND_ATTACHMENT,
    KIND_PREAMBLE,
    KIND_SECTION,
    Article,
    HistoryEvent,
    Paragraph,
    ParsedDocument,
)
from lawkb.core.numerals import article_no_text
from lawkb.core.refs import ARTICLE_WORD, NUMERAL, article_pattern, parse_article

from .blocks import Block, Extracted
from .classify import is_self_governance
from .clauses import Clause, Heading, plan_clauses
from .history import date_from_filename, effective_from_text, looks_like_history, parse_history, summarize
from .titles import clean_title, is_title_like, title_from_filename

__all__ = ["build_document", "check_numbering", "clean_title", "is_title_like", "title_from_filename"]

_SP = r"[\s\u3000]*"
# An article heading: 第二百六十四条之一; Taiwan writes the same as 第 29-1 條, and a heading is the one
# place where that dash cannot be a range.
_HEAD = article_pattern(bare=False, dash_sub=True)
ARTICLE_RE = re.compile(rf"^{_HEAD}")
_ARTICLE_WORD = re.compile(ARTICLE_WORD)
HEADING_RE = re.compile(rf"^第{_SP}({NUMERAL}){_SP}(分编|分編|编|編|章|节|節)(?:[\s\u3000]*(.+)|$)")
# Text right after an article label that shows the label is a cross-reference, not an article start.
_XREF_AFTER = re.compile(r"^(?:[、，,至和或及与的所中]|规定|第|款|项|之规定)")
ITEM_RE = re.compile(r"^(?:[（(]\s*[一二三四五六七八九十]+\s*[）)]|[一二三四五六七八九十]+、|\d{1,2}\s*[.．、](?!\d)|[①-⑳])")
_RUN_TOGETHER = re.compile(rf"(?<=[。；])[\s\u3000]+(?={_HEAD}[\s\u3000])")
_RANK = {"编": 0, "編": 0, "分编": 1, "分編": 1, "章": 2, "节": 3, "節": 3}
_WS = re.compile(r"[\s\u3000]+")


def _norm(text: str) -> str:
    """The start of a block, NFKC-normalised, for matching labels (full-width digits, odd spaces).
    Only the head is needed and NFKC over whole paragraphs dominated ingest time."""
    return unicodedata.normalize("NFKC", text[:64]).strip()


def _compact(text: str) -> str:
    """Text without whitespace, otherwise as printed (headings and labels are shown to people)."""
    return _WS.sub("", text)


@dataclass
class _Unit:
    kind: str
    number_text: str | None
    number: int | None
    sub: int
    path: list[str]
    heading: str | None = None
    blocks: list[tuple[str, Block]] = field(default_factory=list)


def _split_run_together(blocks: list[Block]) -> list[Block]:
    out = []
    for b in blocks:
        pieces = _RUN_TOGETHER.split(b.text) if b.style not in ("table", "title") else [b.text]
        if len(pieces) == 1:
            out.append(b)
        else:
            out.extend(Block(p, line=b.line, page=b.page, style=None, level=None) for p in pieces if p.strip())
    return out


def _find_title(blocks: list[Block], meta: dict, filename: str) -> tuple[str, int, int, str]:
    """Return (title, first_block, end_block, where): blocks[first:end] are the title, and where says
    what it was taken from ('body', 'metadata' or 'filename'). A title printed at the top of the text
    is preferred to the file's metadata (a PDF's /Title is often a Word file name or a template's)."""
    window = min(len(blocks), 25)
    for i in range(window):
        if blocks[i].style == "title":
            return clean_title(blocks[i].text), i, i + 1, "body"
    # The metadata's title printed over one or more lines (a centred title broken in two).
    wanted = _compact(clean_title(meta.get("title") or ""))
    if wanted:
        for i in range(window):
            acc = ""
            for j in range(i, min(i + 4, len(blocks))):
                acc += _compact(blocks[j].text)
                if acc == wanted:
                    return clean_title("".join(b.text for b in blocks[i:j + 1])), i, j + 1, "body"
                if not wanted.startswith(acc):
                    break
    for i in range(window):
        text = blocks[i].text
        if ARTICLE_RE.match(_norm(text)) or HEADING_RE.match(_norm(text)):
            break
        if i + 1 < window and len(_compact(text)) <= 40 and not looks_like_history(text) \
                and blocks[i].style == blocks[i + 1].style == "center" and is_title_like(text + blocks[i + 1].text):
            return clean_title(text + blocks[i + 1].text), i, i + 2, "body"
        if is_title_like(text):
            return clean_title(text), i, i + 1, "body"
        if i + 1 < window and len(_compact(text)) <= 40 and is_title_like(text + blocks[i + 1].text) \
                and not is_title_like(blocks[i + 1].text):
            return clean_title(text + blocks[i + 1].text), i, i + 2, "body"
    # A metadata title that names no kind of legal text ('附件2', a draft's file name) gives way to a
    # file name that does.
    if meta.get("title") and (is_title_like(meta["title"]) or not is_title_like(title_from_filename(filename))):
        return clean_title(meta["title"]), 0, 0, "metadata"
    return title_from_filename(filename), 0, 0, "filename"


_NOTICE = re.compile(r"关于(?:印发|发布|公布|颁布)《?(.+?)》?的(?:通知|决定|命令)$")


def _attached(blocks: list[Block], start: int, title: str) -> int | None:
    """For a notice that carries a document (国务院关于印发《X》的通知), the block where X's own title
    is printed."""
    m = _NOTICE.search(title)
    if not m:
        return None
    wanted = _compact(m.group(1))
    for j in range(start, min(len(blocks), start + 40)):
        if _compact(blocks[j].text) == wanted:
            return j
    return None


def _article_label(text: str, last: tuple[int, int] | None) -> tuple[int, int, str, str] | None:
    """(number, sub, label, rest) when text starts a new article; None for text or a cross-reference."""
    t = _norm(text)
    m = ARTICLE_RE.match(t)
    parsed = parse_article(m.group(0), bare=False, dash_sub=True) if m else None
    if parsed is None:
        return None
    number, sub = parsed
    rest = t[m.end():]
    if rest and not rest[0].isspace() and _XREF_AFTER.match(rest):
        return None
    if last is not None and (number, sub) <= last and not (number == 1 and sub == 0):
        return None
    label = _compact(m.group(0))
    # Keep the rest exactly as printed in the source, not its NFKC form.
    raw = text.lstrip()
    raw_m = ARTICLE_RE.match(raw)
    if raw_m:
        cut = raw_m.end()
    else:  # the label only matched after NFKC (full-width digits): find where it ends in the raw text
        cut = next(k for k in range(1, len(raw) + 1) if len(unicodedata.normalize("NFKC", raw[:k])) >= m.end())
    return number, sub, label, raw[cut:].lstrip(" \u3000\t")


def _misplaced_space(text: str) -> bool:
    """'第一百二十八 条侦查人员…': a space before 条 and none after the label, a typo in the source."""
    m = ARTICLE_RE.match(text)
    label = m.group(0) if m else ""
    # A label that ends in 之Y never counted: the typo rule wants 条 followed by text, not by 之.
    if not label or not _ARTICLE_WORD.fullmatch(label[-1]) or not label[-2].isspace():
        return False
    after = text[m.end():m.end() + 1]
    return bool(after) and not after.isspace() and after != "之"


def _heading(block: Block) -> tuple[int, str] | None:
    """(rank, heading text) for a heading block."""
    t = block.text.strip()
    m = HEADING_RE.match(t) or HEADING_RE.match(_norm(t))
    if m and m.string is not t:
        t = m.string
    if m and len(m.group(3) or "") <= 40 and "。" not in (m.group(3) or ""):
        label = _compact(t[: m.end(2)])
        title = _compact(m.group(3) or "")
        return _RANK[m.group(2)], (f"{label} {title}" if title else label)
    if block.style == "heading":
        return 2, _compact(t)
    return None


def _is_toc_marker(text: str) -> bool:
    return _compact(text) in ("目录", "目次")


def _paragraphs(texts: list[str]) -> list[Paragraph]:
    paras: list[Paragraph] = []
    for t in texts:
        if ITEM_RE.match(t.strip()) and paras:
            paras[-1].items.append(t)
        else:
            paras.append(Paragraph(text=t))
    return paras


def build_document(
    extracted: Extracted, *, source: str, filename: str, hints: dict | None = None
) -> ParsedDocument:
    hints = hints or {}
    warnings = list(extracted.warnings)
    blocks = _split_run_together([b for b in extracted.blocks if b.text.strip()])
    title, t0, t1, title_source = _find_title(blocks, extracted.meta, filename)
    front = [b.text for b in blocks[:t0]]
    i = t1
    notice: list[Block] = []
    aliases: list[str] = []
    j = _attached(blocks, t1, title)
    if j is not None:
        # The notice is kept as the first unit; the document it carries gives the title.
        notice = blocks[t1:j]
        aliases.append(title)
        title, i = clean_title(blocks[j].text), j + 1
    part = None
    # LawRefBook splits big codes by part: '# 中华人民共和国民法典' then '# 人格权编'.
    if i < len(blocks) and blocks[i].style == "heading" and blocks[i].level == 1:
        part = _compact(blocks[i].text)
        i += 1
    history_texts: list[str] = []
    while i < len(blocks):
        text, used = blocks[i].text, 1
        # A parenthesised history note broken over lines: （二○○四年六月十六日国务院 / 第54次常务会议修订通过）
        if _compact(text)[:1] in "（(" and not _compact(text).endswith(("）", ")")):
            for k in range(i + 1, min(i + 5, len(blocks))):
                text += blocks[k].text
                if _compact(blocks[k].text).endswith(("）", ")")):
                    used = k - i + 1
                    break
            else:
                text, used = blocks[i].text, 1
        if blocks[i].style != "history" and (not looks_like_history(text) or ARTICLE_RE.match(_norm(text))):
            break
        history_texts.append(text)
        i += used
    events: list[HistoryEvent] = [ev for t in history_texts for ev in parse_history(t)]

    # Table of contents: skip its entries; the body starts at the first article or at the second
    # appearance of the first TOC heading.
    toc: list[str] = []
    if i < len(blocks) and _is_toc_marker(blocks[i].text):
        i += 1
        first_entry = None
        while i < len(blocks):
            text = blocks[i].text
            if ARTICLE_RE.match(_norm(text)) and _article_label(text, None):
                break
            compact = _compact(text)
            if first_entry is not None and compact == first_entry:
                break
            if len(compact) > 60 or "。" in compact:
                break
            if first_entry is None:
                first_entry = compact
            toc.append(text)
            i += 1

    body = blocks[i:]
    # A case report quotes statutes ('第六条 食品经营者…'): its units are its headed sections.
    extra: dict = {}
    units = _cut_units(body, part, warnings, extra, articles_allowed=hints.get("folder_level") != "案例",
                       convention=is_self_governance(title))
    if extra["empty_headings"]:
        warnings.append(f"{len(extra['empty_headings'])} heading(s) with no text under them: "
                        + "; ".join(extra["empty_headings"][:3]))
    else:
        del extra["empty_headings"]
    if notice:
        units.insert(0, _Unit(KIND_PREAMBLE, "印发通知", None, 0, [], blocks=[(b.text, b) for b in notice]))
    articles = [_to_article(u) for u in units]

    summary = summarize(events)
    effective = summary["effective"]
    if effective is None:
        for a in reversed(articles[-3:]):
            effective = effective_from_text(a.text)
            if effective:
                break
    version_date = hints.get("version_date") or date_from_filename(filename) or summary["version_date"]
    version_date = version_date or extracted.meta.get("published_date") or extracted.meta.get("written_date")
    doc = ParsedDocument(
        title=title,
        articles=articles,
        source=source,
        source_kind=extracted.source_kind,
        history=events,
        adopted=summary["adopted"],
        promulgated=summary["promulgated"] or extracted.meta.get("published_date"),
        effective=effective,
        version_date=version_date,
        part=part,
        doc_number=extracted.meta.get("doc_number"),
        issuing_body=extracted.meta.get("issuing_body"),
        warnings=warnings,
        aliases=aliases,
    )
    doc.extra.update(extra)
    doc.extra["title_source"] = title_source
    if title_source != "body":
        warnings.append(f"no title line in the text: title {title!r} taken from the {title_source}")
    if front:
        doc.extra["front_matter"] = front
    if toc:
        doc.extra["toc"] = toc
    if history_texts:
        doc.extra["history_text"] = history_texts
    if part is None:  # a part of a split law is checked once its parts are merged
        check_numbering(doc.articles, doc.warnings, doc.extra)
    return doc


def _cut_units(body: list[Block], part: str | None, warnings: list[str], extra: dict,
               articles_allowed: bool = True, convention: bool = False) -> list[_Unit]:
    has_articles = False
    last: tuple[int, int] | None = None
    for b in body if articles_allowed else []:
        lab = _article_label(b.text, last)
        if lab:
            has_articles = True
            break
    # A convention numbered 1. / 一、 / （一） instead of 第X条: its clauses are cut like articles.
    plan = plan_clauses(body) if convention and articles_allowed and not has_articles else {}
    if plan:
        has_articles = True
        clauses = [c for c in plan.values() if isinstance(c, Clause)]
        extra["clauses"] = {"numbering": clauses[0].label, "count": len(clauses)}
    stack: list[tuple[int, str]] = [(-1, part)] if part else []
    units: list[_Unit] = []
    current: _Unit | None = None
    last = None
    attachments = 0
    sections = 0
    empty_headings = extra.setdefault("empty_headings", [])

    def path() -> list[str]:
        return [name for _, name in stack]

    for k, b in enumerate(body):
        text = b.text
        step = plan.get(k)
        if plan:  # clauses where the plan puts them, never 第X条 cross-references or items
            lab = (step.number, 0, step.label, step.rest) if isinstance(step, Clause) else None
        else:
            lab = _article_label(text, last) if has_articles else None
        if lab:
            number, sub, label, rest = lab
            if last is not None and (number, sub) <= last and not plan:
                warnings.append(f"article numbering restarts at {label} (line {b.line}, page {b.page})")
            last = (number, sub)
            if not plan and _misplaced_space(_norm(text)):
                warnings.append(f"malformed article label {text[:12]!r} (line {b.line}): read as {label}")
            current = _Unit(KIND_ARTICLE, label, number, sub, path())
            if b.style == "heading" and rest and len(rest) <= 30:
                current.heading = rest  # '### 第一條 目的' style: a caption, the text follows
            elif rest:
                current.blocks.append((rest, b))
            else:
                current.blocks.append(("", b))
            units.append(current)
            continue
        compact = _compact(text)
        att = re.match(r"^(附件|附表)[0-9一二三四五六七八九十]*", compact)
        if att and len(compact) <= 60 and (last is not None or not has_articles) and "。" not in compact:
            attachments += 1
            current = _Unit(KIND_ATTACHMENT, att.group(0), attachments, 0, path())
            if b.style == "heading":
                current.heading = compact
            else:
                current.blocks.append((text, b))
            units.append(current)
            continue
        if compact == "序言":
            current = _Unit(KIND_PREAMBLE, "序言", None, 0, path())
            units.append(current)
            continue
        head = _heading(b) if (current is None or current.kind != KIND_ATTACHMENT) else None
        if isinstance(step, Heading):
            head = (4, step.name)  # "一、社会治安": below any 编/章/节 the convention also has
        if head and b.style != "table":
            rank, name = head
            if has_articles:
                while stack and stack[-1][0] >= rank:
                    popped = stack.pop()
                    if not any(popped[1] in u.path for u in units):
                        # A heading with nothing under it (a table of contents squeezed into one
                        # line, a heading printed twice): kept and reported, never silently dropped.
                        empty_headings.append(popped[1])
                stack.append((rank, name))
                current = None  # headings are structure, not text of the article before them
                continue
            sections += 1
            current = _Unit(KIND_SECTION, name, sections, 0, path())
            current.heading = name
            units.append(current)
            continue
        if current is None:
            if last is None:
                current = _Unit(KIND_PREAMBLE, None, None, 0, path())
            else:  # text under a heading but outside any article: kept as its own unit
                sections += 1
                current = _Unit(KIND_SECTION, None, sections, 0, path(), heading=stack[-1][1] if stack else None)
            units.append(current)
        current.blocks.append((text, b))
    return units


def _to_article(u: _Unit) -> Article:
    texts = [t for t, _ in u.blocks]
    while texts and not texts[0].strip():
        texts.pop(0)
    lines = [b.line for _, b in u.blocks if b.line is not None]
    pages = [b.page for _, b in u.blocks if b.page is not None]
    return Article(
        kind=u.kind,
        number_text=u.number_text,
        number=u.number,
        sub=u.sub,
        path=list(u.path),
        text="\n".join(texts),
        paragraphs=_paragraphs(texts),
        line_start=min(lines) if lines else None,
        line_end=max(lines) if lines else None,
        page_start=min(pages) if pages else None,
        page_end=max(pages) if pages else None,
        heading=u.heading,
    )


def find_gaps(numbers: set[int]) -> list[int]:
    """Article numbers missing between 1 and the highest one (之一 articles do not count)."""
    return [n for n in range(1, max(numbers) + 1) if n not in numbers] if numbers else []


def check_numbering(articles: list[Article], warnings: list[str], extra: dict) -> None:
    """Report gaps in article numbering and signs that the text stops early."""
    if "clauses" in extra:
        return  # clauses are taken only in sequence (no gaps) and cite themselves other than by 第X条
    numbered = [a for a in articles if a.kind == KIND_ARTICLE and a.number]
    gaps = find_gaps({a.number for a in numbered})
    if gaps:
        extra["gaps"] = gaps
        shown = "、".join(article_no_text(n) for n in gaps[:10]) + ("…" if len(gaps) > 10 else "")
        warnings.append(f"article numbers skip {len(gaps)}: {shown}")
    if not numbered:
        return
    last = max(a.number for a in numbered)
    cited = [parsed[0] for a in numbered for m in _SELF_REF.finditer(a.text)
             if (parsed := parse_article(m.group("art"), bare=False))]
    beyond = [n for n in cited if n > last]
    tail = numbered[-1].text
    if beyond:
        extra["truncated"] = True
        warnings.append(f"the text cites its own {article_no_text(max(beyond))} but stops at "
                        f"{article_no_text(last)}: the file may be truncated")
    elif numbered[-1].path and not any("附则" in p or "附則" in p for p in numbered[-1].path) \
            and not _CLOSING.search(tail) and not any(a.kind == KIND_ATTACHMENT for a in articles):
        # A text laid out in chapters ends with a 附则 chapter that says when it takes effect.
        extra["truncated"] = "maybe"
        warnings.append(f"the last article ({article_no_text(last)}) does not say when the text takes effect:"
                        " the file may be truncated")


_SELF_REF = re.compile(
    rf"本(?:法|条例|规定|办法|细则|规则|解释|决定|规约|章程|公约)(?P<art>{article_pattern(bare=False)})"
)
_CLOSING = re.compile(r"施行|生效|执行|实行|废止|適用|施行之日|公布之日")
