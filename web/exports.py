"""Articles with their full citations as CSV, XLSX or DOCX, for a lawyer's file."""

from __future__ import annotations

import csv
import io

from lawkb.search.lookup import citation
from lawkb.tools.sheets import append_row, csv_text

COLUMNS = [("citation", "引用"), ("law_title", "法律名称"), ("article_no", "条号"), ("level", "效力级别"),
           ("status", "时效性"), ("region", "地区"), ("version_date", "版本日期"), ("effective", "施行日期"),
           ("text", "条文"), ("url", "链接")]
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def rows(articles: list[dict], url_of) -> list[dict]:
    return [{"citation": citation(a), "law_title": a["law_title"], "article_no": a.get("article_no") or "",
             "level": a.get("level") or "", "status": a.get("status") or "", "region": a.get("region") or "全国",
             "version_date": a.get("version_date") or "", "effective": a.get("effective") or "",
             "text": a["text"], "url": url_of(a)} for a in articles]


def to_csv(data: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([label for _, label in COLUMNS])
    for r in data:
        w.writerow([csv_text(str(r[key])) for key, _ in COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # the BOM makes Excel read it as UTF-8


def to_xlsx(data: list[dict]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "条文"
    ws.append([label for _, label in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in data:
        append_row(ws, [str(r[key]) for key, _ in COLUMNS])
        for cell in ws[ws.max_row]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for col, width in zip("ABCDEFGHIJ", (36, 24, 16, 10, 10, 10, 12, 12, 80, 40), strict=True):
        ws.column_dimensions[col].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def to_docx(data: list[dict], title: str) -> bytes:
    from docx import Document

    doc = Document()
    doc.add_heading(title, level=1)
    for r in data:
        doc.add_heading(r["citation"], level=2)
        for para in r["text"].split("\n"):
            doc.add_paragraph(para)
        facts = "；".join(f"{label}：{r[key]}" for key, label in COLUMNS[3:8] if r[key])
        doc.add_paragraph().add_run(facts).italic = True
        doc.add_paragraph(r["url"])
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
