"""Model files on disk: lawkb's cache folder, the ONNX layouts it knows, and SHA-256 digests that are
remembered so a 24–95 MB model file is hashed once, not by every command."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from lawkb.core import settings

DEFAULT_MODEL_NAME = "bge-small-zh-v1.5"

_VARIANT_FILES = {
    "int8": ("model-int8.onnx", "model_quantized.onnx", "onnx/model_quantized.onnx", "onnx/model-int8.onnx"),
    "fp32": ("model.onnx", "onnx/model.onnx"),
}


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


def remember_sha256(path: Path, digest: str) -> None:
    """Record the digest of a file just written whose bytes were hashed on the way (a download), so
    file_sha256 does not read it again."""
    key = _sha_key(path)
    _SHA_CACHE[key] = digest
    _save_sha(key, digest)


def onnx_files(model_dir: Path) -> dict[str, Path]:
    """The ONNX files of a model folder by variant ('int8', 'fp32'), for the layouts lawkb knows."""
    found = {}
    for variant, names in _VARIANT_FILES.items():
        for name in names:
            if (model_dir / name).is_file():
                found[variant] = model_dir / name
                break
    return found


def tokenizer_for(onnx_file: Path) -> Path | None:
    for folder in (onnx_file.parent, onnx_file.parent.parent):
        if (folder / "tokenizer.json").is_file():
            return folder / "tokenizer.json"
    return None


def variant_of(onnx_file: Path) -> str:
    name = onnx_file.name.lower()
    return "int8" if ("int8" in name or "quant" in name) else "fp32"


cache_dir = settings.cache_dir   # the one rule for the cache folder lives in the core


def default_model_cache() -> Path:
    return cache_dir() / "models" / DEFAULT_MODEL_NAME


def offline() -> bool:
    """True when LAWKB_OFFLINE forbids downloads (1/true/yes/on)."""
    return str(settings.get("offline") or "").strip().lower() in ("1", "true", "yes", "on")

