"""Raw guideline web pages: a guideline in Markdown wrapped in a site's chrome (skip link, cookie banner, navigation,
breadcrumbs, footer), in the encodings old and new sites really use.

``windows-1252``: an old page declaring the code page in a meta tag, with curly quotes, degree and micro signs.
``utf-8-mojibake``: a UTF-8 page whose typographic characters were double-encoded (UTF-8 bytes read as cp1252 and
saved again as UTF-8), the "â€™" / "Ã©" damage the cleaners must repair.
"""

from __future__ import annotations

import html
import random
import re

SITE = "Northfield Health Guidance"
NAV = ("Home", "Guidance", "Conditions", "Medicines", "Training", "About us", "Contact")
TYPO = str.maketrans({"'": "’"})


def _inline(text: str, typographic: bool) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r'<a href="\2">\1</a>', out)
    out = re.sub(r"(?<![\"=>])(https?://[^\s<]+[^\s<.,;)])", r'<a href="\1">\1</a>', out)
    if typographic:
        out = re.sub(r"(?<=\w)'(?=\w)", "’", out)
        out = out.replace(" - ", " – ")
    return out


def markdown_to_html(md: str, typographic: bool = False) -> str:
    """Enough Markdown for the sample's guidelines: headers, paragraphs, two-level bullet lists, numbered lists."""
    out: list[str] = []
    in_ul = in_sub = in_ol = False

    def close_lists() -> None:
        nonlocal in_ul, in_sub, in_ol
        if in_sub:
            out.append("</ul></li>")
            in_sub = False
        if in_ul:
            out.append("</ul>")
            in_ul = False
        if in_ol:
            out.append("</ol>")
            in_ol = False

    for line in md.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if m := re.match(r"^(#{1,6}) (.*)$", stripped):
            close_lists()
            level = min(len(m.group(1)) + (0 if len(m.group(1)) > 1 else 0), 6)
            out.append(f"<h{level}>{_inline(m.group(2), typographic)}</h{level}>")
        elif re.match(r"^(o|-) ", stripped) and line.startswith("  "):
            if not in_sub:
                if out and out[-1].endswith("</li>"):
                    out[-1] = out[-1][: -len("</li>")]
                out.append("<ul>")
                in_sub = True
            out.append(f"<li>{_inline(stripped[2:], typographic)}</li>")
        elif re.match(r"^[-*•] ", stripped):
            if in_sub:
                out.append("</ul></li>")
                in_sub = False
            if not in_ul:
                close_lists()
                out.append("<ul>")
                in_ul = True
            out.append(f"<li>{_inline(stripped[2:], typographic)}</li>")
        elif m := re.match(r"^(\d+)\. (.*)$", stripped):
            if not in_ol:
                close_lists()
                out.append("<ol>")
                in_ol = True
            out.append(f"<li>{_inline(m.group(2), typographic)}</li>")
        else:
            close_lists()
            out.append(f"<p>{_inline(stripped, typographic)}</p>")
    close_lists()
    return "\n".join(out)


def _mojibake(text: str) -> str:
    """Double-encode the non-ASCII characters the way a misconfigured CMS does."""

    def bad(ch: str) -> str:
        try:
            return ch.encode("utf-8").decode("cp1252")
        except UnicodeDecodeError:
            return ch

    return "".join(bad(c) if ord(c) > 127 else c for c in text)


def render_page(title: str, md: str, encoding: str, rng: random.Random, page: int) -> bytes:
    """The full page as bytes in its declared encoding."""
    typographic = encoding != "utf-8" or page % 2 == 0
    body = markdown_to_html(md, typographic=typographic)
    note = ("<p class=\"note\">Doses in this guidance are given in mg or µg per kg of body weight; temperatures are "
            "in °C. “Child” means a person under 16 years of age.</p>")
    ack = ("<h2>Acknowledgements</h2><p>We thank the patients and carers who reviewed the draft, and Prof. Hélène "
           "Dupré, Dr Seán O’Connor and the members of the guideline committee for their work.</p>")
    charset = "windows-1252" if encoding == "windows-1252" else "utf-8"
    meta = (f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">' if page % 2 == 0
            else f'<meta charset="{charset}">')
    nav = "".join(f'<li><a href="/{n.lower().replace(" ", "-") if n != "Home" else ""}">{n}</a></li>' for n in NAV)
    crumb = html.escape(title.split(":")[0].split(" — ")[0])
    first_p = body.find("</p>") + len("</p>")  # the note sits under the date line, as on real pages
    article = f"{body[:first_p]}\n{note}{body[first_p:]}\n{ack}"
    if encoding == "utf-8-mojibake":
        article = _mojibake(article)
    updated = f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/{rng.randint(2015, 2023)}"
    page_html = f"""<!DOCTYPE html>
<html lang="en">
<head>
{meta}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} | {SITE}</title>
<link rel="stylesheet" href="/assets/css/site.min.css">
<script async src="/assets/js/analytics.js"></script>
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}</script>
</head>
<body class="guidance-page">
<a class="skip-link" href="#main-content">Skip to content</a>
<div id="cookie-banner" class="cookie-banner" role="dialog" aria-label="Cookies on {SITE}">
<p>We use some essential cookies to make this website work. We would also like to set analytics cookies to understand how you use the site.</p>
<button type="button" class="btn">Accept analytics cookies</button> <button type="button" class="btn">Reject analytics cookies</button> <a href="/cookies">View cookies</a>
</div>
<header class="site-header">
<a href="/" class="logo">{SITE}</a>
<nav aria-label="Main menu"><ul>{nav}</ul></nav>
<form class="search" action="/search" role="search"><label for="q">Search this site</label><input id="q" name="q" type="search"><button type="submit">Search</button></form>
</header>
<div class="breadcrumbs"><a href="/">Home</a> &gt; <a href="/guidance">Guidance</a> &gt; {crumb}</div>
<main id="main-content">
<div class="page-tools"><p>Print this page</p><p>Share</p></div>
<article class="guidance">
{article}
<p><a href="#top">Back to top</a></p>
</article>
</main>
<aside class="related"><h2>Related guidance</h2><ul><li><a href="/guidance/sepsis">Sepsis: recognition and early management</a></li><li><a href="/guidance/antimicrobial-prescribing">Antimicrobial prescribing</a></li></ul></aside>
<footer class="site-footer">
<p>Page last reviewed: {updated}</p>
<ul><li><a href="/accessibility">Accessibility statement</a></li><li><a href="/privacy">Privacy notice</a></li><li><a href="/terms">Terms and conditions</a></li><li><a href="/contact">Contact us</a></li></ul>
<p>© {SITE} 2024. All rights reserved.</p>
</footer>
</body>
</html>
"""
    if encoding == "windows-1252":
        return page_html.encode("cp1252", errors="xmlcharrefreplace")
    return page_html.encode("utf-8")
