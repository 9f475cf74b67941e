"""Reading what people upload (task lists as XLSX / CSV / TXT, drafts as DOCX / TXT / MD) so that no file
within the upload cap costs the server much memory or time.

A 5 MB upload does not bound what it unpacks to: a ZIP part can inflate a thousandfold, a sheet can declare
`A1:XFD1048576`, an XML part can declare entities that expand exponentially, a CSV can be one 5 MB line or
five million empty ones. Nothing here trusts what a file declares:

- a ZIP container is checked by its central directory first (lawkb.core.archives.check_zip), then each
  part is inflated in 64 KB chunks and parsed as it comes, without building a tree (lawkb.tools.ooxml);
- text is decoded in chunks and split into lines of bounded length;
- rows, paragraphs and characters are counted as they are read, and reading stops past the limit.

The limits, each with why, and UploadError (status 400 unreadable / 413 too much / 415 unsupported type,
a Chinese message naming the limit, a stable `code`) are in lawkb.tools.upload_limits, and importable
from here.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
import zlib
from collections.abc import Iterator

from lxml import etree

from . import upload_limits as limits
from .ooxml import read_docx, read_xlsx
from .upload_limits import (
    CHUNK,
    MAX_DOCUMENT_CHARS,
    MAX_DOCUMENT_PARAGRAPHS,
    MAX_LINE_CHARS,
    MAX_LINES,
    MAX_TEXT_BYTES,
    Table,
    UploadError,
    corrupt,
    too_much,
)

__all__ = ["DOCUMENT_SUFFIXES", "TABLE_SUFFIXES", "UploadError", "limits", "read_document", "read_table"]

TABLE_SUFFIXES = (".xlsx", ".csv", ".txt")
DOCUMENT_SUFFIXES = (".docx", ".txt", ".md")

# Failures a hostile or damaged file can cause inside zipfile, zlib, lxml or the codecs: all mean "cannot
# be read", never a server error.
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError,
               etree.LxmlError, LookupError, UnicodeError, ValueError, OverflowError)


def read_table(data: bytes, filename: str, *, max_rows: int) -> list[list[str]]:
    """The rows of the first worksheet of an XLSX, or of a CSV / TXT (UTF-8 with or without BOM, else
    GB18030), as text. Rows with no content are left out and trailing empty cells dropped; more than
    `max_rows` rows with content is refused (413) as soon as the next one is read."""
    suffix = _suffix(filename)
    if suffix not in TABLE_SUFFIXES:
        raise UploadError(415, "unsupported_type",
                          f"不支持的文件类型 {suffix or '（无扩展名）'}：请上传 XLSX、CSV 或 TXT 文件")
    table = Table(max_rows)
    try:
        if suffix == ".xlsx":
            read_xlsx(data, table)
        else:
            _read_csv(data, table)
    except UploadError:
        raise
    except _UNREADABLE:
        raise corrupt("unreadable", "无法读取这个文件，请确认文件没有损坏") from None
    return table.rows


def read_document(data: bytes, filename: str, *, max_paragraphs: int = MAX_DOCUMENT_PARAGRAPHS,
                  max_chars: int = MAX_DOCUMENT_CHARS) -> str:
    """The text of a DOCX (its body paragraphs, as python-docx gives them, one a line) or of a TXT / MD
    (UTF-8 with or without BOM, else GB18030). More paragraphs (lines) or characters than the limits is
    refused (413) as soon as they are read."""
    suffix = _suffix(filename)
    if suffix not in DOCUMENT_SUFFIXES:
        raise UploadError(415, "unsupported_type",
                          f"不支持的文件类型 {suffix or '（无扩展名）'}：请上传 TXT、MD 或 DOCX 文件")
    try:
        if suffix == ".docx":
            return read_docx(data, max_paragraphs, max_chars)
        return _read_plain(data, max_paragraphs, max_chars)
    except UploadError:
        raise
    except _UNREADABLE:
        raise corrupt("unreadable", "无法读取这个文件，请确认文件没有损坏") from None


def _suffix(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""


# ---- text: CSV, TXT, MD -----------------------------------------------------------------------------

def _encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM) when the whole file is UTF-8, else GB18030 (which reads GBK); checked
    chunk by chunk so that no decoded copy of the file is kept."""
    if len(data) > MAX_TEXT_BYTES:
        raise too_much("file_too_large", f"文件超过 {MAX_TEXT_BYTES >> 20} MB 上限")
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for i in range(0, len(data), CHUNK):
                decoder.decode(data[i:i + CHUNK])
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise corrupt("encoding", "无法识别文件编码：请保存为 UTF-8 或 GBK 文本后再上传")


def _chunks(data: bytes, encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)()
    for i in range(0, len(data) + 1, CHUNK):
        text = decoder.decode(data[i:i + CHUNK], final=i + CHUNK > len(data))
        if "\x00" in text:
            raise corrupt("not_text", "文件含有二进制内容，不是文本文件：请上传 UTF-8 或 GBK 文本")
        if text:
            yield text


def _lines(data: bytes, encoding: str) -> Iterator[str]:
    """Lines ending in '\\n' (as io.StringIO gives them), none longer than MAX_LINE_CHARS, at most
    MAX_LINES of them: a 5 MB line or five million empty ones stop here, early."""
    buf, count = "", 0
    for text in _chunks(data, encoding):
        buf += text
        start = 0
        while (end := buf.find("\n", start)) >= 0:
            count += 1
            if end - start > MAX_LINE_CHARS:
                raise _long_line(count)
            if count > MAX_LINES:
                raise too_much("too_many_lines", f"文件超过 {MAX_LINES:,} 行上限（空行也计入）")
            yield buf[start:end + 1]
            start = end + 1
        buf = buf[start:]
        if len(buf) > MAX_LINE_CHARS:
            raise _long_line(count + 1)
    if buf:
        yield buf


def _long_line(n: int) -> UploadError:
    return too_much("line_too_long", f"文件第 {n} 行超过 {MAX_LINE_CHARS:,} 字上限，不像是表格")


def _read_csv(data: bytes, table: Table) -> None:
    encoding = _encoding(data)
    # The dialect is guessed from the first 2048 characters, as before; 4 bytes a character at most.
    sample = codecs.getincrementaldecoder(encoding)().decode(data[:4 * 2048 + 3])[:2048]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;，")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(_lines(data, encoding), dialect)
    try:
        for record in reader:
            table.add(record)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise too_much("cell_too_long", f"表格中有一格超过 {csv.field_size_limit():,} 字上限") from None
        raise corrupt("bad_csv", f"无法按 CSV 格式读取第 {reader.line_num} 行，请检查引号是否成对") from None


def _read_plain(data: bytes, max_paragraphs: int, max_chars: int) -> str:
    parts, chars, lines = [], 0, 1
    for text in _chunks(data, _encoding(data)):
        chars += len(text)
        lines += text.count("\n")
        if chars > max_chars:
            raise too_much("too_many_chars", f"文档超过 {max_chars:,} 字上限")
        if lines > max_paragraphs:
            raise too_much("too_many_paragraphs", f"文档超过 {max_paragraphs:,} 行上限")
        parts.append(text)
    return "".join(parts)
