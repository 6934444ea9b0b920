"""Reddit's login walls and block pages, recognised so they are reported and never archived as
the post."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def login_wall(status: int, final_url: str, body: bytes, content_type: str | None) -> str | None:
    """Why an answer is Reddit's login wall or block page (a reason string), else None."""
    parts = urlsplit(final_url)
    if parts.path.startswith("/login") or "lor2" in parse_qs(parts.query).get("reason", []):
        return "Reddit login wall: redirected to the login page (reason=lor2); log in to read it."
    head = body[:200_000].decode("utf-8", errors="replace").lower()
    if status == 403 or (status == 429 and "whoa there" in head):
        if "whoa there" in head:
            return "Reddit login wall: 403 'whoa there, pardner!' (this address is blocked)."
        if "network security" in head or "blocked" in head:
            return "Reddit login wall: 403 'blocked by network security' (this address is blocked)."
        if (content_type or "").endswith("html"):
            return "Reddit login wall: 403 with the app shell instead of content."
    if status == 200 and (content_type or "") == "text/html":
        return "Reddit login wall: an HTML page (the app shell) came back instead of data."
    return None


def is_login(url: str) -> bool:
    """Do not fetch the login page a walled answer redirects to: the redirect is the evidence."""
    return urlsplit(url).path.startswith("/login")
