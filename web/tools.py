"""The legal tools (lawkb.tools) as the site calls them, and reading what people upload."""

from __future__ import annotations

import importlib
import io
from pathlib import PurePath
from types import ModuleType

from werkzeug.datastructures import FileStorage

from .errors import WebError

TEXT_SUFFIXES = {".txt", ".md", ".docx"}


def tool(name: str) -> ModuleType:
    """lawkb.tools.<name>, or a 503 that says the tool is not installed."""
    try:
        return importlib.import_module(f"lawkb.tools.{name}")
    except ImportError:
        raise WebError(503, f"工具 {name} 尚未安装在本服务器上。") from None


def upload(field: FileStorage | None) -> tuple[bytes, str] | None:
    """The bytes and file name of an uploaded file, or None when the field is empty."""
    if field is None or not field.filename:
        return None
    name = PurePath(field.filename.replace("\\", "/")).name
    return field.read(), name


def document_text(data: bytes, filename: str) -> str:
    """The text of an uploaded draft: TXT or Markdown in UTF-8 (or GB18030), or DOCX."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise WebError(415, f"不支持的文件类型 {suffix or '（无扩展名）'}：请上传 TXT、MD 或 DOCX 文件")
    if suffix == ".docx":
        from docx import Document

        try:
            doc = Document(io.BytesIO(data))
        except Exception:  # python-docx raises several kinds for a file that is not DOCX
            raise WebError(400, "无法读取这个 DOCX 文件，请确认文件没有损坏") from None
        return "\n".join(p.text for p in doc.paragraphs)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise WebError(400, "无法识别文件编码：请保存为 UTF-8 文本后再上传")
