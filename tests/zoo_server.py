"""Test support for the zoo: a real HTTP server with Range and fault injection, tiny generators, run folders.

Imported by tests/test_modelfile.py and tests/test_zoo_*.py (``from zoo_server import ...``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import nucgan
from nucgan.plugins import temporary_plugin

INPUT = {"channels": 4, "merged": True, "gap": 2, "layerer": "coloring", "tile": 64,
         "normalization": {"method": "percentile", "percentiles": [1.0, 99.8], "low": 0.0, "high": 235.0,
                           "dtype": "uint16", "clip": True}}


# -- tiny generators, registered through the plugin mechanism ------------------------------------
class TinyGen(nucgan.Generator):
    """conv-BN-LeakyReLU-dropout blocks then a 1-channel conv and tanh; small and quick."""

    size_multiple = 4

    def __init__(self, in_channels: int = 5, filters: int = 8, depth: int = 1) -> None:
        super().__init__()
        self.in_channels, self.filters, self.depth = in_channels, filters, depth
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range(depth):
            layers += [nn.Conv2d(c, filters, 3, padding=1, bias=False), nn.BatchNorm2d(filters), nn.LeakyReLU(0.3),
                       nn.Dropout(0.5)]
            c = filters
        layers.append(nn.Conv2d(c, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return torch.tanh(self.net(x))

    def config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "filters": self.filters, "depth": self.depth}


class NoisyGen(TinyGen):
    """Not deterministic even in eval mode: its entry test must fail."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + 0.1 * torch.rand_like(x[:, :1])


class TinyPlugin:
    @nucgan.hookimpl
    def register_generators(self):  # noqa: ANN201
        return [nucgan.GeneratorSpec("tiny-test", factory=TinyGen, description="tiny test generator"),
                nucgan.GeneratorSpec("noisy-test", factory=NoisyGen, description="non-deterministic")]


@pytest.fixture
def tiny_plugin():  # noqa: ANN201
    """Register the tiny generators for one test."""
    with temporary_plugin(TinyPlugin(), "zoo-tests"):
        yield


@pytest.fixture
def zoo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_plugin) -> Path:  # noqa: ANN001
    """A private cache, no extra zoos from the environment, online; returns the cache folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("NUCGAN_CACHE", str(cache))
    monkeypatch.delenv("NUCGAN_ZOO", raising=False)
    monkeypatch.delenv("NUCGAN_OFFLINE", raising=False)
    monkeypatch.setenv("NUCGAN_ZOO_TIMEOUT", "10")
    return cache


def tiny_png(width: int = 6, height: int = 2) -> bytes:
    """A valid grey PNG, made without any imaging library."""
    raw = b"".join(b"\x00" + bytes(range(0, 255, 255 // width))[:width] for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_run(folder: Path, *, name: str = "tiny-test", filters: int = 8, depth: int = 1, seed: int = 0,
             inputs: dict[str, Any] | None = None, complete: bool = True) -> Path:
    """A training run folder as `nucgan train` leaves it (weights, config, log, evaluation, samples)."""
    from nucgan.modelfile import save_generator

    torch.manual_seed(seed)
    gen = nucgan.create_generator(name, in_channels=5, filters=filters, depth=depth)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so a file without buffers would show
        for m in gen.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    folder.mkdir(parents=True, exist_ok=True)
    save_generator(folder / "generator.safetensors", gen, name=name, input=dict(inputs or INPUT),
                   extra={"step": 20})
    if complete:
        config = {"dataset": "files", "sources": {"image": "img.tif", "labels": "lbl.tif"},
                  "region": [0, 256, 0, 512], "steps": 20, "seed": seed, "preset": None,
                  "command": "nucgan train --image img.tif --labels lbl.tif --steps 20", "tile": 64,
                  "channels": 4, "merged": True, "gap": 2, "layerer": "coloring"}
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "metrics.jsonl").write_text('{"step": 10, "loss_g": 3.0}\n{"step": 20, "loss_g": 2.5}\n')
        (folder / "evaluation").mkdir(exist_ok=True)
        (folder / "evaluation" / "metrics.json").write_text(json.dumps(
            {"split": "test", "fidelity": {"mae": 0.1, "psnr": 20.5, "ssim": 0.6}}))
        (folder / "samples").mkdir(exist_ok=True)
        (folder / "samples" / "step_000020.png").write_bytes(tiny_png())
    return folder


# -- HTTP server with Range support and injectable faults ----------------------------------------
@dataclass
class Hit:
    """One request the server answered."""

    path: str
    range: str | None
    status: int
    sent: int


class RangeServer:
    """Serves a folder on 127.0.0.1 like a static web host (200, 206 with Range, 404, 416).

    ``cut(path, after, times)`` queues a fault: the next ``times`` responses for ``path`` close the
    connection after ``after`` body bytes (headers promise the full length), like a dropped connection.
    Queued faults apply in order; ``clear_cuts()`` restores a healthy network.
    """

    def __init__(self, root: Path, chunk: int = 32 * 1024, delay: float = 0.0) -> None:
        self.root = root.resolve()
        self.chunk = chunk
        self.delay = delay
        self.log: list[Hit] = []
        self._cuts: dict[str, list[list[int]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"

    def cut(self, path: str, after: int, times: int = 1) -> None:
        with self._lock:
            self._cuts.setdefault(path, []).append([after, times])

    def clear_cuts(self) -> None:
        with self._lock:
            self._cuts.clear()

    def _take_cut(self, path: str) -> int | None:
        with self._lock:
            queue = self._cuts.get(path, [])
            while queue and queue[0][1] <= 0:
                queue.pop(0)
            if not queue:
                return None
            queue[0][1] -= 1
            return queue[0][0]

    def hits(self, suffix: str) -> list[Hit]:
        return [h for h in self.log if h.path.endswith(suffix)]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                rel = urllib.parse.unquote(self.path.split("?", 1)[0]).lstrip("/")
                path = (state.root / rel).resolve()
                requested = self.headers.get("Range")
                if state.root not in path.parents or not path.is_file():
                    state.log.append(Hit(rel, requested, 404, 0))
                    self._empty(404)
                    return
                data = path.read_bytes()
                size, start, end, status = len(data), 0, len(data), 200
                if requested:
                    match = re.match(r"^bytes=(\d+)-(\d*)$", requested)
                    if not match:
                        self._empty(400)
                        return
                    start = int(match.group(1))
                    end = min(size, int(match.group(2)) + 1) if match.group(2) else size
                    if start >= size:
                        state.log.append(Hit(rel, requested, 416, 0))
                        self._empty(416, {"Content-Range": f"bytes */{size}"})
                        return
                    status = 206
                body = data[start:end]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
                self.end_headers()
                cut = state._take_cut(rel)
                hit = Hit(rel, requested, status, 0)
                state.log.append(hit)  # logged (and counted) before the client can see the bytes
                try:
                    for i in range(0, len(body), state.chunk):
                        piece = body[i:i + state.chunk]
                        if cut is not None and hit.sent + len(piece) > cut:
                            piece = piece[: cut - hit.sent]
                            hit.sent += len(piece)
                            self.wfile.write(piece)
                            self.wfile.flush()
                            self.close_connection = True
                            self.connection.shutdown(socket.SHUT_RDWR)
                            break
                        hit.sent += len(piece)
                        self.wfile.write(piece)
                        if state.delay:
                            time.sleep(state.delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _empty(self, code: int, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler


@pytest.fixture
def http_zoo(tmp_path: Path, zoo_env: Path):  # noqa: ANN201
    """A published folder zoo with one entry (tiny-test@1, ~1 MB of weights) served over HTTP."""
    from nucgan.zoo.publishing import publish

    served = tmp_path / "served"
    publish(make_run(tmp_path / "run", filters=160, depth=2), "tiny-test", served, license="CC0-1.0",
            authors=["tests"])
    server = RangeServer(served)
    try:
        yield server, served
    finally:
        server.stop()
