"""Render the seed article text into a realistic news page, an RSS feed and an expectations file.

Usage (from the repository root):

    python seeds/make_fixture.py [path-to-txt]

The default input is ``../shared/seeds/jack-ma-comeback.txt`` relative to the repository root; the
outputs go to ``seeds/fixture/``. The output is deterministic (no clock, no randomness) so a test can
check that the committed fixture is what this script makes from the shared text.

The page belongs to a fictional outlet, Pacific Wire. It deliberately puts the seed's own boilerplate
(the photo credit, the "Official Partner" ad label, the newsletter box and its consent line) and a
"Related stories" list in plain ``<div>``/``<p>`` elements *inside* the article container, where a
generic extractor such as trafilatura keeps them, so the pipeline's own boilerplate removal is
exercised by the seed itself.

Feed choice: the RSS feed has two items pointing at the same page. The second one is the story
re-published under an updated headline with a new guid, linked with the ``utm_*`` tracking
parameters and a ``#top`` fragment that feed services append. Both happen on real outlets' feeds
(headline updates re-issued as new items; FeedBurner-style tracking parameters), so the seed feed
exercises "two feed links to the same page make one story" without any artificial input.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from html import escape
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEED = REPO_ROOT.parent / "shared" / "seeds" / "jack-ma-comeback.txt"
FIXTURE_DIR = Path(__file__).resolve().parent / "fixture"
PAGE_NAME = "jack-ma-comeback.html"
FEED_NAME = "feed.xml"
EXPECTED_NAME = "jack-ma-comeback.expected.json"

SITE_NAME = "Pacific Wire"
SITE_ROOT = "https://www.pacificwire.example"
CANONICAL_URL = f"{SITE_ROOT}/business/2025/03/jack-ma-comeback-alibaba-ai"
AUTHOR = "Lena Whitfield"
PUBLISHED_ISO = "2025-03-14T08:30:00Z"
PUBLISHED_RFC822 = "Fri, 14 Mar 2025 08:30:00 +0000"
PUBLISHED_HUMAN = "March 14, 2025, 8:30 AM UTC"
MODIFIED_ISO = "2025-03-14T11:05:00Z"
UPDATED_RFC822 = "Fri, 14 Mar 2025 11:05:00 +0000"
IMAGE_URL = f"{SITE_ROOT}/media/2025/03/jack-ma-hangzhou.jpg"
DESCRIPTION = (
    "After years out of the spotlight, Alibaba co-founder Jack Ma is back in Hangzhou, pushing the group "
    "to bet big on artificial intelligence and overseas growth."
)

# The seed's own boilerplate lines, recognised by their shape so the script fails loudly if the
# seed changes in a way the page layout does not expect.
AD_LABELS = ("Official Partner",)
CREDIT_PREFIX = "Photo:"
NEWSLETTER_PREFIX = "Keep Up to Date"
CONSENT_PREFIX = "By pressing the Subscribe button"

# Links a reader would see under the story; none of these titles may reach the extracted text.
RELATED_STORIES = (
    (
        "/technology/2025/03/tencent-hunyuan-ai-model",
        "Tencent unveils a faster Hunyuan AI model for enterprise clients",
    ),
    ("/business/2025/03/pinduoduo-temu-earnings", "Pinduoduo profit beats forecasts as Temu expands in Europe"),
    ("/markets/2025/03/hang-seng-tech-rally", "Hang Seng Tech index extends its rally on AI optimism"),
)
COOKIE_TEXT = (
    "We use cookies to personalise content and ads, to provide social media features and to analyse our "
    "traffic. You can change your choices at any time in Cookie settings."
)
COMMENTS = (
    ("Marcus T.", "Good to see him back. Alibaba Cloud needed a push like this."),
    ("Priya S.", "I will believe the comeback when the share price shows it."),
)
AUTHOR_BIO = (
    f"{AUTHOR} is a senior business correspondent at {SITE_NAME}, covering China’s technology companies from Hong Kong."
)


@dataclass(frozen=True)
class Block:
    """One block of the seed body: a paragraph, a section heading or an ad label."""

    kind: str  # "paragraph" | "heading" | "ad-label"
    text: str


@dataclass(frozen=True)
class Seed:
    """The seed article split into its parts."""

    title: str
    credit: str
    blocks: tuple[Block, ...]
    newsletter_heading: str
    newsletter_consent: str

    @property
    def paragraphs(self) -> list[str]:
        """The article's paragraphs, in order."""
        return [b.text for b in self.blocks if b.kind == "paragraph"]

    @property
    def headings(self) -> list[str]:
        """The article's section headings, in order."""
        return [b.text for b in self.blocks if b.kind == "heading"]


def parse_seed(text: str) -> Seed:
    """Split the seed text: title, credit, body blocks (headings follow two blank lines), newsletter box."""
    text = text.replace("\r\n", "\n").strip("\n")
    # A run of two or more blank lines opens a section: its first line is the section heading.
    sections = [s.strip("\n") for s in text.split("\n\n\n")]
    first, rest = sections[0], sections[1:]
    chunks = [c.strip() for c in first.split("\n\n") if c.strip()]
    title, chunks = chunks[0], chunks[1:]
    if not chunks or not chunks[0].startswith(CREDIT_PREFIX):
        raise ValueError(f"expected a {CREDIT_PREFIX!r} credit line after the title")
    credit, chunks = chunks[0], chunks[1:]
    blocks: list[Block] = [_block(c) for c in chunks]
    for section in rest:
        parts = [c.strip() for c in section.split("\n\n") if c.strip()]
        blocks.append(Block("heading", parts[0]))
        blocks.extend(_block(c) for c in parts[1:])
    # The newsletter box closes the seed: a heading line and its consent line.
    if len(blocks) < 2 or not blocks[-2].text.startswith(NEWSLETTER_PREFIX):
        raise ValueError(f"expected the seed to end with a {NEWSLETTER_PREFIX!r} newsletter box")
    if not blocks[-1].text.startswith(CONSENT_PREFIX):
        raise ValueError(f"expected the newsletter box to end with a {CONSENT_PREFIX!r} line")
    return Seed(
        title=title,
        credit=credit,
        blocks=tuple(blocks[:-2]),
        newsletter_heading=blocks[-2].text,
        newsletter_consent=blocks[-1].text,
    )


def _block(chunk: str) -> Block:
    if "\n" in chunk:
        raise ValueError(f"unexpected line break inside a paragraph: {chunk[:60]!r}")
    return Block("ad-label" if chunk in AD_LABELS else "paragraph", chunk)


def _e(text: str) -> str:
    return escape(text, quote=True)


def _article_body(seed: Seed) -> list[str]:
    out: list[str] = []
    paragraph_count = 0
    for block in seed.blocks:
        if block.kind == "heading":
            out.append(f"        <h2>{_e(block.text)}</h2>")
        elif block.kind == "ad-label":
            # The label sits above an empty slot that the ad script fills in the browser.
            out.append(f"        <div>{_e(block.text)}</div>")
            out.append('        <div class="slot" data-slot="article-mid-1"></div>')
        else:
            out.append(f"        <p>{_e(block.text)}</p>")
            paragraph_count += 1
            if paragraph_count == 6:
                out.extend(_related_block())
    return out


def _related_block() -> list[str]:
    out = ["        <div>", "          <h3>Related stories</h3>", "          <ul>"]
    for path, title in RELATED_STORIES:
        out.append(f'            <li><a href="{_e(path)}">{_e(title)}</a></li>')
    out += ["          </ul>", "        </div>"]
    return out


def render_html(seed: Seed) -> str:
    """The article page as a Pacific Wire reader would receive it."""
    title = _e(seed.title)
    nav = ("World", "Business", "Technology", "Markets", "Opinion")
    nav_items = "\n".join(f'          <li><a href="/{n.lower()}">{n}</a></li>' for n in nav)
    share = "\n".join(
        f'          <a href="{_e(href)}">{label}</a>'
        for href, label in (
            (f"https://www.facebook.com/sharer/sharer.php?u={CANONICAL_URL}", "Share on Facebook"),
            (f"https://x.com/intent/tweet?url={CANONICAL_URL}", "Share on X"),
            (f"https://www.linkedin.com/sharing/share-offsite/?url={CANONICAL_URL}", "Share on LinkedIn"),
            (f"mailto:?subject={seed.title}&body={CANONICAL_URL}", "Email"),
        )
    )
    comments = "\n".join(
        f'        <li class="comment"><span class="comment-author">{_e(who)}</span>\n          <p>{_e(what)}</p></li>'
        for who, what in COMMENTS
    )
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '  <meta charset="utf-8">',
        '  <meta name="viewport" content="width=device-width, initial-scale=1">',
        f"  <title>{title} | {SITE_NAME}</title>",
        f'  <meta name="description" content="{_e(DESCRIPTION)}">',
        f'  <meta name="author" content="{AUTHOR}">',
        f'  <meta property="og:site_name" content="{SITE_NAME}">',
        '  <meta property="og:type" content="article">',
        f'  <meta property="og:title" content="{title}">',
        f'  <meta property="og:description" content="{_e(DESCRIPTION)}">',
        f'  <meta property="og:url" content="{CANONICAL_URL}">',
        f'  <meta property="og:image" content="{IMAGE_URL}">',
        f'  <meta property="article:published_time" content="{PUBLISHED_ISO}">',
        f'  <meta property="article:modified_time" content="{MODIFIED_ISO}">',
        '  <meta property="article:section" content="Business">',
        f'  <link rel="canonical" href="{CANONICAL_URL}">',
        '  <link rel="stylesheet" href="/static/css/site.css">',
        "</head>",
        "<body>",
        '  <div class="consent" role="dialog" aria-label="Cookie consent">',
        f"    <p>{_e(COOKIE_TEXT)}</p>",
        "    <button>Accept all</button> <button>Reject all</button> <button>Cookie settings</button>",
        "  </div>",
        '  <header class="site-header">',
        f'    <a class="logo" href="/">{SITE_NAME}</a>',
        '    <nav aria-label="Sections">',
        "      <ul>",
        nav_items,
        "      </ul>",
        "    </nav>",
        '    <a href="/subscribe">Subscribe</a> <a href="/login">Sign in</a>',
        "  </header>",
        '  <main id="main">',
        "    <article>",
        "      <header>",
        '        <a class="kicker" href="/business">Business</a>',
        f"        <h1>{title}</h1>",
        f'        <p class="byline">By <a href="/authors/lena-whitfield" rel="author">{AUTHOR}</a></p>',
        f'        <time datetime="{PUBLISHED_ISO}">{PUBLISHED_HUMAN}</time>',
        "        <div>",
        share,
        "        </div>",
        "      </header>",
        "      <figure>",
        f'        <img src="{IMAGE_URL}" alt="Jack Ma at an event in Hangzhou" width="1200" height="675">',
        f"        <figcaption>{_e(seed.credit)}</figcaption>",
        "      </figure>",
        "      <div>",
        f"        <p>{_e(seed.credit)}</p>",
        *_article_body(seed),
        "        <div>",
        f"          <p><strong>{_e(seed.newsletter_heading)}</strong></p>",
        '          <form action="/newsletter/subscribe" method="post">',
        '            <input type="email" name="email" placeholder="Your email address" required>',
        '            <button type="submit">Subscribe</button>',
        "          </form>",
        f"          <p>{_e(seed.newsletter_consent)}</p>",
        "        </div>",
        "        <div>",
        f"          <p>{_e(AUTHOR_BIO)}</p>",
        "        </div>",
        "      </div>",
        "    </article>",
        '    <section class="comments" id="comments">',
        f"      <h2>{len(COMMENTS)} comments</h2>",
        "      <ul>",
        comments,
        "      </ul>",
        "    </section>",
        "  </main>",
        '  <footer class="site-footer">',
        f"    <p>© 2025 {SITE_NAME}. All rights reserved.</p>",
        '    <a href="/privacy">Privacy Policy</a> <a href="/terms">Terms of Use</a> <a href="/contact">Contact</a>',
        "  </footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(lines)


def render_feed(seed: Seed) -> str:
    """The outlet's business-section RSS 2.0 feed, with the story linked relative to the feed."""
    update_title = "Jack Ma returns to steer Alibaba’s AI push"

    def item(title: str, link: str, guid: str, pub: str) -> list[str]:
        return [
            "    <item>",
            f"      <title>{_e(title)}</title>",
            f"      <link>{_e(link)}</link>",
            f'      <guid isPermaLink="false">{_e(guid)}</guid>',
            f"      <pubDate>{pub}</pubDate>",
            f"      <author>newsdesk@pacificwire.example ({AUTHOR})</author>",
            "      <category>Business</category>",
            f"      <description>{_e(DESCRIPTION)}</description>",
            "    </item>",
        ]

    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0">',
        "  <channel>",
        f"    <title>{SITE_NAME} — Business</title>",
        f"    <link>{SITE_ROOT}/business</link>",
        "    <description>Business news from Pacific Wire.</description>",
        "    <language>en-us</language>",
        f"    <lastBuildDate>{UPDATED_RFC822}</lastBuildDate>",
        "    <ttl>30</ttl>",
        # Newest first, as feeds list them: the re-issued item with the updated headline.
        *item(
            update_title,
            f"{PAGE_NAME}?utm_source=rss&utm_medium=feed#top",
            "pacificwire-business-2025-03-jack-ma-comeback-update-1",
            UPDATED_RFC822,
        ),
        *item(seed.title, PAGE_NAME, "pacificwire-business-2025-03-jack-ma-comeback", PUBLISHED_RFC822),
        "  </channel>",
        "</rss>",
        "",
    ]
    return "\n".join(lines)


def render_expected(seed: Seed) -> str:
    """What a correct extraction of the page yields, as JSON for tests anywhere in the project."""
    expected = {
        "page": PAGE_NAME,
        "title": seed.title,
        "author": AUTHOR,
        "published": PUBLISHED_ISO,
        "sitename": SITE_NAME,
        "canonical_url": CANONICAL_URL,
        "description": DESCRIPTION,
        "language": "en",
        # The article text a correct extraction yields, one block per line, in page order.
        "body": [b.text for b in seed.blocks if b.kind != "ad-label"],
        "headings": seed.headings,
        "paragraphs": seed.paragraphs,
        # Text on the page that must not reach the article text.
        "boilerplate": [
            seed.credit,
            *AD_LABELS,
            seed.newsletter_heading,
            seed.newsletter_consent,
            "Related stories",
            *(title for _, title in RELATED_STORIES),
            COOKIE_TEXT,
            "Accept all",
            "Share on Facebook",
            AUTHOR_BIO,
            *(what for _, what in COMMENTS),
            f"© 2025 {SITE_NAME}. All rights reserved.",
            "Privacy Policy",
            "Terms of Use",
        ],
    }
    return json.dumps(expected, ensure_ascii=False, indent=2) + "\n"


def render_all(text: str) -> dict[str, str]:
    """Every fixture file's name and content, made from the seed text."""
    seed = parse_seed(text)
    return {
        PAGE_NAME: render_html(seed),
        FEED_NAME: render_feed(seed),
        EXPECTED_NAME: render_expected(seed),
    }


def main(argv: list[str]) -> int:
    """Write the fixture files from the seed text given on the command line (or the default path)."""
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SEED
    if not source.is_file():
        print(f"seed text not found: {source}", file=sys.stderr)
        return 1
    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    for name, content in render_all(source.read_text(encoding="utf-8")).items():
        (FIXTURE_DIR / name).write_text(content, encoding="utf-8")
        print(f"wrote {FIXTURE_DIR / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
