"""Start the mock LLM upstream and the proxy-wasm host (with the real tollbooth.wasm) on free
loopback ports, for the end-to-end tests and the demo. Binaries come from $TOLLBOOTH_BIN (the
cargo target directory with `mock-llm` and `tollbooth-host`), the filter from $TOLLBOOTH_WASM."""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "examples" / "tollbooth.json"


def _bin(name: str) -> str:
    base = Path(os.environ.get("TOLLBOOTH_BIN", ROOT / "target" / "debug"))
    path = base / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make build`")
    return str(path)


def wasm_path() -> str:
    path = Path(os.environ.get("TOLLBOOTH_WASM", ROOT / "target/wasm32-wasip1/release/tollbooth.wasm"))
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make wasm`")
    return str(path)


@dataclass
class Process:
    proc: subprocess.Popen
    lines: "queue.Queue[str]" = field(default_factory=queue.Queue)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.proc.args[0]} exited with {self.proc.returncode}")
                continue
            m = re.search(pattern, line)
            if m:
                return m
        raise TimeoutError(f"no line matching {pattern!r} from {self.proc.args[0]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _spawn(args: list[str], stderr=None) -> Process:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr if stderr is not None else subprocess.DEVNULL, text=True)
    p = Process(proc)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            p.lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return p


@dataclass
class Stack:
    """mock-llm ← tollbooth-host (filter) ← clients."""

    mock: Process
    host: Process
    mock_url: str
    url: str
    admin_url: str
    access_log: Path
    workdir: tempfile.TemporaryDirectory

    def stats(self) -> dict[str, int]:
        """Counters from the host's admin /stats (Envoy's text format, `wasmcustom.` names)."""
        with urllib.request.urlopen(self.admin_url + "/stats", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().lstrip("-").isdigit():
                out[name.strip()] = int(value)
        return out

    def access_log_entries(self) -> list[dict]:
        if not self.access_log.exists():
            return []
        return [json.loads(l) for l in self.access_log.read_text().splitlines() if l.strip()]

    def stop(self) -> None:
        self.host.stop()
        self.mock.stop()
        self.workdir.cleanup()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(config: dict | None = None, headers_mode: bool = True, workers: int = 2, log_stderr=None) -> Stack:
    """Start the mock and the host. `headers_mode` is Envoy ≥1.35 with
    allow_on_headers_stop_iteration (cost as response headers); otherwise trailers."""
    cfg = dict(config if config is not None else json.loads(EXAMPLE_CONFIG.read_text()))
    cfg["allow_on_headers_stop_iteration"] = headers_mode
    work = tempfile.TemporaryDirectory(prefix="tollbooth-")
    cfg_path = Path(work.name) / "tollbooth.json"
    cfg_path.write_text(json.dumps(cfg))
    access_log = Path(work.name) / "access.log"
    mock = _spawn([_bin("mock-llm"), "--listen", "127.0.0.1:0"])
    try:
        mock_addr = mock.wait_for(r"listening on (\S+)").group(1)
        args = [_bin("tollbooth-host"), "--wasm", wasm_path(), "--config", str(cfg_path), "--listen", "127.0.0.1:0",
                "--upstream", mock_addr, "--workers", str(workers), "--admin", "127.0.0.1:0", "--access-log", str(access_log)]
        if headers_mode:
            args.append("--allow-on-headers-stop-iteration")
        host = _spawn(args, stderr=log_stderr)
        addr = host.wait_for(r"listening on (\S+)").group(1)
        admin = host.wait_for(r"admin on (\S+)").group(1)
    except Exception:
        mock.stop()
        raise
    return Stack(mock, host, f"http://{mock_addr}", f"http://{addr}", f"http://{admin}", access_log, work)


def raw_request(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, dict[str, str]]:
    """POST over a raw HTTP/1.1 socket with `TE: trailers`; returns status, headers, the
    de-chunked body and the trailers (Python's http.client drops trailers)."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close", "TE: trailers", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    status = int(status_line.split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    trailers: dict[str, str] = {}
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                for t in rest.decode().split("\r\n"):
                    if ":" in t:
                        k, _, v = t.partition(":")
                        trailers[k.strip().lower()] = v.strip()
                break
            out, rest = out + rest[:size], rest[size + 2:]
        return status, hdrs, out, trailers
    return status, hdrs, rest, trailers
