"""HTML reader: the law text of a saved web page as Blocks, without the page around it.

Steps: decode the bytes (BOM; else UTF-8, the declared charset, GB18030), drop what is never law text
(scripts, styles, comments, nav, hidden elements, share/print/font-size/QR widgets), read gov.cn's
metadata table into meta, pick the element that holds the text (gov.cn's `td#UCAP-CONTENT`, else the
smallest element holding 70% of the page's non-link CJK text), and walk it in document order: one
Block per paragraph, a new Block at every <br> (gov.cn's 2014 pages put all 条 in one <p> separated by
<br/>), headings h1–h6 as 'heading', table rows as 'table', centred paragraphs as 'center'. Paragraphs
that are mostly link text (上一页, 相关阅读 lists) and known widget lines (扫一扫在手机打开当前页) are dropped.

Text is kept as printed: no NFKC (full-width `１年` stays), &nbsp; becomes a space, runs of HTML
whitespace collapse to one space the way a browser shows them, and a bare source line break between
two CJK characters disappears (it is a wrapped line, not a space).

The work is linear in the size of the page however deep it nests (50,000 nested <div>s once held a
worker for a quarter of an hour): what each step needs from an element's subtree or ancestors (its CJK
count, its depth, whether it sits in a link) is computed for all elements in one pass, and the tree is
walked with an explicit stack instead of recursion.
"""

from __future__ import annotations

import codecs
import datetime
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

from .blocks import Block, Extracted, IngestError
from .html_tree import CJK, below, cjk_below, cjk_in, data_tables, gone, short_texts
from .html_tree import tags as all_tags

# Below this many CJK ideographs of visible text a page holds no law text (a shell, an index page).
MIN_CJK = 200

_CJK = CJK  # shared with html_tree
# CJK ideographs, CJK punctuation and full-width forms: a line break between two of them is no space.
_CJK_WIDE = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
# Only a bare break: `第二条 \n中华` had a real space before the editor wrapped the line.
_WRAPPED = re.compile(rf"(?<=[{_CJK_WIDE}])\r?\n[ \t\r\n\f]*(?=[{_CJK_WIDE}])")
_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")
_INVISIBLE = str.maketrans("", "", "\u200b\ufeff\u00ad")

_DROP_TAGS = ["script", "style", "noscript", "template", "iframe", "frame", "object", "embed", "svg",
              "canvas", "select", "option", "button", "input", "textarea", "nav", "aside"]
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# class/id words of page widgets; such an element is dropped only if it holds little text (see _strip).
_WIDGET_WORDS = {"share", "gwdshare", "bshare", "jiathis", "print", "qr", "erweima", "saoma", "fontsize",
                 "switchsize", "breadcrumb", "crumb", "nav", "menu", "footer", "foot", "header", "toolbar",
                 "banner", "weixin", "weibo", "copyright", "relevant", "related", "enclosure", "login",
                 "search"}
# Whole blocks that are widget text which survived the markup-level stripping.
_BOILERPLATE = re.compile(
    r"^(?:扫一扫在手机打开当前页"
    r"|【?\s*(?:浏览)?(?:字体|字号)[:：]?.{0,12}大\s*中\s*小.{0,30}"
    r"|(?:【?\s*(?:打印本页|打印|关闭窗口|关闭|收藏|返回顶部)\s*】?\s*)+"
    r"|分享到[:：]?.{0,40}"
    r"|(?:更多|相关|延伸|推荐)(?:阅读|链接|文章|新闻|法规)[:：]?"
    r"|(?:上一篇|下一篇|上一页|下一页)[:：].{0,60}"
    r"|责任编辑[:：].{0,20})$"
)

_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd",
               "blockquote", "pre", "section", "article", "main", "center", "address", "figure", "figcaption",
               "table", "tr", "td", "th", "tbody", "thead", "tfoot", "caption", "body", "html", "header",
               "footer", "form", "fieldset", "legend", "hr"}

# gov.cn metadata labels (spaces and U+3000 removed) -> meta keys.
_GOVCN_LABELS = {"索引号": "index_no", "主题分类": "subject", "发文机关": "issuing_body",
                 "成文日期": "written_date", "标题": "title", "发文字号": "doc_number",
                 "发布日期": "published_date", "主题词": "keywords"}
# Bounded runs: an unbounded [^>]* after every `<meta` is quadratic on a head of unclosed tags.
_CHARSET = re.compile(rb"""<meta[^>]{0,2048}?charset\s*=\s*["']?\s*([-\w:.]+)"""
                      rb"""|<\?xml[^>]{0,2048}encoding\s*=\s*["']([-\w:.]+)""", re.I)
_FRONT_MATTER = re.compile(r"\A\s*<!--(.*?)-->", re.S)


def read_html(path: Path, raw: bytes | None = None) -> Extracted:
    """Read an HTML page (raw, else the bytes of path) into Blocks. Raises IngestError with the reason."""
    if raw is None:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise IngestError(f"cannot read file: {exc.strerror or exc}") from None
    if not raw:
        raise IngestError("empty file (0 bytes)")
    text, warnings = _decode(raw)
    meta = _front_matter(text)
    soup = BeautifulSoup(text, "html.parser")
    if soup.title and soup.title.get_text(strip=True):
        meta["page_title"] = soup.title.get_text(strip=True)
    # Markers of flk.npc.gov.cn's detail page, whose text arrives later by JavaScript into an iframe.
    flk_shell = "国家法律法规数据库" in meta.get("page_title", "") or bool(soup.find("iframe", id="viewDoc"))
    _strip(soup)
    for key, value in _govcn_meta(soup).items():
        meta.setdefault(key, value)
    blocks = [b for b in _Flow().read(_main_content(soup)) if not _BOILERPLATE.match(b.text)]
    n_cjk = sum(len(_CJK.findall(b.text)) for b in blocks)
    if n_cjk < MIN_CJK:
        if flk_shell:
            raise IngestError("flk.npc.gov.cn page shell: the law text is loaded by JavaScript and is not in "
                              "the file; download the DOCX from the database instead")
        raise IngestError(f"no law text found in HTML page: only {n_cjk} CJK characters of visible text "
                          "(a page shell, an index page or a script-rendered page)")
    return Extracted(blocks=blocks, source_kind="html", meta=meta, warnings=warnings)


def _decode(raw: bytes) -> tuple[str, list[str]]:
    """Bytes to text: a BOM wins; then UTF-8, the declared charset, GB18030 (a superset of GBK/GB2312).

    UTF-8 is tried before the declaration because re-saved pages keep their old `charset=gb2312` while
    the bytes are UTF-8, and GB18030 would decode those bytes without error into nonsense; Chinese
    text in GBK, on the other hand, is practically never valid UTF-8.
    """
    boms = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
    for bom, enc in boms:
        if raw.startswith(bom):
            try:
                return raw.decode(enc), []
            except UnicodeDecodeError as exc:
                raise IngestError(f"undecodable HTML: {enc} byte-order mark but invalid {enc} "
                                  f"({exc.reason})") from None
    warnings: list[str] = []
    declared = _declared_charset(raw[:16384], warnings)
    candidates = ["utf-8", "gb18030"]
    if declared in ("latin-1", "cp1252", "ascii"):
        # A Chinese page declaring a Latin charset is mislabelled; that charset would decode anything.
        candidates.append(declared)
    elif declared:
        candidates.insert(1, declared)
    candidates = list(dict.fromkeys(candidates))
    for enc in candidates:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if declared and enc != declared and not raw.isascii():
            warnings.append(f"declared charset {declared} is wrong; decoded as {enc}")
        return text, warnings
    # No clean decoding: accept a few bad bytes (a damaged footer), not a wrong guess.
    best = min(candidates, key=lambda e: raw.decode(e, errors="replace").count("\ufffd"))
    text = raw.decode(best, errors="replace")
    bad = text.count("\ufffd")
    if bad > max(3, len(text) // 1000):
        raise IngestError(f"undecodable HTML: not valid {' / '.join(candidates)} "
                          f"({bad} undecodable byte sequences at best)")
    warnings.append(f"{bad} undecodable byte sequence(s) replaced (decoded as {best})")
    return text, warnings


def _declared_charset(head: bytes, warnings: list[str]) -> str | None:
    m = _CHARSET.search(head)
    if not m:
        return None
    label = (m.group(1) or m.group(2)).decode("ascii", "ignore").lower()
    try:
        name = codecs.lookup(label).name
    except LookupError:
        warnings.append(f"unknown declared charset {label!r} ignored")
        return None
    if name.startswith(("utf-16", "utf-32")):
        return None  # the declaration was readable as ASCII, so the file is not UTF-16/32
    if name in ("gb2312", "gbk", "hz", "gb18030"):
        return "gb18030"  # pages labelled gb2312 routinely hold GBK/GB18030 characters
    if name in ("iso8859-1", "latin-1", "windows-1252", "cp1252", "ascii"):
        return {"ascii": "ascii", "cp1252": "cp1252", "windows-1252": "cp1252"}.get(name, "latin-1")
    return name


def _front_matter(text: str) -> dict:
    """Wiki.js exports start with a comment holding `title: …`; that is the document title."""
    m = _FRONT_MATTER.match(text)
    if m:
        title = re.search(r"^\s*title:\s*(.+?)\s*$", m.group(1), re.M)
        if title:
            return {"title": title.group(1)}
    return {}


def _strip(soup: BeautifulSoup) -> None:
    """Remove everything that is never law text, in place."""
    markup = (Comment, Doctype, Declaration, ProcessingInstruction)
    for node in soup.find_all(string=lambda s: isinstance(s, markup)):
        node.extract()
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    in_article = below(soup, lambda tag: tag.name in ("article", "main"))
    for tag in soup.find_all(["header", "footer"]):
        # <header> inside an article or <main> can hold the law's title; a page header never does.
        if not gone(tag) and not in_article[id(tag)]:
            tag.decompose()
    # Taken now, for every element at once. The loop below goes in document order, so an element's
    # subtree is still whole when its turn comes: only elements before it, or its ancestors, have gone.
    cjk = cjk_below(soup)
    for tag in soup.find_all(True):
        if gone(tag) or tag.attrs is None:
            continue
        if tag.has_attr("hidden") or _HIDDEN.search(tag.get("style", "")):
            tag.decompose()
            continue
        words = {w.lower() for v in (tag.get("class", []), [tag.get("id", "")]) for x in v
                 for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", x)}
        # The text check keeps a content container whose id merely contains such a word (`printContent`).
        if words & _WIDGET_WORDS and cjk_in(tag, cjk) < 100:
            tag.decompose()


def _govcn_meta(soup: BeautifulSoup) -> dict:
    """Read gov.cn's label/value metadata cells (`发文字号：` | `国令第706号`) and remove them from the page."""
    meta: dict = {}
    # Labels for all cells at once; a cell's subtree is whole when its turn comes (see _strip).
    labels = short_texts(soup, max(map(len, _GOVCN_LABELS)) + 1)
    for cell in soup.find_all(["td", "th"]):
        if gone(cell):
            continue
        label = labels[id(cell)]
        key = _GOVCN_LABELS.get(label[:-1]) if label is not None and label[-1:] in ("：", ":") else None
        value_cell = cell.find_next_sibling(["td", "th"]) if key else None
        if value_cell is None:
            continue
        value = _HTML_SPACE.sub(" ", value_cell.get_text(" ").replace("\xa0", " ")).strip()
        if value:
            meta[key] = _iso_date(value) if key.endswith("_date") else value
        cell.decompose()
        value_cell.decompose()
    return meta


def _iso_date(text: str) -> str:
    """'2018年11月06日' -> '2018-11-06'; anything unparsable is returned unchanged."""
    text_nfkc = unicodedata.normalize("NFKC", text)  # for parsing only: `２０１８年` is a date too
    m = re.search(r"(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})", text_nfkc)
    if m:
        try:
            return datetime.date(*map(int, m.groups())).isoformat()
        except ValueError:
            pass
    return text


def _main_content(soup: BeautifulSoup) -> Tag:
    """The element that holds the law: gov.cn's content cell, else the smallest one with most of the text.

    Text inside links is not counted: menus, related-article lists and site maps are all links.
    """
    ucap = soup.find(id="UCAP-CONTENT")
    if ucap is not None and len(_CJK.findall(ucap.get_text())) >= MIN_CJK:
        return ucap
    tags = all_tags(soup)
    in_link = below(soup, lambda tag: tag.name == "a")
    depth = {id(soup): 0}
    for tag in tags[1:]:
        depth[id(tag)] = depth[id(tag.parent)] + 1
    # Each string's CJK count goes to its element, then every element's total to its parent.
    score: dict[int, int] = {}
    for node in soup.find_all(string=True):
        n = len(_CJK.findall(node))
        if n and not in_link[id(node.parent)] and node.parent.name != "a":
            score[id(node.parent)] = score.get(id(node.parent), 0) + n
    for tag in reversed(tags[1:]):
        if n := score.get(id(tag), 0):
            score[id(tag.parent)] = score.get(id(tag.parent), 0) + n
    total = score.get(id(soup), 0)
    best, best_depth = soup.body or soup, -1
    containers = ["div", "td", "th", "article", "main", "section", "body", "blockquote", "center", "form"]
    for tag in soup.find_all(containers):
        if score.get(id(tag), 0) >= 0.7 * total and depth[id(tag)] > best_depth:
            best, best_depth = tag, depth[id(tag)]
    return best


class _Flow:
    """Walks an element in document order and cuts its text into Blocks."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.style: str | None = None
        self.level: int | None = None
        self.link_chars = 0  # non-space characters of the buffered block that sit inside <a href>
        self.in_link = False
        self.pos: int | None = None  # source line of the last tag seen
        self.line: int | None = None  # source line where the buffered block starts
        self.in_pre = False

    def read(self, root: Tag) -> list[Block]:
        self.pos = root.sourceline
        self.data_tables = data_tables(root)
        self._walk(root)
        self._flush()
        return self.blocks

    def _walk(self, root: Tag) -> None:
        """Document order with an explicit stack of (children, what to do after them): a page nested
        50,000 deep would overflow Python's recursion limit."""
        stack: list[tuple[Iterator, Callable[[], None] | None]] = [(iter(list(root.children)), None)]
        while stack:
            children, after = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if after is not None:
                    after()
                continue
            if isinstance(child, NavigableString):
                self._text(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            self.pos = child.sourceline or self.pos
            if child.name == "br":
                self._flush()
            elif child.name == "table" and self.data_tables[id(child)]:
                self._flush()
                self._table(child)
            elif child.name in _BLOCK_TAGS:
                stack.append((iter(list(child.children)), self._block(child)))
            elif child.name == "a" and child.get("href") and not self.in_link:
                self.in_link = True
                stack.append((iter(list(child.children)), self._end_link))
            else:
                stack.append((iter(list(child.children)), None))

    def _block(self, tag: Tag) -> Callable[[], None]:
        """Start a block element; returns what ends it (after its children)."""
        self._flush()
        saved = self.style, self.level, self.in_pre
        if re.fullmatch(r"h[1-6]", tag.name):
            self.style, self.level = "heading", int(tag.name[1])
        else:
            align = _alignment(tag)
            if align is not None and self.style != "heading":
                self.style, self.level = ("center" if align == "center" else None), None
        self.in_pre = self.in_pre or tag.name == "pre"

        def end() -> None:
            self._flush()
            self.style, self.level, self.in_pre = saved

        return end

    def _end_link(self) -> None:
        self.in_link = False

    def _text(self, text: str) -> None:
        # Markup debris: a comment closed twice leaves a visible `-->`.
        text = text.replace("-->", "").replace("<!--", "")
        parts = text.split("\n") if self.in_pre else [text]
        for i, part in enumerate(parts):
            if i:
                self._flush()
            if self.line is None and part.strip():
                # pos is the line of the last tag (a <br>, the <p>); the text may start lines below it.
                indent = part[: len(part) - len(part.lstrip())]
                self.line = self.pos + indent.count("\n") if self.pos else None
            self.buf.append(part)
            if self.in_link:
                self.link_chars += len("".join(part.split()))

    def _flush(self) -> None:
        text = _clean("".join(self.buf))
        # A paragraph that is mostly links is navigation (上一页, 更多阅读 lists), not law text.
        if text and self.link_chars * 2 <= len("".join(text.split())):
            self.blocks.append(Block(text=text, line=self.line, style=self.style, level=self.level))
        self.buf, self.line, self.link_chars = [], None, 0

    def _table(self, table: Tag) -> None:
        for tr in _rows(table):
            cells = []
            for cell in tr.find_all(["td", "th"], recursive=False):
                cells.append(_join_lines([b.text for b in _Flow().read(cell)]))
            cells = [c for c in cells if c]  # empty cells are the blanks of a form
            if cells:
                self.blocks.append(Block(text=" | ".join(cells), line=tr.sourceline, style="table"))


def _join_lines(parts: list[str]) -> str:
    """Lines inside a table cell are wrapped text: no separator, except between two Latin words."""
    text = ""
    for part in parts:
        if text and text[-1].isascii() and text[-1].isalnum() and part[0].isascii() and part[0].isalnum():
            text += " "
        text += part
    return text


def _clean(text: str) -> str:
    text = _WRAPPED.sub("", text)
    text = _HTML_SPACE.sub(" ", text)
    return text.replace("\xa0", " ").translate(_INVISIBLE).strip()


def _alignment(tag: Tag) -> str | None:
    """'center', another alignment, or None when the tag does not set one (then it inherits)."""
    if tag.name == "center":
        return "center"
    m = re.search(r"text-align\s*:\s*(\w+)", tag.get("style", ""), re.I)
    value = m.group(1) if m else tag.get("align", "")
    return value.lower() or None


def _rows(table: Tag):
    for child in table.find_all(["tr", "thead", "tbody", "tfoot"], recursive=False):
        if child.name == "tr":
            yield child
        else:
            yield from child.find_all("tr", recursive=False)


