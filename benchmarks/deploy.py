"""Time ``feeds deploy`` of the 100k tree to a local S3-compatible server (SeaweedFS).

    python -m benchmarks.deploy                  # build the 100k tree if needed, then deploy it twice
    python -m benchmarks.deploy --archives       # the same tree with archive pages (many more files)
    python -m benchmarks.deploy --tree DIR       # any tree feeds build wrote

Each deploy is a fresh process (interpreter and boto3 start-up included):
first into an empty bucket, then again with nothing changed. It prints wall
time, the requests made and the bytes sent, from the deploy's summary line.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.seaweed import ACCESS_KEY, SECRET_KEY, seaweed

from .run import NOW, REPO

SIZE = 100_000
_SUMMARY = re.compile(r"(\d+) files uploaded .* (\d+) deleted, (\d+) unchanged; (\d+) requests, ([\d,]+) bytes sent")


def ensure_tree(data: Path, archives: bool) -> Path:
    """The 100k tree (built once, kept below ``data``)."""
    corpus = data / f"corpus-{SIZE}"
    if not (corpus / ".benchmark-corpus.json").is_file():
        command = [sys.executable, "-m", "benchmarks.generate", "--count", str(SIZE), "--out", str(corpus)]
        subprocess.run([*command, "--seed", "1"], cwd=REPO, check=True)
    work = data / (f"deploy-{SIZE}" + ("-archives" if archives else ""))
    tree = work / "dist"
    if not (tree / "manifest.json").is_file():
        command = [sys.executable, "-m", "feeds", "build", str(corpus), "-o", str(tree), "--now", NOW, "-q"]
        command += ["--cache-dir", str(work / "cache")]
        if archives:
            work.mkdir(parents=True, exist_ok=True)
            config = work / "feeds.yaml"
            config.write_text((REPO / "feeds.yaml").read_text().replace("archives: false", "archives: true"))
            command += ["--config", str(config)]
        subprocess.run(command, cwd=REPO, check=True)
    return tree


def environment(folder: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_CONFIG_FILE=str(folder / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(folder / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.deploy", description="Benchmark `feeds deploy`.")
    parser.add_argument("--data", type=Path, default=Path("/tmp/bench"), help="default: /tmp/bench")
    parser.add_argument("--tree", type=Path, help="deploy this tree instead of the 100k one")
    parser.add_argument("--archives", action="store_true", help="the 100k tree with archives: true")
    args = parser.parse_args(argv)
    tree = args.tree or ensure_tree(args.data, args.archives)
    files = sum(1 for p in tree.rglob("*") if p.is_file() and not p.name.startswith("."))
    size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.name.startswith("."))
    print(f"# machine: nproc={os.cpu_count()} loadavg={','.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"# tree: {tree} ({files} files, {size:,} bytes)")
    print("scenario\twall_s\tuploaded\tunchanged\trequests\tbytes_sent")
    with tempfile.TemporaryDirectory(prefix="feeds-deploy-bench-") as scratch, seaweed(Path(scratch)) as server:
        env = environment(Path(scratch))
        command = [sys.executable, "-m", "feeds", "deploy", str(tree), f"s3://{server.bucket}/bench"]
        command += ["--endpoint-url", server.endpoint]
        for scenario in ("first", "nochange", "nochange"):
            started = time.perf_counter()
            done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            found = _SUMMARY.search(done.stdout)
            if done.returncode or not found:
                print(done.stdout, done.stderr, file=sys.stderr)
                return 1
            uploaded, _, unchanged, requests, sent = found.groups()
            print(f"{scenario}\t{wall:.2f}\t{uploaded}\t{unchanged}\t{requests}\t{sent.replace(',', '')}")
        shutil.rmtree(Path(scratch) / "data", ignore_errors=True)
    print(f"# loadavg after: {','.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
