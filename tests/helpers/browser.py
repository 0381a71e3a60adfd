"""A headless Chromium driven over the DevTools protocol (a minimal WebSocket client on the
standard library), for tests that look at TensorBoard's UI as a person would: custom elements
render inside shadow roots, which only a script running in the page can see."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Every element under ``document``, shadow roots included, whose tag is given: tag, title
#: attribute and visible text.
DEEP_QUERY = """
(tag) => {
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName.toLowerCase() === tag) {
        const text = (el.shadowRoot ? el.shadowRoot.textContent : '') + el.textContent;
        found.push({title: el.title || el.getAttribute('title') || '', text: text});
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
    for (const frame of root.querySelectorAll('iframe')) {
      try { walk(frame.contentDocument); } catch (e) {}
    }
  };
  walk(document);
  return found;
}
"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if path := shutil.which(name):
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


class DevTools:
    """One page's DevTools session: ``call(method, **params)`` and ``evaluate(js)``."""

    def __init__(self, ws_url: str) -> None:
        host, port, path = _split_ws(ws_url)
        self.sock = socket.create_connection((host, port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += self.sock.recv(4096)
        if b" 101 " not in reply.split(b"\r\n", 1)[0]:
            raise ConnectionError(reply.decode(errors="replace"))
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, function: str, *args: Any) -> Any:
        expression = f"({function})(...{json.dumps(list(args))})"
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def _send(self, text: str) -> None:
        data = text.encode()
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _receive(self) -> str:
        chunks = []
        while True:
            first, second = self._exact(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", self._exact(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", self._exact(8))
            chunks.append(self._exact(length))
            if first & 0x80:  # the final fragment
                return b"".join(chunks).decode()

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = self.sock.recv(n - len(data))
            if not part:
                raise ConnectionError("DevTools closed the connection")
            data += part
        return data


def _split_ws(url: str) -> tuple[str, int, str]:
    rest = url.removeprefix("ws://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port), "/" + path


@contextlib.contextmanager
def browser_page(workdir: Path) -> Iterator[DevTools]:
    """A headless Chromium with one blank page, closed afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(chromium()),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1400,2000",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={workdir / 'chromium'}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        targets = json.loads(wait_for_http(f"http://127.0.0.1:{port}/json"))
        page = next(t for t in targets if t.get("type") == "page")
        yield DevTools(page["webSocketDebuggerUrl"])
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def tensorboard(logdir: Path, tensorboard_script: str) -> Iterator[str]:
    """``tensorboard --logdir logdir`` on a free loopback port; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [tensorboard_script, "--logdir", str(logdir), "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/data/runs")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
