"""What a format reader hands to the structurer: the body as logical paragraphs, with provenance.

Readers (markdown/text, html, pdf, docx) only deal with their format: decoding, dropping page furniture,
rebuilding paragraphs. Recognising titles, history lines, tables of contents, 编/章/节 and 条 is done
once, in `structure.py`, for every format.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class IngestError(Exception):
    """A file that cannot be ingested; the message is shown to the user as the reason."""


@dataclass
class Block:
    """One logical paragraph of the source, text exactly as printed (after Unicode NFKC where needed).

    style hints, set by readers when the format knows them: 'title' (the document title), 'heading'
    (a heading such as a Markdown '##' or Word 'Heading 2'), 'table' (a table row rendered as text),
    'center' (centred paragraph), 'history' (known to be a history/promulgation line).
    """

    text: str
    line: int | None = None  # 1-based line in the source file (text formats)
    page: int | None = None  # 1-based page (PDF, DOCX where known)
    style: str | None = None
    level: int | None = None  # heading depth when the format says it (Markdown #, Word Heading N)


@dataclass
class Extracted:
    """A reader's output: blocks plus metadata hints the format carries (file metadata, gov.cn tables)."""

    blocks: list[Block]
    source_kind: str
    meta: dict = field(default_factory=dict)  # title, issuing_body, doc_number, dates, region ...
    warnings: list[str] = field(default_factory=list)
