"""X/Twitter: recognise status URLs and fetch tweets without a login.

Routes, in order: the syndication endpoint behind embedded tweets, publish.twitter.com's oEmbed,
then the third-party FxTwitter API.
"""

from __future__ import annotations

from archiver.model import Platform
from archiver.platforms.twitter.fields import parse_time
from archiver.platforms.twitter.fxtwitter import parse_fxtwitter
from archiver.platforms.twitter.ids import match, snowflake_time, status_id, status_url
from archiver.platforms.twitter.oembed import parse_oembed
from archiver.platforms.twitter.syndication import parse_syndication
from archiver.platforms.twitter.token import js_number_to_string, syndication_token

PLATFORM = Platform.TWITTER

__all__ = [
    "PLATFORM",
    "js_number_to_string",
    "match",
    "parse_fxtwitter",
    "parse_oembed",
    "parse_syndication",
    "parse_time",
    "snowflake_time",
    "status_id",
    "status_url",
    "syndication_token",
]
