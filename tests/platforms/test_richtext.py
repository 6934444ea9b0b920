from __future__ import annotations

from archiver.platforms._richtext import html_to_text, urls_in_text


def test_paragraphs_breaks_and_shortened_links() -> None:
    rich = html_to_text(
        '<p>One<br>two <a href="https://example.org/a/very/long/path" rel="nofollow">'
        '<span class="invisible">https://</span><span class="ellipsis">example.org/a/very</span>'
        '<span class="invisible">/long/path</span></a></p><p>three</p>'
    )
    assert rich.text == "One\ntwo https://example.org/a/very/long/path\n\nthree"
    assert rich.links == ("https://example.org/a/very/long/path",)


def test_worded_anchor_keeps_words_and_lists_target() -> None:
    rich = html_to_text(
        '<p>Read <a href="/story?id=1">the story</a>.</p>', base_url="https://n.example/"
    )
    assert rich.text == "Read the story."
    assert rich.links == ("https://n.example/story?id=1",)


def test_mentions_hashtags_and_non_http_links_are_not_outlinks() -> None:
    rich = html_to_text(
        '<p><span class="h-card"><a href="https://a.example/@x" class="u-url mention">'
        "@<span>x</span></a></span> "
        '<a href="https://a.example/tags/t" class="mention hashtag" rel="tag">#<span>t</span></a>'
        ' <a href="?q=%23news">#news</a> <a href="mailto:x@example.org">mail me</a></p>'
    )
    assert rich.text == "@x #t #news mail me"
    assert rich.links == ()


def test_duplicate_links_listed_once_and_comments_skipped() -> None:
    rich = html_to_text(
        '<!-- wp:paragraph --><p><a href="https://e.example/">e.example</a> and '
        '<a href="https://e.example/">again</a></p>'
    )
    assert rich.text == "https://e.example/ and again"
    assert rich.links == ("https://e.example/",)


def test_urls_in_plain_text() -> None:
    assert urls_in_text("see https://a.example/x, and (https://b.example/y).") == (
        "https://a.example/x",
        "https://b.example/y",
    )
