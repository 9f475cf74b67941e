"""What an upload may hold, and the error that refuses one that holds more: the limits the readers in
lawkb.tools.uploads and lawkb.tools.ooxml enforce, each with why it is where it is.

Every refusal is an UploadError: its HTTP status (400 unreadable, 413 too much, 415 unsupported type), a
Chinese message that names the limit, and a stable `code`.
"""

from __future__ import annotations

from lawkb.core.errors import KBError

# Each far above any real task list or draft, each far below what hurts the server.
MAX_PART_BYTES = 32 << 20        # inflated bytes of one XML part: a 500-row sheet is KBs; drafts ~1.5 KB a paragraph
MAX_TEXT_BYTES = 32 << 20        # a CSV / TXT given directly (the site caps bodies at 5 MB; the CLI does not)
MAX_SPAN_BYTES = 1 << 20         # bytes between two '>': one tag or one text; Excel's longest cell is < 100 KB
MAX_XML_ELEMENTS = 2_000_000     # elements in all the parts of one file: about 3 s of parsing
MAX_XML_DEPTH = 100              # Office XML nests about 10 deep; tables in tables add a few levels each
MAX_COLUMNS = 100                # a task list uses two columns
MAX_CELL_CHARS = 32_767          # Excel's own limit for one cell
MAX_TABLE_CHARS = 2_000_000      # all cells kept: 500 tasks of 500 characters are 250,000
MAX_SHARED_STRINGS = 500_000     # the highest shared-string index a sheet may use: far past any task list
MAX_LINE_CHARS = 20_000          # one CSV / TXT line of a table
MAX_LINES = 100_000              # CSV / TXT lines read, blank ones included
MAX_DOCUMENT_PARAGRAPHS = 20_000 # a long 居民公约 has a few hundred paragraphs; 20,000 is ~400 pages
MAX_DOCUMENT_CHARS = 200_000     # the site's limit on a draft's text (web/params.py MAX_TEXT_CHARS)
MAX_SHEETS = 256                 # sheets looked at to find the first worksheet
CHUNK = 64 << 10


class UploadError(KBError):
    """An upload refused: `status` (400 / 413 / 415), a stable `code`, and a Chinese message (`str()`
    and `.zh`, as ArchiveError has)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.zh = message


def too_much(code: str, message: str) -> UploadError:
    return UploadError(413, code, message)


def corrupt(code: str, message: str) -> UploadError:
    return UploadError(400, code, message)


class Table:
    """Rows as they are read, with the counts that bound them."""

    def __init__(self, max_rows: int) -> None:
        self.rows: list[list] = []
        self.max_rows = max_rows
        self.chars = 0

    def add(self, cells: list) -> None:
        # Shared-string indexes (int) stand for text read later: they count as content.
        while cells and isinstance(cells[-1], str) and not cells[-1].strip():
            cells.pop()
        if not cells:
            return
        if len(cells) > MAX_COLUMNS:
            raise columns_error(len(self.rows) + 1, len(cells))
        for cell in cells:
            if isinstance(cell, str):
                self.count(len(cell))
        self.rows.append(cells)
        if len(self.rows) > self.max_rows:
            raise too_much("too_many_rows", f"表格超过 {self.max_rows} 行上限（空行不计），请分批上传")

    def count(self, chars: int) -> None:
        if chars > MAX_CELL_CHARS:
            raise too_much("cell_too_long", f"表格中有一格超过 {MAX_CELL_CHARS:,} 字上限")
        self.chars += chars
        if self.chars > MAX_TABLE_CHARS:
            raise too_much("table_too_large", f"表格的文字超过 {MAX_TABLE_CHARS:,} 字上限，请分批上传")


def columns_error(row: int, columns: int) -> UploadError:
    return too_much("too_many_columns", f"表格第 {row} 个有内容的行用到第 {columns} 列，超过 {MAX_COLUMNS} 列上限")
