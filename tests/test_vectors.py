"""Article vectors: computed once per text and model, recomputed only for what changed, never mixed
across models, and the same whether computed in this process or in worker processes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lawkb.ingest.pipeline import ingest
from lawkb.search import open_kb
from lawkb.search.encode.onnx import OnnxEncoder
from lawkb.search.store.embedded.vectors import compute, embed_inputs, key_of

LAW = "行政法规/物业管理条例(2018-03-19).md"


@pytest.fixture()
def small_kb(lawrefbook, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy2(lawrefbook / LAW, src / "物业管理条例.md")
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [src])
    assert not report.failed
    yield kb, src / "物业管理条例.md"
    kb.close()


def _stored(kb, model_id: str) -> dict[str, np.ndarray]:
    return {k: np.frombuffer(v, dtype=np.float32)
            for k, v in kb.conn.execute("SELECT key, vec FROM vectors WHERE model=?", (model_id,))}


def test_only_new_or_changed_articles_are_embedded(small_kb, model_dir):
    kb, path = small_kb
    enc = OnnxEncoder(model_dir, "int8")
    n_units = len(list(embed_inputs(kb.conn)))
    assert compute(kb.conn, enc, workers=1) == n_units > 50
    assert compute(kb.conn, enc, workers=1) == 0
    before = _stored(kb, enc.model_id)

    text = path.read_text(encoding="utf-8")
    old = "业主可以委托代理人参加业主大会会议"
    assert old in text
    path.write_text(text.replace(old, "业主可以书面委托代理人参加业主大会会议", 1), encoding="utf-8")
    ingest(kb, [path.parent])
    assert compute(kb.conn, enc, workers=1) == 1
    after = _stored(kb, enc.model_id)
    assert len(after) == len(before) + 1 and set(before) <= set(after)
    changed = [t for _, k, t in embed_inputs(kb.conn) if k not in before]
    assert len(changed) == 1 and "书面委托" in changed[0]


def test_another_model_never_mixes_with_the_first(small_kb, model_dir):
    kb, _ = small_kb
    int8, fp32 = OnnxEncoder(model_dir, "int8"), OnnxEncoder(model_dir, "fp32")
    assert int8.model_id != fp32.model_id
    n = compute(kb.conn, int8, workers=1)
    assert compute(kb.conn, fp32, workers=1) == n  # all of them again, under the new identity
    assert set(_stored(kb, int8.model_id)) == set(_stored(kb, fp32.model_id))


def test_worker_processes_give_the_vectors_of_the_single_process_path(small_kb, model_dir, tmp_path):
    kb, _ = small_kb
    enc = OnnxEncoder(model_dir, "int8")
    texts = {k: t for _, k, t in embed_inputs(kb.conn)}
    assert compute(kb.conn, enc, workers=2) == len(texts)
    pooled = _stored(kb, enc.model_id)
    assert set(pooled) == set(texts) and all(key_of(t) == k for k, t in texts.items())
    keys = sorted(texts)
    single = enc.encode_passages([texts[k] for k in keys])
    cos = np.einsum("ij,ij->i", np.stack([pooled[k] for k in keys]), single)
    # int8 activations are quantised per batch, so neighbours move a vector slightly (0.98+); a wrong
    # row order or another model would give unrelated vectors (cosine far lower).
    assert cos.min() > 0.97, cos.min()


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")
def test_workers_exit_when_the_embedding_process_is_killed(small_kb, model_dir, tmp_path):
    kb, _ = small_kb
    marker = tmp_path / "first-chunk-committed"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from lawkb.search import open_kb\n"
        "from lawkb.search.encode.onnx import OnnxEncoder\n"
        "from lawkb.search.store.embedded.vectors import compute\n"
        "kb = open_kb(sys.argv[1])\n"
        "def progress(done, total):\n"
        "    Path(sys.argv[3]).touch()\n"
        "    time.sleep(60)\n"
        "compute(kb.conn, OnnxEncoder(sys.argv[2], 'int8'), workers=2, commit_every=16, progress=progress)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(kb.path), str(model_dir), str(marker)])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the embedding never committed"
            time.sleep(0.2)
        workers = [p for p in _children(proc.pid) if _alive(p)]
        assert len(workers) >= 2
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in workers if _alive(p)], "worker processes outlived the killed embedding run"


LOCAL = "DLC/浙江地方法规/地方性法规/浙江/杭州市物业管理条例(2021-08-09).md"


def test_national_law_in_force_is_embedded_first_and_searches_go_hybrid_by_scope(lawrefbook, model_dir,
                                                                                  tmp_path):
    """While local regulations still lack vectors, a search with no region (national law only) is
    hybrid and a search in 杭州 stays lexical, saying why; once all are done both are hybrid."""
    from lawkb.search import open_searcher
    from lawkb.search.contract import Filters, Query

    src = tmp_path / "src"
    (src / "national").mkdir(parents=True)
    (src / "local").mkdir()
    shutil.copy2(lawrefbook / LAW, src / "national" / "物业管理条例.md")
    shutil.copy2(lawrefbook / LOCAL, src / "local" / "杭州市物业管理条例.md")
    kb = open_kb(str(tmp_path / "kb"), create=True)
    assert not ingest(kb, [src]).failed
    kb.index()
    enc = OnnxEncoder(model_dir)
    question = "物业公司不履行维修义务怎么办"
    seen: list[tuple[str, str, str]] = []

    def scope_done(scope: str, n: int) -> None:
        s = open_searcher(kb, encoder=enc)
        national = s.search(Query(question))
        local = s.search(Query(question, filters=Filters(region="杭州")))
        seen.append((scope, national.mode, local.mode))
        if local.mode == "lexical":
            assert any("have no vector yet" in note for note in local.notes), local.notes

    try:
        n = kb.embed(enc, scope_done=scope_done)
        assert n == kb.conn.execute("SELECT count(*) FROM vectors").fetchone()[0] > 0
        assert [x[0] for x in seen] == ["national law in force", "local law in force"]
        assert seen[0][1:] == ("hybrid", "lexical")    # national done, Hangzhou's not yet
        assert seen[1][1:] == ("hybrid", "hybrid")
        assert kb.missing_vectors(enc.model_id) == 0
        assert kb.embed(enc, scope_done=scope_done) == 0   # a second run resumes with nothing left
    finally:
        kb.close()
