"""URL hygiene without I/O: validation, normal forms for lookups, link shims, the address policy.

Everything here is pure so the same rules apply when a URL is typed by a user, found in a post, or
handed back by a server as a redirect.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from urllib.parse import parse_qsl, quote, unquote_plus, urlsplit, urlunsplit

import idna

from archiver.errors import BlockedAddress, InvalidURL

MAX_URL_LENGTH = 8192

_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters a DNS name may carry in practice (underscores appear in real host names).
_ASCII_HOST = re.compile(r"^[a-z0-9_.-]+$")
# A host whose last label is a number is an IPv4 address in one of the forms inet_aton accepts
# (decimal, octal, hex, shortened), as browsers and libc read it.
_NUMERIC_LAST_LABEL = re.compile(r"(?:^|\.)(?:0x[0-9a-f]*|[0-9]+)\.?$")
# Percent-encode what must not appear raw; keep reserved characters and existing escapes.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"

PRIVATE_NETWORK_HINT = "(set fetch.allow_private_networks = true to archive private networks)"
_HINT = PRIVATE_NETWORK_HINT


def _invalid(url: str) -> InvalidURL:
    shown = url if len(url) <= 200 else url[:200] + "…"
    return InvalidURL(f"Not a valid URL: {shown!r} (expected http:// or https://)")


def _numeric_ipv4(host: str) -> str | None:
    """Dotted form of a host written as a number (`2130706433`, `0x7f.1`, `0177.0.0.1`), if so."""
    if not _NUMERIC_LAST_LABEL.search(host):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host.rstrip(".")))
    except (OSError, ValueError):
        return ""


def _encode_host(host: str, url: str) -> str:
    """Lower-case ASCII host: IDNA for international names, dotted form for numeric IPv4."""
    if ":" in host:
        try:
            return f"[{ipaddress.IPv6Address(host.split('%', 1)[0]).compressed}]"
        except ValueError:
            raise _invalid(url) from None
    host = host.lower()
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise InvalidURL(
                    f"Not a valid URL: {url!r} (the host name cannot be encoded)"
                ) from None
        host = host.lower()
    if not host or not _ASCII_HOST.match(host) or host.strip(".") == "" or ".." in host:
        raise _invalid(url)
    numeric = _numeric_ipv4(host)
    if numeric == "":
        raise InvalidURL(f"Not a valid URL: {url!r} (the host looks like a malformed IPv4 address)")
    return numeric or host


def validate_url(url: str) -> str:
    """Return `url` as a clean absolute http(s) URL, or raise InvalidURL saying why not."""
    if not isinstance(url, str):
        raise InvalidURL(f"Not a valid URL: {url!r} (expected a string)")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(
            f"URL is too long ({len(url)} characters; the limit is {MAX_URL_LENGTH}): {url[:100]}…"
        )
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise _invalid(url) from None
    if scheme not in _SCHEMES or not host:
        raise _invalid(url)
    host = _encode_host(host, url)
    netloc = host
    if port is not None:
        netloc = f"{host}:{port}"
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        netloc = f"{quote(userinfo, safe=':%!$&()*+,;=-._~')}@{netloc}"
    path = quote(parts.path, safe=_PATH_SAFE) or "/"
    query = quote(parts.query, safe=_QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


_USERINFO = re.compile(r"(//)[^/@\s]+@")


def redact_text(text: str) -> str:
    """`text` with user:password@ taken out of every URL in it (log lines, exception texts)."""
    return _USERINFO.sub(r"\1***@", text)


def redact_url(url: str) -> str:
    """`url` without user:password, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


# --- normal form -------------------------------------------------------------------------------

_TRACKING = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "mc_eid", "mc_cid", "_hsenc", "_hsmi", "igshid", "igsh", "_ga", "_gl", "mkt_tok",
        "oly_anon_id", "oly_enc_id", "vero_id", "__s", "ref_src", "ref_url", "rb_clickid",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_",)
# Parameters that only track on particular sites (they mean something elsewhere).
_SITE_TRACKING: tuple[tuple[tuple[str, ...], frozenset[str]], ...] = (
    (("twitter.com", "x.com"), frozenset({"s", "t", "ref_src", "ref_url", "src"})),
    (("youtube.com", "youtu.be"), frozenset({"si", "feature", "pp"})),
    (("open.spotify.com",), frozenset({"si", "nd"})),
    (("reddit.com",), frozenset({"share_id", "rdt"})),
    (("instagram.com",), frozenset({"igsh", "img_index"})),
    (("linkedin.com",), frozenset({"trk", "trackingid", "lipi", "rcm"})),
)


def _host_matches(host: str, suffixes: tuple[str, ...]) -> bool:
    return any(host == s or host.endswith("." + s) for s in suffixes)


def _is_tracking(key: str, host: str) -> bool:
    key = key.lower()
    if key in _TRACKING or key.startswith(_TRACKING_PREFIXES):
        return True
    return any(key in keys for hosts, keys in _SITE_TRACKING if _host_matches(host, hosts))


@functools.lru_cache(maxsize=4096)
def normalise_url(url: str) -> str:
    """A comparable form of `url` for lookups: lower-case host, no default port, no trackers.

    Cached: a batch looks up every URL several times, and IDNA checks are not cheap.
    """
    parts = urlsplit(validate_url(url))
    host = parts.hostname or ""
    host = host.rstrip(".") if not host.startswith("[") else host
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.port is not None and parts.port != _DEFAULT_PORTS[parts.scheme]:
        netloc = f"{host}:{parts.port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and not _is_tracking(unquote_plus(piece.split("=", 1)[0]), host)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(kept), ""))


# --- link shims ---------------------------------------------------------------------------------

_GOOGLE = re.compile(r"^(?:www\.)?google\.(?:[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})$")


def _shim_target(host: str, path: str, query: str) -> str | None:
    params = dict(parse_qsl(query, keep_blank_values=True))
    if _GOOGLE.match(host) and path == "/url":
        return params.get("q") or params.get("url")
    if _host_matches(host, ("youtube.com",)) and path == "/redirect":
        return params.get("q")
    if _host_matches(host, ("x.com", "twitter.com")) and path.endswith("/unsafe_link_warning"):
        return params.get("unsafe_link")
    if _host_matches(host, ("linkedin.com",)) and path == "/safety/go":
        return params.get("url")
    if _host_matches(host, ("facebook.com", "messenger.com")) and path in ("/l.php", "/l/"):
        return params.get("u")
    if host == "l.instagram.com" and path == "/":
        return params.get("u")
    if _host_matches(host, ("vk.com",)) and path == "/away.php":
        return params.get("to")
    return None


def unshim(url: str) -> str | None:
    """The destination a link shim (Google /url, l.facebook.com …) points to, decoded locally."""
    found: str | None = None
    for _ in range(3):  # shims wrapped in shims, but not forever
        try:
            parts = urlsplit(validate_url(url))
        except InvalidURL:
            return found
        target = _shim_target(parts.hostname or "", parts.path, parts.query)
        if target is None:
            return found
        try:
            url = found = validate_url(target)
        except InvalidURL:
            return found
    return found


# --- short links ---------------------------------------------------------------------------------

SHORTENERS = frozenset(
    {
        "t.co", "bit.ly", "bitly.com", "buff.ly", "ow.ly", "tinyurl.com", "is.gd", "goo.gl",
        "lnkd.in", "nbcnews.to", "trib.al", "dlvr.it", "redd.it", "youtu.be", "fb.me", "wp.me",
        "amzn.to", "amzn.eu", "tiny.cc", "rb.gy", "cutt.ly", "shorturl.at", "t.ly", "v.gd",
        "bl.ink", "rebrand.ly", "ift.tt", "trib.in", "on.ft.com", "nyti.ms", "wapo.st", "reut.rs",
        "bbc.in", "cnn.it", "econ.st", "bloom.bg", "politi.co", "hubs.ly", "hubs.la", "mailchi.mp",
        "spoti.fi", "apple.co", "g.co", "forms.gle", "maps.app.goo.gl", "flip.it", "shar.es",
        "su.pr", "po.st", "s.id", "linktr.ee", "aka.ms", "msft.it", "dy.si", "tr.im", "x.co",
        "qr.ae", "snip.ly", "vm.tiktok.com", "vt.tiktok.com", "pin.it", "tcrn.ch",
    }
)  # fmt: skip


def site_host(url: str) -> str:
    """The host a site's politeness limits count against ('' when the URL has none).

    Lower-case, without a trailing dot or a leading `www.` label: www.example.com and
    example.com are one site to be polite to, in CLI batches and in the daemon's queue alike.
    """
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:  # refused with a clear error when fetched
        return ""
    return host.lower().rstrip(".").removeprefix("www.")


def is_shortener(host: str) -> bool:
    """True for well-known short-link hosts, whose only content is a redirect."""
    host = host.lower().rstrip(".")
    host = host.removeprefix("www.")
    return host in SHORTENERS


# --- address policy (SSRF guard) -----------------------------------------------------------------

_LOCAL_SUFFIXES = ("localhost", "localdomain", "local", "internal", "home.arpa", "lan")


def check_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | str) -> None:
    """Raise BlockedAddress unless `ip` is a public unicast address."""
    try:
        addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    except ValueError:
        raise BlockedAddress(f"{ip} is not an IP address {_HINT}") from None
    reason = address_problem(addr)
    if reason:
        raise BlockedAddress(f"{ip} is {reason} {_HINT}")


def address_problem(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why `addr` must not be fetched ("a loopback address" …), or None for public unicast."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            addr = ipaddress.IPv6Address(str(addr).split("%", 1)[0])
        embedded = addr.ipv4_mapped or addr.sixtofour or (addr.teredo or (None, None))[1]
        if embedded is not None:
            inner = address_problem(embedded)
            if inner:
                return f"{inner} (embedded IPv4 {embedded})"
    checks = (
        (addr.is_unspecified, "an unspecified address"),
        (addr.is_loopback, "a loopback address"),
        (addr.is_link_local, "a link-local address"),
        (addr.is_multicast, "a multicast address"),
        (addr.is_reserved, "a reserved address"),
        (addr.is_private, "a private address"),
        (not addr.is_global, "a non-global address"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None


def check_host(host: str, *, allow_private: bool) -> None:
    """Raise BlockedAddress for literal non-public IPs and local-only names like `localhost`.

    Names are resolved (and the addresses checked) when connecting; this catches what can be
    refused without DNS, which is all that can be checked when a proxy resolves the name.
    """
    if allow_private:
        return
    name = host.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        addr = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        numeric = _numeric_ipv4(name)
        if numeric == "":
            raise BlockedAddress(f"{host} is a malformed numeric address {_HINT}") from None
        if numeric is None:
            for suffix in _LOCAL_SUFFIXES:
                if name == suffix or name.endswith("." + suffix):
                    raise BlockedAddress(f"{host} is a local host name {_HINT}") from None
            return
        addr = ipaddress.ip_address(numeric)
    check_address(addr)
