"""Plain text and Markdown (LawRefBook style) into blocks.

Decoding is strict: UTF-8 (with or without BOM), UTF-16 with a BOM, then GB18030 (a superset of GBK and
GB2312, which many Chinese government downloads still use). A file that is neither is reported, never
decoded with replacement characters, because a silently mangled article is worse than a missing one.
"""

from __future__ import annotations

import re

from .blocks import Block, Extracted, IngestError

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_TERMINAL = tuple("。；：！？!?;:”’」』）)")
_LABEL = re.compile(r"^[\s\u3000]*(第[\s\u3000]*[〇零一二两三四五六七八九十百千0-9０-９]+[\s\u3000]*[条條章节節编編]|[（(][一二三四五六七八九十]+[）)]|附件|附则|序言|目录)")


def decode_text(raw: bytes, name: str = "") -> tuple[str, str]:
    """Return (text, encoding). Raises IngestError for binary or undecodable input."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise IngestError(f"UTF-16 file with a bad byte at offset {exc.start}") from exc
    head = raw[:8192]
    if b"\x00" in head:
        raise IngestError("binary file (NUL bytes), not text")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        if utf8_error.reason == "unexpected end of data" and not raw[:utf8_error.start].isascii():
            # Valid UTF-8 Chinese up to a character cut off at the end: GB18030 would decode every byte
            # of it into other characters.
            raise IngestError(f"truncated UTF-8: the file ends in the middle of a character (byte "
                              f"{utf8_error.start} of {len(raw)}); an incomplete download or copy?") from None
        try:
            return raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise IngestError(
                f"cannot decode text: not UTF-8 (bad byte at offset {utf8_error.start}) and not GB18030/GBK"
            ) from None


def looks_like_markdown(text: str) -> bool:
    head = text[:20000]
    return "<!-- INFO END -->" in head or bool(re.search(r"^#{1,6}\s", head, re.M))


_BR = re.compile(r"<br\s*/?>", re.I)


def _md_inline(line: str) -> str:
    """Inline Markdown as printed text: comments (LawRefBook's <!-- FORCEBREAK -->) and <br> dropped,
    &nbsp; a space, links and images keep their text, bold markers go. Done by scanning with find():
    the regular expressions `<!--.*?-->`, `\\[([^\\]]*)\\]\\(...\\)` and `\\*\\*(.+?)\\*\\*` rescan the rest of the
    line from every opener, which on a line of 10,000,000 `[` never ends."""
    if not any(ch in line for ch in "<&*_["):
        return line
    line = _drop_comments(line)
    line = _BR.sub("", line)
    line = line.replace("&nbsp;", " ")
    line = _link_texts(line)
    return _unwrap(_unwrap(line, "**"), "__")


def _drop_comments(line: str) -> str:
    """`<!--.*?-->` replaced by nothing."""
    out, pos = [], 0
    while (i := line.find("<!--", pos)) >= 0 and (j := line.find("-->", i + 4)) >= 0:
        out.append(line[pos:i])
        pos = j + 3
    out.append(line[pos:])
    return "".join(out)


def _link_texts(line: str) -> str:
    """`!?\\[([^\\]]*)\\]\\([^)]*\\)` replaced by its bracketed text, match for match as re.sub would."""
    out, pos, q = [], 0, 0
    while (q := line.find("[", max(q, pos))) >= 0:
        j = line.find("]", q + 1)  # the text can only end at the first `]`
        if j < 0:
            break
        if line[j + 1:j + 2] != "(":
            q = j + 1  # no match from any `[` up to j: all of them end at this `]`
            continue
        k = line.find(")", j + 2)
        if k < 0:
            break
        start = q - 1 if q > pos and line[q - 1] == "!" else q
        out.append(line[pos:start])
        out.append(line[q + 1:j])
        pos = q = k + 1
    out.append(line[pos:])
    return "".join(out)


def _unwrap(line: str, mark: str) -> str:
    """`mark(.+?)mark` replaced by what it encloses (bold markers `**`, `__`)."""
    out, pos = [], 0
    while (i := line.find(mark, pos)) >= 0 and (j := line.find(mark, i + len(mark) + 1)) >= 0:
        out.append(line[pos:i])
        out.append(line[i + len(mark):j])
        pos = j + len(mark)
    out.append(line[pos:])
    return "".join(out)


def read_markdown(text: str) -> Extracted:
    """LawRefBook Markdown: '# title', history lines, '<!-- INFO END -->', '##' headings, one paragraph a line."""
    lines = text.translate(_ZERO_WIDTH).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    meta: dict = {}
    blocks: list[Block] = []
    start = 0
    if lines and lines[0].strip() == "---":  # YAML-ish front matter (Hugo, Jekyll)
        for i in range(1, min(len(lines), 60)):
            if lines[i].strip() == "---":
                for fm in lines[1:i]:
                    k, _, v = fm.partition(":")
                    if v.strip():
                        meta[k.strip()] = v.strip().strip("'\"")
                start = i + 1
                break
    has_info_end = any(line.strip() == "<!-- INFO END -->" for line in lines)
    in_header = has_info_end
    in_comment = False
    for no, raw_line in enumerate(lines[start:], start=start + 1):
        line = raw_line.strip()
        if in_comment:
            in_comment = "-->" not in line
            continue
        if line == "<!-- INFO END -->":
            in_header = False
            continue
        if line.startswith("<!--"):
            in_comment = "-->" not in line
            continue
        if not line:
            continue
        if re.fullmatch(r"\|?[\s:|-]+\|?", line) and "-" in line:  # table separator row
            continue
        if re.fullmatch(r"#{1,6}", line):  # an empty heading marker
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            level = len(m.group(1))
            heading = _md_inline(m.group(2)).strip()
            style = "title" if level == 1 and not any(b.style == "title" for b in blocks) else "heading"
            blocks.append(Block(heading, line=no, style=style, level=level))
            continue
        line = _md_inline(line).strip()
        if not line:
            continue
        style = None
        if line.startswith("|") and line.endswith("|"):
            style = "table"
            line = " | ".join(c.strip() for c in line.strip("|").split("|"))
        elif in_header:
            style = "history"
        elif line.startswith(">"):
            line = line.lstrip("> ").strip()
        blocks.append(Block(line, line=no, style=style))
    return Extracted(blocks=blocks, source_kind="markdown", meta=meta)


def _is_hard_wrapped(lines: list[str]) -> bool:
    """True for text whose lines were broken at a fixed width (PDF extractions), not at paragraph ends."""
    body = [ln.rstrip() for ln in lines if len(ln.strip()) >= 12]
    if len(body) < 10:
        return False
    open_ended = sum(1 for ln in body if not ln.endswith(_TERMINAL) and not _LABEL.match(ln))
    return open_ended / len(body) > 0.3


def read_plain_text(text: str) -> Extracted:
    """Plain text. Each line is a paragraph, unless the file is hard-wrapped: then lines are joined back
    into paragraphs, and a blank line only ends a paragraph after sentence-final punctuation (blank runs
    in PDF extractions mark page breaks, often in mid-sentence)."""
    lines = text.translate(_ZERO_WIDTH).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Block] = []
    if not _is_hard_wrapped(lines):
        for no, line in enumerate(lines, start=1):
            if line.strip():
                blocks.append(Block(line.strip(), line=no))
        return Extracted(blocks=blocks, source_kind="text")
    # The last block's text in pieces, joined when the block ends: `text += line` would copy the growing
    # paragraph at every line, quadratic on a file of one endless paragraph.
    parts: list[str] = []
    size = 0
    pending_break = False
    for no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            if parts:
                pending_break = True
            continue
        ends = bool(parts) and parts[-1].endswith(_TERMINAL)
        # A wrapped line can begin with a cross-reference (…依照本法\n第十条的规定), so a label only
        # starts a paragraph where the previous one could have ended.
        starts_unit = bool(_LABEL.match(stripped)) and (not parts or pending_break or ends)
        if not parts or starts_unit or (pending_break and (ends or stripped[:1] in "（(" or size <= 40)):
            # After a blank line, a short paragraph (a title, a heading) or a parenthesised note
            # starts anew; a long one only ends at sentence-final punctuation.
            if parts:
                blocks[-1].text = "".join(parts)
            blocks.append(Block(stripped, line=no))
            parts, size = [stripped], len(stripped)
        else:
            parts.append(stripped)
            size += len(stripped)
        pending_break = False
    if parts:
        blocks[-1].text = "".join(parts)
    return Extracted(blocks=blocks, source_kind="text")


def read_text_file(raw: bytes, name: str = "") -> Extracted:
    text, encoding = decode_text(raw, name)
    if not text.strip():
        raise IngestError("empty file (no text)")
    extracted = read_markdown(text) if looks_like_markdown(text) or name.endswith(".md") else read_plain_text(text)
    extracted.meta["encoding"] = encoding
    return extracted
