"""The fine-tuned embedding model (search/tuning.py): built from the real bge-small-zh files and the
shipped LoRA factors, used by default, refused or skipped with the reason when it cannot apply."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

from lawkb.core.errors import KBError  # noqa: E402
from lawkb.search.encode.onnx import OnnxEncoder  # noqa: E402
from lawkb.search.encode.resolve import last_resolution_notes, resolve_model  # noqa: E402
from lawkb.search.encode.tuning import SHIPPED, Tuning, build, find_tuning  # noqa: E402
from lawkb.search.profile import PLAIN  # noqa: E402

TEXTS = ["《中华人民共和国民法典》第一千零三十二条 自然人享有隐私权。任何组织或者个人不得以刺探、侵扰、泄露、公开等方式侵害他人的隐私权。",
         "楼上漏水物业不管怎么办", "公司拖欠工资不给"]


@pytest.fixture(scope="module")
def tuning(model_dir) -> Tuning:
    t = find_tuning(model_dir, "auto")
    assert t is not None, f"no shipped tuning in {SHIPPED} fits {model_dir}"
    return t


@pytest.fixture(scope="module")
def built(model_dir, tuning, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("tuned") / "m"
    build(model_dir, tuning, dest, "int8")
    build(model_dir, tuning, dest, "fp32")
    return dest


def _inits(path: Path) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def test_shipped_tuning_carries_its_fusion_settings_and_provenance(tuning):
    assert tuning.meta["dense_weight"] > 0 and tuning.meta["rrf_k"] > 0 and 0 < tuning.meta["weak_similarity"] < 1
    assert set(tuning.base_sha256) == {"model.onnx", "model-int8.onnx"}
    assert "stard" in tuning.meta["trained_on"]
    assert len(tuning.factors) == 24   # every linear map of the four layers


def test_fp32_build_is_the_base_weights_plus_the_low_rank_correction(model_dir, tuning, built):
    base, tuned = _inits(model_dir / "model.onnx"), _inits(built / "model.onnx")
    assert base.keys() == tuned.keys()
    for name, (a, b) in tuning.factors.items():
        np.testing.assert_allclose(tuned[name], base[name] + (a @ b).astype(np.float32), rtol=0, atol=1e-6)
        assert np.abs(tuned[name] - base[name]).max() > 1e-4   # the correction is really there
    for name in set(base) - set(tuning.factors):   # embeddings, biases, LayerNorms untouched
        np.testing.assert_array_equal(tuned[name], base[name])


def test_int8_build_quantises_the_corrected_weights_as_the_export_does(built):
    fp32, int8 = _inits(built / "model.onnx"), _inits(built / "model-int8.onnx")
    for name in [n for n in fp32 if n.startswith("onnx::MatMul")]:
        q, s, z = int8[name + "_quantized"], int8[name + "_scale"], int8[name + "_zero_point"]
        assert q.dtype == np.int8 and not z.any() and np.abs(q).max() <= 64
        assert np.abs(q.astype(np.float32) * s - fp32[name]).max() <= s.max() / 2 + 1e-7


def test_tuned_vectors_move_away_from_the_plain_model_and_int8_stays_close_to_fp32(model_dir, built):
    plain = OnnxEncoder(model_dir, "int8").encode_passages(TEXTS, batch_size=1)
    t8 = OnnxEncoder(built, "int8").encode_passages(TEXTS, batch_size=1)
    t32 = OnnxEncoder(built, "fp32").encode_passages(TEXTS, batch_size=1)
    assert ((t8 * t32).sum(1) > 0.97).all()
    assert ((t8 * plain).sum(1) < 0.97).all()


def test_resolution_builds_the_tuned_model_once_and_uses_it(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LAWKB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LAWKB_ENCODER_TUNING", "auto")
    enc = resolve_model(str(model_dir))
    # a question-side tuning builds the model its questions run through; articles stay with the plain one
    tuned = getattr(enc, "query_encoder", enc)
    assert "+" in tuned.model_dir.name and tuned.model_dir.is_relative_to(tmp_path / "cache")
    assert any("built the tuned model" in n for n in last_resolution_notes())
    assert enc.profile.rrf_k != PLAIN.rrf_k and enc.profile.dense_weight != PLAIN.dense_weight
    made = (tuned.model_dir / "model-int8.onnx").stat().st_mtime_ns
    again = resolve_model(str(model_dir))
    assert again.model_id == enc.model_id
    assert (tuned.model_dir / "model-int8.onnx").stat().st_mtime_ns == made
    assert not any("built the tuned model" in n for n in last_resolution_notes())
    monkeypatch.setenv("LAWKB_ENCODER_TUNING", "none")
    plain = resolve_model(str(model_dir))
    assert plain.model_dir == model_dir and getattr(plain, "tuning", None) is None
    # the stored vectors are the plain model's exactly when only the questions are tuned
    assert (plain.model_id == enc.model_id) == (tuned is not enc)
    assert getattr(plain, "rrf_k", None) is None


def test_a_model_folder_without_the_fp32_file_runs_plain(model_dir, tmp_path, monkeypatch):
    only = tmp_path / "bge-small-zh-v1.5"
    only.mkdir()
    for f in ("model-int8.onnx", "tokenizer.json"):
        (only / f).symlink_to(model_dir / f)
    monkeypatch.setenv("LAWKB_CACHE", str(tmp_path / "cache"))
    enc = resolve_model(str(only))
    assert enc.model_dir == only and getattr(enc, "tuning", None) is None


def test_an_unbuildable_tuning_is_noted_and_skipped_under_auto(model_dir, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("LAWKB_CACHE", str(blocker / "cache"))
    enc = resolve_model(str(model_dir))
    assert enc.model_dir == model_dir
    assert any("not applied" in n for n in last_resolution_notes())


def test_bad_tuning_files_stop_with_one_line(model_dir, tuning, tmp_path, monkeypatch):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a tuning")
    with pytest.raises(KBError, match="not a readable tuning file") as e:
        find_tuning(model_dir, str(junk))
    assert "\n" not in str(e.value)
    other = tmp_path / "other.npz"
    with np.load(tuning.path) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"]))
    meta["base_sha256"]["model-int8.onnx"] = "0" * 64
    np.savez(other, **arrays, meta=np.array(json.dumps(meta)))
    with pytest.raises(KBError, match="made for other model files"):
        find_tuning(model_dir, str(other))
    monkeypatch.setenv("LAWKB_ENCODER_TUNING", str(other))
    with pytest.raises(KBError):
        resolve_model(str(model_dir))


def test_tuning_file_shape_mismatch_is_refused(model_dir, tuning, tmp_path):
    bad = tmp_path / "bad.npz"
    with np.load(tuning.path) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = str(z["meta"])
    first = next(k for k in arrays if k.endswith("_B"))
    arrays[first] = arrays[first][:3]
    np.savez(bad, **arrays, meta=np.array(meta))
    with pytest.raises(KBError, match="do not fit together"):
        find_tuning(model_dir, str(bad))


def test_shipped_folder_is_package_data():
    assert any(SHIPPED.glob("*.npz"))
    assert "tunings/*.npz" in (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()


def test_copying_the_tuned_folder_keeps_it_usable(built, tmp_path):
    # the tuned folder is an ordinary model folder: LAWKB_MODEL may point at it directly
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    enc = resolve_model(str(copy))
    assert enc.encode_query("房东不退押金").shape == (512,)


def test_a_changed_tuning_file_gets_its_own_build(model_dir, tuning, tmp_path, monkeypatch):
    from lawkb.search.encode.tuning import tuned_folder

    monkeypatch.setenv("LAWKB_CACHE", str(tmp_path / "cache"))
    copy = tmp_path / tuning.path.name
    with np.load(tuning.path) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(copy, **arrays)
    same = Tuning.load(copy)
    first = next(k for k in arrays if k.endswith("_B"))
    arrays[first] = arrays[first] * 0
    changed_path = tmp_path / "v2" / tuning.path.name
    changed_path.parent.mkdir()
    np.savez(changed_path, **arrays)
    changed = Tuning.load(changed_path)
    assert same.name == changed.name
    assert tuned_folder(model_dir, same) != tuned_folder(model_dir, changed)


def test_a_question_side_tuning_keeps_the_plain_articles_and_tunes_only_questions(model_dir, tuning, tmp_path,
                                                                                   monkeypatch):
    """A tuning fitted on the question side only (benchmarks/finetune_queries.py): articles are embedded by
    the plain model under its model id, so a KB embedded with the plain model needs no new vectors; only
    questions go through the tuned build, and no query adapter is stacked on it."""
    from lawkb.search.encode.adapter import with_adapter
    from lawkb.search.encode.tuning import QuerySide

    side = tmp_path / "queries.npz"
    with np.load(tuning.path) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"]))
    np.savez(side, **arrays, meta=np.array(json.dumps({**meta, "side": "query", "dense_weight": 3.0})))
    monkeypatch.setenv("LAWKB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LAWKB_ENCODER_TUNING", "none")
    plain = resolve_model(str(model_dir))
    monkeypatch.setenv("LAWKB_ENCODER_TUNING", str(side))
    enc = resolve_model(str(model_dir))
    assert isinstance(enc, QuerySide) and enc.model_id == plain.model_id and enc.tuning == "queries"
    assert enc.profile.dense_weight == 3.0
    np.testing.assert_array_equal(enc.encode_passages(TEXTS), plain.encode_passages(TEXTS))
    for q in TEXTS[1:]:
        assert float(enc.encode_query(q) @ plain.encode_query(q)) < 0.995   # the question side moved
    assert with_adapter(enc) is enc
    assert enc.worker_spec() == plain.worker_spec()   # embedding workers run the plain model
