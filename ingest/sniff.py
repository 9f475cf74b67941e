"""Choose a reader by what a file is, not by what it is called."""

from __future__ import annotations

import zipfile
from io import BytesIO

from .blocks import IngestError

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff(raw: bytes, name: str = "") -> str:
    """Return 'pdf', 'docx', 'html', 'markdown' or 'text' for the bytes of a file."""
    if not raw:
        raise IngestError("empty file (0 bytes)")
    head = raw[:2048]
    if head.lstrip()[:5] == b"%PDF-" or head[:1024].find(b"%PDF-") != -1:
        return "pdf"
    if head.startswith(OLE2_MAGIC):
        raise IngestError(
            "OLE2 compound file: a legacy .doc/.xls or a password-protected Office file; save it as .docx"
        )
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(BytesIO(raw)) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile as exc:
            raise IngestError(f"corrupt or truncated ZIP/DOCX file: {exc}") from None
        if "word/document.xml" in names:
            return "docx"
        raise IngestError("ZIP archive that is not a Word document (no word/document.xml)")
    lowered = head.lower()
    if b"<html" in lowered or b"<!doctype html" in lowered or b"<body" in lowered or (
        lowered.count(b"<div") + lowered.count(b"<p") + lowered.count(b"<td") >= 3
    ):
        return "html"
    if name.lower().endswith((".htm", ".html")) and b"<" in head:
        return "html"
    if name.lower().endswith((".pdf", ".docx")):
        # Named as a binary format but is not one: probably truncated to nothing useful or mislabelled.
        kind = name.rsplit(".", 1)[-1].upper()
        raise IngestError(f"named .{kind.lower()} but the content is not {kind} (no {kind} signature)")
    if name.lower().endswith(".md"):
        return "markdown"
    return "text"
