"""A local website whose pages tests change between captures, with slow and rate-limited answers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def article(title: str, *paragraphs: str) -> bytes:
    """An HTML article the extractor finds its main text in."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article>"
        "<footer>Local test site</footer></body></html>"
    ).encode()


class Site:
    """Serves `pages` on 127.0.0.1; records when each path was requested."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.hits: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with site.lock:
                    site.hits.setdefault(path, []).append(time.monotonic())
                    page = site.pages.get(path, Page(404, b"<html><body>Not found</body></html>"))
                if page.delay:
                    time.sleep(page.delay)
                self.send_response(page.status)
                headers = {"Content-Type": "text/html; charset=utf-8", **page.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(page.body)))
                self.end_headers()
                self.wfile.write(page.body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: object, client_address: object) -> None:
                # Clients killed mid-answer (the point of some tests) hang up on us.
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def set(self, path: str, body: bytes = b"", *, status: int = 200, **kwargs: object) -> None:
        with self.lock:
            self.pages[path] = Page(status=status, body=body, **kwargs)  # type: ignore[arg-type]

    def requests(self, path: str) -> list[float]:
        with self.lock:
            return list(self.hits.get(path, []))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
