"""Fetcher behaviour against mocked transports: hops, limits, headers, charsets, statuses."""

from __future__ import annotations

import gzip
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
from pytest_httpx import HTTPXMock, IteratorStream

from archiver.charset import detect_charset
from archiver.config import FetchConfig
from archiver.errors import (
    BlockedAddress,
    BodyTooLarge,
    FetchTimeout,
    HTTPError,
    NetworkError,
    ParseError,
    RateLimited,
    RedirectLoop,
    TooManyRedirects,
)
from archiver.fetch import (
    MAX_RETRY_AFTER_SECONDS,
    Fetcher,
    Response,
    javascript_redirect_target,
    meta_refresh_target,
    retry_after_seconds,
)
from archiver.model import RedirectKind

DATA = Path(__file__).parent / "data" / "redirects"
TCO_BODY = (DATA / "t.co_4DK3Jc2BTt.body.html").read_bytes()
GOOGLE_BODY = (DATA / "google_meta_refresh.html").read_bytes()
HTML = {"content-type": "text/html; charset=utf-8"}


def fetch(url: str, **kwargs: Any) -> Response:
    config_keys = {k: kwargs.pop(k) for k in list(kwargs) if k in FetchConfig.__dataclass_fields__}
    with Fetcher(FetchConfig(**config_keys)) as fetcher:
        return fetcher.get(url, **kwargs)


# --- redirects, hop by hop -----------------------------------------------------------------------


def test_tco_browser_page_is_a_recorded_hop(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://t.co/4DK3Jc2BTt", headers=HTML, content=TCO_BODY)
    httpx_mock.add_response(
        url="https://buff.ly/2uSOHDs",
        status_code=301,
        headers={"location": "https://graffica.info/sabes-cual-es-el-origen-del-ampersand/"},
    )
    httpx_mock.add_response(
        url="https://graffica.info/sabes-cual-es-el-origen-del-ampersand/",
        headers=HTML,
        content=b"<html><title>Ampersand</title></html>",
    )
    response = fetch("https://t.co/4DK3Jc2BTt")
    assert response.status == 200
    assert response.url == "https://t.co/4DK3Jc2BTt"
    assert response.final_url == "https://graffica.info/sabes-cual-es-el-origen-del-ampersand/"
    assert [(r.url, r.status, r.location, r.kind) for r in response.redirects] == [
        ("https://t.co/4DK3Jc2BTt", 200, "https://buff.ly/2uSOHDs", RedirectKind.META_REFRESH),
        (
            "https://buff.ly/2uSOHDs",
            301,
            "https://graffica.info/sabes-cual-es-el-origen-del-ampersand/",
            RedirectKind.HTTP,
        ),
    ]
    assert [e.url for e in response.exchanges] == [
        "https://t.co/4DK3Jc2BTt",
        "https://buff.ly/2uSOHDs",
        "https://graffica.info/sabes-cual-es-el-origen-del-ampersand/",
    ]
    assert response.exchanges[0].body == TCO_BODY
    assert response.exchanges[0].redirect == response.redirects[0]
    assert response.exchanges[-1].redirect is None
    assert response.text() == "<html><title>Ampersand</title></html>"


def test_tco_javascript_alone_is_followed_with_escapes_decoded(httpx_mock: HTTPXMock) -> None:
    script_only = TCO_BODY.split(b"</head>")[1]
    assert b"location.replace" in script_only and b"META" not in script_only
    httpx_mock.add_response(url="https://t.co/4DK3Jc2BTt", headers=HTML, content=script_only)
    httpx_mock.add_response(url="https://buff.ly/2uSOHDs", content=b"end")
    response = fetch("https://t.co/4DK3Jc2BTt")
    assert response.redirects[0].kind is RedirectKind.JAVASCRIPT
    assert response.redirects[0].location == "https://buff.ly/2uSOHDs"
    assert response.final_url == "https://buff.ly/2uSOHDs"


def test_google_redirect_page_uses_the_quoted_meta_refresh(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://www.google.com/url?q=x", headers=HTML, content=GOOGLE_BODY)
    httpx_mock.add_response(url="http://example.com/", content=b"example")
    response = fetch("https://www.google.com/url?q=x")
    assert response.redirects[0].kind is RedirectKind.META_REFRESH
    assert response.final_url == "http://example.com/"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ('<meta http-equiv="refresh" content="0;URL=https://a.example/x">', "https://a.example/x"),
        ("<META HTTP-EQUIV=Refresh CONTENT=\"5; url='/next?a=1&#38;b=2'\">", "/next?a=1&b=2"),
        ('<meta content="0; URL = https://a.example/" http-equiv="refresh">', "https://a.example/"),
        (
            '<meta http-equiv="refresh" content="0;https://a.example/bare">',
            "https://a.example/bare",
        ),
        ('<meta http-equiv="refresh" content="30">', None),
        ('<!-- <meta http-equiv="refresh" content="0;url=/old"> -->', None),
        ('<meta name="description" content="0;URL=https://a.example/">', None),
    ],
)
def test_meta_refresh_forms(page: str, expected: str | None) -> None:
    assert meta_refresh_target(page) == expected


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            '<script>location.replace("https:\\/\\/buff.ly\\/2uSOHDs")</script>',
            "https://buff.ly/2uSOHDs",
        ),
        (
            "<script>window.location = 'https://a.example/?q=\\'x\\''</script>",
            "https://a.example/?q='x'",
        ),
        (
            '<SCRIPT type="text/javascript">window.location.href="https://a.example/\\u00e9"</SCRIPT>',
            "https://a.example/é",
        ),
        ('<script>document.location.assign("/rel")</script>', "/rel"),
        ('<script>if (location.href == "https://a.example/") {}</script>', None),
        ("<script>var x = 1;</script>", None),
        ("<button onclick=\"location.href='/buy'\">Buy</button>", None),
        ('<!-- <script>location.replace("/old")</script> -->', None),
    ],
)
def test_javascript_redirect_forms(page: str, expected: str | None) -> None:
    assert javascript_redirect_target(page) == expected


def test_http_redirect_chain_resolves_relative_locations(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="https://a.example/start", status_code=302, headers={"location": "/b?x=1#frag"}
    )
    httpx_mock.add_response(
        url="https://a.example/b?x=1", status_code=308, headers={"location": "../c"}
    )
    httpx_mock.add_response(url="https://a.example/c", content=b"done")
    response = fetch("https://a.example/start")
    assert [r.location for r in response.redirects] == [
        "https://a.example/b?x=1",
        "https://a.example/c",
    ]
    assert [r.status for r in response.redirects] == [302, 308]
    assert response.body == b"done"


def test_big_pages_with_scripts_are_not_taken_for_redirects(httpx_mock: HTTPXMock) -> None:
    page = b"<html><script>location.replace('https://elsewhere.example/')</script>"
    page += b"<p>" + b"article text " * 2000 + b"</p></html>"
    httpx_mock.add_response(url="https://news.example/a", headers=HTML, content=page)
    response = fetch("https://news.example/a")
    assert response.redirects == ()
    assert response.final_url == "https://news.example/a"


def test_a_page_refreshing_itself_is_not_a_redirect(httpx_mock: HTTPXMock) -> None:
    page = b'<meta http-equiv="refresh" content="300;url=https://news.example/live">'
    httpx_mock.add_response(url="https://news.example/live", headers=HTML, content=page)
    assert fetch("https://news.example/live").redirects == ()


def test_html_redirects_can_be_left_alone(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://t.co/4DK3Jc2BTt", headers=HTML, content=TCO_BODY)
    response = fetch("https://t.co/4DK3Jc2BTt", html_redirects=False)
    assert response.status == 200 and response.redirects == ()
    assert response.body == TCO_BODY


def test_follow_redirects_false_returns_the_3xx(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="https://t.co/abc", status_code=301, headers={"location": "https://x.example/"}
    )
    response = fetch("https://t.co/abc", follow_redirects=False)
    assert response.status == 301
    assert response.header("Location") == "https://x.example/"
    assert response.redirects == ()


def test_redirect_to_a_non_http_scheme_is_not_followed(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="https://a.example/", status_code=302, headers={"location": "file:///etc/passwd"}
    )
    response = fetch("https://a.example/")
    assert response.status == 302 and response.redirects == ()


def test_stop_halts_before_requesting(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="https://t.co/abc",
        status_code=301,
        headers={"location": "https://twitter.com/jack/status/20"},
    )
    seen: list[str] = []

    def stop(url: str) -> bool:
        seen.append(url)
        return "/status/" in url

    response = fetch("https://t.co/abc", stop=stop)
    assert response.stopped
    assert response.final_url == "https://twitter.com/jack/status/20"
    assert response.status == 301
    assert len(response.exchanges) == 1 and len(response.redirects) == 1
    assert seen == ["https://twitter.com/jack/status/20"]
    assert len(httpx_mock.get_requests()) == 1


def test_redirect_loop_keeps_its_exchanges(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://a.example/1", status_code=302, headers={"location": "/2"})
    httpx_mock.add_response(url="https://a.example/2", status_code=302, headers={"location": "/1"})
    with pytest.raises(RedirectLoop) as caught:
        fetch("https://a.example/1")
    assert "https://a.example/1" in str(caught.value)
    assert [e.url for e in caught.value.exchanges] == ["https://a.example/1", "https://a.example/2"]
    assert caught.value.exchanges[1].redirect is not None


def test_a_cookie_check_bounce_is_not_a_loop(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="https://paper.example/story",
        status_code=302,
        headers={"location": "/set-cookie"},
    )
    httpx_mock.add_response(
        url="https://paper.example/set-cookie",
        status_code=302,
        headers={"location": "/story", "set-cookie": "seen=1; Path=/"},
    )
    httpx_mock.add_response(
        url="https://paper.example/story",
        match_headers={"Cookie": "seen=1"},
        content=b"story",
    )
    response = fetch("https://paper.example/story")
    assert response.body == b"story"
    assert [r.location for r in response.redirects] == [
        "https://paper.example/set-cookie",
        "https://paper.example/story",
    ]
    assert ("Cookie", "[redacted]") in response.exchanges[2].request_headers


def test_hop_limit(httpx_mock: HTTPXMock) -> None:
    for n in range(4):
        httpx_mock.add_response(
            url=f"https://a.example/{n}", status_code=301, headers={"location": f"/{n + 1}"}
        )
    with pytest.raises(TooManyRedirects) as caught:
        fetch("https://a.example/0", max_redirects=3)
    assert "fetch.max_redirects" in str(caught.value)
    assert len(caught.value.exchanges) == 4


# --- requests as sent ----------------------------------------------------------------------------


def test_user_agent_default_per_host_and_per_call(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://t.co/a", content=b"")
    httpx_mock.add_response(url="https://example.org/", content=b"")
    httpx_mock.add_response(url="https://example.org/x", content=b"")
    config = FetchConfig(user_agent="ua-default", user_agents={"t.co": "ua-browser"})
    with Fetcher(config) as fetcher:
        fetcher.get("https://t.co/a")
        fetcher.get("https://example.org/")
        fetcher.get("https://example.org/x", headers={"User-Agent": "ua-call"})
    agents = [r.headers["user-agent"] for r in httpx_mock.get_requests()]
    assert agents == ["ua-browser", "ua-default", "ua-call"]


def test_credentials_are_redacted_in_recorded_headers(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://api.example/", content=b"{}")
    response = fetch(
        "https://api.example/",
        headers={"Authorization": "Bearer secret-token", "X-Other": "kept"},
    )
    sent = dict(response.exchanges[0].request_headers)
    assert sent["Authorization"] == "[redacted]"
    assert sent["X-Other"] == "kept"
    assert "secret-token" not in repr(response.exchanges)
    assert httpx_mock.get_requests()[0].headers["authorization"] == "Bearer secret-token"


def test_cookies_do_not_leak_between_fetches(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://a.example/1", headers={"set-cookie": "id=42"})
    httpx_mock.add_response(url="https://a.example/2")
    with Fetcher(FetchConfig()) as fetcher:
        fetcher.get("https://a.example/1")
        fetcher.get("https://a.example/2")
    assert "cookie" not in httpx_mock.get_requests()[1].headers


# --- bodies --------------------------------------------------------------------------------------


def test_streamed_gzip_body_is_decoded(httpx_mock: HTTPXMock) -> None:
    packed = gzip.compress("Grüße".encode())
    httpx_mock.add_response(
        url="https://a.example/",
        headers={"content-encoding": "gzip", "content-type": "text/plain; charset=utf-8"},
        stream=IteratorStream([packed[:5], packed[5:]]),
    )
    response = fetch("https://a.example/")
    assert response.text() == "Grüße"
    assert response.exchanges[0].body == "Grüße".encode()


def test_streamed_body_over_the_limit(httpx_mock: HTTPXMock) -> None:
    packed = gzip.compress(bytes(5_000_000))
    httpx_mock.add_response(
        url="https://a.example/big",
        headers={"content-encoding": "gzip"},
        stream=IteratorStream([packed]),
    )
    with pytest.raises(BodyTooLarge) as caught:
        fetch("https://a.example/big", max_bytes=100_000)
    assert "100000 bytes" in str(caught.value) and "https://a.example/big" in str(caught.value)
    (exchange,) = caught.value.exchanges
    assert exchange.truncated and len(exchange.body) == 100_000 and exchange.status == 200


def test_in_memory_body_over_the_limit(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://a.example/big", content=b"x" * 2000)
    with pytest.raises(BodyTooLarge):
        fetch("https://a.example/big", max_body_bytes=1000)


def test_unknown_content_encoding_is_an_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="https://a.example/",
        headers={"content-encoding": "zz-unknown"},
        stream=IteratorStream([b"???"]),
    )
    with pytest.raises(NetworkError, match="zz-unknown"):
        fetch("https://a.example/")


def test_timeouts_become_fetch_timeouts(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), url="https://slow.example/")
    with pytest.raises(FetchTimeout, match=r"fetch\.read_timeout") as caught:
        fetch("https://slow.example/")
    assert caught.value.exchanges[0].error is not None


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (httpx.ConnectError("[Errno -2] Name or service not known"), "Cannot resolve host"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "Connection refused"),
        (
            httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
            "TLS error",
        ),
        (httpx.RemoteProtocolError("peer closed"), "connection closed before the response"),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), "failed mid-transfer"),
    ],
)
def test_transport_errors_are_named(
    httpx_mock: HTTPXMock, exc: httpx.HTTPError, message: str
) -> None:
    httpx_mock.add_exception(exc, url="https://a.example/")
    with pytest.raises(NetworkError, match=message) as caught:
        fetch("https://a.example/")
    assert caught.value.url == "https://a.example/"
    assert len(caught.value.exchanges) == 1


def test_proxy_credentials_never_reach_messages(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(
        httpx.ProxyError("cannot reach http://user:hunter2@proxy.example:3128"),
        url="https://a.example/",
    )
    with pytest.raises(NetworkError) as caught:
        fetch("https://a.example/", proxy="http://user:hunter2@proxy.example:3128")
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(caught.value.exchanges)


def test_userinfo_is_kept_out_of_messages(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://bob:pw123@a.example/", status_code=500)
    response = fetch("https://bob:pw123@a.example/")
    with pytest.raises(HTTPError) as caught:
        response.raise_for_status()
    assert "pw123" not in str(caught.value)
    assert ("Authorization", "[redacted]") in response.exchanges[0].request_headers
    assert response.url == response.final_url == "https://***@a.example/"


def test_relative_redirect_from_a_url_with_userinfo(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="https://bob:pw123@a.example/", status_code=302, headers={"location": "/next"}
    )
    httpx_mock.add_response(url="https://bob:pw123@a.example/next", content=b"next")
    response = fetch("https://bob:pw123@a.example/")
    assert response.body == b"next"
    assert "pw123" not in repr(response)


# --- charsets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("é".encode(), "text/html; charset=UTF-8", "utf-8"),
        ("é".encode("latin-1"), "text/html; charset=ISO-8859-1", "cp1252"),
        ("é".encode(), 'text/html; charset="utf-8"', "utf-8"),
        (b"\xef\xbb\xbf<p>x</p>", "text/html; charset=iso-8859-1", "utf-8"),
        ("é".encode("utf-16"), "text/html", "utf-16"),
        (b'<meta charset="windows-1251"><p>\xcf\xf0\xe8</p>', "text/html", "cp1251"),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=shift_jis">',
            "text/html",
            "shift_jis",
        ),
        (b'<?xml version="1.0" encoding="ISO-8859-2"?><rss/>', "application/rss+xml", "iso8859-2"),
        ("plain ütf-8".encode(), "text/html", "utf-8"),
        ("é".encode("latin-1"), "text/html", "cp1252"),
        ("é".encode(), "text/html; charset=bogus-charset", "utf-8"),
        (b'{"a": 1}', "application/json", "utf-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", None),
    ],
)
def test_detect_charset(body: bytes, content_type: str, expected: str | None) -> None:
    assert detect_charset(body, content_type) == expected


def test_an_undeclared_western_page_is_read_as_windows_1252() -> None:
    text = "El ministro señaló que la economía española crecerá este año más de lo previsto. " * 10
    assert detect_charset(text.encode("latin-1"), "text/html") == "cp1252"


def test_detects_an_undeclared_legacy_charset() -> None:
    text = "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 20
    assert detect_charset(text.encode("cp1251"), "text/html") in (
        "cp1251",
        "koi8_r",
        "mac_cyrillic",
    )
    assert text[:40] in _decode_as_detected(text.encode("cp1251"))


def _decode_as_detected(body: bytes) -> str:
    response = _response(body, "text/html")
    return response.text()


def _response(body: bytes, content_type: str, status: int = 200, **headers: str) -> Response:
    all_headers = (("Content-Type", content_type), *headers.items())
    return Response(
        url="https://a.example/",
        final_url="https://a.example/",
        status=status,
        reason="",
        headers=tuple((k.replace("_", "-"), v) for k, v in all_headers),
        body=body,
        content_type=content_type.split(";")[0],
        charset=detect_charset(body, content_type),
        redirects=(),
        exchanges=(),
    )


def test_mislabelled_text_decodes_without_crashing() -> None:
    latin = _response("Café".encode("latin-1"), "text/html; charset=utf-8")
    assert latin.text() == "Caf\ufffd"
    broken = Response(**{**latin.__dict__, "charset": "no-such-codec"})
    assert broken.text() == "Caf\ufffd"


# --- statuses ------------------------------------------------------------------------------------


def test_statuses_are_returned_not_raised(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://a.example/gone", status_code=404, content=b"nope")
    response = fetch("https://a.example/gone")
    assert response.status == 404 and response.body == b"nope"
    with pytest.raises(HTTPError) as caught:
        response.raise_for_status()
    assert caught.value.status == 404 and not isinstance(caught.value, RateLimited)
    assert caught.value.exchanges == response.exchanges


def test_success_does_not_raise() -> None:
    _response(b"", "text/html").raise_for_status()


def test_429_with_retry_after_seconds() -> None:
    response = _response(b"", "text/plain", status=429, Retry_After="120")
    with pytest.raises(RateLimited) as caught:
        response.raise_for_status()
    assert caught.value.retry_after == 120.0 and caught.value.status == 429


def test_503_with_retry_after_date() -> None:
    response = _response(b"", "text/plain", status=503, Retry_After="Wed, 21 Oct 2099 07:28:00 GMT")
    with pytest.raises(RateLimited) as caught:
        response.raise_for_status()
    assert caught.value.retry_after == MAX_RETRY_AFTER_SECONDS


def test_503_without_retry_after_is_a_plain_http_error() -> None:
    with pytest.raises(HTTPError) as caught:
        _response(b"", "text/plain", status=503).raise_for_status()
    assert not isinstance(caught.value, RateLimited)


def test_retry_after_parsing() -> None:
    now = datetime(2015, 10, 21, 7, 0, tzinfo=UTC)
    assert retry_after_seconds("30", now=now) == 30.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 28 * 60
    assert retry_after_seconds("Wed, 21 Oct 2015 06:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("99999999", now=now) == MAX_RETRY_AFTER_SECONDS
    assert retry_after_seconds("soon", now=now) is None
    assert retry_after_seconds(None, now=now) is None


def test_json_and_malformed_json() -> None:
    assert _response(b'{"a": [1]}', "application/json").json() == {"a": [1]}
    assert _response(b'\xef\xbb\xbf{"a": 1}', "application/json").json() == {"a": 1}
    with pytest.raises(ParseError, match="valid JSON"):
        _response(b'{"a": [1', "application/json").json()
    with pytest.raises(ParseError):
        _response(b"\xff\xfe\x00garbage", "application/json").json()


# --- address guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://127.0.0.1:8080/admin", "loopback"),
        ("http://localhost/", "local host name"),
        ("http://api.localhost/", "local host name"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://2130706433/", "127.0.0.1 is a loopback address"),
        ("http://0x7f.1/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://[::1]/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
    ],
)
def test_redirects_to_private_addresses_are_refused(
    httpx_mock: HTTPXMock, location: str, reason: str
) -> None:
    httpx_mock.add_response(
        url="https://evil.example/", status_code=302, headers={"location": location}
    )
    with pytest.raises(BlockedAddress) as caught:
        fetch("https://evil.example/")
    message = str(caught.value)
    assert message.startswith("Refusing to fetch http")
    assert reason in message and "fetch.allow_private_networks = true" in message
    assert [e.url for e in caught.value.exchanges] == ["https://evil.example/"]
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "body",
    [
        b'<meta http-equiv="refresh" content="0;url=http://169.254.169.254/">',
        b'<script>location.replace("http:\\/\\/169.254.169.254\\/")</script>',
    ],
)
def test_html_redirects_to_private_addresses_are_refused(
    httpx_mock: HTTPXMock, body: bytes
) -> None:
    httpx_mock.add_response(url="https://evil.example/", headers=HTML, content=body)
    with pytest.raises(BlockedAddress, match="link-local"):
        fetch("https://evil.example/")


def test_allow_private_networks_turns_the_guard_off(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="http://10.0.0.7/wiki", content=b"intranet")
    assert fetch("http://10.0.0.7/wiki", allow_private_networks=True).body == b"intranet"


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        family = {True: socket.AF_INET6, False: socket.AF_INET}
        return [(family[":" in ip], socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_names_resolving_to_private_addresses_are_refused(
    monkeypatch: pytest.MonkeyPatch, hostile_server: Any
) -> None:
    _fake_dns(monkeypatch, {"innocent.example": ["127.0.0.1"]})
    hostile_server.clear()
    with pytest.raises(BlockedAddress, match=r"innocent.example resolves to 127\.0\.0\.1"):
        fetch(f"http://innocent.example:{hostile_server.port}/ok")
    assert hostile_server.seen == []


def test_one_private_answer_among_public_ones_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(monkeypatch, {"rebind.example": ["93.184.216.34", "10.0.0.1"]})
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.1, a private address"):
        fetch("http://rebind.example/")


def test_connects_to_the_address_it_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second lookup answering 127.0.0.1 (DNS rebinding) is never made: the checked IP is used."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in next(answers)]

    dialled: list[str] = []

    def connect_tcp(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        dialled.append(host)
        raise httpcore.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    with pytest.raises(NetworkError, match="Connection refused"):
        fetch("http://rebind.example/")
    assert dialled == ["93.184.216.34"]


def test_a_hanging_dns_lookup_is_given_up_after_the_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        release.wait(30)  # a resolver that never answers
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        # Without a bound the lookup would fail after 30 s as a resolution error instead.
        with pytest.raises(
            FetchTimeout, match=r"connecting to slow-dns\.example .*connect_timeout"
        ):
            fetch("http://slow-dns.example/", connect_timeout=0.3, total_timeout=60)
    finally:
        release.set()


def test_unresolvable_host(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(monkeypatch, {})
    with pytest.raises(NetworkError, match=r"Cannot resolve host nowhere\.example") as caught:
        fetch("http://nowhere.example/")
    assert caught.value.url == "http://nowhere.example/"
    assert caught.value.exchanges[0].error is not None
