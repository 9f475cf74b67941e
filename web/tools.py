"""The legal tools (lawkb.tools) as the site calls them, and reading what people upload."""

from __future__ import annotations

import importlib
from pathlib import PurePath
from types import ModuleType

from werkzeug.datastructures import FileStorage

from lawkb.tools.upload_limits import MAX_DOCUMENT_PARAGRAPHS
from lawkb.tools.uploads import read_document

from .errors import WebError
from .params import MAX_TEXT_CHARS

# Characters in an upload's base name: longer is no name a person gave, and fails where the name is used.
MAX_FILENAME_CHARS = 200


def tool(name: str) -> ModuleType:
    """lawkb.tools.<name>, or a 503 that says the tool is not installed."""
    try:
        return importlib.import_module(f"lawkb.tools.{name}")
    except ImportError:
        raise WebError(503, f"工具 {name} 尚未安装在本服务器上。") from None


def upload(field: FileStorage | None) -> tuple[bytes, str] | None:
    """The bytes and base name of an uploaded file, or None when the field is empty. A name that is too
    long, or that holds control characters or cannot be written as UTF-8, is refused here (400) rather
    than failing later where the name is used."""
    if field is None or not field.filename:
        return None
    # Some browsers send the whole client-side path: only its last part is the file's name.
    name = PurePath(field.filename.replace("\\", "/")).name
    if len(name) > MAX_FILENAME_CHARS:
        raise WebError(400, f"文件名太长（{len(name)} 个字符）：最多 {MAX_FILENAME_CHARS} 个字符，请改短后再上传",
                       code="filename_too_long")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        name = ""
    if not name.strip(" .") or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise WebError(400, "文件名无效或含有无法识别的字符，请重命名后再上传", code="bad_filename")
    return field.read(), name


def document_text(data: bytes, filename: str) -> str:
    """The text of an uploaded draft: TXT or Markdown in UTF-8 (or GB18030), or DOCX, read within the
    site's limit on a draft (params.MAX_TEXT_CHARS); refusals are UploadErrors (400 / 413 / 415)."""
    return read_document(data, filename, max_paragraphs=MAX_DOCUMENT_PARAGRAPHS, max_chars=MAX_TEXT_CHARS)
