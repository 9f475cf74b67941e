"""XLSX and DOCX read as they stream by, bounded however the file is built (see lawkb.tools.uploads).

XML goes to an lxml parser *target*: no tree is built, and only the cells or paragraphs asked for are kept,
as they arrive. (iterparse builds elements: comments, processing instructions or unknown siblings pile up
unless each one is cleared.) A DOCTYPE is refused the moment it starts, since no Office part has one, so
no entity is ever declared, expanded or fetched. Depth, element count, the bytes inflated from a part and
the bytes between two `>` (one tag, or one run of text) are bounded; declared dimensions and column spans
are ignored.
"""

from __future__ import annotations

import functools
import io
import posixpath
import re
import zipfile

from lxml import etree

from lawkb.core.archives import ArchiveError, check_zip

from .upload_limits import (
    CHUNK,
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_PART_BYTES,
    MAX_SHARED_STRINGS,
    MAX_SHEETS,
    MAX_SPAN_BYTES,
    MAX_XML_DEPTH,
    MAX_XML_ELEMENTS,
    Table,
    UploadError,
    columns_error,
    corrupt,
    too_much,
)

# Office's main namespaces (transitional and strict) and the package relationships: elements in them are
# named by local name; any other namespace never matches.
_KNOWN_NS = {
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://purl.oclc.org/ooxml/spreadsheetml/main",
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
    "http://schemas.openxmlformats.org/package/2006/relationships",
}


@functools.lru_cache(maxsize=256)   # a part uses a few dozen names; bounded against one that invents many
def _local(tag: str) -> str:
    if tag[:1] != "{":
        return tag
    ns, _, name = tag[1:].partition("}")
    return name if ns in _KNOWN_NS else "{}" + name


def _attr(attrib, name: str) -> str | None:
    """An attribute by local name, qualified or not (r:id, w:type)."""
    value = attrib.get(name)
    if value is None:
        suffix = "}" + name
        value = next((v for k, v in attrib.items() if k.endswith(suffix)), None)
    return value


class _Stop(Exception):
    """A handler has read all it needs."""


class _Handler:
    """An lxml parser target: sees each element's local name with `path` (the names from the root to it),
    and the text inside; keeps nothing it is not asked to."""

    def __init__(self) -> None:
        self.path: list[str] = []
        self.elements = 0

    def start(self, tag: str, attrib) -> None:
        self.elements += 1
        if self.elements > MAX_XML_ELEMENTS:
            raise too_much("too_many_elements", f"文件内部结构过于庞大（超过 {MAX_XML_ELEMENTS:,} 个元素），已拒绝")
        if len(self.path) >= MAX_XML_DEPTH:
            raise too_much("too_deep", f"文件内部结构嵌套超过 {MAX_XML_DEPTH} 层上限，已拒绝")
        self.path.append(_local(tag))
        self.opened(self.path[-1], attrib)

    def end(self, tag: str) -> None:
        self.closed(self.path[-1])
        self.path.pop()

    def data(self, text: str) -> None:
        self.text(text)

    def doctype(self, *_args) -> None:
        raise corrupt("xml_doctype", "文件含有 XML 文档类型声明（DTD），Office 文件不会有，已拒绝（可能是实体扩展攻击）")

    def close(self) -> None:
        return None

    def opened(self, name: str, attrib) -> None:
        pass

    def closed(self, name: str) -> None:
        pass

    def text(self, text: str) -> None:
        pass


class _Package(zipfile.ZipFile):
    """The ZIP being read, with the elements parsed so far in all its parts: the element limit is for the
    whole upload, so a file cannot spend it once per part."""

    elements = 0


def _open_zip(data: bytes) -> _Package:
    try:
        check_zip(data)
    except ArchiveError as exc:
        raise UploadError(exc.status, exc.code, exc.zh) from None
    return _Package(io.BytesIO(data))


def _member(zf: _Package, name: str) -> str | None:
    """The member's name as stored (producers differ in case), or None."""
    names = zf.namelist()
    if name in names:
        return name
    return next((n for n in names if n.lower() == name.lower()), None)


def _parse(zf: _Package, name: str, handler: _Handler) -> None:
    """Feed one part to `handler` chunk by chunk, counting inflated bytes and the span since the last '>'."""
    parser = etree.XMLParser(target=handler, resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True, remove_pis=True)
    # zipfile inflates a bzip2 or LZMA chunk whole, however large, before it cuts it to the declared size;
    # Office writes only stored and deflated parts, and deflate is inflated in bounded steps.
    if zf.getinfo(name).compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise corrupt("compression", "文件使用了 Office 不用的压缩方式，无法读取：请用 Excel 或 Word 重新保存")
    read = span = 0
    handler.elements = zf.elements
    try:
        with zf.open(name) as fh:
            while chunk := fh.read(CHUNK):
                read += len(chunk)
                if read > MAX_PART_BYTES:
                    raise too_much("part_too_large", f"文件解压后的内容超过 {MAX_PART_BYTES >> 20} MB 上限，已拒绝")
                # Gaps inside one chunk are shorter than the chunk; only those across chunks need counting.
                first = chunk.find(b">")
                if first < 0:
                    span += len(chunk)
                else:
                    span, last = span + first, len(chunk) - chunk.rfind(b">") - 1
                    if span <= MAX_SPAN_BYTES:
                        span = last
                if span > MAX_SPAN_BYTES:
                    raise too_much("span_too_large", f"文件中有一个单元或标记超过 {MAX_SPAN_BYTES >> 20} MB 上限，已拒绝")
                parser.feed(chunk)
        parser.close()
    except _Stop:
        return
    except etree.XMLSyntaxError:
        raise corrupt("bad_xml", "文件内容已损坏（内部的 XML 格式错误），无法读取") from None
    finally:
        zf.elements = handler.elements


def _rels_name(part: str) -> str:
    folder, base = posixpath.split(part)
    return posixpath.join(folder, "_rels", base + ".rels")


def _resolve(part: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(part), target))


class _Rels(_Handler):
    """Relationships of one part: those whose Id is wanted, and the first of each wanted type."""

    def __init__(self, ids: set[str], kinds: set[str]) -> None:
        super().__init__()
        self.ids, self.kinds = ids, kinds
        self.by_id: dict[str, tuple[str, str]] = {}
        self.by_kind: dict[str, str] = {}

    def opened(self, name: str, attrib) -> None:
        if name != "Relationship" or len(self.path) != 2 or attrib.get("TargetMode") == "External":
            return
        rid, kind, target = attrib.get("Id"), (attrib.get("Type") or "").rsplit("/", 1)[-1], attrib.get("Target")
        if not target:
            return
        if rid in self.ids:
            self.by_id[rid] = (kind, target)
        if kind in self.kinds and kind not in self.by_kind:
            self.by_kind[kind] = target


def _rels(zf: _Package, part: str, ids: set[str], kinds: set[str]) -> _Rels:
    handler = _Rels(ids, kinds)
    name = _member(zf, _rels_name(part))
    if name is not None:
        _parse(zf, name, handler)
    return handler


def _main_part(zf: _Package, default: str) -> str | None:
    target = _rels(zf, "", set(), {"officeDocument"}).by_kind.get("officeDocument")
    return _member(zf, _resolve("", target) if target else default) or _member(zf, default)


# ---- XLSX ---------------------------------------------------------------------------------------------

_CELL_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?[0-9]{1,7}")


class _SheetList(_Handler):
    """The r:id of the workbook's sheets, in order, up to MAX_SHEETS."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def opened(self, name: str, attrib) -> None:
        if name == "sheet" and self.path[-2:-1] == ["sheets"] and (rid := _attr(attrib, "id")):
            self.ids.append(rid)
            if len(self.ids) >= MAX_SHEETS:
                raise _Stop

    def closed(self, name: str) -> None:
        if name == "sheets":
            raise _Stop


class _Sheet(_Handler):
    """Cells as they come: each placed by its own reference, never by the declared dimension; a row is
    given to the table when it ends. Shared strings are kept as their index, read afterwards."""

    def __init__(self, table: Table) -> None:
        super().__init__()
        self.table = table
        self.needed: set[int] = set()
        self.row: dict[int, str | int] | None = None
        self.col = 0          # column of the cell being read (1-based); 0 outside a cell
        self.last_col = 0
        self.kind = "n"
        self.buf: list[str] | None = None
        self.size = 0
        self.values = 0       # <v> elements met in the cell: only the first counts

    def opened(self, name: str, attrib) -> None:
        tail = self.path[-2:]
        if tail == ["sheetData", "row"]:
            self.row, self.last_col = {}, 0
        elif tail == ["row", "c"] and self.row is not None:
            ref = attrib.get("r")
            if ref:
                m = _CELL_REF.fullmatch(ref)
                col = _column(m.group(1)) if m else 0
                if not 1 <= col <= 16384:
                    raise corrupt("bad_cell_ref", f"工作表中的单元格地址 {ref[:20]!r} 无效：文件已损坏")
            else:
                col = self.last_col + 1
            self.col = self.last_col = col
            self.kind, self.buf, self.size, self.values = attrib.get("t", "n"), None, 0, 0
        elif self.col and tail == ["c", "v"]:
            self.values += 1
            if self.values == 1 and self.kind != "inlineStr":
                self.buf = []
        elif self.col and tail == ["c", "is"] and self.kind == "inlineStr":
            self.buf = []

    def text(self, text: str) -> None:
        if self.buf is None:
            return
        p = self.path
        if self.kind == "inlineStr":   # <is>: its <t>, or the <t> of its runs; not phonetic runs (<rPh>)
            wanted = p[-3:] == ["c", "is", "t"] or p[-4:] == ["c", "is", "r", "t"]
        else:
            wanted = p[-2:] == ["c", "v"] and self.values == 1
        if wanted:
            self.size += len(text)
            if self.size > MAX_CELL_CHARS:
                raise too_much("cell_too_long", f"表格中有一格超过 {MAX_CELL_CHARS:,} 字上限")
            self.buf.append(text)

    def closed(self, name: str) -> None:
        tail = self.path[-2:]
        if tail == ["row", "c"] and self.col:
            value = self._value()
            if value is not None and self.col <= MAX_COLUMNS:
                self.row[self.col] = value
            elif value is not None and (isinstance(value, int) or value.strip()):
                raise columns_error(len(self.table.rows) + 1, self.col)
            self.col, self.buf = 0, None
        elif tail == ["sheetData", "row"] and self.row is not None:
            if self.row:
                cells: list = [""] * max(self.row)
                for col, value in self.row.items():
                    cells[col - 1] = value
                self.table.add(cells)
            self.row = None

    def _value(self) -> str | int | None:
        """The cell's value as openpyxl (data_only) gives it, as text; a shared string as its index."""
        if self.buf is None:
            return None
        raw = "".join(self.buf)
        if self.kind == "inlineStr":
            return raw
        if not raw:
            return None
        if self.kind == "s":
            try:
                index = int(raw)
            except ValueError:
                raise _bad_index(raw) from None
            if index < 0:
                raise _bad_index(raw)
            if index >= MAX_SHARED_STRINGS:
                raise too_much("too_many_shared_strings",
                                f"工作表引用第 {index + 1:,} 个共享字符串，超过 {MAX_SHARED_STRINGS:,} 个上限")
            self.needed.add(index)
            return index
        try:
            if self.kind == "n":
                return str(float(raw) if any(ch in raw for ch in ".Ee") else int(raw))
            if self.kind == "b":
                return str(bool(int(raw)))
        except ValueError:
            pass   # not a number after all: the text as written
        return raw


def _column(letters: str) -> int:
    col = 0
    for ch in letters.upper():
        col = col * 26 + ord(ch) - 64
    return col


def _bad_index(raw: str) -> UploadError:
    return corrupt("bad_shared_string", f"工作表引用的共享字符串编号 {raw[:20]!r} 无效：文件已损坏")


class _SharedStrings(_Handler):
    """Only the strings the sheet uses, read in order until the last of them."""

    def __init__(self, needed: set[int], table: Table) -> None:
        super().__init__()
        self.needed, self.last, self.table = needed, max(needed), table
        self.index = -1
        self.found: dict[int, str] = {}
        self.buf: list[str] | None = None
        self.size = 0

    def opened(self, name: str, attrib) -> None:
        if name == "si" and len(self.path) == 2:
            self.index += 1
            self.buf, self.size = ([], 0) if self.index in self.needed else (None, 0)

    def text(self, text: str) -> None:
        # The text of <si>: its <t>, or the <t> of its runs; phonetic runs (<rPh>) are not text.
        if self.buf is not None and (self.path[-2:] == ["si", "t"] or self.path[-3:] == ["si", "r", "t"]):
            self.size += len(text)
            if self.size > MAX_CELL_CHARS:
                raise too_much("cell_too_long", f"表格中有一格超过 {MAX_CELL_CHARS:,} 字上限")
            self.buf.append(text)

    def closed(self, name: str) -> None:
        if name == "si" and len(self.path) == 2:
            if self.buf is not None:
                value = "".join(self.buf).replace("x005F_", "")   # openpyxl's unescaping, kept
                self.table.count(len(value))
                self.found[self.index] = value
                self.buf = None
            if self.index >= self.last:
                raise _Stop


def read_xlsx(data: bytes, table: Table) -> None:
    """The first worksheet's rows into `table`, shared strings resolved."""
    with _open_zip(data) as zf:
        sheet = strings = None
        book = _main_part(zf, "xl/workbook.xml")
        if book is not None:
            listing = _SheetList()
            _parse(zf, book, listing)
            rels = _rels(zf, book, set(listing.ids), {"sharedStrings"})
            # openpyxl's worksheets[0]: the first sheet that is a worksheet (not a chart sheet).
            target = next((rels.by_id[r][1] for r in listing.ids
                           if r in rels.by_id and rels.by_id[r][0] == "worksheet"), None)
            sheet = _member(zf, _resolve(book, target)) if target else None
            if "sharedStrings" in rels.by_kind:
                strings = _member(zf, _resolve(book, rels.by_kind["sharedStrings"]))
        # Where the package does not say, the names every producer uses.
        sheet = sheet or _member(zf, "xl/worksheets/sheet1.xml")
        strings = strings or _member(zf, "xl/sharedStrings.xml")
        if sheet is None:
            raise corrupt("missing_part", "文件中找不到工作表：这不是有效的 XLSX 文件")
        reader = _Sheet(table)
        _parse(zf, sheet, reader)
        if not reader.needed:
            return
        shared = _SharedStrings(reader.needed, table)
        if strings is not None:
            _parse(zf, strings, shared)
        missing = reader.needed - shared.found.keys()
        if missing:
            raise corrupt("bad_shared_string", f"工作表引用第 {min(missing) + 1:,} 个共享字符串，文件中只有 "
                                                f"{shared.index + 1:,} 个：文件已损坏")
    for row in table.rows:
        for i, cell in enumerate(row):
            if isinstance(cell, int):
                row[i] = shared.found[cell]


# ---- DOCX ---------------------------------------------------------------------------------------------

_BODY_P = ["document", "body", "p"]
_RUNS = (["document", "body", "p", "r"], ["document", "body", "p", "hyperlink", "r"])
_TEXTS = (["document", "body", "p", "r", "t"], ["document", "body", "p", "hyperlink", "r", "t"])
_RUN_MARKS = {"tab": "\t", "ptab": "\t", "cr": "\n", "noBreakHyphen": "-"}


class _Document(_Handler):
    """python-docx's `Document.paragraphs` text, as it streams by: the paragraphs directly in the body;
    in each, the runs directly in it or in its hyperlinks; in each run, text, tabs and breaks."""

    def __init__(self, max_paragraphs: int, max_chars: int) -> None:
        super().__init__()
        self.max_paragraphs, self.max_chars = max_paragraphs, max_chars
        self.paragraphs: list[str] = []
        self.para: list[str] | None = None
        self.chars = 0

    def _add(self, text: str) -> None:
        self.chars += len(text)
        if self.chars > self.max_chars:
            raise too_much("too_many_chars", f"文档超过 {self.max_chars:,} 字上限")
        self.para.append(text)

    def opened(self, name: str, attrib) -> None:
        if self.path == _BODY_P:
            if self.paragraphs:
                self.chars += 1   # the line break that will join it to the one before
            self.para = []
        elif self.para is not None and self.path[:-1] in _RUNS:
            if name in _RUN_MARKS:
                self._add(_RUN_MARKS[name])
            elif name == "br":
                self._add("\n" if _attr(attrib, "type") in (None, "textWrapping") else "")

    def text(self, text: str) -> None:
        if self.para is not None and self.path in _TEXTS:
            self._add(text)

    def closed(self, name: str) -> None:
        if self.path == _BODY_P and self.para is not None:
            self.paragraphs.append("".join(self.para))
            self.para = None
            if len(self.paragraphs) > self.max_paragraphs:
                raise too_much("too_many_paragraphs", f"文档超过 {self.max_paragraphs:,} 段上限")


def read_docx(data: bytes, max_paragraphs: int, max_chars: int) -> str:
    """The text of the main document part's body paragraphs, one a line."""
    with _open_zip(data) as zf:
        main = _main_part(zf, "word/document.xml")
        if main is None:
            raise corrupt("missing_part", "文件中找不到正文（word/document.xml）：这不是有效的 DOCX 文件")
        reader = _Document(max_paragraphs, max_chars)
        _parse(zf, main, reader)
    return "\n".join(reader.paragraphs)
