"""URL validation, normal forms, link shims, short-link hosts and the address policy."""

from __future__ import annotations

import contextlib
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.errors import BlockedAddress, InvalidURL
from archiver.urls import (
    MAX_URL_LENGTH,
    check_address,
    check_host,
    is_shortener,
    normalise_url,
    redact_url,
    site_host,
    unshim,
    validate_url,
)

# --- validate_url --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  https://Example.COM/a?b=1#frag \n", "https://example.com/a?b=1"),
        ("HTTP://example.com", "http://example.com/"),
        ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
        ("https://例え.jp/", "https://xn--r8jz45g.jp/"),
        ("https://a.example/a b", "https://a.example/a%20b"),
        ("https://a.example/%7Euser?q=%20", "https://a.example/%7Euser?q=%20"),
        ("http://a.example:8080/x", "http://a.example:8080/x"),
        ("https://u:p@a.example/", "https://u:p@a.example/"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
        ("http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("https://my_host.example.com/", "https://my_host.example.com/"),
    ],
)
def test_validate_url(raw: str, expected: str) -> None:
    assert validate_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "example.com",
        "ftp://example.com/file",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "http:///path",
        "http://[::1",
        "http://a.example:99999/",
        "http://a..example/",
        "http://1.2.3.256/",
        "http://exa mple.com/",
        "",
    ],
)
def test_validate_url_rejects(raw: str) -> None:
    with pytest.raises(InvalidURL, match=r"Not a valid URL: .*"):
        validate_url(raw)


def test_message_names_the_expected_schemes() -> None:
    with pytest.raises(InvalidURL) as caught:
        validate_url("example.com/page")
    assert str(caught.value) == (
        "Not a valid URL: 'example.com/page' (expected http:// or https://)"
    )


def test_absurd_length_is_rejected() -> None:
    url = "https://a.example/" + "a" * MAX_URL_LENGTH
    with pytest.raises(InvalidURL, match="too long"):
        validate_url(url)
    assert validate_url(url[: MAX_URL_LENGTH - 1])


def test_redact_url() -> None:
    assert redact_url("https://u:secret@a.example/x") == "https://***@a.example/x"
    assert redact_url("https://a.example/x") == "https://a.example/x"


# --- normalise_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://Example.com:443/Path", "https://example.com/Path"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/", "http://example.com:8080/"),
        ("https://example.com./a", "https://example.com/a"),
        (
            "https://news.example/a?id=7&utm_source=tw&utm_medium=social&fbclid=x&page=2",
            "https://news.example/a?id=7&page=2",
        ),
        (
            "https://news.example/a?gclid=1&mc_eid=2&_hsenc=3&twclid=4&igshid=5",
            "https://news.example/a",
        ),
        ("https://x.com/jack/status/20?s=20&t=abc", "https://x.com/jack/status/20"),
        (
            "https://twitter.com/jack/status/20?ref_src=twsrc%5Etfw",
            "https://twitter.com/jack/status/20",
        ),
        ("https://youtu.be/dQw4w9WgXcQ?si=abc&t=42", "https://youtu.be/dQw4w9WgXcQ?t=42"),
        ("https://www.youtube.com/watch?v=x&si=abc", "https://www.youtube.com/watch?v=x"),
        ("https://example.com/video?t=42&s=1&si=2", "https://example.com/video?t=42&s=1&si=2"),
        ("https://a.example/?b=2&a=1&&", "https://a.example/?b=2&a=1"),
        ("https://a.example/?UTM_Source=x", "https://a.example/"),
    ],
)
def test_normalise_url(raw: str, expected: str) -> None:
    assert normalise_url(raw) == expected


# --- unshim --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shim", "target"),
    [
        (
            "https://www.google.com/url?sa=t&url=https%3A%2F%2Fnews.example%2Fa%3Fb%3D1&usg=x",
            "https://news.example/a?b=1",
        ),
        ("https://www.google.co.uk/url?q=https://news.example/&sa=U", "https://news.example/"),
        (
            "https://www.youtube.com/redirect?event=video_description&q=https%3A%2F%2Fa.example%2F",
            "https://a.example/",
        ),
        (
            "https://x.com/safety/unsafe_link_warning?unsafe_link=https%3A%2F%2Fa.example%2Fp",
            "https://a.example/p",
        ),
        (
            "https://www.linkedin.com/safety/go?url=https%3A%2F%2Fa.example%2F&trk=x",
            "https://a.example/",
        ),
        ("https://l.facebook.com/l.php?u=https%3A%2F%2Fa.example%2F&h=AT0", "https://a.example/"),
        ("https://lm.facebook.com/l.php?u=http%3A%2F%2Fa.example%2F", "http://a.example/"),
        (
            "https://l.facebook.com/l.php?u="
            "https%3A%2F%2Fwww.google.com%2Furl%3Fq%3Dhttps%253A%252F%252Fa.example%252F",
            "https://a.example/",
        ),
    ],
)
def test_unshim(shim: str, target: str) -> None:
    assert unshim(shim) == target


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example/url?q=https://a.example/",
        "https://www.google.com/search?q=https://a.example/",
        "https://l.facebook.com/l.php?u=javascript:alert(1)",
        "https://www.google.com/url",
        "not a url",
    ],
)
def test_unshim_leaves_other_urls(url: str) -> None:
    assert unshim(url) is None


# --- short links ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("t.co", True),
        ("T.CO.", True),
        ("www.bit.ly", True),
        ("buff.ly", True),
        ("youtu.be", True),
        ("nbcnews.to", True),
        ("example.com", False),
        ("not-t.co", False),
        ("twitter.com", False),
    ],
)
def test_is_shortener(host: str, expected: bool) -> None:
    assert is_shortener(host) is expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.Example.com/a", "example.com"),
        ("https://example.com./a", "example.com"),
        ("http://user@WWW.example.com:8080/", "example.com"),
        ("https://www2.example.com/", "www2.example.com"),
        ("https://www.www.example.com/", "www.example.com"),  # one label only
        ("https://wwwexample.com/", "wwwexample.com"),
        ("  https://news.example.org/x  ", "news.example.org"),
        ("https://[::1]:8/", "::1"),
        ("https://[::1/", ""),  # unparseable: refused later, when fetched
        ("not a url", ""),
    ],
)
def test_site_host(url: str, expected: str) -> None:
    assert site_host(url) == expected


# --- address policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "169.254.169.254 is a link-local address"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-global"),
        ("[::1]", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:169.254.169.254", "embedded IPv4 169.254.169.254"),
        ("2002:a9fe:a9fe::1", "embedded IPv4 169.254.169.254"),
        ("2130706433", "loopback"),
        ("0x7f000001", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("localhost", "local host name"),
        ("LOCALHOST.", "local host name"),
        ("admin.localhost", "local host name"),
        ("metadata.google.internal", "local host name"),
    ],
)
def test_check_host_blocks(host: str, reason: str) -> None:
    with pytest.raises(BlockedAddress) as caught:
        check_host(host, allow_private=False)
    assert reason in str(caught.value)
    assert "fetch.allow_private_networks = true" in str(caught.value)
    check_host(host, allow_private=True)


@pytest.mark.parametrize(
    "host", ["example.com", "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "t.co"]
)
def test_check_host_allows_public(host: str) -> None:
    check_host(host, allow_private=False)


def test_check_address() -> None:
    check_address("8.8.8.8")
    check_address(ipaddress.ip_address("2001:4860:4860::8888"))
    with pytest.raises(BlockedAddress, match="link-local"):
        check_address("169.254.169.254")
    with pytest.raises(BlockedAddress, match="not an IP address"):
        check_address("example.com")


# --- properties ----------------------------------------------------------------------------------

URL_PIECES = [
    "http://", "https://", "HTTP://", "ftp://", "//", ":", "@", "[", "]", "::1", "%", "%2F", "?",
    "#", "&", "=", "utm_source=x", "s=1", ".", "..", "/", " ", "\t", "\n", "example.com", "t.co",
    "xn--", "127.0.0.1", "0x7f", "www.google.com", "/url?q=", "l.php?u=", "ü", "é", "\x00", ":80",
    ":443", ":99999", "user:pw@",
]  # fmt: skip
URLISH = st.builds(
    "".join,
    st.lists(st.one_of(st.sampled_from(URL_PIECES), st.text(max_size=8)), max_size=12),
)


@given(st.one_of(st.text(), URLISH))
def test_validate_raises_only_invalid_url_and_is_stable(text: str) -> None:
    try:
        url = validate_url(text)
    except InvalidURL:
        return
    assert validate_url(url) == url
    assert url.startswith(("http://", "https://"))


@given(st.one_of(st.text(), URLISH))
def test_normalise_is_idempotent(text: str) -> None:
    try:
        once = normalise_url(text)
    except InvalidURL:
        return
    assert normalise_url(once) == once


@given(st.one_of(st.text(), URLISH))
def test_unshim_never_raises(text: str) -> None:
    result = unshim(text)
    assert result is None or result.startswith(("http://", "https://"))


@given(st.one_of(st.text(), URLISH, st.ip_addresses().map(str)))
def test_check_host_raises_only_blocked_address(text: str) -> None:
    with contextlib.suppress(BlockedAddress):
        check_host(text, allow_private=False)


def test_redact_text_takes_userinfo_out_of_every_url() -> None:
    from archiver.urls import redact_text

    line = 'GET http://bob:pw@a.example/x "200" via http://u:p@proxy:3128 and https://c.example/@me'
    assert redact_text(line) == (
        'GET http://***@a.example/x "200" via http://***@proxy:3128 and https://c.example/@me'
    )
