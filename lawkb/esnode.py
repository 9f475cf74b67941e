"""The development Elasticsearch node: build the small Java program in deploy/es-dev-node with Maven on
first use, and run it (foreground for `lawkb es-node`, background for tests and CI)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent / "deploy" / "es-dev-node"
MAIN = "lawkb.esdev.DevNode"
READY = "lawkb es-node ready "
DEFAULT_HEAP = "-Xms256m -Xmx1g"


class NodeError(RuntimeError):
    """The dev node cannot be built or started; the message says why."""


def available() -> str | None:
    """None when Java and Maven (or an already built node) are here, else the reason they are not."""
    if not shutil.which("java"):
        return "no `java` on PATH (Java 17 or newer is needed for the development node)"
    if not _built() and not shutil.which("mvn"):
        return "no `mvn` on PATH to build deploy/es-dev-node (Maven 3.8 or newer)"
    return None


def _jar() -> Path:
    return PROJECT / "target" / "es-dev-node-1.0.jar"


def _built() -> bool:
    jar = _jar()
    if not jar.is_file() or not (PROJECT / "target" / "lib").is_dir():
        return False
    newest = max(p.stat().st_mtime for p in [PROJECT / "pom.xml", *PROJECT.joinpath("src").rglob("*.java")])
    return jar.stat().st_mtime >= newest


def build(*, quiet: bool = True) -> None:
    """Compile the node and gather its jars (target/lib), offline first, online when Maven lacks them."""
    if _built():
        return
    reason = available()
    if reason:
        raise NodeError(reason)
    base = ["mvn", "-q", "-B", "package", "-DskipTests"]
    for cmd in (base[:1] + ["-o"] + base[1:], base):
        print(f"building the Elasticsearch development node: {' '.join(cmd)}", file=sys.stderr)
        r = subprocess.run(cmd, cwd=PROJECT, capture_output=quiet, text=True)
        if r.returncode == 0 and _built():
            return
    tail = (r.stdout or "")[-2000:] + (r.stderr or "")[-2000:] if quiet else ""
    raise NodeError(f"Maven could not build {PROJECT}:\n{tail}")


def command(port: int, data: Path | None, heap: str = DEFAULT_HEAP) -> list[str]:
    cp = os.pathsep.join([str(_jar()), str(PROJECT / "target" / "lib" / "*")])
    args = ["java", *heap.split(), "-XX:+UseSerialGC", "-Dfile.encoding=UTF-8", "-cp", cp, MAIN,
            "--port", str(port)]
    if data is not None:
        args += ["--data", str(Path(data).expanduser().resolve())]
    return args


def run_foreground(port: int, data: Path | None, heap: str = DEFAULT_HEAP) -> int:
    """Run the node until SIGTERM or Ctrl-C, passing the signal on so it closes its indices cleanly."""
    build()
    proc = subprocess.Popen(command(port, data, heap), stdout=subprocess.PIPE, text=True, bufsize=1)

    def forward(signum, _frame):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(READY):
            print(line.strip(), flush=True)
        else:
            print(line, end="", file=sys.stderr)
    return proc.wait()


def start_background(port: int = 0, data: Path | None = None, *, heap: str = DEFAULT_HEAP,
                     log: Path | None = None, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start a node for tests or scripts; returns the process and its URL once it answers."""
    build()
    err = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(command(port, data, heap), stdout=subprocess.PIPE, stderr=err, text=True,
                            bufsize=1)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(READY):
            return proc, line[len(READY):].strip()
    stop(proc)
    raise NodeError(f"the development node did not start (see {log or 'its output'})")


def stop(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
