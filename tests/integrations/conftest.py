"""A real HTTP receiver on loopback that answers a scripted list of statuses, and webhook settings for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    extra_headers: dict[str, str] = field(default_factory=dict)
    got: list[Received] = field(default_factory=list)
    url: str = ""

    def wait_for(self, n: int, timeout: float = 30) -> list[Received]:
        wait_until(lambda: len(self.got) >= n, timeout, f"{n} request(s), got {len(self.got)}")
        return self.got


def wait_until(check: Callable[[], Any], timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with lock:
                state.got.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            for name, value in state.extra_headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            self.wfile.write(f"answer {status} ".encode() * 200)  # longer than the 1 KB kept

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook_settings(settings) -> Any:
    settings.WEBHOOKS_ALLOW_PRIVATE = True  # the receiver is on loopback
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 0.05
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    return settings
