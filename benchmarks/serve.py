"""Load ``feeds serve`` with ``ab``, beside nginx when it is installed, and print one table.

    python -m benchmarks.serve                    # the committed dist/ (the seeds' tree)
    python -m benchmarks.serve --tree DIR --requests 5000

Both servers serve a copy of the same tree on loopback (nginx with one
worker); ``ab`` fetches /all/rss.xml at concurrency 1, 50 and 200, with and
without keep-alive (``-k``, HTTP/1.0 keep-alive). After the runs, a flood of
slow connections with nearly the largest heads allowed is sent and closed, and
the server's RSS is read from /proc before and after. What is not installed
is skipped, with a line saying so. See README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PATH = "/all/rss.xml"
COLUMNS = ("server", "concurrency", "load", "requests_s", "p99_ms", "failed", "rss_before_mb", "rss_after_mb")

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    types {{ application/rss+xml xml; application/atom+xml atom; application/feed+json json; text/html html; }}
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=511;
        root {root};
    }}
}}
"""


@dataclass(frozen=True)
class Run:
    server: str
    concurrency: int
    load: str  # "ab", "ab -k", or "flood" (huge slow heads, then closed)
    requests_s: float
    p99_ms: float
    failed: int
    rss_before_mb: float
    rss_after_mb: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {seconds} s")


def rss_mb(pids: list[int]) -> float:
    """The resident memory of the server's processes (nginx: master and worker), in MB."""
    total = 0
    for pid in pids:
        found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        total += int(found[1]) if found else 0
    return total / 1024


def family(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(child) for child in children.read_text().split())] if children.exists() else [pid]


@contextmanager
def feeds_serve(tree: Path) -> Iterator[tuple[int, list[int]]]:
    port = free_port()
    command = [sys.executable, "-m", "feeds", "serve", str(tree), "--port", str(port), "--max-age", "300"]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            wait_for(port)
            yield port, [server.pid]
        finally:
            server.terminate()
            server.wait(10)


@contextmanager
def nginx(tree: Path, nginx_bin: str) -> Iterator[tuple[int, list[int]]]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="feeds-nginx-") as tmp:
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, root=tree))
        with subprocess.Popen([nginx_bin, "-c", str(conf), "-p", tmp], stderr=subprocess.DEVNULL) as server:
            try:
                wait_for(port)
                yield port, family(server.pid)
            finally:
                server.terminate()
                server.wait(10)


def ab(port: int, concurrency: int, keepalive: bool, requests: int) -> tuple[float, float, int]:
    """requests/s, the 99th percentile in ms, and failed requests (non-2xx included); a run ab abandons fails all."""
    command = ["ab", "-q", "-s", "30", "-n", str(requests), "-c", str(concurrency)]
    done = subprocess.run(
        [*command, *(["-k"] if keepalive else []), f"http://127.0.0.1:{port}{PATH}"],
        capture_output=True,
        text=True,
        check=False,
    )
    out = done.stdout

    def number(pattern: str) -> float:
        found = re.search(pattern, out, re.MULTILINE)
        return float(found[1]) if found else float("nan")

    if done.returncode != 0 or "Requests per second" not in out:
        return float("nan"), float("nan"), requests
    failed = int(number(r"^Failed requests:\s+(\d+)"))
    non_2xx = re.search(r"^Non-2xx responses:\s+(\d+)", out, re.MULTILINE)
    return (
        number(r"^Requests per second:\s+([\d.]+)"),
        number(r"^\s+99%\s+(\d+)"),
        failed + (int(non_2xx[1]) if non_2xx else 0),
    )


def flood(port: int, connections: int) -> None:
    """Many connections, each sending nearly 32 KB of header fields and never ending its head; then all close."""
    clients = []
    try:
        for _ in range(connections):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        fields = b"".join(b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(7))
        for part in range(4):
            for client in clients:
                client.sendall((b"GET / HTTP/1.1\r\nHost: a\r\n" if part == 0 else b"") + fields)
    except OSError:
        pass  # a server may refuse a head this large: that is the point
    finally:
        for client in clients:
            client.close()


def settle() -> None:
    time.sleep(2.0)  # closed connections are gone, freed memory returned


def measure(name: str, port: int, pids: list[int], requests: int) -> list[Run]:
    for _ in range(20):  # warm: files cached, the allocator settled
        ab(port, 1, False, 50)
    runs = []
    for concurrency in (1, 50, 200):
        for keepalive in (False, True):
            before = rss_mb(pids)
            rps, p99, failed = ab(port, concurrency, keepalive, requests)
            settle()
            load = "ab -k" if keepalive else "ab"
            runs.append(Run(name, concurrency, load, rps, p99, failed, before, rss_mb(pids)))
    before = rss_mb(pids)
    flood(port, 400)
    settle()
    runs.append(Run(name, 400, "flood", float("nan"), float("nan"), 0, before, rss_mb(pids)))
    return runs


def print_table(runs: list[Run]) -> None:
    print("\t".join(COLUMNS))
    for run in runs:
        print(
            f"{run.server}\t{run.concurrency}\t{run.load}\t{run.requests_s:.0f}\t{run.p99_ms:.0f}\t{run.failed}\t"
            f"{run.rss_before_mb:.1f}\t{run.rss_after_mb:.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=REPO / "dist", help="a built output folder (default: dist/)")
    parser.add_argument("--requests", type=int, default=5000, help="requests per ab run (default: 5000)")
    args = parser.parse_args(argv)
    if shutil.which("ab") is None:
        print("skipped: ab is not installed (Debian: apt-get install apache2-utils)")
        return 0
    nginx_bin = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    with tempfile.TemporaryDirectory(prefix="feeds-serve-bench-") as tmp:
        tree = Path(tmp) / "tree"
        shutil.copytree(args.tree, tree)  # readable by nginx's worker user too
        for folder in (Path(tmp), *(p for p in tree.rglob("*") if p.is_dir()), tree):
            folder.chmod(0o755)
        runs: list[Run] = []
        with feeds_serve(tree) as (port, pids):
            runs += measure("feeds", port, pids, args.requests)
        if nginx_bin is None:
            print("skipped nginx: not installed (Debian: apt-get install nginx-light)")
        else:
            with nginx(tree, nginx_bin) as (port, pids):
                runs += measure("nginx", port, pids, args.requests)
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.requests} requests per run, {PATH}")
    print_table(runs)
    for name in dict.fromkeys(run.server for run in runs):
        mine = [r for r in runs if r.server == name]
        start, end = mine[0].rss_before_mb, mine[-1].rss_after_mb
        at_200 = [r for r in mine if r.concurrency == 200]
        failed, p99 = sum(r.failed for r in at_200), max(r.p99_ms for r in at_200)
        print(
            f"# {name}: RSS {start:.1f} MB before the runs, {end:.1f} MB after them ({(end / start - 1) * 100:+.0f}%);"
            f" at concurrency 200: {failed} failed, worst p99 {p99:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
