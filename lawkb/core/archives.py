"""Checks on a ZIP container (DOCX, XLSX) before anything decompresses it: a 5 MB upload can declare
gigabytes. Only the central directory is read, so the check itself costs nothing in memory."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import KBError

# Real DOCX and XLSX files compress text about 5-20 times; a very repetitive real one (100,000 soft line
# breaks) reaches ~335:1, while deflate bombs run near its 1,000:1 limit. What a member may unpack is
# bounded by MAX_MEMBER and MAX_TOTAL anyway; the ratio only catches what is plainly a bomb.
MAX_RATIO = 500
MAX_TOTAL = 200 << 20      # uncompressed bytes over all entries
MAX_MEMBER = 100 << 20     # uncompressed bytes of one entry
MAX_ENTRIES = 2000


class ArchiveError(KBError):
    """A container refused before it was opened; `str()` is English (ingest reports), `.zh` Chinese (the
    site), `.code` stable."""

    status = 413

    def __init__(self, code: str, en: str, zh: str) -> None:
        super().__init__(en)
        self.code = code
        self.zh = zh
        # Too much is 413; a file that is not what it says (corrupt, odd compression) is a plain 400.
        self.status = 400 if code in ("bad_zip", "compression") else 413


@dataclass(frozen=True)
class Limits:
    total: int = MAX_TOTAL
    member: int = MAX_MEMBER
    ratio: int = MAX_RATIO
    entries: int = MAX_ENTRIES


def check_zip(source: bytes | Path, limits: Limits = Limits()) -> None:
    """Raise ArchiveError when the container is not a ZIP, or what it declares is too much to unpack."""
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ArchiveError("bad_zip", f"not a readable ZIP container ({exc})",
                           "文件已损坏或不是有效的 Office 文件（无法按 ZIP 格式打开）") from None
    if len(infos) > limits.entries:
        raise ArchiveError("too_many_entries", f"archive holds {len(infos)} entries (limit {limits.entries})",
                           f"文件内部包含 {len(infos)} 个部件，超过上限 {limits.entries}，已拒绝")
    total = 0
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # Office writes only these; bzip2 and lzma decoders allocate by what the header claims, so
            # a 2 KB part can make zipfile reserve a gigabyte before any limit is checked.
            raise ArchiveError("compression", f"archive member {info.filename!r} uses compression method "
                               f"{info.compress_type}, which Office files never use",
                               "文件内部使用了 Office 文件不会使用的压缩方式，已拒绝")
        if info.file_size > limits.member:
            raise ArchiveError(
                "member_too_large",
                f"archive member {info.filename!r} unpacks to {info.file_size >> 20} MiB "
                f"(limit {limits.member >> 20} MiB)",
                f"文件内部的一个部件解压后有 {info.file_size >> 20} MB，超过上限 {limits.member >> 20} MB，已拒绝")
        # Tiny members compress badly or well by chance; the ratio counts only from 1 MiB up.
        if info.file_size > (1 << 20) and info.file_size > limits.ratio * max(info.compress_size, 1):
            raise ArchiveError(
                "ratio",
                f"archive member {info.filename!r} has compression ratio "
                f"{info.file_size // max(info.compress_size, 1)}:1 (limit {limits.ratio}:1): a zip bomb",
                f"文件压缩比异常（{info.file_size // max(info.compress_size, 1)}:1，上限 {limits.ratio}:1），"
                "疑似“压缩炸弹”，已拒绝")
        total += info.file_size
    if total > limits.total:
        raise ArchiveError("total_too_large", f"archive unpacks to {total >> 20} MiB (limit {limits.total >> 20} MiB)",
                           f"文件解压后共 {total >> 20} MB，超过上限 {limits.total >> 20} MB，已拒绝")
