"""PDF into blocks: one Block per logical paragraph, rebuilt from the layout of the text layer.

PDF text comes as positioned glyphs, not paragraphs. Every sample breaks lines in mid-word
(`中华人\n民共和国`), so paragraphs are rebuilt from geometry (pdfplumber chars with x/y):

1. Lines: glyphs grouped by vertical position, ordered left to right. Real space glyphs (U+3000 in the
   Chrome print, ASCII spaces from Word) are kept as printed; a visible gap with no glyph (WPS/Quartz
   files have no space glyphs at all) becomes one ASCII space.
2. Furniture: page numbers (`－3－`, `—3—`, `- 3 -`, `第3页`, `3/27`, bare `3`) at the top or bottom of a
   page, lines repeated at the top/bottom of most pages, and a short list of known web-page chrome
   (`_BOILERPLATE`) are dropped before anything is joined, because they sit between two halves of an
   article.
3. Paragraphs: a line starts a new paragraph when it is centred, starts with a label (第…条/章/节/编,
   （一）, 一、, 1.) after a line that ended a sentence, is indented where a continuation would not be,
   follows a line that ended early (the next line's first word would have fitted), or follows a large
   vertical gap. Otherwise it continues the paragraph, across page breaks too. Lines are joined with no
   space (CJK), except between two Latin letters/digits.

Characters are normalised only where the PDF's font mapping is wrong, not the printed typography
(`_normalise`): Kangxi / CJK radicals (`⼈⺠` from Chrome's fonts) and compatibility ideographs become
the ordinary ideographs. Full NFKC is deliberately not applied: it would turn the statute's own `，（）：；`
into ASCII and U+3000 (`第一条　`) into a space, which is not "as printed".

The steps are split by job: glyphs into lines and page furniture (steps 1-2, `_normalise`) in
`pdf_lines`, lines into paragraphs (step 3) in `pdf_paragraphs`. This module is the entry point:
it opens and checks the file, reports what cannot be read, and decodes the metadata.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdftypes import resolve1
from pdfminer.psparser import PSLiteral
from pdfminer.utils import PDFDocEncoding
from pdfplumber.utils.exceptions import PdfminerException

from .blocks import Block, Extracted, IngestError
from .pdf_lines import _drop_furniture, _normalise, _page_lines
from .pdf_lines import _Line as _Line  # re-exported: tests build lines by hand
from .pdf_lines import _split_run_together as _split_run_together  # re-exported for tests
from .pdf_paragraphs import _join, _layout, _margins, _paragraphs
from .titles import title_from_filename

# --- patterns ----------------------------------------------------------------------------------

_CID = re.compile(r"\(cid:\d+\)")
# /Title values that are left over from a template or the authoring tool, not the document's title.
_JUNK_TITLE = re.compile(
    r"^(?:|法规修改决定电子报备格式标准及示例|无标题.*|untitled.*|document\d*|文档\d*|新建.*文档.*|title)$",
    re.I,
)
# Word (and WPS) put the name of the file they printed into /Title: "Microsoft Word - 民法典.doc".
_WORD_PREFIX = re.compile(r"^(?:microsoft\s*(?:office\s*)?word|wps\s*(?:office|文字)?)\s*[-－–—:：]\s*", re.I)
_FILE_EXT = re.compile(r"\.(?:docx?|dotx?|wps|wpt|rtf|txt|pdf|odt)$", re.I)
# A title written as the text of a hex string, "<4D6963726F736F6674…>" (seen from Word-era converters).
_HEX_TEXT = re.compile(r"^<\s*((?:[0-9A-Fa-f]{2}\s*)+)>$")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")

# --- document ----------------------------------------------------------------------------------


def _decode_meta_bytes(raw: bytes) -> str:
    """A PDF string from the document information dictionary as text. The standard allows
    PDFDocEncoding or UTF-16BE with a BOM; producers also write UTF-16LE or UTF-8 with a BOM and, on
    Chinese Windows, bare GBK. '' when the bytes make no sense in any of them."""
    boms = ((b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"), (b"\xef\xbb\xbf", "utf-8"))
    for bom, enc in boms:
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(enc)
            except UnicodeDecodeError:
                return ""
    if raw.isascii():
        return raw.decode("ascii")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    wide = [ch for ch in text if not ch.isascii()]
    # GB18030 decodes almost any bytes: 'R\xe8glement' gives 'R鑗lement', an accented Latin letter and
    # the ASCII letter after it read as one character. GBK is taken only when it reads as CJK and most
    # characters are two high bytes (GB2312), not a high byte paired with an ASCII one.
    if wide and sum(1 for ch in wide if _CJK.match(ch)) >= 0.8 * len(wide) \
            and sum(1 for ch in wide if ch.encode("gb18030")[-1] < 0x80) <= 0.2 * len(wide):
        return text
    return "".join(PDFDocEncoding[b] for b in raw)


def _meta_text(value: object) -> str:
    """A metadata value as text: strings decoded (`_decode_meta_bytes`), and a string whose text is
    itself a hex string ('<4D69…>') decoded once more; anything else ''."""
    try:
        value = resolve1(value)
    except Exception:  # a dangling or broken reference in metadata must not cost the document
        return ""
    if isinstance(value, PSLiteral):
        value = value.name
    if isinstance(value, bytes):
        value = _decode_meta_bytes(value)
    if not isinstance(value, str):
        return ""
    m = _HEX_TEXT.match(value.strip())
    if m:
        value = _decode_meta_bytes(bytes.fromhex(re.sub(r"\s", "", m.group(1)))) or value
    return value.replace("\x00", "")


def meta_title(value: str) -> str | None:
    """The document title a decoded /Title gives, or None: "Microsoft Word - 中华人民共和国民法典.doc"
    is the name of the Word file, which gives 中华人民共和国民法典; template titles and 文档1 give None."""
    title = _normalise(value).strip()
    word = _WORD_PREFIX.match(title)
    if word:
        title = title_from_filename(title[word.end():].strip())
    else:
        title = _FILE_EXT.sub("", title).strip()
    if _JUNK_TITLE.match(title) or _JUNK_TITLE.match(re.sub(r"\s+", "", title)):
        return None
    return title


def _open_error(exc: BaseException, path: Path) -> IngestError:
    inner = exc.args[0] if isinstance(exc, PdfminerException) and exc.args else exc
    if isinstance(inner, PDFPasswordIncorrect):
        return IngestError(f"password-protected PDF: {path.name} cannot be opened without its password; "
                           "save an unprotected copy first")
    if isinstance(inner, PDFEncryptionError):
        return IngestError(f"encrypted PDF: {path.name} uses encryption that cannot be read ({inner})")
    return IngestError(f"corrupt PDF: {path.name} cannot be parsed ({type(inner).__name__}: {inner})")


def read_pdf(path: Path) -> Extracted:
    """Read a PDF with a text layer into paragraph blocks (page = where the paragraph starts; style
    'center' for centred paragraphs). meta: pages, producer (/Producer, else /Creator) and title
    (/Title decoded and cleaned by `meta_title`, unless it is template junk). Raises IngestError for
    files that cannot be read: empty, not a PDF, truncated or corrupt, password-protected, scanned
    without a text layer, or fonts without a Unicode map. Pages with only images, and owner-password encryption, are reported in warnings."""
    path = Path(path)
    try:
        raw_size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1024)
            fh.seek(max(0, raw_size - 4096))
            tail = fh.read()
    except OSError as exc:
        raise IngestError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if raw_size == 0:
        raise IngestError(f"empty file: {path.name} has 0 bytes")
    if b"%PDF-" not in head:
        raise IngestError(f"not a PDF: {path.name} has no %PDF- header")
    if b"%%EOF" not in tail:
        # pdfminer would rebuild what it can from a cut-off file and silently lose the rest.
        raise IngestError(f"truncated PDF: {path.name} ({raw_size} bytes) has no %%EOF end marker; "
                          "download it again")

    # pdfminer logs a warning for every font without a FontBBox and similar harmless oddities.
    pdfminer_log = logging.getLogger("pdfminer")
    old_level = pdfminer_log.level
    pdfminer_log.setLevel(logging.ERROR)
    try:
        try:
            pdf = pdfplumber.open(path)
        except Exception as exc:  # pdfminer raises many unrelated types for broken files
            raise _open_error(exc, path) from exc
        with pdf:
            # Read from the raw dictionary: pdfplumber's decoding takes GBK bytes for PDFDocEncoding.
            meta = {k: _meta_text(v) for info in pdf.doc.info for k, v in info.items()}
            # An owner password alone (copy/print restrictions) does not stop reading the text.
            encrypted = pdf.doc.encryption is not None
            try:
                pages = [_page_lines(page, i) for i, page in enumerate(pdf.pages, start=1)]
                widths = [float(page.width) for page in pdf.pages]
                heights = [float(page.height) for page in pdf.pages]
                imaged = [bool(page.images) for page in pdf.pages]
            except IngestError:
                raise
            except Exception as exc:
                raise _open_error(exc, path) from exc
    finally:
        pdfminer_log.setLevel(old_level)

    n = len(pages)
    if n == 0:
        raise IngestError(f"corrupt PDF: {path.name} has no pages")
    warnings: list[str] = []
    if encrypted:
        warnings.append("encrypted PDF (owner password only): opened without a password")
    textless = [i + 1 for i, lines in enumerate(pages) if not lines]
    if len(textless) == n:
        raise IngestError(f"scanned PDF: no text layer on any of {n} pages; OCR it first")
    # pdfminer writes a glyph whose font has no Unicode map as "(cid:NN)".
    text = "".join(ln.text for lines in pages for ln in lines)
    cid = len(_CID.findall(text))
    if cid > 0.3 * (cid + len(_CID.sub("", text))):
        raise IngestError(f"unreadable text layer: the fonts in {path.name} have no Unicode mapping "
                          "(pdfminer gives '(cid:NN)'); OCR it first")
    if cid:
        warnings.append(f"{cid} glyphs have no Unicode mapping and appear as '(cid:NN)'")
    scanned = [p for p in textless if imaged[p - 1]]
    if scanned:
        warnings.append(f"no text layer on page(s) {', '.join(map(str, scanned))} of {n} "
                        "(scanned images?); their content is missing")

    pages = _drop_furniture(pages, heights)
    margins = _margins(pages, widths)
    for lines in pages:
        for ln in lines:
            ln.rel = ln.x0 - margins[ln.page - 1].left
    blocks = [
        Block(_join(p.lines), page=p.lines[0].page, style="center" if p.centred else None)
        for p in _paragraphs(pages, _layout(pages, margins))
    ]

    out_meta: dict = {"pages": n}
    title = meta_title(meta.get("Title", ""))
    if title:
        out_meta["title"] = title
    producer = (meta.get("Producer") or meta.get("Creator") or "").strip()
    if producer:
        out_meta["producer"] = producer
    return Extracted(blocks=blocks, source_kind="pdf", meta=out_meta, warnings=warnings)
