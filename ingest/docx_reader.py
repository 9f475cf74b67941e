"""DOCX reader: the Word body as Blocks, one per paragraph with text and one per table row.

Only the main body (word/document.xml) is read. Headers and footers live in their own parts, so the
stale PAGE-field text of flk footers (`－6－`, `—27—`) never reaches a Block; page-number fields that
sit in the body (PAGE, NUMPAGES, PAGEREF in a Word TOC) are dropped too, everything else is kept.

Text is kept as printed: only leading/trailing whitespace of a paragraph is stripped (that removes the
`\\u3000\\u3000` indent of the 2016 flk template), U+3000 inside a line stays. Word auto-numbering is
rendered (`（一）` from a `（%1）` chineseCounting list), because it is printed text.

A soft line break (w:br, w:cr) inside a paragraph is joined without inserting anything, so
`…代表大会和<br/>地方各级…` comes out as one line (a space is put back only between two Latin
letters/digits). The one exception: when the text after the break starts with a 条/章/节/编 label
followed by a space (`第二条　…`), the paragraph is split there, as that is a web paste with several
articles in one Word paragraph, not a wrapped line.

Tables: one Block per row (style 'table'), non-empty cells joined by ' | ' (a vertically merged cell
counts once, in its first row); a one-cell row holding several paragraphs is a frame around body text
and is read as paragraphs. Text boxes are not read; the warnings say how many held text.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from io import BytesIO
from pathlib import Path

import docx
from docx.enum.style import WD_STYLE_TYPE
from lxml import etree

from lawkb.core.numerals import int_to_cn

from .blocks import Block, Extracted, IngestError

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _w(tag: str) -> str:
    return _NS + tag


# Elements that only wrap runs/paragraphs; their content is read as if inline.
_WRAPPERS = {_w(t) for t in ("hyperlink", "smartTag", "ins", "moveTo", "sdt", "sdtContent", "customXml",
                             "fldSimple", "dir", "bdo")}
# Run content that holds shapes; text boxes inside them are not read (usually stamps, callouts).
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_SHAPES = {_w("drawing"), _w("pict"), _MC + "AlternateContent"}
# Field results that are page furniture, not text.
_PAGE_FIELD = re.compile(r"^\s*(PAGE|NUMPAGES|SECTIONPAGES|PAGEREF)\b", re.I)
# After a soft break, a new article/chapter label means a new paragraph (see module docstring).
_LABEL_AFTER_BREAK = re.compile(
    r"^\s*第[一二三四五六七八九十百千零〇两\d]+[条條章节節编編](?:之[一二三四五六七八九十]+)?(?:\s|$)")
_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.I)
# Core titles that come from templates, not from the document.
_JUNK_TITLE = re.compile(r"示例|模板|范本|格式标准|^(?:文档|document|untitled)\s*\d*$|[ \u3000_]{2,}", re.I)
_TITLE_SUFFIX = re.compile(r"\s*[（(](?:最新版|最新|修订版|全文|正式版|\d{4}年?(?:修订|修正)?版?)[）)]\s*$")
_INVISIBLE = str.maketrans("", "", "\u200b\ufeff\u00ad")


def read_docx(path: Path) -> Extracted:
    """Read a .docx file into Blocks (source_kind 'docx'). Raises IngestError with the reason."""
    doc = _open(path)
    reader = _BodyReader(doc)
    for el in _flatten(doc.element.body):
        if el.tag == _w("p"):
            reader.paragraph(el)
        elif el.tag == _w("tbl"):
            reader.table(el)
        elif el.tag == _w("altChunk"):
            reader.warnings.append("embedded altChunk (imported HTML/RTF) content is not read")
    if not reader.blocks:
        raise IngestError("no text in document")
    if reader.textboxes:
        reader.warnings.append(f"text in {reader.textboxes} text box(es) is not read")
    meta = _meta(doc, reader.blocks, reader.warnings)
    return Extracted(blocks=reader.blocks, source_kind="docx", meta=meta, warnings=reader.warnings)


def _open(path: Path):
    """Open with python-docx, turning every way a file can be broken into a precise IngestError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read file: {exc.strerror or exc}") from None
    if not data:
        raise IngestError("corrupt DOCX: empty file (0 bytes)")
    if data.startswith(OLE2_MAGIC):
        raise IngestError("password-protected or legacy .doc (OLE2) file, save as .docx")
    if data.lstrip()[:5] == b"{\\rtf":
        raise IngestError("RTF file with a .docx name, save as .docx")
    if not data.startswith(b"PK"):
        raise IngestError("corrupt DOCX: not a ZIP archive (a .docx is a ZIP package)")
    try:
        with zipfile.ZipFile(BytesIO(data)) as zf:
            bad = zf.testzip()  # reads every member: catches truncation and CRC damage up front
            if bad is not None:
                raise IngestError(f"corrupt DOCX: damaged member {bad}")
            if "word/document.xml" not in zf.namelist():
                raise IngestError("corrupt DOCX: ZIP archive without word/document.xml (not a Word document)")
        return docx.Document(BytesIO(data))
    except IngestError:
        raise
    except zipfile.BadZipFile as exc:
        raise IngestError(f"corrupt DOCX: truncated or damaged ZIP archive ({exc})") from None
    except (zlib.error, EOFError, OSError) as exc:
        raise IngestError(f"corrupt DOCX: unreadable ZIP data ({exc})") from None
    except etree.XMLSyntaxError as exc:
        raise IngestError(f"corrupt DOCX: malformed XML ({exc})") from None
    except ValueError as exc:
        kind = re.search(r"content type is '([^']*)'", str(exc))
        if kind:  # .docm/.dotx renamed, or an .xlsx/.pptx: python-docx opens only document.main
            raise IngestError(f"not a .docx Word document (main part is {kind.group(1)}); "
                              "save as .docx") from None
        raise IngestError(f"corrupt DOCX: {exc}") from None
    except KeyError as exc:
        raise IngestError(f"corrupt DOCX: missing part {exc}") from None


def _flatten(parent):
    """Body-level children in order, looking through content controls (a Word TOC sits in a w:sdt)."""
    for el in parent:
        if el.tag in (_w("sdt"), _w("sdtContent"), _w("customXml")):
            yield from _flatten(el)
        else:
            yield el


class _BodyReader:
    def __init__(self, doc) -> None:
        self.doc = doc
        self.numbering = _Numbering(doc)
        self.blocks: list[Block] = []
        self.warnings: list[str] = []
        self.textboxes = 0
        self._seen_paragraph = False
        # Provenance: the ordinal of the body paragraph (a table row counts as one), stored as the
        # block's line, since a Word file has no lines or stable pages.
        self.para_no = 0

    def paragraph(self, p) -> None:
        self.para_no += 1
        texts = self._texts(p)
        if not texts:
            return
        style, level = self._hints(p, first=not self._seen_paragraph)
        self._seen_paragraph = True
        for i, text in enumerate(texts):
            # A split paragraph (see module docstring): only its first part can be the title.
            self.blocks.append(Block(text=text, style=None if i and style == "title" else style, level=level,
                                     line=self.para_no))

    def table(self, tbl) -> None:
        for tr in _children(tbl, "tr"):
            self.para_no += 1
            cells = [tc for tc in _children(tr, "tc") if not _is_merge_continuation(tc)]
            if len(cells) == 1 and sum(1 for p in _cell_paragraphs(cells[0]) if _has_text(p)) > 1:
                # A one-cell row with several paragraphs is a frame around body text, not data.
                for el in _flatten(cells[0]):
                    if el.tag == _w("p"):
                        self.paragraph(el)
                    elif el.tag == _w("tbl"):
                        self.table(el)
                continue
            texts = [_join_lines([t for p in _cell_paragraphs(tc) for t in self._texts(p)]) for tc in cells]
            texts = [t for t in texts if t]  # empty cells are the blanks of a form: nothing to search or cite
            if texts:
                self.blocks.append(Block(text=" | ".join(texts), style="table", line=self.para_no))

    def _texts(self, p) -> list[str]:
        """The paragraph's printed text as one string, or several when split at an article label."""
        out: list[str] = [self.numbering.label(p, self._style(p))]
        self.textboxes += _inline_text(p, out, [])
        parts = "".join(out).translate(_INVISIBLE).split("\n")
        lines = [parts[0]]
        for part in parts[1:]:
            if _LABEL_AFTER_BREAK.match(part) and lines[-1].strip():
                lines.append(part)
            else:
                lines[-1] = _join_lines([lines[-1], part])
        return [s for s in (line.strip() for line in lines) if s]

    def _style(self, p):
        """The paragraph's w:style element (its own or the document default), or None."""
        styles = self.doc.styles.element
        style_id = p.find(f"{_w('pPr')}/{_w('pStyle')}")
        style = styles.get_by_id(style_id.get(_w("val"))) if style_id is not None else None
        # An unknown style id falls back to the default, as Word does (lxml elements: test `is None`).
        return style if style is not None else styles.default_for(WD_STYLE_TYPE.PARAGRAPH)

    def _hints(self, p, first: bool) -> tuple[str | None, int | None]:
        style = self._style(p)
        names = [n for s in _style_chain(style) for n in (_style_name(s), s.get(_w("styleId"), ""))]
        if any(n.lower() in ("title", "标题") for n in names):
            return "title", None
        for n in names:
            m = _HEADING_STYLE.match(n)
            if m:
                return "heading", int(m.group(1))
        outline = _ppr_value(p, style, "outlineLvl")
        if outline is not None and outline.isdigit() and int(outline) < 9:
            return "heading", int(outline) + 1
        if _ppr_value(p, style, "jc") == "center":
            return ("title" if first else "center"), None
        return None, None


def _children(el, tag: str):
    """Direct children with this tag, looking through sdt/customXml wrappers (rows, cells can be wrapped)."""
    for child in el:
        if child.tag == _w(tag):
            yield child
        elif child.tag in (_w("sdt"), _w("sdtContent"), _w("customXml")):
            yield from _children(child, tag)


def _cell_paragraphs(tc):
    """Paragraphs of a cell in order, nested tables included (not text boxes: they are skipped everywhere)."""
    for el in _flatten(tc):
        if el.tag == _w("p"):
            yield el
        elif el.tag == _w("tbl"):
            for tr in _children(el, "tr"):
                for inner in _children(tr, "tc"):
                    yield from _cell_paragraphs(inner)


def _is_merge_continuation(tc) -> bool:
    vmerge = tc.find(f"{_w('tcPr')}/{_w('vMerge')}")
    return vmerge is not None and vmerge.get(_w("val"), "continue") == "continue"


def _inline_text(el, out: list[str], fields: list[list]) -> int:
    """Append the printed text of runs under el to out ('\\n' for a break); return the text-box count.

    fields is the stack of open complex fields, each [instruction, in_result]; text in the result of
    a page-number field is skipped.
    """
    textboxes = 0
    for child in el:
        tag = child.tag
        if tag == _w("r"):
            for item in child:
                textboxes += _run_item(item, out, fields)
        elif tag in _WRAPPERS:
            if tag == _w("fldSimple") and _PAGE_FIELD.match(child.get(_w("instr"), "")):
                continue
            textboxes += _inline_text(child, out, fields)
        # Everything else (pPr, w:del, w:moveFrom, bookmarks, proofErr, math) prints no body text.
    return textboxes


def _run_item(item, out: list[str], fields: list[list]) -> int:
    tag = item.tag
    if tag == _w("fldChar"):
        kind = item.get(_w("fldCharType"))
        if kind == "begin":
            fields.append(["", False])
        elif kind == "separate" and fields:
            fields[-1][1] = True
        elif kind == "end" and fields:
            fields.pop()
        return 0
    if tag == _w("instrText"):
        if fields:
            fields[-1][0] += item.text or ""
        return 0
    if any(in_result and _PAGE_FIELD.match(instr) for instr, in_result in fields):
        return 0
    if tag == _w("t"):
        out.append(item.text or "")
    elif tag in (_w("tab"), _w("ptab")):
        out.append("\t")
    elif tag in (_w("br"), _w("cr")):
        out.append("\n")
    elif tag == _w("noBreakHyphen"):
        out.append("-")
    elif tag == _w("sym"):
        char = item.get(_w("char"), "")
        code = int(char, 16) if re.fullmatch(r"[0-9A-Fa-f]{1,6}", char) else 0
        if 0 < code < 0x110000 and not 0xE000 <= code <= 0xF8FF:  # symbol-font (PUA) glyphs mean nothing
            out.append(chr(code))
    elif tag in _SHAPES:
        return 1 if any((t.text or "").strip() for t in item.iter(_w("t"))) else 0
    return 0


def _join_lines(parts: list[str]) -> str:
    """Join wrapped lines the way Chinese prints them: no separator, except between two Latin words."""
    text = ""
    for part in parts:
        if text and part and _latin(text[-1]) and _latin(part[0]):
            text += " "
        text += part
    return text


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _style_chain(style):
    seen = set()
    while style is not None and id(style) not in seen:  # a broken file can have a basedOn cycle
        seen.add(id(style))
        yield style
        based = style.find(_w("basedOn"))
        style = style.getparent().get_by_id(based.get(_w("val"))) if based is not None else None


def _style_name(style) -> str:
    name = style.find(_w("name"))
    return name.get(_w("val"), "") if name is not None else ""


def _ppr_value(p, style, prop: str) -> str | None:
    """A paragraph property, from the paragraph itself or else inherited through its style chain."""
    for owner in [p, *_style_chain(style)]:
        el = owner.find(f"{_w('pPr')}/{_w(prop)}")
        if el is not None:
            return el.get(_w("val"))
    return None


class _Numbering:
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
                if lvl is not None:
                    levels[ilvl] = _levels_one(lvl)
                start = override.find(_w("startOverride"))
                if start is not None and ilvl in levels:
                    levels[ilvl]["start"] = _int(start.get(_w("val")), 1)
            self.levels[num.get(_w("numId"))] = levels

    def label(self, p, style) -> str:
        num_pr = None
        for owner in [p, *_style_chain(style)]:
            num_pr = owner.find(f"{_w('pPr')}/{_w('numPr')}")
            if num_pr is not None:
                break
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


def _levels(abstract) -> dict[int, dict]:
    return {_int(lvl.get(_w("ilvl")), 0): _levels_one(lvl) for lvl in abstract.iter(_w("lvl"))}


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


def _meta(doc, blocks: list[Block], warnings: list[str]) -> dict:
    """author, the raw core title, and a title only when it is plausible and the body confirms it.

    Core titles are often template leftovers (`法规修改决定电子报备格式标准及示例`, a Shenzhen form with
    blanks) or plain wrong (`中华人民共和国劳动法(最新版)` on a file whose body is the 劳动合同法), so
    meta['title'] is set only when the cleaned title also appears in the body text.
    """
    props = doc.core_properties
    meta: dict = {}
    if (props.author or "").strip():
        meta["author"] = props.author.strip()
    raw = (props.title or "").strip()
    if not raw:
        return meta
    meta["core_title"] = raw
    title = _TITLE_SUFFIX.sub("", raw).strip()
    plausible = 4 <= len(title) <= 100 and re.search(r"[\u4e00-\u9fff]", title) \
        and not _JUNK_TITLE.search(title)
    body = re.sub(r"\s", "", "".join(b.text for b in blocks[:400]))
    if not plausible:
        warnings.append(f"core title {raw!r} looks like template text; ignored")
    elif re.sub(r"\s", "", title) not in body:
        warnings.append(f"core title {raw!r} does not occur in the body; ignored")
    else:
        meta["title"] = title
    return meta
