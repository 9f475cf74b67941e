"""ingest.pdf_reader on the real sample PDFs (read from $LAWKB_SHARED) and on hand-made faulty PDFs."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import pytest

from lawkb.core.numerals import cn_to_int
from lawkb.ingest.blocks import IngestError
from lawkb.ingest.pdf_reader import _drop_furniture, _Line, _split_run_together, read_pdf

SHARED = Path(os.environ.get("LAWKB_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared")).resolve()
SAMPLES = SHARED / "corpus" / "samples"

# Article counts checked by reading the extracted text (labels followed by a space, 第一条…第N条 without
# gaps). The Taiwan file numbers 第 1 條 … 第 63 條 plus 第 29-1 條, 第 49-1 條 and 第 59-1 條.
ARTICLES = {
    "pdf/npc-word_中华人民共和国民营经济促进法.pdf": 78,
    "pdf/word-webcopy_中华人民共和国网络安全法.pdf": 79,
    "pdf/word2016_中华人民共和国个人信息保护法.pdf": 74,
    "pdf/wps-quartz_中华人民共和国劳动合同法.pdf": 98,
    "pdf/chrome-print_中华人民共和国劳动合同法实施条例.pdf": 38,
    "pdf/flk-itext_上海市劳动合同条例.pdf": 62,
    "pdf/wps_中华人民共和国宪法_2018.pdf": 143,
    "pdf/tw-moj-itext_公寓大廈管理條例_111-05-11.pdf": 66,
    "conventions/tw_椰城社區規約及管理辦法113-05-10.pdf": 23,
}
ARTICLE = re.compile(r"^第([一二三四五六七八九十百千零〇两\d]+)[条條](?:之([一二三四五六七八九十]+))?")
TW_ARTICLE = re.compile(r"^第 (\d+)(?:-(\d+))? 條$")  # law.moj.gov.tw prints the label on a line of its own
PAGE_NUMBER = re.compile(r"^[\s\-－—–]*\d+[\s\-－—–]*$|^第\s*\d+\s*页|^\d+\s*/\s*\d+$")
RADICALS = re.compile(r"[\u2e80-\u2fdf]")

# (file, start of the paragraph, text on the far side of the page break, page where it starts)
PAGE_BREAKS = [
    ("pdf/npc-word_中华人民共和国民营经济促进法.pdf", "第一条", "民营经济人士健康成长，构建高水平社会主义市场经济体制", 1),
    ("pdf/wps-quartz_中华人民共和国劳动合同法.pdf", "在规章制度和重大事项决定实施过程中", "工会或者职工认为不适当的，有权向用人单位提出", 2),
    ("pdf/chrome-print_中华人民共和国劳动合同法实施条例.pdf", "（六）劳动者以欺诈", "订立或者变更劳动合同的；", 2),
    ("pdf/flk-itext_上海市劳动合同条例.pdf", "第十六条", "劳动合同或者保密协议中约定竞业限制条款", 2),
    ("pdf/word-webcopy_中华人民共和国网络安全法.pdf", "任何个人和组织使用网络", "传播虚假信息扰乱经济秩序", 2),
    ("pdf/word2016_中华人民共和国个人信息保护法.pdf", "第二十条", "应当约定各自的权利和义务", 3),
    ("pdf/wps_中华人民共和国宪法_2018.pdf", "中国新民主主义革命的胜利", "是中国共产党领导中国各族人民", 2),
    ("pdf/tw-moj-itext_公寓大廈管理條例_111-05-11.pdf", "區分所有權人對專有部分之利用", "區分所有權人共同利益之行為。", 1),
]

_cache: dict[str, object] = {}


def _id(rel: str) -> str:
    return Path(rel).name.split("_")[0]  # npc-word, chrome-print, tw-moj-itext, tw …


def extract(rel: str):
    path = SAMPLES / rel
    if not path.exists():
        pytest.skip(f"sample corpus not found at {path} (set LAWKB_SHARED to the shared folder)")
    if rel not in _cache:
        _cache[rel] = read_pdf(path)
    return _cache[rel]


def article_numbers(blocks, rel: str) -> list[tuple[int, int]]:
    out = []
    for b in blocks:
        if "tw-moj" in rel:
            m = TW_ARTICLE.match(b.text)
            if m:
                out.append((int(m.group(1)), int(m.group(2) or 0)))
        else:
            m = ARTICLE.match(b.text)
            if m:
                out.append((cn_to_int(m.group(1)), cn_to_int(m.group(2)) if m.group(2) else 0))
    return out


# --- real files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", sorted(ARTICLES), ids=_id)
def test_articles_counted_once_and_in_order(rel):
    ex = extract(rel)
    assert ex.source_kind == "pdf"
    numbers = article_numbers(ex.blocks, rel)
    assert len(numbers) == ARTICLES[rel]
    assert numbers == sorted(numbers), "article labels out of order (a label was split off or merged)"
    assert len(set(numbers)) == len(numbers)
    assert numbers[0] == (1, 0)


@pytest.mark.parametrize("rel", sorted(ARTICLES), ids=_id)
def test_no_page_furniture_or_broken_characters(rel):
    ex = extract(rel)
    assert ex.blocks
    for b in ex.blocks:
        assert not PAGE_NUMBER.match(b.text), f"page number left as a block: {b.text!r}"
        assert not RADICALS.search(b.text), f"Kangxi/CJK radical code point left in {b.text[:40]!r}"
        assert "\n" not in b.text and b.text == b.text.strip()
        assert isinstance(b.page, int) and 1 <= b.page <= ex.meta["pages"]
    pages = [b.page for b in ex.blocks]
    assert pages == sorted(pages)
    assert ex.warnings == []


@pytest.mark.parametrize(("rel", "start", "across", "page"), PAGE_BREAKS, ids=[_id(p[0]) for p in PAGE_BREAKS])
def test_paragraph_continues_across_page_break(rel, start, across, page):
    ex = extract(rel)
    hits = [b for b in ex.blocks if b.text.startswith(start)]
    assert len(hits) == 1
    assert across in hits[0].text
    assert hits[0].page == page


def test_page_numbers_between_halves_of_an_article_are_dropped():
    # Both files put their page number (－1－, —2—) into the text stream in the middle of an article.
    for rel, marker in [
        ("pdf/npc-word_中华人民共和国民营经济促进法.pdf", "－"),
        ("pdf/wps-quartz_中华人民共和国劳动合同法.pdf", "—"),
    ]:
        text = "".join(b.text for b in extract(rel).blocks)
        assert not re.search(rf"{marker}\s*\d+\s*{marker}", text)


def test_chrome_print_kangxi_radicals_and_ideographic_spaces():
    ex = extract("pdf/chrome-print_中华人民共和国劳动合同法实施条例.pdf")
    texts = [b.text for b in ex.blocks]
    assert "中华人民共和国劳动合同法实施条例" in texts
    first = next(t for t in texts if t.startswith("第一条"))
    # The statute's own U+3000 after the label is kept; full-width punctuation is not folded to ASCII.
    assert first.startswith("第一条\u3000为了贯彻实施《中华人民共和国劳动合同法》（以下简称劳动合同法）")
    assert "部门以及工会" in next(t for t in texts if t.startswith("第二条"))  # ⻔ -> 门


def test_items_and_paragraphs_are_separate_blocks():
    ex = extract("pdf/chrome-print_中华人民共和国劳动合同法实施条例.pdf")
    texts = [b.text for b in ex.blocks]
    i = texts.index(next(t for t in texts if t.startswith("第十八条")))
    assert texts[i + 1] == "（一）劳动者与用人单位协商一致的；"
    assert texts[i + 13].startswith("（十三）") and texts[i + 14].startswith("第十九条")
    sixth = next(t for t in texts if t.startswith("第六条"))
    assert sixth.endswith("支付经济补偿。")  # its second paragraph (前款规定…) is its own block
    assert any(t.startswith("前款规定的用人单位向劳动者每月支付两倍工资") for t in texts)


def test_block_indented_history_note_is_one_paragraph():
    ex = extract("pdf/wps-quartz_中华人民共和国劳动合同法.pdf")
    assert ex.blocks[0].text == "中华人民共和国劳动合同法" and ex.blocks[0].style == "center"
    history = ex.blocks[1].text
    assert history.startswith("（2007年6月29日") and history.endswith("的决定》修正）")
    assert ex.blocks[2].text.replace(" ", "") == "目录"


def test_flk_page_top_lines_that_lost_their_indent():
    # iText drops the indent of a paragraph that starts a page, but keeps its line breaks.
    texts = [b.text for b in extract("pdf/flk-itext_上海市劳动合同条例.pdf").blocks]
    assert "用人单位在招用劳动者时，有权了解劳动者健康状况、知识技能和工作经历等情况，劳动者应当如实说明。" in texts
    art56 = next(t for t in texts if t.startswith("第五十六条"))
    assert art56.endswith("由劳动保障行政部门责令限期改正，并可以按每人五百至一千元处以罚款。")


def test_constitution_preamble_and_speed():
    path = SAMPLES / "pdf/wps_中华人民共和国宪法_2018.pdf"
    if not path.exists():
        pytest.skip(f"sample corpus not found at {path}")
    t = time.perf_counter()
    ex = read_pdf(path)
    assert time.perf_counter() - t < 30
    texts = [b.text for b in ex.blocks]
    start = texts.index("序言")
    end = next(i for i in range(start, len(texts)) if texts[i].replace(" ", "") == "第一章总纲")
    assert end - start - 1 == 13  # the preamble's 13 paragraphs
    assert texts[-1] == "（新华社北京2018年3月21日电）"


def test_npc_web_chrome_removed():
    texts = [b.text for b in extract("pdf/word-webcopy_中华人民共和国网络安全法.pdf").blocks]
    assert not any("浏览字号" in t or "中国人大网" in t for t in texts)
    assert texts[0] == "中华人民共和国网络安全法"
    assert texts[1] == "（2016年11月7日第十二届全国人民代表大会常务委员会第二十四次会议通过）"


def test_meta_title_producer_pages():
    assert extract("pdf/flk-itext_上海市劳动合同条例.pdf").meta["title"] == "上海市劳动合同条例"
    assert extract("pdf/wps_中华人民共和国宪法_2018.pdf").meta["title"] == "中华人民共和国宪法"
    quartz = extract("pdf/wps-quartz_中华人民共和国劳动合同法.pdf").meta
    assert "title" not in quartz  # /Title is the template's 法规修改决定电子报备格式标准及示例
    assert quartz["pages"] == 27 and "Quartz" in quartz["producer"]
    assert extract("pdf/chrome-print_中华人民共和国劳动合同法实施条例.pdf").meta["producer"] == "Skia/PDF m108"


# --- helpers on synthetic lines -------------------------------------------------------------------


def _line(text: str, page: int, top: float, x0: float = 72.0, size: float = 12.0) -> _Line:
    xs = [x0 + i * size for i in range(len(text))]
    return _Line(page, text, xs, [x + size for x in xs], top, top + size, size)


def test_run_together_articles_are_split():
    line = _line("同法的规定执行。\u3000\u3000第三十二条\u3000劳务派遣单位违法解除", 3, 100)
    parts = _split_run_together(line)
    assert [p.text for p in parts] == ["同法的规定执行。", "第三十二条\u3000劳务派遣单位违法解除"]
    assert parts[1].force_new and parts[1].x0 == line.xs[10]
    assert len(_split_run_together(_line("依照本法第十条的规定。", 1, 100))) == 1


@pytest.mark.parametrize("furniture", ["- 3 -", "－3－", "—3—", "—- 3 -—", "3", "第3页", "第 3 页 共 9 页", "3/9"])
def test_page_number_forms_dropped(furniture):
    pages = [[_line("第一条　正文。", 1, 100), _line(furniture, 1, 800, x0=290)]]
    assert [ln.text for ln in _drop_furniture(pages, [842.0])[0]] == ["第一条　正文。"]


def test_running_header_dropped_but_not_body_text():
    pages = [
        [_line("某某市人民政府公报", p, 30), _line(f"第{p}条　正文。", p, 100), _line("第 5 條", p, 800)]
        for p in range(1, 5)
    ]
    kept = _drop_furniture(pages, [842.0] * 4)
    assert [[ln.text for ln in page] for page in kept][0] == ["第1条　正文。", "第 5 條"]


# --- faulty files ---------------------------------------------------------------------------------


def _pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A minimal PDF with a correct xref table; object 1 is the catalog."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def _doc(pages: list[str], encrypt=None) -> bytes:
    """Pages are 'text' (a line of Helvetica) or 'image' (a 1x1 grey image over the page)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    image = _stream(b"\x80", b"/Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8")
    objects += [font, image]  # objects 3 and 4
    kids = []
    for kind in pages:
        content = b"BT /F1 12 Tf 72 720 Td (Article 1. There is a text layer.) Tj ET" if kind == "text" \
            else b"q 500 0 0 700 50 50 cm /Im0 Do Q"
        number = len(objects) + 1
        objects.append(_stream(encrypt(number, content) if encrypt else content))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> /XObject << /Im0 4 0 R >> >> >>" % number
        )
        kids.append(b"%d 0 R" % (number + 1))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    return objects


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_ID = b"0123456789abcdef"


def _encrypted(user_password_works: bool) -> bytes:
    """RC4 40-bit (standard security handler, revision 2). With user_password_works the empty user
    password opens the file (owner password only); otherwise /U matches no empty password."""
    owner, perms = b"\x11" * 32, -44
    key = hashlib.md5(_PAD + owner + perms.to_bytes(4, "little", signed=True) + _ID).digest()[:5]
    user = _rc4(key, _PAD) if user_password_works else b"\x22" * 32

    def encrypt(number: int, data: bytes) -> bytes:
        return _rc4(hashlib.md5(key + number.to_bytes(3, "little") + b"\0\0").digest()[:10], data)

    objects = _doc(["text"], encrypt=encrypt)
    objects.append(b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>" % (owner.hex().encode(), user.hex().encode(), perms))
    trailer = b"/Encrypt %d 0 R /ID [<%s> <%s>]" % (len(objects), _ID.hex().encode(), _ID.hex().encode())
    return _pdf(objects, trailer)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_handmade_text_pdf_reads(tmp_path):
    ex = read_pdf(_write(tmp_path, "ok.pdf", _pdf(_doc(["text"]))))
    assert [b.text for b in ex.blocks] == ["Article 1. There is a text layer."]
    assert ex.blocks[0].page == 1 and ex.meta["pages"] == 1 and ex.warnings == []


def test_empty_file(tmp_path):
    with pytest.raises(IngestError, match="empty file"):
        read_pdf(_write(tmp_path, "empty.pdf", b""))


def test_not_a_pdf(tmp_path):
    with pytest.raises(IngestError, match="not a PDF"):
        read_pdf(_write(tmp_path, "page.pdf", "<html>第一条</html>".encode()))


def test_truncated_real_pdf(tmp_path):
    src = SAMPLES / "pdf/npc-word_中华人民共和国民营经济促进法.pdf"
    if not src.exists():
        pytest.skip(f"sample corpus not found at {src}")
    data = src.read_bytes()
    with pytest.raises(IngestError, match="truncated PDF"):
        read_pdf(_write(tmp_path, "cut.pdf", data[: len(data) // 2]))
    # Cut, then an end marker glued on: pdfminer's own error is reported, not a traceback.
    with pytest.raises(IngestError, match="corrupt PDF"):
        read_pdf(_write(tmp_path, "cut2.pdf", data[: len(data) // 2] + b"\n%%EOF\n"))


def test_corrupt_pdf(tmp_path):
    with pytest.raises(IngestError, match=r"corrupt PDF: junk\.pdf cannot be parsed"):
        read_pdf(_write(tmp_path, "junk.pdf", b"%PDF-1.4\nthis is not a pdf body\n%%EOF\n"))


def test_password_protected(tmp_path):
    with pytest.raises(IngestError, match="password-protected PDF"):
        read_pdf(_write(tmp_path, "locked.pdf", _encrypted(user_password_works=False)))


def test_owner_password_only_is_read_with_a_warning(tmp_path):
    ex = read_pdf(_write(tmp_path, "restricted.pdf", _encrypted(user_password_works=True)))
    assert [b.text for b in ex.blocks] == ["Article 1. There is a text layer."]
    assert any("encrypted" in w for w in ex.warnings)


def test_scanned_pdf(tmp_path):
    with pytest.raises(IngestError, match=r"^scanned PDF: no text layer on any of 2 pages; OCR it first$"):
        read_pdf(_write(tmp_path, "scan.pdf", _pdf(_doc(["image", "image"]))))


def test_partly_scanned_pdf_warns_with_page_numbers(tmp_path):
    ex = read_pdf(_write(tmp_path, "mixed.pdf", _pdf(_doc(["text", "image", "text", "image"]))))
    assert len(ex.blocks) == 2
    assert len(ex.warnings) == 1 and "page(s) 2, 4 of 4" in ex.warnings[0]
