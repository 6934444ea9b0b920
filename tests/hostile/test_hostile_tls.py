"""TLS through the address guard: it connects to a checked IP, yet SNI and certificate checks use
the host name, and the CA bundle comes from SSL_CERT_FILE as in httpx."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from archiver.config import FetchConfig
from archiver.errors import NetworkError
from archiver.fetch import Fetcher, guard

x509 = pytest.importorskip("cryptography.x509")
hashes = pytest.importorskip("cryptography.hazmat.primitives.hashes")
serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
NameOID = x509.oid.NameOID

pytestmark = pytest.mark.usefixtures("no_env_proxies")


def _certificate(subject: str, issuer_key: Any, issuer: str, key: Any, *, ca: bool) -> Any:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


class _TLSServer:
    def __init__(self, tmp: Path) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("test CA", ca_key, "test CA", ca_key, ca=True)
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _certificate("tls.test", ca_key, "test CA", key, ca=False)
        pem = serialization.Encoding.PEM
        self.ca_file = tmp / "ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(pem))
        (tmp / "leaf.pem").write_bytes(leaf.public_bytes(pem))
        (tmp / "leaf.key").write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        self.server_names: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp / "leaf.pem", tmp / "leaf.key")
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # failed handshakes are what some tests provoke

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[_TLSServer]:
    server = _TLSServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def names_resolve_to_loopback(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Resolve *.test to 127.0.0.1 and let the guard treat it as public, recording lookups."""
    looked_up: list[str] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    real_problem = guard.address_problem
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(
        guard,
        "address_problem",
        lambda addr: None if str(addr) == "127.0.0.1" else real_problem(addr),
    )
    return looked_up


def test_sni_and_certificate_use_the_host_name(
    monkeypatch: pytest.MonkeyPatch, tls_server: _TLSServer, names_resolve_to_loopback: list[str]
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.ca_file))
    with Fetcher(FetchConfig()) as fetcher:
        response = fetcher.get(f"https://tls.test:{tls_server.port}/")
    assert response.body == b"ok"
    # Resolved once by the guard; the socket is then opened on the checked address itself.
    assert names_resolve_to_loopback == ["tls.test", "127.0.0.1"]
    assert tls_server.server_names == ["tls.test"]


def test_certificate_for_another_name_is_a_tls_error(
    monkeypatch: pytest.MonkeyPatch, tls_server: _TLSServer, names_resolve_to_loopback: list[str]
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.ca_file))
    fetcher = Fetcher(FetchConfig())
    with fetcher, pytest.raises(NetworkError, match=r"TLS error with other\.test"):
        fetcher.get(f"https://other.test:{tls_server.port}/")


def test_unknown_ca_is_a_tls_error(
    monkeypatch: pytest.MonkeyPatch, tls_server: _TLSServer, names_resolve_to_loopback: list[str]
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    fetcher = Fetcher(FetchConfig())
    with fetcher, pytest.raises(NetworkError, match="SSL_CERT_FILE"):
        fetcher.get(f"https://tls.test:{tls_server.port}/")


def test_verification_can_be_turned_off(
    tls_server: _TLSServer, names_resolve_to_loopback: list[str]
) -> None:
    with Fetcher(FetchConfig(verify_tls=False)) as fetcher:
        assert fetcher.get(f"https://other.test:{tls_server.port}/").body == b"ok"
