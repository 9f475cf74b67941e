"""A fresh install as a new user has it: clone the repository into an empty folder with no ../shared beside
it and an empty HOME (no model cache, no ~/.m2, no pip cache), run the README's first command
(`scripts/start`), and time what the user sees.

    python3 benchmarks/fresh_install.py [--repo .] [--port 8765] [--keep DIR] [--timeout-min 60]

Reports, in seconds from the start of `scripts/start`: the install step (until the venv is ready), the
first answer of /healthz, the first hybrid answer to a national-law question, hybrid answers to a
local question in 杭州, all vectors done; and the disk used by the clone (with its venv and KB) and by the
caches under HOME. Then checks what the knowledge base holds: 物业管理条例, 工伤保险条例, judicial
interpretations, local regulations of 杭州 and 上海 selectable through the API, and that the residents'
golden questions of the test suite find their article in the first ten in hybrid mode.

Network: pip, Maven Central or the Hugging Face hub, as a user's machine has them. Nothing is mocked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

NATIONAL_Q = "楼上漏水物业不管怎么办"
LOCAL_Q = ("物业公司不履行维修义务怎么办", "杭州")
# the residents' golden questions of tests/test_search.py: (question, law title, article)
GOLDEN = [tuple(line.split("\t")) for line in (Path(__file__).resolve().parent.parent / "tests" / "data" /
          "golden_questions.tsv").read_text(encoding="utf-8").splitlines()[1:]]


def get(base: str, path: str, **params) -> dict | None:
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += (Path(root) / f).lstat().st_size
            except OSError:
                pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", default=str(Path(__file__).resolve().parent.parent), help="repository to clone")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--keep", help="work in this folder and keep it (default: a temporary one, removed)")
    ap.add_argument("--timeout-min", type=float, default=60.0, help="give up waiting for all vectors after this")
    args = ap.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lawkb-fresh-"))
    work.mkdir(parents=True, exist_ok=True)
    home, clone = work / "home", work / "lawkb"   # no ../shared beside the clone
    home.mkdir(exist_ok=True)
    subprocess.run(["git", "clone", "-q", args.repo, str(clone)], check=True)
    # Java takes its home from the user record, not $HOME: user.home makes Maven's ~/.m2 the empty one too.
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "LAWKB_WEB_PORT": str(args.port),
           "PIP_NO_CACHE_DIR": "1", "TMPDIR": str(work), "MAVEN_OPTS": f"-Duser.home={home}"}
    base = f"http://127.0.0.1:{args.port}"
    log = (work / "start.log").open("w")
    t0 = time.monotonic()
    proc = subprocess.Popen(["scripts/start", "--port", str(args.port)], cwd=clone, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    marks: dict[str, float] = {}
    try:
        deadline = t0 + args.timeout_min * 60
        while time.monotonic() < deadline and proc.poll() is None:
            now = time.monotonic() - t0
            if "install" not in marks and (clone / ".venv" / "bin" / "lawkb").exists() \
                    and (clone / ".venv" / "install.log").exists() and (clone / "kb").exists():
                marks["install"] = now
            health = get(base, "/healthz")
            if health and "healthz" not in marks:
                marks["healthz"] = now
            if health:
                r = get(base, "/api/v1/search", q=NATIONAL_Q, k=10)
                if r and r.get("mode") == "hybrid" and "hybrid_national" not in marks:
                    marks["hybrid_national"] = now
                r = get(base, "/api/v1/search", q=LOCAL_Q[0], region=LOCAL_Q[1], k=10)
                if r and r.get("mode") == "hybrid" and "hybrid_local" not in marks:
                    marks["hybrid_local"] = now
                if health.get("model") and not health.get("embedding") and "hybrid_local" in marks:
                    marks["all_vectors"] = now
                    break
            time.sleep(5)
        report: dict = {"seconds": {k: round(v, 1) for k, v in marks.items()}}
        if proc.poll() is not None:
            report["exited"] = proc.returncode
        report["disk_mb"] = {"clone (venv, kb)": round(du(clone) / 2**20), "home caches": round(du(home) / 2**20)}
        stats = get(base, "/healthz") or {}
        report["healthz"] = stats
        laws = {}
        for title in ("物业管理条例", "工伤保险条例"):
            found = get(base, "/api/v1/laws", q=title) or {}
            laws[title] = [x.get("law_title") for x in found.get("laws", [])][:3]
        report["laws"] = laws
        interp = get(base, "/api/v1/laws", level="司法解释") or {}
        report["judicial_interpretations"] = interp.get("total", 0)
        for region in ("杭州", "上海"):
            local = get(base, "/api/v1/laws", region=region, level="地方性法规") or {}
            report[f"local_{region}"] = local.get("total", 0)
        golden = []
        for q, law, article in GOLDEN:
            r = get(base, "/api/v1/search", q=q, k=10) or {}
            hit = any(h.get("law_title") == law and h.get("article_no") == article for h in r.get("hits", []))
            golden.append({"question": q, "mode": r.get("mode"), "in_top_10": hit})
        report["golden"] = golden
        print(json.dumps(report, ensure_ascii=False, indent=1))
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
        log.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
