"""The shipped corpus's commands: `lawkb corpus info` and `lawkb corpus refresh` (registered on `lawkb`)."""

from __future__ import annotations

from pathlib import Path

import click

from .options import JSON_OPTION, echo_json


@click.group("corpus")
def corpus() -> None:
    """The LawRefBook snapshot lawkb ships (corpus/lawrefbook/): where it comes from, and a newer one.
    `lawkb ingest lawrefbook` ingests it."""


@corpus.command("info")
@JSON_OPTION
def info(as_json) -> None:
    """Where the shipped snapshot comes from, and where `lawkb ingest lawrefbook` unpacks it."""
    from lawkb.ingest import lawrefbook

    data = dict(lawrefbook.provenance())
    data["archive_path"] = str(lawrefbook.snapshot_path())
    where = lawrefbook.extracted_path()
    data["extracted_path"] = str(where)
    data["extracted"] = where.is_dir()
    if as_json:
        echo_json(data)
        return
    click.echo(f"LawRefBook snapshot of {data['date']}, commit {data['commit']} ({data['repository']})")
    click.echo(f"  archive   {data['archive_path']} ({data['archive_bytes'] / 1e6:.1f} MB)")
    click.echo(f"  sha256    {data['sha256']}")
    click.echo(f"  files     {data['files']:,} Markdown files ({data['text_bytes'] / 1e6:.0f} MB) in "
               f"{len(data['folders'])} folders: {', '.join(data['folders'])}")
    click.echo(f"  kept      {data['kept']}")
    click.echo(f"  licence   {data['licence']}")
    state = "" if data["extracted"] else " (not yet: `lawkb ingest lawrefbook` unpacks it)"
    click.echo(f"  unpacked  {where}{state}")


@corpus.command("refresh")
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option("--commit", help="The LawRefBook/Laws commit the download is of (default: read from the "
                               "archive or its top folder Laws-<commit>).")
@click.option("--date", help="The commit's date, YYYY-MM-DD (default: the newest file date in the archive).")
@JSON_OPTION
def refresh(archive, commit, date, as_json) -> None:
    """Replace the shipped snapshot with one built from ARCHIVE, a .zip or .tar.gz of LawRefBook/Laws
    downloaded from GitHub (its Markdown under today's folders is kept)."""
    from lawkb.ingest import lawrefbook

    path = lawrefbook.refresh(archive, commit=commit, date=date)
    data = lawrefbook.provenance(path.parent)
    if as_json:
        echo_json({**data, "archive_path": str(path)})
        return
    click.echo(f"snapshot {path} written: {data['files']:,} Markdown files, {data['archive_bytes'] / 1e6:.1f} MB, "
               f"sha256 {data['sha256']}")
    click.echo("`lawkb ingest lawrefbook` now reads it and replaces the older snapshot's documents.")
