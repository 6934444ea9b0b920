"""extract_page on recorded real pages, on hand-made edge cases, and on garbage."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.errors import ArchiverError
from archiver.extract import extract_page
from archiver.model import Page

DATA = Path(__file__).parent / "data"
ARTICLES = DATA / "articles"
THEHILL_ID = "6ebac05f637ece8aa57c298a2a5e3a8047f546f855d0f29cc683cea60ce85c85"
THEHILL_URL = (
    "https://thehill.com/blogs/blog-briefing-room/news/"
    "471031-new-york-man-pleads-guilty-to-threatening-to-kill-omar"
)


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _page(name: str, url: str) -> Page:
    return extract_page(_read(ARTICLES / name), url)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- recorded pages -----------------------------------------------------------------------------

TIME_URL = "https://time.com/6330957/james-hansen-climate-warning-geoengineering-study/"
WIRED_URL = "https://www.wired.com/story/israel-surveillance-state-out-of-control-west-bank/"
BBC_URL = "https://www.bbc.co.uk/news/uk-54222286"
YNA_URL = "https://en.yna.co.kr/view/AEN20190820002300325?section=nk/nk"
NIKKEI_URL = "https://www.nikkei.com/article/DGXMZO31897660Y8A610C1000000/"
ONEESPORTS_URL = "https://www.oneesports.gg/league-of-legends/t1-worlds-2023-champion/"
FOX13_URL = "https://www.fox13now.com/2013/12/30/new-year-new-laws-obamacare-pot-guns-and-drones"


@pytest.fixture(scope="module")
def time_page() -> Page:
    return _page("time_001.html", TIME_URL)


@pytest.fixture(scope="module")
def bbc_page() -> Page:
    return _page("bbc_uk_54222286_2024.html.gz", BBC_URL)


@pytest.fixture(scope="module")
def thehill_page() -> Page:
    return extract_page(_read(DATA / "aeb-mini" / "html" / f"{THEHILL_ID}.html.gz"), THEHILL_URL)


def test_time_metadata(time_page: Page) -> None:
    assert time_page.title == (
        "We Need Geoengineering to Stop Out of Control Warming, Warns Climate Scientist James Hansen"
    )
    assert time_page.authors == ("Alejandro de la Garza",)
    assert time_page.published_at == _utc(2023, 11, 2, 19, 53, 52)
    assert time_page.site_name == "TIME"
    assert time_page.canonical_url == TIME_URL
    assert time_page.language == "en"
    assert time_page.description == (
        "James Hansen alerted Congress to climate change in 1988. Now, in a controversial new "
        "paper, he has a new warning."
    )
    assert time_page.image is not None
    assert time_page.image.startswith("https://api.time.com/wp-content/uploads/2023/11/")
    assert time_page.opengraph["og:site_name"] == "TIME"
    assert time_page.twitter_card["twitter:site"] == "@TIME"
    assert time_page.warnings == ()


def test_time_text_is_the_article_without_the_reading_list(time_page: Page) -> None:
    text = time_page.text or ""
    assert text.startswith("James Hansen first warned Congress of the threat from climate change")
    assert "No outdoor experiments should be done" in text
    assert "The Best Inventions of 2023" not in text  # "more from TIME" list under the article
    assert "\n\n" in text and "\n\n\n" not in text
    assert (
        "https://www.nytimes.com/1988/06/24/us/global-warming-has-begun-expert-tells-senate.html"
        in (time_page.links)
    )
    assert all(
        link.startswith(("http://", "https://")) and "#" not in link for link in time_page.links
    )
    assert len(set(time_page.links)) == len(time_page.links)


def test_wired_metadata_and_inline_image() -> None:
    page = _page("wired_001.html.gz", WIRED_URL)
    assert page.title == "Intensified Israeli Surveillance Has Put the West Bank on Lockdown"
    assert page.authors == ("Tom Bennett",)
    # article:published_time 2023-11-07T02:00:00-05:00
    assert page.published_at == _utc(2023, 11, 7, 7, 0)
    assert page.site_name == "WIRED"
    assert page.canonical_url == WIRED_URL
    assert page.language == "en-US"
    assert "Ahmed Azza was given permission to leave his neighborhood" in (page.text or "")
    assert "https://www.amnesty.org/en/documents/mde15/6701/2023/en/" in page.links
    assert any(
        m.type == "image" and m.alt and "single person emerging from the shadows" in m.alt
        for m in page.media
    )


def test_bbc_text_without_navigation_and_footer(bbc_page: Page) -> None:
    assert bbc_page.title == (
        "Coronavirus: £10,000 fines for failing to self-isolate and lockdown life in photos"
    )
    assert bbc_page.site_name == "BBC News"
    assert bbc_page.language == "en-GB"
    assert bbc_page.canonical_url == BBC_URL
    assert bbc_page.published_at == _utc(2020, 9, 20, 6, 33, 33)
    text = bbc_page.text or ""
    assert "From 28 September, those who refuse an order to self-isolate could be fined" in text
    assert "Singapore rolls out tracing tokens" in text
    for boilerplate in (
        "Skip to content",
        "Accessibility Help",
        "Terms of Use",
        "Parental Guidance",
    ):
        assert boilerplate not in text
    assert "https://www.bbc.co.uk/news/uk-54221953" in bbc_page.links
    # Navigation and footer links are not content links.
    for nav_link in (
        "https://www.bbc.co.uk/sport",
        "https://www.bbc.co.uk/",
        "https://www.bbc.co.uk/news",
    ):
        assert nav_link not in bbc_page.links
    assert not any("/accessibility" in link for link in bbc_page.links)
    assert [m.alt for m in bbc_page.media][:2] == [
        "Chart shows daily cases are continuing to rise",
        "British Airways plane",
    ]


def test_yonhap_dates_in_korean_time_become_utc() -> None:
    page = _page("yna_co_kr.html", YNA_URL)
    assert page.title == "N. Korea slams S. Korea for joint military drill, warns of consequences"
    assert page.published_at == _utc(2019, 8, 20, 0, 31, 1)  # 09:31:01+09:00
    assert page.site_name == "Yonhap News Agency"
    # The query string differs from the page URL; the canonical drops it.
    assert page.canonical_url == "https://en.yna.co.kr/view/AEN20190820002300325"
    # The only author given is a JSON-LD Person with an empty name and a URL: no name at all.
    assert page.authors == ()
    assert (page.text or "").startswith(
        "SEOUL, Aug. 20 (Yonhap) -- North Korea's official newspaper"
    )


def test_japanese_page() -> None:
    page = _page("japanese_article.html", NIKKEI_URL)
    assert page.language == "ja"
    assert page.authors == ("日本経済新聞社",)
    assert page.site_name == "日本経済新聞 電子版"
    assert page.published_at == _utc(2018, 6, 18, 20, 50)  # 2018-06-19T05:50:00+09:00
    assert "６月12日の歴史的な米朝首脳会談を巡って戦っていたのは" in (page.text or "")


def test_oneesports_keeps_an_author_with_a_quoted_nickname() -> None:
    page = _page("video_article_02.html", ONEESPORTS_URL)
    assert page.authors == ('Amanda "Tania Mae" Tan',)
    assert page.published_at == _utc(2023, 11, 19, 11, 18, 44)
    assert page.modified_at == _utc(2023, 11, 19, 12, 31, 10)
    assert page.site_name == "ONE Esports"
    assert (page.text or "").startswith("T1 are your Worlds 2023 champions!")
    # The article sits inside a page wrapper named "advert-content-wrap": its links still count.
    assert (
        "https://www.oneesports.gg/league-of-legends/heartsteel-worlds-2023-opening/" in page.links
    )
    # "READ MORE: <headline>" under the article is a related link, neither text nor content link.
    assert "READ MORE" not in (page.text or "")
    assert (
        "https://www.oneesports.gg/league-of-legends/changes-worlds-2024-format/" not in page.links
    )


def test_fox13_canonical_elsewhere_and_organization_author() -> None:
    page = _page("fox13now_001.html", FOX13_URL)
    assert page.title == "New Year, new laws: Obamacare, pot, guns and drones"
    assert page.authors == ("CNN Wire",)
    assert page.canonical_url == (
        "https://localtvkstu.wordpress.com/2013/12/30/new-year-new-laws-obamacare-pot-guns-and-drones/"
    )
    assert "Not everyone subscribes to a New Year’s resolution" in (page.text or "")


def test_embedded_tweet_is_found(thehill_page: Page) -> None:
    assert thehill_page.embedded_posts == ("https://twitter.com/Ilhan/status/1196847767764815872",)
    assert thehill_page.title == "New York man pleads guilty to threatening to kill Omar"
    assert thehill_page.authors == ("Justine Coleman",)
    assert thehill_page.site_name == "TheHill"
    assert "Updated at 1:23 p.m." in (thehill_page.text or "")


def test_benchmark_pages_match_their_ground_truth() -> None:
    from bench.aeb_metric import score_page

    truth = json.loads((DATA / "aeb-mini" / "ground-truth.json").read_text(encoding="utf-8"))
    for page_id, item in truth.items():
        html = _read(DATA / "aeb-mini" / "html" / f"{page_id}.html.gz")
        score = score_page(item["articleBody"], extract_page(html, item["url"]).text or "")
        assert score.tp / (score.tp + score.fn) > 0.95, page_id
        assert score.tp / (score.tp + score.fp) > 0.7, page_id


# --- hand-made edge cases -----------------------------------------------------------------------

ARTICLE_PARAGRAPHS = "".join(
    f"<p>Paragraph {i} of the article says something long enough to count as prose, with "
    f"<a href='/story/{i}#section'>a link</a> and more words after it.</p>"
    for i in range(8)
)


def _doc(head: str = "", body: str = ARTICLE_PARAGRAPHS, html_attrs: str = "") -> str:
    return (
        f"<!DOCTYPE html><html {html_attrs}><head>{head}</head><body>"
        "<nav><a href='/'>Home</a><a href='/world'>World</a></nav>"
        f"<article>{body}</article>"
        "<footer><a href='/about'>About us</a> Copyright</footer></body></html>"
    )


def _jsonld(data: str) -> str:
    return f'<script type="application/ld+json">{data}</script>'


def test_graph_list_type_author_reference_and_by_prefix() -> None:
    head = _jsonld(
        json.dumps(
            {
                "@context": "https://schema.org",
                "@graph": [
                    {"@type": "WebSite", "name": "Example Times"},
                    {
                        "@type": ["NewsArticle", "ReportageNewsArticle"],
                        "headline": "A headline",
                        "author": [{"@id": "#jane"}, "By John Roe", "https://example.com/staff/x"],
                        "datePublished": "2024-03-01T10:15:30.250+01:00",
                        "dateModified": "2024-03-02",
                        "inLanguage": "de_AT",
                        "publisher": {"@type": "Organization", "name": "Example Media"},
                    },
                    {"@id": "#jane", "@type": "Person", "name": "Jane Doe"},
                ],
            }
        )
    )
    page = extract_page(_doc(head), "https://example.com/news/a")
    assert page.title == "A headline"
    assert page.authors == ("Jane Doe", "John Roe")
    assert page.published_at == datetime(2024, 3, 1, 9, 15, 30, 250000, tzinfo=UTC)
    assert page.modified_at == _utc(2024, 3, 2)
    assert page.language == "de-AT"
    assert page.site_name == "Example Media"
    assert len(page.jsonld) == 1


def test_broken_jsonld_is_repaired_or_skipped_with_a_warning() -> None:
    head = (
        _jsonld(
            '{"@type": "BlogPosting", "headline": "Line one\nline two", '
            '"description": "Quotes "inside", unescaped, "as published"",\n'
            '"author": {"@type": "Person", "name": "Ann Lee",},}'
        )
        + _jsonld("{&quot;@type&quot;: &quot;WebPage&quot;, &quot;name&quot;: &quot;x&quot;}")
        + _jsonld("{this is not json at all")
    )
    page = extract_page(_doc(head), "https://example.com/post")
    assert page.title == "Line one line two"
    assert page.description == 'Quotes "inside", unescaped, "as published"'
    assert page.authors == ("Ann Lee",)
    assert [block.get("@type") for block in page.jsonld] == ["BlogPosting", "WebPage"]
    assert sum("repaired" in w for w in page.warnings) == 2
    assert any("block 3 skipped" in w for w in page.warnings)


def test_meta_fallbacks_opengraph_lists_twitter_property_and_locale() -> None:
    head = (
        "<title>Plain title - Site Name</title>"
        '<meta property="og:site_name" content="Site Name">'
        '<meta property="og:image" content="/img/a.jpg"><meta property="og:image" content="/img/b.jpg">'
        '<meta property="og:locale" content="en_GB">'
        '<meta property="article:published_time" content="2019-11-19T08:57:40+01:00">'
        '<meta property="twitter:card" content="summary">'
        '<meta name="author" content="By Sam Smith and Alex Jones">'
        '<meta name="description" content="What it is about.">'
        '<link rel="canonical" href="/news/a?x=1">'
    )
    page = extract_page(_doc(head), "https://example.com/news/a?utm_source=feed")
    assert page.title == "Plain title"
    assert page.site_name == "Site Name"
    assert page.opengraph["og:image"] == ["/img/a.jpg", "/img/b.jpg"]
    assert page.image == "https://example.com/img/a.jpg"
    assert page.language == "en-GB"
    assert page.published_at == _utc(2019, 11, 19, 7, 57, 40)
    assert page.twitter_card == {"twitter:card": "summary"}
    assert page.authors == ("Sam Smith", "Alex Jones")
    assert page.description == "What it is about."
    assert page.canonical_url == "https://example.com/news/a?x=1"


def test_canonical_pointing_at_the_homepage_is_ignored() -> None:
    head = '<link rel="canonical" href="https://example.com/">'
    assert extract_page(_doc(head), "https://example.com/2024/01/story").canonical_url is None
    assert extract_page(_doc(head), "https://example.com/").canonical_url == "https://example.com/"


def test_html_lang_wins_and_is_normalised() -> None:
    page = extract_page(
        _doc('<meta property="og:locale" content="fr_FR">', html_attrs='lang="EN-us"'),
        "https://example.com/a",
    )
    assert page.language == "en-US"


def test_links_come_from_the_article_only_without_fragments_or_repeats() -> None:
    page = extract_page(_doc(), "https://example.com/news/a")
    assert page.links == tuple(f"https://example.com/story/{i}" for i in range(8))


def test_embedded_posts_of_every_kind() -> None:
    embeds = (
        '<blockquote class="twitter-tweet"><p>Hi <a href="https://t.co/abc">pic.twitter.com/abc</a></p>'
        '&mdash; Someone (@someone) <a href="https://twitter.com/someone/status/123?ref_src=twsrc">'
        "Jan 1</a></blockquote>"
        '<blockquote class="instagram-media" data-instgrm-permalink='
        '"https://www.instagram.com/p/CxYz123/?utm_source=ig_embed"></blockquote>'
        '<blockquote class="tiktok-embed" cite="https://www.tiktok.com/@user/video/7212345678901234567">'
        "</blockquote>"
        '<blockquote class="bluesky-embed" data-bluesky-uri='
        '"at://did:plc:abc123/app.bsky.feed.post/3kxyz"></blockquote>'
        '<iframe src="https://mastodon.social/@Gargron/112345678901234567/embed"></iframe>'
        '<iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?start=3"></iframe>'
    )
    page = extract_page(_doc(body=ARTICLE_PARAGRAPHS + embeds), "https://example.com/news/a")
    assert page.embedded_posts == (
        "https://twitter.com/someone/status/123",
        "https://www.instagram.com/p/CxYz123/",
        "https://www.tiktok.com/@user/video/7212345678901234567",
        "https://bsky.app/profile/did:plc:abc123/post/3kxyz",
        "https://mastodon.social/@Gargron/112345678901234567",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    )


def test_charset_from_the_transport_and_from_the_document() -> None:
    html = _doc(body="<p>" + "Über Änderungen läßt sich streiten. " * 10 + "</p>")
    assert "Über Änderungen" in (
        extract_page(html.encode("cp1252"), "https://x.example/a", charset="windows-1252").text
        or ""
    )
    declared = html.replace("<head>", '<head><meta charset="iso-8859-1">')
    assert "Über Änderungen" in (
        extract_page(declared.encode("latin-1"), "https://x.example/a").text or ""
    )
    # Declared Latin-1 but served as UTF-8, a common mistake: the bytes win, with a warning.
    page = extract_page(declared.encode("utf-8"), "https://x.example/a")
    assert "Über Änderungen" in (page.text or "")
    assert page.warnings == ("page declares charset iso8859-1 but is valid UTF-8; read as UTF-8",)


SPANISH = (
    "El ministro señaló que la economía española crecerá este año más de lo previsto, según "
    "los datos del Instituto Nacional de Estadística, aunque la inflación sigue alta. "
)


def test_a_latin1_page_labelled_utf8_is_read_as_windows_1252() -> None:
    html = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><article>'
        + f"<p>{SPANISH}</p>" * 4
        + "</article></body></html>"
    )
    page = extract_page(html.encode("latin-1"), "https://x.example/a", charset="utf-8")
    # It decodes cleanly as windows-1250 too (ñ becomes ń), and detection scores both alike.
    assert "El ministro señaló que la economía española" in (page.text or "")
    assert any("not valid in its declared charset" in w for w in page.warnings)


@pytest.mark.parametrize("html", [b"", "   ", "<html></html>", b"\x00\x01\x02", "<<<>>>", "<p>x"])
def test_empty_and_tiny_input_gives_a_page_not_an_error(html: bytes | str) -> None:
    page = extract_page(html, "https://example.com/")
    assert isinstance(page, Page)
    assert page.text is None or page.text.strip() == page.text


def test_absurd_nesting_gives_a_page() -> None:
    html = "<html><body>" + "<div>" * 20000 + "deep text" + "</div>" * 20000 + "</body></html>"
    assert isinstance(extract_page(html, "https://example.com/deep"), Page)


# --- garbage never raises anything but ArchiverError ---------------------------------------------

_TAGS = st.sampled_from(
    [
        "p",
        "div",
        "a",
        "article",
        "script",
        "blockquote",
        "iframe",
        "meta",
        "td",
        "nav",
        "html",
        "body",
        "head",
        "title",
        "link",
        "li",
        "ul",
        "br",
        "img",
    ]
)
_ATTRS = st.sampled_from(
    [
        "",
        ' class="twitter-tweet"',
        ' href="https://t.co/x"',
        ' lang="en_US"',
        ' property="og:title" content="x"',
        ' rel="canonical" href="//"',
        ' type="application/ld+json"',
        ' src="https://www.youtube.com/embed/"',
        ' name="author" content="By https://x"',
        ' datetime="2024-13-45"',
    ]
)
_FRAGMENT = st.one_of(
    st.text(max_size=40),
    st.builds(lambda t, a: f"<{t}{a}>", _TAGS, _ATTRS),
    st.builds(lambda t: f"</{t}>", _TAGS),
)
_JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "@type",
                    "@graph",
                    "@id",
                    "author",
                    "name",
                    "headline",
                    "datePublished",
                    "inLanguage",
                    "publisher",
                    "image",
                    "articleBody",
                    "url",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)


def _extract_or_archiver_error(html: str | bytes) -> None:
    try:
        page = extract_page(html, "https://example.com/a/b")
    except ArchiverError:
        return
    assert isinstance(page, Page)
    assert all(isinstance(link, str) for link in page.links)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENT, max_size=60).map("".join))
def test_random_html_never_raises_other_errors(html: str) -> None:
    _extract_or_archiver_error(html)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_other_errors(data: bytes) -> None:
    _extract_or_archiver_error(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_JSON_VALUE, st.sampled_from(["", ",", "\n", "&quot;", "}", "{"]))
def test_random_jsonld_never_raises_other_errors(value: object, garble: str) -> None:
    text = json.dumps(value)
    text = text[: len(text) // 2] + garble + text[len(text) // 2 :]
    _extract_or_archiver_error(_doc(_jsonld(text)))


def test_a_failing_extractor_leaves_a_warning_and_readability_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trafilatura.core

    def broken(*args: object, **kwargs: object) -> None:
        raise IndexError("boom")

    monkeypatch.setattr(trafilatura.core, "bare_extraction", broken)
    page = extract_page(_doc(), "https://example.com/news/a")
    assert any("main-text extraction failed: IndexError: boom" in w for w in page.warnings)
    assert (page.text or "").startswith("Paragraph 0 of the article says something long enough")


def test_an_unexpected_bug_surfaces_as_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import archiver.extract as extract_module

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(extract_module, "read_metadata", broken)
    with pytest.raises(
        ArchiverError, match=r"extracting the page at https://example\.com/x failed"
    ):
        extract_page(_doc(), "https://example.com/x")


def test_text_index_finds_blocks_by_paragraph_word_start_or_search() -> None:
    from archiver.extract.text import TextIndex, squash

    short = TextIndex("First paragraph here.\n- a list item\nTour: FLJune 10 -- Tampa, FL")
    assert squash("a list item") in short  # trafilatura's "- " bullet is not part of the block
    assert squash("June 10 -- Tampa, FL") in short  # glued to the previous word, still found
    assert squash("paragraph here") in short
    assert squash("not in the text at all") not in short
    words = " ".join(f"word{i}" for i in range(30000))
    long = TextIndex(words)
    assert len(long.squashed) > 100_000
    assert squash("word20000 word20001 word20002") in long
    assert squash("ord20000 word20001 word20002") not in long  # not at a word start: not searched
