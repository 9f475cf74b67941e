"""The LawRefBook snapshot lawkb ships: a dated, compressed copy of the Markdown law texts of
LawRefBook/Laws (corpus/lawrefbook/ in the repository, the package lawkb.corpus once installed), its
provenance, unpacking it once into the cache for `lawkb ingest lawrefbook`, and building a newer one from
a LawRefBook download (`lawkb corpus refresh`).

Official texts of laws, regulations and judicial interpretations are outside copyright (PRC Copyright Law,
art. 5), so they can ship with the code: a fresh install has real law to search with no other download.
Every archive is read as hostile: only regular files with plain relative names, each and all of them
bounded in size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any

from lawkb.core import settings

from .blocks import IngestError

NAME = "lawrefbook"  # the archive's prefix, and the source name `lawkb ingest lawrefbook` (or lawrefbook:<folder>)
REPOSITORY = "https://github.com/LawRefBook/Laws"
PROVENANCE = "PROVENANCE.json"
SUFFIX = ".tar.xz"
LICENCE = ("Official texts of laws, regulations, judicial interpretations and other documents of a legislative, "
           "administrative or judicial nature, and their official translations, are not protected by copyright "
           "(PRC Copyright Law, art. 5 / 著作权法第五条). The Markdown layout is LawRefBook's.")
KEPT = ("Markdown files (*.md) under the folders listed, as they are in the repository; its scripts, databases "
        "and every other file are left out.")
# Far above what the corpus needs (its largest file is 0.3 MiB, all of it 55 MiB, 3,502 files), low
# enough that a hostile or mistaken archive cannot fill the disk.
MAX_MEMBER_BYTES = 16 << 20
MAX_TOTAL_BYTES = 1 << 30
MAX_MEMBERS = 200_000
_PRESET = 9 | lzma.PRESET_EXTREME  # about 9 MB instead of 12 at the default preset; decoding is as fast
_PARTIAL = ".partial-"  # an unpacking in progress: .<folder>.partial-<pid>-<random>, renamed when complete
_STALE_S = 600  # unpacking takes seconds; a partial folder this old was left by a killed process
_COMMIT_RE = re.compile(r"[0-9a-f]{7,40}")
_TOP_RE = re.compile(r"^[\w.]+-([0-9a-f]{7,40})$")  # GitHub's top folder: Laws-<commit>


# ---------------------------------------------------------------- the shipped snapshot

def snapshot_dir() -> Path:
    """corpus/lawrefbook/: the folder holding the shipped archive and its PROVENANCE.json."""
    return Path(str(resources.files("lawkb.corpus"))) / NAME


def provenance(snapshot: Path | None = None) -> dict[str, Any]:
    """The PROVENANCE.json of the snapshot in `snapshot` (default: the shipped one)."""
    folder = snapshot or snapshot_dir()
    path = folder / PROVENANCE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IngestError(f"no LawRefBook snapshot in {folder} ({PROVENANCE} is missing): reinstall lawkb "
                          "or build one with `lawkb corpus refresh`") from None
    except (OSError, ValueError) as exc:
        raise IngestError(f"{path} cannot be read: {exc}") from None
    missing = [k for k in ("archive", "sha256", "commit", "date", "files", "folders") if k not in data]
    archive = str(data.get("archive", ""))
    if missing or not archive.startswith(NAME + "-") or not archive.endswith(SUFFIX) or "/" in archive:
        raise IngestError(f"{path} is not a LawRefBook provenance file (missing {missing or 'a valid archive name'})")
    return data


def snapshot_path(snapshot: Path | None = None) -> Path:
    """The shipped archive, corpus/lawrefbook/lawrefbook-<date>-<commit>.tar.xz."""
    folder = snapshot or snapshot_dir()
    path = folder / provenance(folder)["archive"]
    if not path.is_file():
        raise IngestError(f"the LawRefBook snapshot {path} named by {PROVENANCE} is missing: reinstall lawkb")
    return path


def extracted_path(cache: Path | None = None, snapshot: Path | None = None) -> Path:
    """Where extract() unpacks the snapshot: <cache>/corpus/lawrefbook-<date>-<commit>/ (setting `cache`,
    LAWKB_CACHE, default ~/.cache/lawkb). Named by date and commit, so a newer snapshot never reuses an
    older one's folder and documents' sources stay the same from run to run."""
    root = Path(cache) if cache is not None else settings.cache_dir()
    return root / "corpus" / provenance(snapshot)["archive"].removesuffix(SUFFIX)


def extract(dest: Path | None = None, *, snapshot: Path | None = None) -> Path:
    """Unpack the snapshot into dest (default extracted_path()) once; later calls return the folder as is.

    It is written to a hidden temporary folder beside dest and renamed into place only when complete, so
    a killed run leaves nothing that looks unpacked; such leftovers are removed by the next call."""
    dest = Path(dest) if dest is not None else extracted_path(snapshot=snapshot)
    if dest.is_dir():
        return dest
    info = provenance(snapshot)
    archive = snapshot_path(snapshot)
    if file_sha256(archive) != info["sha256"]:
        raise IngestError(f"{archive.name} does not match the SHA-256 in its {PROVENANCE}: the snapshot is "
                          "damaged; reinstall lawkb")
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}{_PARTIAL}{os.getpid()}-", dir=dest.parent))
    try:
        count = _unpack_snapshot(archive, tmp, top=info["archive"].removesuffix(SUFFIX))
        if count != info["files"]:
            raise IngestError(f"{archive.name} holds {count} files, its {PROVENANCE} says {info['files']}")
        os.chmod(tmp, 0o755)  # mkdtemp's 0o700 would make the unpacked corpus private to this user
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished first; its copy is the same
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _remove_stale(dest: Path) -> None:
    prefix = f".{dest.name}{_PARTIAL}"
    for entry in dest.parent.iterdir():
        if not entry.name.startswith(prefix):
            continue
        pid = entry.name[len(prefix):].split("-", 1)[0]
        try:
            age = time.time() - entry.lstat().st_mtime
        except OSError:
            continue
        if age < _STALE_S and pid.isdigit() and _alive(int(pid)):
            continue  # another process is unpacking right now
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate it on Windows; age alone decides there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unpack_snapshot(archive: Path, root: Path, top: str) -> int:
    count = total = 0
    try:
        with tarfile.open(archive, "r:xz") as tar:
            for member in tar:
                parts = safe_parts(member.name, archive.name)
                if parts[0] != top or len(parts) < 2:
                    raise IngestError(f"{archive.name}: member {member.name!r} is outside its folder {top}/")
                if member.isdir():
                    continue
                if not member.isreg():
                    raise IngestError(f"{archive.name}: member {member.name!r} is not a regular file "
                                      "(links and devices are refused)")
                count += 1
                total += member.size
                _check_size(archive.name, member.name, member.size, total, count)
                source = tar.extractfile(member)
                assert source is not None  # a regular file always has data
                _write_new(root.joinpath(*parts[1:]), source, member.size, archive.name, member.name)
    except (tarfile.TarError, lzma.LZMAError, EOFError) as exc:
        raise IngestError(f"{archive.name} is damaged: {' '.join(str(exc).split())[:200]}") from None
    return count


# ---------------------------------------------------------------- what every archive is checked for

def safe_parts(name: str, archive: str) -> tuple[str, ...]:
    """The parts of a member name, refusing any that could land outside the folder it is unpacked in."""
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if (not parts or name.startswith("/") or ".." in parts or "\\" in name or re.match(r"[A-Za-z]:", name)
            or any(ord(c) < 32 for c in name)):
        raise IngestError(f"{archive}: unsafe member name {name!r} (absolute, with .. or odd characters): refused")
    return parts


def _check_size(archive: str, name: str, size: int, total: int, count: int) -> None:
    if size > MAX_MEMBER_BYTES:
        raise IngestError(f"{archive}: member {name!r} is {size / 2**20:.1f} MiB, over the limit of "
                          f"{MAX_MEMBER_BYTES >> 20} MiB for one law text: refused")
    if total > MAX_TOTAL_BYTES or count > MAX_MEMBERS:
        raise IngestError(f"{archive}: more than {MAX_TOTAL_BYTES >> 20} MiB or {MAX_MEMBERS} files of "
                          "Markdown: refused")


def _write_new(target: Path, source: IO[bytes], size: int, archive: str, name: str) -> None:
    """Copy exactly `size` bytes to a file that must not exist yet (a repeated member is refused)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        out = target.open("xb")
    except FileExistsError:
        raise IngestError(f"{archive}: member {name!r} appears twice: refused") from None
    with source, out:
        left = size
        while left:
            chunk = source.read(min(left, 1 << 20))
            if not chunk:
                raise IngestError(f"{archive}: member {name!r} is truncated")
            out.write(chunk)
            left -= len(chunk)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- `lawkb ingest lawrefbook`

def named_path(name: str) -> Path | None:
    """What `lawkb ingest` reads for a snapshot name: `lawrefbook` (the whole snapshot, unpacked once) or
    `lawrefbook:<folder>` (one folder of it, e.g. lawrefbook:行政法规); None for any other name."""
    if name != NAME and not name.startswith(NAME + ":"):
        return None
    root = extract().resolve()
    sub = name[len(NAME) + 1:]
    if not sub:
        return root
    target = root.joinpath(*safe_parts(sub, NAME))
    if not target.exists():
        folders = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir()))
        raise IngestError(f"the LawRefBook snapshot has no {sub} (its folders: {folders})")
    return target


def superseded_sources(sources: Iterable[str], current: Path) -> list[str]:
    """Sources from another snapshot unpacked beside `current` (an older one, before a refresh): the
    current snapshot's documents replace them."""
    beside = str(current.parent / NAME) + "-"
    inside = str(current) + os.sep
    return [s for s in sources if s.startswith(beside) and not s.startswith(inside)]


# ---------------------------------------------------------------- `lawkb corpus refresh`

@dataclass
class _Member:
    parts: tuple[str, ...]
    kind: str  # "file", "dir" or "other" (links, devices)
    size: int
    day: dt.date | None
    open: Any  # () -> a binary file object, for regular files


def refresh(archive: Path, *, commit: str | None = None, date: str | None = None,
            into: Path | None = None) -> Path:
    """Build a new snapshot from a LawRefBook/Laws download (a .zip or .tar.gz of the repository, or its
    unpacked folder) into `into` (default corpus/lawrefbook/), replacing the archive there; returns it.

    Only Markdown under the folders the current snapshot keeps is taken. The commit comes from `commit`,
    else the archive's own note (git archive writes it into a .tar.gz), else the top folder Laws-<commit>;
    the date from `date`, else the newest kept file's date in the archive."""
    archive = Path(archive)
    into = Path(into) if into is not None else snapshot_dir()
    current = into if (into / PROVENANCE).is_file() else snapshot_dir()
    folders = [tuple(f.split("/")) for f in provenance(current)["folders"]]
    if commit is not None and not _COMMIT_RE.fullmatch(commit):
        raise IngestError(f"--commit {commit!r}: give the git commit id, 7 to 40 hexadecimal digits")
    if date is not None:
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            raise IngestError(f"--date {date!r}: give the commit's date as YYYY-MM-DD") from None
    if not archive.exists():
        raise IngestError(f"no such file: {archive}")
    with tempfile.TemporaryDirectory(prefix=f".{NAME}-refresh-") as work:
        noted, top, rels, newest = _take_markdown(archive, Path(work), folders)
        found = _TOP_RE.match(top or "")
        commit = commit or noted or (found.group(1) if found else None)
        if not commit:
            raise IngestError(f"cannot tell the commit of {archive.name} (top folder {top or 'none'}): "
                              "pass --commit")
        date = date or (newest.isoformat() if newest else None)
        if not date:
            raise IngestError(f"cannot tell the date of {archive.name}: pass --date YYYY-MM-DD")
        return write_snapshot(Path(work), rels, into, commit=commit, date=date,
                              folders=["/".join(f) for f in folders])


def _take_markdown(archive: Path, work: Path, folders: list[tuple[str, ...]]
                   ) -> tuple[str | None, str | None, list[str], dt.date | None]:
    """Copy the archive's kept Markdown into `work`, checking every member on the way. Returns the commit
    the archive notes, its top folder, the kept files' paths and the newest kept file's date."""
    try:
        if archive.is_dir():
            noted, members = None, list(_folder_members(archive))
            return _copy_kept(archive.name, noted, members, work, folders, top_given=archive.name)
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                return _copy_kept(archive.name, None, list(_zip_members(zf)), work, folders)
        with tarfile.open(archive, "r:*") as tar:
            members = list(_tar_members(tar))
            return _copy_kept(archive.name, tar.pax_headers.get("comment"), members, work, folders)
    except tarfile.ReadError:
        raise IngestError(f"{archive.name} is neither a .zip nor a .tar(.gz, .xz, .bz2) archive") from None
    except (tarfile.TarError, zipfile.BadZipFile, lzma.LZMAError, EOFError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:200]  # one line, whatever the library said
        raise IngestError(f"{archive.name} is not a readable .zip or .tar.gz of LawRefBook: {reason}") from None


def _copy_kept(label: str, noted: str | None, members: list[_Member], work: Path, folders: list[tuple[str, ...]],
               top_given: str | None = None) -> tuple[str | None, str | None, list[str], dt.date | None]:
    if len(members) > MAX_MEMBERS:
        raise IngestError(f"{label}: more than {MAX_MEMBERS} members: refused")
    top = top_given
    firsts = {m.parts[0] for m in members}
    # A GitHub download holds one folder, Laws-<commit>, with the repository inside it.
    if top is None and len(firsts) == 1 and not any(f[0] in firsts for f in folders) \
            and any(len(m.parts) > 1 for m in members):
        top = firsts.pop()
        members = [_Member(m.parts[1:], m.kind, m.size, m.day, m.open) for m in members if len(m.parts) > 1]
    kept: list[str] = []
    total = 0
    newest: dt.date | None = None
    for m in members:
        if not m.parts[-1].endswith(".md") or not any(
                m.parts[:len(f)] == f and len(m.parts) > len(f) for f in folders) or m.kind == "dir":
            continue
        name = "/".join(m.parts)
        if m.kind != "file":
            raise IngestError(f"{label}: {name!r} is a link or special file, not a regular file: refused")
        total += m.size
        _check_size(label, name, m.size, total, len(kept) + 1)
        with m.open() as source:
            _write_new(work.joinpath(*m.parts), source, m.size, label, name)
        kept.append(name)
        newest = max(newest, m.day) if newest and m.day else (newest or m.day)
    if not kept:
        shown = ", ".join("/".join(f) for f in folders[:6])
        raise IngestError(f"{label} holds no Markdown under LawRefBook's folders ({shown}, …): is it a download "
                          "of LawRefBook/Laws?")
    noted = noted if noted and _COMMIT_RE.fullmatch(noted) else None
    return noted, top, kept, newest


def _zip_members(zf: zipfile.ZipFile) -> Iterator[_Member]:
    for info in zf.infolist():
        parts = safe_parts(info.filename, Path(zf.filename or "zip").name)
        kind_bits = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip tool stored no Unix mode
        if info.is_dir():
            kind = "dir"
        elif kind_bits and kind_bits != stat.S_IFREG:
            kind = "other"  # a symlink stored by a Unix zip
        else:
            kind = "file"
        yield _Member(parts, kind, info.file_size, dt.date(*info.date_time[:3]),
                      lambda info=info: zf.open(info))


def _tar_members(tar: tarfile.TarFile) -> Iterator[_Member]:
    label = Path(tar.name or "tar").name if isinstance(tar.name, str) else "tar"
    for member in tar:
        parts = safe_parts(member.name, label)
        kind = "dir" if member.isdir() else "file" if member.isreg() else "other"
        day = dt.datetime.fromtimestamp(member.mtime, dt.UTC).date() if member.mtime else None
        yield _Member(parts, kind, member.size, day, lambda member=member: tar.extractfile(member))


def _folder_members(root: Path) -> Iterator[_Member]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            kind = "file" if stat.S_ISREG(st.st_mode) else "other"
            yield _Member(path.relative_to(root).parts, kind, st.st_size, None,
                          lambda path=path: path.open("rb"))


def write_snapshot(root: Path, rels: list[str], into: Path, *, commit: str, date: str,
                   folders: list[str]) -> Path:
    """Write root's files `rels` as lawrefbook-<date>-<commit7>.tar.xz and its PROVENANCE.json into `into`,
    replacing the snapshot there. Deterministic: the same files give the same bytes (sorted members, one
    mtime — the date —, no owner, mode 0644)."""
    stem = f"{NAME}-{date}-{commit[:7]}"
    mtime = int(dt.datetime.combine(dt.date.fromisoformat(date), dt.time(), dt.UTC).timestamp())
    total = 0
    try:
        into.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".partial", dir=into)
    except OSError as exc:
        raise IngestError(f"cannot write the snapshot into {into}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw, lzma.LZMAFile(raw, "wb", preset=_PRESET) as xz, \
                tarfile.open(fileobj=xz, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
            for rel in sorted(rels):
                path = root / rel
                info = tarfile.TarInfo(f"{stem}/{rel}")
                info.size = path.stat().st_size
                info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = mtime, 0o644, 0, 0, "", ""
                total += info.size
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
        archive = into / f"{stem}{SUFFIX}"
        os.chmod(tmp, 0o644)  # mkstemp's 0o600 would make the shipped file private to whoever refreshed it
        os.replace(tmp, archive)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    data = {
        "name": "LawRefBook", "repository": REPOSITORY, "commit": commit, "date": date,
        "archive": archive.name, "sha256": file_sha256(archive), "archive_bytes": archive.stat().st_size,
        "files": len(rels), "text_bytes": total, "folders": sorted(folders), "kept": KEPT, "licence": LICENCE,
        "built_by": "lawkb corpus refresh (ingest/lawrefbook.py)",
    }
    fd, tmp_name = tempfile.mkstemp(prefix=".provenance.", suffix=".partial", dir=into)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    os.chmod(tmp_name, 0o644)
    os.replace(tmp_name, into / PROVENANCE)
    # Only now that PROVENANCE.json names the new archive may the old one go.
    for old in into.glob(f"{NAME}-*{SUFFIX}"):
        if old != archive:
            old.unlink()
    return archive
