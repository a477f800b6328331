"""A CDC MMWR mirror for the guideline crawler tests: the real pages of ../shared (when present) at their real
paths, plus project-own pages written in the same two layouts (old ``mmwrhtml`` with ``<!-- content area -->``
comments, new ``volumes`` with ``<main>``), behind the two Recommendations-and-Reports index pages the CDC source
definition seeds from.
"""

from __future__ import annotations

from tests.corpus.download.server import Resource
from tests.testing import SHARED_DATA

CDC_HTML = SHARED_DATA / "guidelines" / "cdc_mmwr_html"
REAL_PAGES = {  # shared file name → its path on www.cdc.gov
    "mmwr_preview_mmwrhtml_rr5416a1.htm": "/mmwr/preview/mmwrhtml/rr5416a1.htm",
    "mmwr_preview_mmwrhtml_mm5650a4.htm": "/mmwr/preview/mmwrhtml/mm5650a4.htm",
    "mmwr_volumes_71_wr_mm7153a1.htm": "/mmwr/volumes/71/wr/mm7153a1.htm",
}

OWN_NEW = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Use of Meningococcal Vaccines Among Travelers: Recommendations of the ACIP | MMWR</title></head>
<body><a class="sr-only" href="#content">Skip directly to site content</a>
<header><nav><ul><li><a href="/">CDC Home</a></li><li><a href="/mmwr/index.html">MMWR</a></li></ul></nav></header>
<div class="container d-flex flex-wrap body-wrapper bg-white">
<main class="col-12 order-lg-2" role="main" aria-label="Main Content Area">
<div class="col content content-fullwidth"><h1>Use of Meningococcal Vaccines Among Travelers: Recommendations of the
Advisory Committee on Immunization Practices</h1>
<p class="dateline"><em>Recommendations and Reports</em> / May 6, 2022 / 71(2);1–20</p>
<div class="card"><div class="card-header">On This Page</div><div class="card-body"><ul><li><a href="#s1">Summary</a></li>
</ul></div></div>
<h2 id="s1">Summary</h2>
<p>This report updates the recommendations of the Advisory Committee on Immunization Practices for the use of
quadrivalent meningococcal conjugate vaccines among persons who travel to countries where meningococcal disease is
hyperendemic or epidemic (1,2).</p>
<h2>Recommendations for Travelers</h2>
<p>Persons aged 2 months and older who travel to or reside in countries where meningococcal disease is hyperendemic
or epidemic should receive a meningococcal conjugate vaccine before travel.</p>
<ul><li>Infants aged 2 months should follow the routine four-dose schedule.</li>
<li>Adults should receive a single dose at least 7 days before departure.</li></ul>
<h2>References</h2><ol><li>Cohn AC. Prevention and control of meningococcal disease. MMWR 2013.</li></ol>
</div></main></div>
<footer><p>Page last reviewed: May 6, 2022</p><p>Content source: Centers for Disease Control and Prevention</p></footer>
</body></html>"""

OWN_OLD = """<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=windows-1252">
<TITLE>Prevention of Hepatitis A Through Active or Passive Immunization</TITLE></HEAD>
<body><table border="0" width="100%"><tr><td><a href="#content_area">Skip Navigation Links</a></td>
<td><a href="http://www.cdc.gov/">CDC Home</a> | <a href="http://www.cdc.gov/search.htm">Search</a></td></tr></table>
<!-- content area -->
<table><tr><td>
<H1>Prevention of Hepatitis A Through Active or Passive Immunization</H1>
<p>Persons using assistive technology might not be able to fully access information in this file.</p>
<H3>Summary</H3>
<P>Hepatitis A vaccination is recommended for all children at age 1 year and for persons at increased risk
for infection (3--5). These recommendations replace the 1999 statement.</P>
<H3>Recommendations</H3>
<P>Vaccinate all children aged 12–23 months with two doses of hepatitis A vaccine given 6 months apart.</P>
<H3>References</H3><P>1. Fiore AE. Hepatitis A transmitted by food. Clin Infect Dis 2004.</P>
</td></tr></table>
<!-- end content area -->
<table><tr><td><a href="/mmwr/index.html">HOME</a> | <a href="/mmwr/about.html">ABOUT MMWR</a></td></tr></table>
</body></HTML>"""

OWN_PAGES = {
    "/mmwr/volumes/71/rr/rr7102a1.htm": OWN_NEW.encode("utf-8"),
    "/mmwr/preview/mmwrhtml/rr5507a1.htm": OWN_OLD.encode("windows-1252"),
}


def html(body: bytes, **kwargs) -> Resource:
    return Resource(body, content_type="text/html; charset=utf-8" if b"utf-8" in body[:300] else "text/html",
                    **kwargs)


def index_page(paths: list[str]) -> bytes:
    links = "\n".join(f'<li><a href="{p}">Report {i}</a></li>' for i, p in enumerate(paths))
    return (f"<html><head><title>MMWR Recommendations and Reports</title></head><body><main><h1>Recommendations and"
            f" Reports</h1><ul>{links}</ul><p><a href=\"/mmwr/about.html\">About</a></p></main></body></html>").encode()


def cdc_routes(pages: dict[str, bytes], robots: str = "User-agent: *\nAllow: /\n", etag: bool = False) -> dict:
    """Index pages linking every page, the pages themselves, robots.txt."""
    routes: dict = {
        "/robots.txt": Resource(robots.encode(), content_type="text/plain"),
        "/mmwr/mmwr_rr/rr_cvol.html": html(index_page(sorted(pages)[: len(pages) // 2])),
        "/mmwr/mmwr_rr/rr_pvol.html": html(index_page(sorted(pages)[len(pages) // 2:])),
    }
    for path, body in pages.items():
        routes[path] = html(body, etag=f'"{abs(hash(body)) % 10**8}"' if etag else None)
    return routes


def real_pages() -> dict[str, bytes]:
    return {path: (CDC_HTML / name).read_bytes() for name, path in REAL_PAGES.items()}
