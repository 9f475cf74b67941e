"""The embedding model fine-tuned for residents' questions: LoRA factors applied to bge-small-zh-v1.5.

`benchmarks/finetune_encoder.py` fits low-rank corrections W + A·B (rank 64, on the 24 linear maps of the
model's four layers; embeddings and LayerNorms untouched) on STARD dev questions with their judged
articles, on a GPU. Only the factors are shipped (corpus/tunings/, a few MB): the tuned model is built
once on the user's machine from the two ONNX files the model comes as: the fp32 export gives the exact
weights to correct, the int8 export the graph and its quantisation scheme (per output channel,
symmetric, scale = max |w| / 64), which the corrected weights are quantised with again. The result goes
to LAWKB_CACHE/models/<model>+<tuning>-<hash>/ and is an ordinary ONNX model folder, so everything downstream
(batching, worker processes, both backends) is unchanged; its vectors carry a different model id, so a
KB embedded with the plain model is re-embedded rather than mixed.

A tuning whose meta says `"side": "query"` (benchmarks/finetune_queries.py, the CPU recipe) was fitted on
the question side only, against the plain model's article vectors: articles are then embedded by the plain
model and keep its model id (a KB embedded with the plain model needs no new vectors), and only questions
go through the tuned build (QuerySide).

Setting `encoder_tuning` (LAWKB_ENCODER_TUNING): auto (the shipped tuning made for the model files in
use, if any), none, or a path to a tuning file. A tuning file carries the fusion settings chosen with it
(dense weight, RRF k), which become the encoder's ranking profile (search/profile.py), and the similarity below which
the site calls a match weak (the tuned model scores everything higher than the plain one).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from lawkb.core import settings
from lawkb.core.errors import KBError

from .files import cache_dir, file_sha256, onnx_files
from .onnx import OnnxEncoder
from .shipped import choose, shipped_folder

SHIPPED = shipped_folder("tunings")
QMAX = 64.0   # the int8 export's per-channel scale is max|w| / 64 (7-bit range, as ORT's reduce_range)


class Tuning:
    """LoRA factors keyed by the ONNX initializer they correct, and what they were made for."""

    def __init__(self, factors: dict[str, tuple[np.ndarray, np.ndarray]], meta: dict, path: Path) -> None:
        self.factors, self.meta, self.path = factors, meta, path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tuning:
        path = Path(path)
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            factors = {}
            for layer_key, onnx_name in meta["onnx_names"].items():
                k = layer_key.replace(".", "_")
                a, b = z[k + "_A"].astype(np.float64), z[k + "_B"].astype(np.float64)
                if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
                    raise ValueError(f"{k}: factors of shapes {a.shape} and {b.shape} do not fit together")
                factors[onnx_name] = (a, b * float(meta["scale"]))
        return cls(factors, meta, path)

    @property
    def base_sha256(self) -> dict[str, str]:
        """SHA-256 of the base model's files it was made for (by file name)."""
        return self.meta["base_sha256"]

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".npz")

    def fits(self, folder: Path) -> bool:
        return all((folder / f).is_file() and file_sha256(folder / f) == sha for f, sha in self.base_sha256.items())


class QuerySide:
    """Articles through the plain model, questions through the tuned one. Everything but encode_query is
    the plain encoder's, model_id included, so the stored vectors are the plain model's vectors."""

    def __init__(self, plain, tuned) -> None:
        self.inner, self.query_encoder = plain, tuned
        self.profile = plain.profile

    def encode_query(self, text: str) -> np.ndarray:
        return self.query_encoder.encode_query(text)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"QuerySide({self.inner!r}, questions={self.query_encoder!r})"


def find_tuning(folder: Path, choice: str | None = None) -> Tuning | None:
    """The tuning for the model in folder under the encoder_tuning setting (see the module docstring)."""
    def mismatch(tuning: Tuning) -> str | None:
        return None if tuning.fits(folder) else f"made for other model files than those in {folder}"

    return choose("encoder_tuning", choice, SHIPPED, Tuning.load, mismatch, "tuning file")


def _arrays(model):
    from onnx import numpy_helper
    return {t.name: t for t in model.graph.initializer}, numpy_helper


def build(folder: Path, tuning: Tuning, dest: Path, variant: str = "int8") -> Path:
    """Write the tuned model (variant int8 or fp32) with folder's tokenizer into dest; returns dest.
    Written to a temporary folder first, so an interrupted build leaves nothing half made."""
    import onnx

    fp32 = onnx.load(str(folder / "model.onnx"))
    inits, nh = _arrays(fp32)
    weights = {}
    for name, (a, b) in tuning.factors.items():
        w = nh.to_array(inits[name]).astype(np.float64)
        if w.shape != (a.shape[0], b.shape[1]):
            raise ValueError(f"{name}: weight {w.shape} but factors for {(a.shape[0], b.shape[1])}")
        weights[name] = (w + a @ b).astype(np.float32)
    if variant == "fp32":
        out = fp32
        for name, w in weights.items():
            inits[name].CopyFrom(nh.from_array(w, name))
        target = "model.onnx"
    else:
        out = onnx.load(str(folder / "model-int8.onnx"))
        qinits, _ = _arrays(out)
        for name, w in weights.items():
            q, s, z = (qinits.get(name + sfx) for sfx in ("_quantized", "_scale", "_zero_point"))
            if q is None or s is None or z is None or nh.to_array(z).any():
                raise ValueError(f"{name}: the int8 model does not quantise it per channel and symmetrically")
            scale = (np.abs(w).max(axis=0) / QMAX).astype(np.float32)
            scale[scale == 0] = 1.0
            quant = np.clip(np.round(w / scale), -QMAX, QMAX).astype(np.int8)
            q.CopyFrom(nh.from_array(quant, q.name))
            s.CopyFrom(nh.from_array(scale, s.name))
        target = "model-int8.onnx"
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tuning-", dir=dest.parent))
    try:
        onnx.save(out, str(work / target))
        shutil.copyfile(folder / "tokenizer.json", work / "tokenizer.json")
        (work / "tuning.json").write_text(json.dumps(
            {k: v for k, v in tuning.meta.items() if k != "onnx_names"} | {"tuning_file": tuning.path.name},
            ensure_ascii=False, indent=1), encoding="utf-8")
        dest.mkdir(exist_ok=True)
        # the model file last: its presence is what says the folder is complete
        for f in sorted(work.iterdir(), key=lambda f: f.suffix == ".onnx"):
            os.replace(f, dest / f.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def tuned_folder(folder: Path, tuning: Tuning) -> Path:
    """Named by the tuning file's content too: a new file under the same name (an upgrade) gets a new
    build rather than the old one."""
    return cache_dir() / "models" / f"{folder.name}+{tuning.name}-{file_sha256(tuning.path)[:10]}"


def with_tuning(encoder, notes: list[str], choice: str | None = None):
    """The tuned version of an ONNX encoder when a tuning applies (building it on first use), else the
    encoder as it is. With the setting at auto, a tuning that cannot be built is noted and skipped; one
    named explicitly stops with KBError."""
    folder = getattr(encoder, "model_dir", None)
    if not isinstance(encoder, OnnxEncoder) or folder is None:
        return encoder
    explicit = settings.get("encoder_tuning", choice) not in ("auto", "none", "off", "")
    tuning = find_tuning(folder, choice)
    if tuning is None:
        return encoder
    variant = encoder.variant
    dest = tuned_folder(folder, tuning)
    try:
        if variant not in onnx_files(dest):
            build(folder, tuning, dest, variant)
            notes.append(f"built the tuned model {tuning.name} into {dest}")
        tuned = OnnxEncoder(dest, variant, query_prefix=encoder.query_prefix)
    except Exception as exc:   # no onnx package, an unwritable cache, a foreign graph
        if explicit:
            raise KBError(f"encoder_tuning {tuning.path}: cannot build the tuned model: "
                          f"{type(exc).__name__}: {exc}") from None
        notes.append(f"tuning {tuning.name} not applied ({type(exc).__name__}: {exc}); using the plain model")
        return encoder
    if tuning.meta.get("side") == "query":
        tuned = QuerySide(encoder, tuned)
    chosen = {k: tuning.meta.get(k) for k in ("dense_weight", "rrf_k", "weak_similarity")}
    tuned.profile = encoder.profile.with_(**{k: v for k, v in chosen.items() if v is not None})
    tuned.tuning = tuning.name
    return tuned
