"""The `/comments/<id>.json` listing route: the post with its media, or one comment from the
reply tree, as a Post."""

from __future__ import annotations

import html as htmllib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from archiver.errors import ParseError
from archiver.model import Media, Platform, Post
from archiver.platforms._richtext import html_to_text
from archiver.platforms._route import array
from archiver.platforms.reddit.fields import as_str, author_of, removal
from archiver.platforms.reddit.ids import BASE


def _selftext(html_text: str | None, *, base_url: str) -> tuple[str, tuple[str, ...]]:
    """Text and links of Reddit's rendered markdown (`selftext_html`, `body_html`)."""
    if not html_text:
        return "", ()
    if html_text.lstrip().startswith("&lt;"):
        html_text = htmllib.unescape(html_text)  # asked without raw_json=1
    rich = html_to_text(html_text, base_url=base_url)
    return rich.text, rich.links


def _listing_media(data: Mapping[str, Any]) -> tuple[Media, ...]:
    """Reddit-hosted video, then gallery items in gallery order, else the linked image."""
    media: list[Media] = []
    secure = data.get("secure_media") or data.get("media")
    video = secure.get("reddit_video") if isinstance(secure, Mapping) else None
    if isinstance(video, Mapping) and as_str(video.get("fallback_url")):
        duration = video.get("duration")
        media.append(
            Media(
                url=htmllib.unescape(video["fallback_url"]),
                type="gif" if video.get("is_gif") else "video",
                width=video.get("width") if isinstance(video.get("width"), int) else None,
                height=video.get("height") if isinstance(video.get("height"), int) else None,
                duration_ms=duration * 1000 if isinstance(duration, int) else None,
            )
        )
    metadata = data.get("media_metadata")
    gallery = data.get("gallery_data")
    order = (
        [i.get("media_id") for i in gallery.get("items", ()) if isinstance(i, Mapping)]
        if isinstance(gallery, Mapping)
        else list(metadata)
        if isinstance(metadata, Mapping)
        else []
    )
    captions = {
        i.get("media_id"): i.get("caption")
        for i in (gallery.get("items", ()) if isinstance(gallery, Mapping) else ())
        if isinstance(i, Mapping)
    }
    for media_id in order:
        item = metadata.get(media_id) if isinstance(metadata, Mapping) else None
        source = item.get("s") if isinstance(item, Mapping) else None
        if not isinstance(source, Mapping):
            continue
        url = as_str(source.get("u")) or as_str(source.get("gif")) or as_str(source.get("mp4"))
        if url:
            media.append(
                Media(
                    url=htmllib.unescape(url),
                    type="gif" if source.get("gif") or source.get("mp4") else "image",
                    alt=as_str(captions.get(media_id)),
                    width=source.get("x") if isinstance(source.get("x"), int) else None,
                    height=source.get("y") if isinstance(source.get("y"), int) else None,
                )
            )
    target = as_str(data.get("url_overridden_by_dest")) or as_str(data.get("url"))
    if not media and target and data.get("post_hint") == "image":
        media.append(Media(url=htmllib.unescape(target), type="image"))
    return tuple(media)


def _find_comment(listing: object, comment_id: str) -> Mapping[str, Any] | None:
    """The comment `comment_id` at any depth of a listing's reply tree."""
    if not isinstance(listing, Mapping):
        return None
    children = (
        listing.get("data", {}).get("children")
        if isinstance(listing.get("data"), Mapping)
        else None
    )
    for child in array(children):
        if not isinstance(child, Mapping) or child.get("kind") != "t1":
            continue
        data = child.get("data")
        if not isinstance(data, Mapping):
            continue
        if data.get("id") == comment_id:
            return data
        found = _find_comment(data.get("replies"), comment_id)
        if found is not None:
            return found
    return None


def parse_listing(data: Any, *, comment_id: str | None = None, via: str = "json") -> Post:
    """A `/comments/<id>.json?raw_json=1` answer (`[post listing, comment listing]`) → Post.

    With `comment_id`, the post is that comment (searched through the reply tree).
    """
    try:
        post: Mapping[str, Any] = data[0]["data"]["children"][0]["data"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ParseError("Reddit listing has no post at [0].data.children[0].data.") from exc
    if not isinstance(post, Mapping) or not as_str(post.get("id")):
        raise ParseError("Reddit listing's first child is not a post.")
    permalink = BASE + (as_str(post.get("permalink")) or f"/comments/{post['id']}/")
    if comment_id is not None:
        comment = _find_comment(data[1] if len(data) > 1 else None, comment_id)
        if comment is None:
            raise ParseError(f"Reddit listing does not contain comment {comment_id}.")
        return _comment_post(comment, permalink, via)

    text, links = _selftext(as_str(post.get("selftext_html")), base_url=permalink)
    if not post.get("selftext_html") and as_str(post.get("selftext")):
        text = post["selftext"]
    target = as_str(post.get("url_overridden_by_dest")) or as_str(post.get("url"))
    if target and not post.get("is_self") and target.startswith("http"):
        target = htmllib.unescape(target)
        links = (target, *(link for link in links if link != target))
    created = post.get("created_utc")
    extra: dict[str, Any] = {"subreddit": post.get("subreddit"), "fullname": post.get("name")}
    for key in ("score", "ups", "upvote_ratio", "num_comments", "over_18", "spoiler", "domain",
                "edited", "link_flair_text", "locked", "removed_by_category", "post_hint",
                "crosspost_parent", "is_self", "thumbnail"):  # fmt: skip
        if post.get(key) not in (None, "", [], {}):
            extra[key] = post[key]
    removed = removal(
        as_str(post.get("author")), as_str(post.get("selftext")), post.get("removed_by_category")
    )
    if removed:
        extra["removed"] = removed
    return Post(
        platform=Platform.REDDIT,
        id=post["id"],
        url=permalink,
        author=author_of(as_str(post.get("author"))),
        text=text,
        via=via,
        created_at=datetime.fromtimestamp(created, UTC)
        if isinstance(created, int | float)
        else None,
        links=links,
        media=_listing_media(post),
        title=as_str(post.get("title")),
        extra=extra,
    )


def _comment_post(comment: Mapping[str, Any], post_url: str, via: str) -> Post:
    """One comment as a Post that replies to its parent comment, or to the post."""
    permalink = as_str(comment.get("permalink"))
    url = BASE + permalink if permalink else f"{post_url.rstrip('/')}/{comment.get('id')}/"
    text, links = _selftext(as_str(comment.get("body_html")), base_url=url)
    if not comment.get("body_html") and as_str(comment.get("body")):
        text = comment["body"]
    parent = as_str(comment.get("parent_id")) or ""
    reply_to = post_url if parent.startswith("t3_") else f"{post_url.rstrip('/')}/{parent[3:]}/"
    created = comment.get("created_utc")
    extra: dict[str, Any] = {"subreddit": comment.get("subreddit"), "post_url": post_url}
    for key in ("score", "edited", "distinguished", "stickied"):
        if comment.get(key) not in (None, "", [], {}):
            extra[key] = comment[key]
    removed = removal(as_str(comment.get("author")), as_str(comment.get("body")))
    if removed:
        extra["removed"] = removed
    return Post(
        platform=Platform.REDDIT,
        id=str(comment.get("id")),
        url=url,
        author=author_of(as_str(comment.get("author"))),
        text=text,
        via=via,
        created_at=datetime.fromtimestamp(created, UTC)
        if isinstance(created, int | float)
        else None,
        links=links,
        reply_to=reply_to,
        extra=extra,
    )
