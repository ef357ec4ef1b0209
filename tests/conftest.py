"""Shared fixtures: tiny data dirs and configs built from audiokit.testing."""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from audiokit.testing import make_paired_dir, make_speech_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _threads():
    # Test tensors are small: one thread avoids pool overhead, which grows 10-50x on a busy machine.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def paired_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("paired")
    return {"train": make_paired_dir(root / "train", num_items=6, seconds=1.5, seed=0),
            "valid": make_paired_dir(root / "valid", num_items=2, seconds=1.0, seed=1)}


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return make_speech_dir(tmp_path_factory.mktemp("speech") / "train", num_items=12)


@pytest.fixture(scope="session")
def fx_corpus(tmp_path_factory) -> Path:
    """The tiny offline fx corpus at seed 0 (what the flagship recipe and the model card use)."""
    from audiokit.corpora.fx import make_fx

    return make_fx(tmp_path_factory.mktemp("corpus") / "fx_tiny_seed0", size="tiny", seed=0, progress=False)


# ------------------------------------------------------------------------------------------ the server
class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` unless the path's mode says otherwise.

    Modes: "normal"; "no-range" (answers 200 with the whole file, as servers without range support);
    "drop" (announces the full length, sends half the body, then closes the connection).
    """

    def do_GET(self):  # noqa: N802 (http.server's name)
        srv = self.server
        path = self.path.split("?")[0]
        requested = self.headers.get("Range")
        srv.requests.append((path, requested))
        if path not in srv.files:
            self.send_error(404, "Not Found")
            return
        data, mode = srv.files[path], srv.modes.get(path, "normal")
        start = 0
        if requested and mode != "no-range":
            start = int(re.fullmatch(r"bytes=(\d+)-", requested)[1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop":
            body = body[: len(body) // 2]
        self.wfile.write(body)
        srv.sent.append(len(body))

    def log_message(self, *args):
        pass


class FileServer:
    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.files, self.httpd.modes, self.httpd.requests, self.httpd.sent = {}, {}, [], []
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def reset(self):
        for table in (self.httpd.files, self.httpd.modes):
            table.clear()
        self.httpd.requests.clear()
        self.httpd.sent.clear()

    def serve(self, path: str, data: bytes, mode: str = "normal") -> str:
        self.httpd.files[path], self.httpd.modes[path] = data, mode
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    @property
    def requests(self) -> list[tuple[str, str | None]]:
        return self.httpd.requests

    @property
    def sent(self) -> list[int]:
        return self.httpd.sent

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def _server():
    srv = FileServer()
    yield srv
    srv.close()


@pytest.fixture
def server(_server):
    _server.reset()
    return _server
