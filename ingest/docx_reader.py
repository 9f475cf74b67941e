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

Hostile files: the ZIP is checked (lawkb.core.archives) before anything is decompressed, a part that
declares a DTD (entity bombs; Word never writes one) is refused, and XML is parsed by python-docx's
parser (no entity resolution, no huge_tree: at most 256 levels deep). Styles are looked up in a dict
and what a style inherits is worked out once per style, so the work is linear in the paragraphs.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from io import BytesIO
from pathlib import Path

import docx
from lxml import etree

from lawkb.core.archives import ArchiveError, check_zip

from .blocks import Block, Extracted, IngestError
from .docx_styles import Numbering, Styles, _has_text, _w

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
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
# Core titles that come from templates, not from the document.
_JUNK_TITLE = re.compile(r"示例|模板|范本|格式标准|^(?:文档|document|untitled)\s*\d*$|[ \u3000_]{2,}", re.I)
_TITLE_SUFFIX = re.compile(r"\s*[（(](?:最新版|最新|修订版|全文|正式版|\d{4}年?(?:修订|修正)?版?)[）)]\s*$")
_INVISIBLE = str.maketrans("", "", "\u200b\ufeff\u00ad")


def read_docx(path: Path, raw: bytes | None = None) -> Extracted:
    """Read a .docx file (raw, else the bytes of path) into Blocks (source_kind 'docx'). Raises
    IngestError with the reason."""
    doc = _open(path, raw)
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


def _open(path: Path, data: bytes | None = None):
    """Open with python-docx, turning every way a file can be broken into a precise IngestError."""
    if data is None:
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
        # What the archive declares, before anything is decompressed (zip bombs, huge members).
        check_zip(data)
    except ArchiveError as exc:
        if exc.code != "bad_zip":  # an unreadable ZIP gets its precise reason below
            raise IngestError(f"refused DOCX: {exc}") from None
    try:
        with zipfile.ZipFile(BytesIO(data)) as zf:
            _refuse_dtd(zf)
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
    except RecursionError:
        raise
    except (RuntimeError, NotImplementedError) as exc:  # zipfile: a password or a compression it lacks
        if "encrypted" in str(exc):
            raise IngestError("password-protected DOCX: a part of the ZIP package is encrypted; "
                              "save it without a password") from None
        raise IngestError(f"corrupt DOCX: unsupported ZIP member ({exc})") from None


def _refuse_dtd(zf: zipfile.ZipFile) -> None:
    """Word never writes a DTD; a part that declares one carries entities (a billion-laughs bomb, or a
    reference to a file outside the package). Only the head of each part is read: a DTD comes before
    the root element."""
    for info in zf.infolist():
        if info.filename.lower().endswith((".xml", ".rels")):
            with zf.open(info) as fh:
                head = fh.read(1 << 16)
            if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                raise IngestError(f"refused DOCX: part {info.filename} declares a DTD (<!DOCTYPE>/<!ENTITY>), "
                                  "which Word never writes: an XML entity bomb or a hand-made file")


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
        self.styles = Styles(doc)
        self.numbering = Numbering(doc)
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
        style = self._style(p)
        own = p.find(f"{_w('pPr')}/{_w('numPr')}")
        out: list[str] = [self.numbering.label(p, own if own is not None else self.styles.inherited(style, "numPr"))]
        self.textboxes += _inline_text(p, out, [])
        parts = "".join(out).translate(_INVISIBLE).split("\n")
        # Lines are built as lists of parts: a paragraph of 100,000 soft breaks must not copy its
        # growing text at every break.
        lines: list[list[str]] = [[parts[0]]]
        filled = [bool(parts[0].strip())]
        for part in parts[1:]:
            if _LABEL_AFTER_BREAK.match(part) and filled[-1]:
                lines.append([part])
                filled.append(bool(part.strip()))
            else:
                lines[-1].append(part)
                filled[-1] = filled[-1] or bool(part.strip())
        return [s for s in (_join_lines(line).strip() for line in lines) if s]

    def _style(self, p):
        """The paragraph's w:style element (its own or the document default), or None."""
        style_id = p.find(f"{_w('pPr')}/{_w('pStyle')}")
        style = self.styles.by_id(style_id.get(_w("val"))) if style_id is not None else None
        # An unknown style id falls back to the default, as Word does (lxml elements: test `is None`).
        return style if style is not None else self.styles.default

    def _hints(self, p, first: bool) -> tuple[str | None, int | None]:
        style = self._style(p)
        named = self.styles.named_hint(style)
        if named is not None:
            return named
        outline = self._ppr_value(p, style, "outlineLvl")
        if outline is not None and outline.isdigit() and int(outline) < 9:
            return "heading", int(outline) + 1
        if self._ppr_value(p, style, "jc") == "center":
            return ("title" if first else "center"), None
        return None, None

    def _ppr_value(self, p, style, prop: str) -> str | None:
        """A paragraph property, from the paragraph itself or else inherited through its style chain."""
        el = p.find(f"{_w('pPr')}/{_w(prop)}")
        if el is None:
            el = self.styles.inherited(style, prop)
        return el.get(_w("val")) if el is not None else None


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
    out: list[str] = []
    last = ""  # the last character so far
    for part in parts:
        if last and part and _latin(last) and _latin(part[0]):
            out.append(" ")
        if part:
            out.append(part)
            last = part[-1]
    return "".join(out)


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


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
