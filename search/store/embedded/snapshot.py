"""A read-only, in-memory view of an embedded KB for search: one row per searchable unit with the
fields filters need as numpy arrays, the lexical index and (when vectors exist) the dense matrix.

It is saved under <kb>/index/ and reused while the KB's generation, the segmenter and the model are
unchanged; any ingest bumps the generation, so a stale snapshot is never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lawkb.core.model import LEVELS, LOCAL_LEVELS, STATUSES
from lawkb.core.segment import segmenter
from lawkb.core.versions import validity
from lawkb.search.store.embedded.lexical import LexicalIndex
from lawkb.search.store.popularity import cited_names, log_counts


@dataclass
class Snapshot:
    generation: int
    signature: str
    unit_ids: np.ndarray          # int64
    article_ids: list[str]
    law_row: np.ndarray           # int32 index into laws
    laws: list[dict]              # law_id, title, level, region_province, region_city, status
    level: np.ndarray             # int8 index into LEVELS (-1 unknown)
    province: np.ndarray          # int16 index into provinces (-1 national)
    city: np.ndarray              # int16 index into cities (-1 none)
    provinces: list[str]
    cities: list[str]
    version_status: np.ndarray    # int8 index into STATUSES
    valid_from: np.ndarray        # int32 yyyymmdd
    valid_to: np.ndarray          # int32 yyyymmdd (exclusive)
    lexical: LexicalIndex
    popularity: np.ndarray | None = None  # per law, in [0, 1]
    groups: np.ndarray | None = None      # start row of each group (see build)
    dense: np.ndarray | None = None   # float32 n x dim, L2-normalised rows (zeros where missing)
    dense_model: str | None = None
    dense_missing: int = 0
    has_vector: np.ndarray | None = None      # bool per row: whether dense holds its vector
    coarse: np.ndarray | None = None          # float32 n x coarse.DIMS projection of dense (large KBs)
    coarse_basis: np.ndarray | None = None    # dim x coarse.DIMS
    masks: dict = field(default_factory=dict)  # filter rows per Filters, filled by the searcher

    @property
    def size(self) -> int:
        return len(self.unit_ids)


def _meta(conn: sqlite3.Connection, key: str, default: str = "") -> str:
    r = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return r[0] if r else default


def generation(conn: sqlite3.Connection) -> int:
    return int(_meta(conn, "generation", "0"))


def build(conn: sqlite3.Connection) -> Snapshot:
    seg = segmenter()
    laws = [dict(r) for r in conn.execute(
        "SELECT law_id, title, short_title, aliases, level, region_province, region_city, status, repealed_on "
        "FROM laws ORDER BY law_id")]
    law_index = {law["law_id"]: i for i, law in enumerate(laws)}
    provinces = sorted({law["region_province"] for law in laws if law["region_province"]})
    cities = sorted({law["region_city"] for law in laws if law["region_city"]})
    versions = {}
    repealed = {law["law_id"]: law["repealed_on"] for law in laws}
    for law_id, rows in _group(conn.execute(
            "SELECT law_id, version_id, effective, version_date, status FROM versions ORDER BY law_id, seq")):
        dated = [{"effective": eff, "version_date": vdate} for _, eff, vdate, _ in rows]
        for (vid, _, _, status), (start, end) in zip(rows, validity(dated, repealed.get(law_id)), strict=True):
            versions[vid] = (start, end, status)
    title_terms = {law["law_id"]: seg.terms(" ".join([law["title"], *json.loads(law["aliases"])])) for law in laws}
    path_cache: dict[str, list[str]] = {}
    # Rows are grouped: national law first, then local documents with no province, then each
    # province's. A search that needs national law (plus one region) then scores contiguous slices
    # of the dense matrix instead of all of it.
    local_levels = ",".join(f"'{x}'" for x in LOCAL_LEVELS)
    rows = conn.execute(
        "SELECT u.unit_id, u.article_id, u.law_id, u.version_id, u.path, u.terms, "
        f"coalesce(l.region_province, '') || '|' || (l.level IN ({local_levels})) AS grp "
        "FROM units u JOIN laws l ON l.law_id = u.law_id WHERE u.article_id IS NOT NULL "
        f"ORDER BY coalesce(l.region_province, ''), l.level IN ({local_levels}), u.unit_id").fetchall()
    groups = [i for i in range(len(rows)) if i == 0 or rows[i][6] != rows[i - 1][6]]
    n = len(rows)
    unit_ids = np.empty(n, dtype=np.int64)
    law_row = np.empty(n, dtype=np.int32)
    vstatus = np.empty(n, dtype=np.int8)
    vfrom = np.empty(n, dtype=np.int32)
    vto = np.empty(n, dtype=np.int32)
    article_ids = []

    def fields():
        for i, (unit_id, article_id, law_id, version_id, path, terms, _) in enumerate(rows):
            unit_ids[i] = unit_id
            article_ids.append(article_id)
            law_row[i] = law_index[law_id]
            start, end, status = versions[version_id]
            vstatus[i] = STATUSES.index(status) if status in STATUSES else -1
            vfrom[i], vto[i] = start, end
            if path not in path_cache:
                path_cache[path] = seg.terms(" ".join(json.loads(path)))
            yield (terms or "").split(), title_terms[law_id], path_cache[path]

    lexical = LexicalIndex.build(fields())
    popularity = law_popularity(conn, laws)
    level_of = np.array([LEVELS.index(law["level"]) if law["level"] in LEVELS else -1 for law in laws]
                        or [0], dtype=np.int8)
    prov_of = np.array([provinces.index(law["region_province"]) if law["region_province"] else -1
                        for law in laws] or [0], dtype=np.int16)
    city_of = np.array([cities.index(law["region_city"]) if law["region_city"] else -1 for law in laws] or [0],
                       dtype=np.int16)
    for law in laws:
        law.pop("aliases")
    return Snapshot(
        generation=generation(conn), signature=seg.signature, unit_ids=unit_ids, article_ids=article_ids,
        law_row=law_row, laws=laws, level=level_of[law_row] if n else level_of[:0],
        province=prov_of[law_row] if n else prov_of[:0], city=city_of[law_row] if n else city_of[:0],
        provinces=provinces, cities=cities, version_status=vstatus, valid_from=vfrom, valid_to=vto,
        lexical=lexical, popularity=popularity, groups=np.array(groups or [0], dtype=np.int64),
    )


def law_popularity(conn: sqlite3.Connection, laws: list[dict]) -> np.ndarray:
    """How often the corpus cites each law (popularity.py), as log(1 + n) scaled to [0, 1]."""
    counts = cited_names(text for (text,) in conn.execute(
        "SELECT text FROM units WHERE article_id IS NOT NULL AND text LIKE '%《%'"))
    raw = np.array(log_counts(counts, [law["title"] for law in laws]) or [0.0], dtype=np.float32)
    top = float(raw.max()) or 1.0
    return raw / top


def _group(rows):
    current, bucket = None, []
    for r in rows:
        if r[0] != current:
            if bucket:
                yield current, bucket
            current, bucket = r[0], []
        bucket.append(tuple(r[1:]))
    if bucket:
        yield current, bucket


def attach_dense(snap: Snapshot, conn: sqlite3.Connection, model_id: str,
                 cache_dir: Path | None = None, *, coarse_min_rows: int | None = None) -> None:
    """Fill snap.dense with the stored vectors of model_id, cached as a .npy beside the snapshot, and,
    for a KB of at least coarse_min_rows rows, snap.coarse (see coarse.py), cached beside it."""
    from lawkb.search.store.embedded import coarse
    from lawkb.search.store.embedded.vectors import matrix

    min_rows = coarse.MIN_ROWS if coarse_min_rows is None else coarse_min_rows
    cache = cache_dir / f"dense-{snap.generation}-{_safe(model_id)}.npy" if cache_dir else None
    info = cache.with_suffix(".json") if cache else None
    rows_digest = hashlib.sha1(snap.unit_ids.tobytes()).hexdigest()
    if cache and cache.exists() and info.exists():
        meta = json.loads(info.read_text())
        # Valid only for the same rows in the same order and the same set of vectors.
        if meta.get("vectors") == _vector_count(conn, model_id) and meta.get("rows") == rows_digest:
            snap.dense, snap.dense_model, snap.dense_missing = np.load(cache), model_id, meta["missing"]
            snap.has_vector = _nonzero_rows(snap.dense)
            if snap.size >= min_rows:
                _attach_coarse(snap, cache.with_suffix(".coarse.npz"))
            return
    mat, missing = matrix(conn, snap.unit_ids, model_id)
    snap.dense, snap.dense_model, snap.dense_missing = mat, model_id, missing
    if mat is None:
        return
    snap.has_vector = _nonzero_rows(mat)
    if cache:
        try:
            for old in cache_dir.glob("dense-*"):
                old.unlink(missing_ok=True)
            tmp = cache.with_suffix(".tmp.npy")
            np.save(tmp, mat)
            os.replace(tmp, cache)
            info.write_text(json.dumps({"missing": missing, "vectors": _vector_count(conn, model_id),
                                        "rows": rows_digest}))
        except OSError:
            pass  # a read-only KB still searches; it just rebuilds the matrix when opened
    if snap.size >= min_rows:
        _attach_coarse(snap, cache.with_suffix(".coarse.npz") if cache else None)


def _nonzero_rows(mat: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Rows that hold a vector: stored vectors are L2-normalised, missing ones are zero rows."""
    out = np.empty(len(mat), dtype=bool)
    for start in range(0, len(mat), chunk):
        part = mat[start:start + chunk]
        out[start:start + chunk] = np.einsum("ij,ij->i", part, part) > 0
    return out


def _attach_coarse(snap: Snapshot, cache: Path | None) -> None:
    """The projection of snap.dense for the scan's first pass; the cache is named after the dense
    cache it was made from, which is removed and rewritten with it."""
    from lawkb.search.store.embedded import coarse

    if cache is not None and cache.exists():
        try:
            z = np.load(cache)
            if z["coarse"].shape == (snap.size, coarse.DIMS):
                snap.coarse, snap.coarse_basis = z["coarse"], z["basis"]
                return
        except (OSError, ValueError, KeyError):
            pass
    basis = coarse.fit(snap.dense)
    snap.coarse, snap.coarse_basis = coarse.project(snap.dense, basis), basis
    if cache is not None:
        try:
            tmp = cache.with_suffix(".tmp.npz")
            np.savez(tmp, coarse=snap.coarse, basis=basis)
            os.replace(tmp, cache)
        except OSError:
            pass


def _vector_count(conn: sqlite3.Connection, model_id: str) -> int:
    return conn.execute("SELECT count(*) FROM vectors WHERE model=?", (model_id,)).fetchone()[0]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def save(snap: Snapshot, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory, prefix=".tmp-"))
    snap.lexical.save(tmp / "lexical.npz")
    np.savez(tmp / "rows.npz", unit_ids=snap.unit_ids, law_row=snap.law_row, level=snap.level,
             province=snap.province, city=snap.city, version_status=snap.version_status,
             valid_from=snap.valid_from, valid_to=snap.valid_to, popularity=snap.popularity, groups=snap.groups)
    (tmp / "snapshot.json").write_text(json.dumps({
        "generation": snap.generation, "signature": snap.signature, "laws": snap.laws,
        "provinces": snap.provinces, "cities": snap.cities, "article_ids": snap.article_ids,
    }, ensure_ascii=False), encoding="utf-8")
    for name in ("lexical.npz", "rows.npz", "snapshot.json"):
        os.replace(tmp / name, directory / name)
    tmp.rmdir()


def load(directory: Path, conn: sqlite3.Connection) -> Snapshot | None:
    """The saved snapshot if it is current for this KB and segmenter, else None."""
    try:
        info = json.loads((directory / "snapshot.json").read_text(encoding="utf-8"))
        if info["generation"] != generation(conn) or info["signature"] != segmenter().signature:
            return None
        rows = np.load(directory / "rows.npz")
        lexical = LexicalIndex.load(directory / "lexical.npz")
    except (OSError, ValueError, KeyError):
        return None
    return Snapshot(
        generation=info["generation"], signature=info["signature"], unit_ids=rows["unit_ids"],
        article_ids=info["article_ids"], law_row=rows["law_row"], laws=info["laws"], level=rows["level"],
        province=rows["province"], city=rows["city"], provinces=info["provinces"], cities=info["cities"],
        version_status=rows["version_status"], valid_from=rows["valid_from"], valid_to=rows["valid_to"],
        lexical=lexical, popularity=rows["popularity"], groups=rows["groups"],
    )
