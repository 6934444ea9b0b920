"""A local HTTP server that misbehaves on purpose, and a tiny forward proxy, for fetch tests.

Both listen on 127.0.0.1 on an ephemeral port, run in daemon threads, and generate their large
answers on the fly (a gzip bomb is never held in memory here either).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# t.co's browser interstitial without its <noscript> refresh, so only the script can redirect.
JS_REDIRECT_BODY = (
    b"<head><title>/ok</title></head>"
    b'<script>window.opener = null; location.replace("\\/ok?from=js")</script>'
)


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class _State:
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up on endless bodies is the point of these routes.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State  # set on the per-server subclass

    def log_message(self, format: str, *args: object) -> None:
        pass

    # -- helpers ------------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send(status, b"", headers={"Location": location})

    def _stream(self, chunks: Iterator[bytes], headers: dict[str, str]) -> None:
        """Send without Content-Length, closing at the end (or when the client hangs up)."""
        self.send_response(200)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        with contextlib.suppress(OSError):
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()

    # -- routes -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        with self.state.lock:
            self.state.seen.append(Seen("GET", self.path, dict(self.headers.items())))
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = ROUTES.get(parts.path)
        if route is None and parts.path.startswith("/chain/"):
            route = _Handler.chain
        if route is None:
            self._send(404, b"not found")
            return
        route(self, query)

    def ok(self, query: dict[str, str]) -> None:
        self._send(200, "<html><title>ok</title><p>Bonjour, ça va ?</p></html>".encode())

    def echo(self, query: dict[str, str]) -> None:
        self._send(200, json.dumps(dict(self.headers.items())).encode(), "application/json")

    def loop_a(self, query: dict[str, str]) -> None:
        self._redirect("/loop/b")

    def loop_b(self, query: dict[str, str]) -> None:
        self._redirect("/loop/a")

    def chain(self, query: dict[str, str]) -> None:
        n = int(self.path.rsplit("/", 1)[1].split("?")[0])
        if n >= int(query.get("hops", "50")):
            self.ok(query)
        else:
            self._redirect(f"/chain/{n + 1}?hops={query.get('hops', '50')}", 301)

    def to_metadata(self, query: dict[str, str]) -> None:
        self._redirect("http://169.254.169.254/latest/meta-data/")

    def to_loopback(self, query: dict[str, str]) -> None:
        self._redirect(f"http://127.0.0.1:{self.state.port}/ok")

    def gzip_bomb(self, query: dict[str, str]) -> None:
        total = int(query.get("gib", "4")) << 30

        def chunks() -> Iterator[bytes]:
            packer = zlib.compressobj(9, zlib.DEFLATED, 31)
            block = bytes(1 << 16)  # small, so the server's own memory stays out of measurements
            for _ in range(total >> 16):
                out = packer.compress(block)
                if out:
                    yield out
            yield packer.flush()

        self._stream(chunks(), {"Content-Type": "text/html", "Content-Encoding": "gzip"})

    def endless(self, query: dict[str, str]) -> None:
        block = b"A" * 65536
        self._stream(iter(lambda: block, None), {"Content-Type": "text/plain"})

    def trickle(self, query: dict[str, str]) -> None:
        delay = float(query.get("delay", "1"))

        def chunks() -> Iterator[bytes]:
            while True:
                yield b"x"
                time.sleep(delay)

        self._stream(chunks(), {"Content-Type": "text/html"})

    def trickle_gzip(self, query: dict[str, str]) -> None:
        """Valid gzip that decodes to nothing: empty stored blocks, one byte per interval."""
        delay = float(query.get("delay", "0.5"))

        def chunks() -> Iterator[bytes]:
            yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"  # gzip header
            while True:
                for byte in b"\x00\x00\x00\xff\xff":  # a non-final, empty stored block
                    time.sleep(delay)
                    yield bytes([byte])

        self._stream(chunks(), {"Content-Type": "text/html", "Content-Encoding": "gzip"})

    def stall(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.flush()
        time.sleep(float(query.get("seconds", "5")))

    def latin1_as_utf8(self, query: dict[str, str]) -> None:
        self._send(200, "<p>Café crème à la française</p>".encode("latin-1"))

    def utf8_as_latin1(self, query: dict[str, str]) -> None:
        body = "<p>Café crème — “quoted”</p>".encode()
        self._send(200, body, "text/html; charset=iso-8859-1")

    def bogus_charset(self, query: dict[str, str]) -> None:
        self._send(200, "<p>Café</p>".encode(), "text/html; charset=no-such-charset")

    def binary_as_html(self, query: dict[str, str]) -> None:
        rng = random.Random(1)
        self._send(200, bytes(rng.getrandbits(8) for _ in range(200_000)), "text/html")

    def truncated_chunked(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"10\r\n0123456789abcdef\r\n20\r\nonly part of the")
        self.wfile.flush()
        self.close_connection = True

    def truncated_length(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"<html>short")
        self.wfile.flush()
        self.close_connection = True

    def reset(self, query: dict[str, str]) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def server_error(self, query: dict[str, str]) -> None:
        self._send(500, b"<h1>Internal Server Error</h1>")

    def too_many(self, query: dict[str, str]) -> None:
        self._send(429, b"slow down", headers={"Retry-After": "120"})

    def unavailable(self, query: dict[str, str]) -> None:
        when = formatdate(time.time() + 300, usegmt=True)
        self._send(503, b"maintenance", headers={"Retry-After": when})

    def meta_refresh(self, query: dict[str, str]) -> None:
        self._send(
            200,
            b'<html><head><meta http-equiv="refresh" content="0; URL=\'/ok?a=1&#38;b=2\'">'
            b"</head><body>Moved</body></html>",
        )

    def js_redirect(self, query: dict[str, str]) -> None:
        self._send(200, JS_REDIRECT_BODY)

    def malformed_json(self, query: dict[str, str]) -> None:
        self._send(200, b'{"data": [1, 2, {"text": "unterminated', "application/json")


ROUTES: dict[str, Callable[[_Handler, dict[str, str]], None]] = {
    "/ok": _Handler.ok,
    "/echo": _Handler.echo,
    "/loop/a": _Handler.loop_a,
    "/loop/b": _Handler.loop_b,
    "/to-metadata": _Handler.to_metadata,
    "/to-loopback": _Handler.to_loopback,
    "/gzip-bomb": _Handler.gzip_bomb,
    "/endless": _Handler.endless,
    "/trickle": _Handler.trickle,
    "/trickle-gzip": _Handler.trickle_gzip,
    "/stall": _Handler.stall,
    "/latin1-as-utf8": _Handler.latin1_as_utf8,
    "/utf8-as-latin1": _Handler.utf8_as_latin1,
    "/bogus-charset": _Handler.bogus_charset,
    "/binary-as-html": _Handler.binary_as_html,
    "/truncated-chunked": _Handler.truncated_chunked,
    "/truncated-length": _Handler.truncated_length,
    "/reset": _Handler.reset,
    "/500": _Handler.server_error,
    "/429": _Handler.too_many,
    "/503": _Handler.unavailable,
    "/meta-refresh": _Handler.meta_refresh,
    "/js-redirect": _Handler.js_redirect,
    "/malformed-json": _Handler.malformed_json,
}


class _Running:
    """A server running in a daemon thread until `stop()`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], state: _State) -> None:
        self.state = state
        self._server = _Quiet(("127.0.0.1", 0), handler)
        state.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self.state.port

    @property
    def seen(self) -> list[Seen]:
        with self.state.lock:
            return list(self.state.seen)

    def clear(self) -> None:
        with self.state.lock:
            self.state.seen.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class HostileServer(_Running):
    """The misbehaving origin; `url(path)` gives an absolute URL on it."""

    def __init__(self) -> None:
        state = _State()
        handler = type("Handler", (_Handler,), {"state": state})
        super().__init__(handler, state)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


class _ProxyHandler(BaseHTTPRequestHandler):
    """Forwards absolute-form GETs (`GET http://host/path`) to the origin, as HTTP proxies do."""

    protocol_version = "HTTP/1.1"
    state: _State
    #: The proxy's own name resolution (tests have no DNS): host name → address.
    hosts: dict[str, str]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.state.lock:
            self.state.seen.append(Seen("GET", self.path, dict(self.headers.items())))
        target = urlsplit(self.path)
        if not target.scheme or not target.hostname:
            self.send_error(400, "absolute-form request expected")
            return
        address = self.hosts.get(target.hostname, target.hostname)
        connection = http.client.HTTPConnection(address, target.port or 80, timeout=10)
        try:
            path = target.path + (f"?{target.query}" if target.query else "")
            hop_by_hop = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}
            forwarded = {k: v for k, v in self.headers.items() if k.lower() not in hop_by_hop}
            forwarded["Host"] = target.netloc
            connection.request("GET", path or "/", headers=forwarded)
            answer = connection.getresponse()
            body = answer.read()
        except OSError as exc:
            self.send_error(502, f"bad gateway: {exc}")
            return
        finally:
            connection.close()
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Via", "1.1 test-proxy")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ForwardProxy(_Running):
    """A plain HTTP forward proxy on 127.0.0.1 that records what it forwarded."""

    def __init__(self, hosts: dict[str, str] | None = None) -> None:
        state = _State()
        attrs = {"state": state, "hosts": dict(hosts or {})}
        handler = type("ProxyHandler", (_ProxyHandler,), attrs)
        super().__init__(handler, state)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
