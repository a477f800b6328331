"""Fixture sites for the six crawled guideline sources other than CDC: each a seed/listing page linking two guideline
pages, written in the site's page structure as far as stored material shows it (the YAML of each source cites
where), with the site chrome around the content — skip links, headers, cookie banners, breadcrumbs, in-page
navigation, share bars, footers. The text is our own. Every junk string the tests look for is listed in ``JUNK``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.corpus.download.server import Resource


@dataclass(frozen=True)
class Site:
    routes: dict[str, str]  # path → HTML
    body: dict[str, list[str]]  # guideline path (relative, no leading /) → strings its clean_text must hold
    junk: list[str]  # strings no clean_text may hold
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # path → (body, content type): the PDFs
    pdf_root: str | None = None  # path served as the source's PDF root (``--base-url NAME+pdf=``)
    handlers: dict[str, Callable] = field(default_factory=dict)  # path → request handler (a JSON listing API)


# Own prose every guideline page carries, so rows are long enough for the corpus stage's quality filters.
RATIONALE = ("<p>The committee agreed these recommendations after reviewing the evidence on benefits and harms."
             " Clinicians should discuss the options with the person and their family, explain the likely course"
             " of the condition, and record the decision in the care plan. The recommendations apply to primary"
             " and secondary care, and they should be reviewed when new evidence about treatment becomes"
             " available or when local services change the way care is organised for this group of people.</p>")


def _page(title: str, chrome_top: str, content: str, chrome_bottom: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body>{chrome_top}{content}{chrome_bottom}</body></html>")


def routes_of(site: Site) -> dict:
    routes: dict = {"/robots.txt": Resource(b"User-agent: *\nAllow: /\n", content_type="text/plain")}
    for path, html in site.routes.items():
        routes[path] = Resource(html.encode(), content_type="text/html; charset=utf-8")
    for path, (body, content_type) in site.files.items():
        routes[path] = Resource(body, content_type=content_type, etag=f'"{len(body)}"')
    routes.update(site.handlers)
    return routes


# -- NICE: /guidance/published table → /guidance/<id> overview (ul.nav-list of chapters) → chapter pages -----------
_NICE_TOP = ('<div id="ccc"><p>We use cookies to make our website work better.</p><button>Accept all cookies</button>'
             '</div><a href="#content-start">Skip to content</a><header><nav aria-label="Global"><a href="/">NICE'
             ' home</a> <a href="/guidance">Guidance</a> <a href="/standards-and-indicators">Standards and'
             ' indicators</a></nav></header><nav aria-label="Breadcrumbs"><ol class="breadcrumbs"><li>Home</li>'
             '<li>NICE Guidance</li></ol></nav>')
_NICE_BOTTOM = ('<footer><p>© NICE 2026. All rights reserved. Subject to Notice of rights.</p><a href="/'
                'accessibility">Accessibility statement</a></footer>')


def _nice_chapters(gid: str, chapters: list[str]) -> str:
    items = "".join(f'<li><a href="/guidance/{gid}/chapter/{c}">{c.replace("-", " ")}</a></li>' for c in chapters)
    return (f'<nav aria-label="Chapters"><ul class="nav-list"><li><a href="/guidance/{gid}">Overview</a></li>'
            f"{items}</ul></nav>")


def _nice_chapter(gid: str, title: str, chapters: list[str], chapter: str) -> str:
    return (f'<div class="page-header"><h1 id="content-start">{title}</h1><p>NICE guideline [{gid.upper()}]</p></div>'
            f'{_nice_chapters(gid, chapters)}<article id="maincontent">{chapter}'
            f'<nav class="pagination" aria-label="Page navigation"><a rel="prev">Previous page</a>'
            f'<a rel="next">Next page</a></nav></article>')


NICE_REC = ('<div class="chapter" title="Recommendations" id="ng901-recommendations"><h2 class="title">'
            '1 Recommendations</h2>' + RATIONALE + '<p>People have the right to be involved in discussions about their care.</p>'
            '<div class="section" title="1.1 Assessing fever" id="ng901-1-1"><h3 class="title">1.1 Assessing fever'
            '</h3><div class="recommendation_text" id="ng901-1-1-1"><p class="numbered-paragraph"><span'
            ' class="paragraph-number">1.1.1</span> Measure body temperature in every child presenting with a'
            ' suspected infection, using an electronic thermometer in the axilla.</p></div>'
            '<div class="recommendation_text" id="ng901-1-1-2"><p class="numbered-paragraph"><span'
            ' class="paragraph-number">1.1.2</span> Record heart rate, respiratory rate and capillary refill time'
            ' as part of the routine assessment.</p></div></div></div>')
NICE_OLD = ('<div class="chapter" title="1 Recommendations" id="cg902-1-recommendations"><h2 class="title">'
            '1 Recommendations</h2>' + RATIONALE + '<div class="section" id="cg902-1-1"><h3 class="title">1.1 Foot care</h3>'
            '<div class="recommendation_text" id="cg902-1-1-1"><p class="numbered-paragraph"><span'
            ' class="paragraph-number">1.1.1</span> Examine both feet of adults with diabetes at least once a year'
            ' for ulceration and loss of protective sensation.</p></div></div></div>')


def nice_site() -> Site:
    new_ch, old_ch = ["Recommendations", "Context"], ["1-Recommendations", "2-Research-recommendations"]
    listing = ('<main><h1>Published: Guidance</h1><table><thead><tr><th>Title</th><th>Reference number</th></tr>'
               '</thead><tbody><tr><td><a href="/guidance/ng901">Fever in under 5s</a></td><td>NG901</td></tr>'
               '<tr><td><a href="/guidance/cg902">Diabetic foot care</a></td><td>CG902</td></tr></tbody></table>'
               '</main>')
    overview = ('<div class="content"><p class="lead">This guideline covers assessing and managing fever.</p>'
                '</div>')
    routes = {
        "/guidance/published": _page("Published | NICE", _NICE_TOP, listing, _NICE_BOTTOM),
        "/guidance/ng901": _page("Overview | NICE", _NICE_TOP, _nice_chapters("ng901", new_ch) + overview,
                                 _NICE_BOTTOM),
        "/guidance/cg902": _page("Overview | NICE", _NICE_TOP, _nice_chapters("cg902", old_ch) + overview,
                                 _NICE_BOTTOM),
        "/guidance/ng901/chapter/Recommendations": _page(
            "Recommendations | Fever | NICE", _NICE_TOP, _nice_chapter("ng901", "Fever in under 5s", new_ch,
                                                                       NICE_REC), _NICE_BOTTOM),
        "/guidance/cg902/chapter/1-Recommendations": _page(
            "1 Recommendations | NICE", _NICE_TOP, _nice_chapter("cg902", "Diabetic foot care", old_ch, NICE_OLD),
            _NICE_BOTTOM),
    }
    body = {
        "guidance/ng901/chapter/Recommendations": [
            "1.1.1 Measure body temperature in every child presenting with a suspected infection",
            "1.1.2 Record heart rate, respiratory rate and capillary refill time"],
        "guidance/cg902/chapter/1-Recommendations": ["Examine both feet of adults with diabetes at least once"],
    }
    junk = ["We use cookies", "Skip to content", "NICE home", "Breadcrumbs", "Overview", "Context",
            "Previous page", "Next page", "All rights reserved", "Accessibility statement", "NICE Guidance"]
    return Site(routes, body, junk)


# -- canada.ca (CMA): WET/GCWeb template, main[property=mainContentOfPage], section.pagedetails, footer#wb-info -----
_GC_TOP = ('<nav><ul id="wb-tphp"><li class="wb-slc"><a class="wb-sl" href="#wb-cont">Skip to main content</a></li>'
           '<li class="wb-slc"><a class="wb-sl" href="#wb-info">Skip to "About government"</a></li></ul></nav>'
           '<header><div id="wb-bnr" class="container"><a href="/fr.html" lang="fr">Français</a><img alt="Government'
           ' of Canada"></div><nav id="wb-bc" property="breadcrumb"><ol class="breadcrumb"><li><a href="/en.html">'
           'Canada.ca</a></li><li><a href="/en/services/health.html">Health</a></li></ol></nav></header>')
_GC_BOTTOM = ('<footer id="wb-info"><div class="gc-contextual"><h3>Public Health Agency of Canada</h3></div>'
              '<nav class="gc-main-footer"><h3>Government of Canada</h3><ul><li><a href="/en/contact.html">All'
              ' contacts</a></li></ul></nav><div class="gc-sub-footer"><a href="/en/social.html">Social media</a>'
              ' <a href="/en/transparency/terms.html">Terms and conditions</a> <a href="/en/transparency/privacy.html">'
              'Privacy</a></div></footer>')
_GC_DIR = "en/public-health/services/infectious-diseases/sexual-health-sexually-transmitted-infections"


def _gc_main(title: str, content: str) -> str:
    return (f'<main property="mainContentOfPage" resource="#wb-main" typeof="WebPageElement" class="container">'
            f'<h1 property="name" id="wb-cont">{title}</h1>{content}<section class="pagedetails">'
            f'<div class="row"><div class="col-sm-6"><a class="btn btn-default" href="/en/report-problem.html">'
            f'Report a problem or mistake on this page</a></div><div class="col-sm-3"><a href="/en/share.html">'
            f'Share this page</a></div></div><dl id="wb-dtmd"><dt>Date modified:</dt><dd><time property="'
            f'dateModified">2025-11-20</time></dd></dl></section></main>')


def cma_site() -> Site:
    listing = _gc_main("Canadian guidelines on sexually transmitted infections",
                       f'<ul><li><a href="/{_GC_DIR}/canadian-guidelines/syphilis.html">Syphilis guide</a></li>'
                       f'<li><a href="/{_GC_DIR}/canadian-guidelines/gonorrhea.html">Gonorrhea guide</a></li></ul>')
    syphilis = _gc_main("Syphilis guide: Treatment and follow-up",
                        '<div class="gc-subway"><nav><h2>Sections</h2><ul><li><a href="#a1">Screening</a></li>'
                        '</ul></nav></div><h2 id="a1">Treatment</h2><p>Treat infectious syphilis in adults with a'
                        ' single dose of benzathine penicillin G-LA 2.4 million units intramuscularly.</p>'
                        '<h2>Follow-up</h2><p>Repeat non-treponemal serology at 3, 6 and 12 months after'
                        ' treatment.</p>' + RATIONALE)
    gonorrhea = _gc_main("Gonorrhea guide: Treatment",
                         '<h2>Preferred treatment</h2><p>Ceftriaxone 1 g intramuscularly plus doxycycline for'
                         ' uncomplicated infections of the cervix, urethra or rectum.</p>'
                         '<table class="table"><tr><th>Site</th><th>Test of cure</th></tr><tr><td>Pharynx</td>'
                         '<td>Culture 3 to 7 days after treatment</td></tr></table>' + RATIONALE)
    routes = {f"/{_GC_DIR}/canadian-guidelines.html": _page("STI guidelines - Canada.ca", _GC_TOP, listing,
                                                            _GC_BOTTOM),
              f"/{_GC_DIR}/canadian-guidelines/syphilis.html": _page("Syphilis - Canada.ca", _GC_TOP, syphilis,
                                                                     _GC_BOTTOM),
              f"/{_GC_DIR}/canadian-guidelines/gonorrhea.html": _page("Gonorrhea - Canada.ca", _GC_TOP, gonorrhea,
                                                                      _GC_BOTTOM)}
    body = {f"{_GC_DIR}/canadian-guidelines/syphilis.html": [
                "single dose of benzathine penicillin G-LA 2.4 million units intramuscularly",
                "Repeat non-treponemal serology at 3, 6 and 12 months"],
            f"{_GC_DIR}/canadian-guidelines/gonorrhea.html": ["Ceftriaxone 1 g intramuscularly plus doxycycline",
                                                              "Culture 3 to 7 days after treatment"]}
    junk = ["Skip to main content", "About government", "Français", "Canada.ca", "Report a problem",
            "Share this page", "Date modified", "2025-11-20", "All contacts", "Terms and conditions", "Sections"]
    return Site(routes, body, junk)


# -- CPS (SPOR): listing div.cell.main-body with div.stmt-title links; statements in div.cell.main-body (2023) or
#    main#main-content > div.statement-wrapper (2026) ---------------------------------------------------------------
_CPS_TOP = ('<div class="cookie-notice">This website uses cookies. <a href="/en/privacy">Learn more</a>'
            '<button>Got it</button></div><header class="site-header"><a href="/en">Canadian Paediatric Society</a>'
            '<nav class="main-nav"><a href="/en/membership">Membership</a> <a href="/en/donate">Donate</a></nav>'
            '</header>')
_CPS_BOTTOM = ('<footer class="site-footer"><p>Canadian Paediatric Society, 100-2305 St. Laurent Blvd.</p>'
               '<a href="/en/contact">Contact us</a></footer>')
_CPS_LIST = "en/documents/authors-auteurs/position-statements"


def spor_site() -> Site:
    listing = ('<div class="grid-x"><div class="cell main-body"><h1>Position statements</h1>'
               '<div class="stmt-title"><a href="/en/documents/position/Acute-Otitis-Media">Acute otitis media</a>'
               '</div><div class="stmt-title"><a href="/en/documents/position/neonatal-jaundice">Neonatal'
               ' jaundice</a></div><a href="/en/documents/about-position-statements">About statements</a></div></div>')
    old = ('<div class="grid-x"><div class="cell breadcrumb">Home / Documents / Position statements</div>'
           '<div class="cell main-body"><h1>Management of acute otitis media in children</h1><p>Posted: Jan 24,'
           ' 2022</p><h2>Recommendations</h2><ul><li>Observe otherwise healthy children aged 6 months and older'
           ' with mild symptoms for 48 hours before starting antibiotics.</li><li>Use amoxicillin 75 to 90 mg/kg/day'
           ' when treatment is started.</li></ul>' + RATIONALE + '<div class="share-tools">Share this statement</div></div>'
           '<div class="cell sidebar"><h3>Related statements</h3><a href="/en/documents/position/x">Other</a></div>'
           '</div>')
    new = ('<main id="main-content"><div class="statement-wrapper"><div class="breadcrumb">Home / Documents</div>'
           '<p>Position statement</p><h1>Guidelines for detection of jaundice in term newborns</h1>'
           '<h2>Recommendations</h2><p>Measure bilirubin in every newborn before discharge, with a transcutaneous'
           ' or serum measurement plotted on the nomogram.</p>' + RATIONALE + '<div class="share-tools">Share this statement</div>'
           '<aside class="related-content">Related news</aside></div></main>')
    routes = {f"/{_CPS_LIST}": _page("Position statements | CPS", _CPS_TOP, listing, _CPS_BOTTOM),
              "/en/documents/position/Acute-Otitis-Media": _page("Acute otitis media | CPS", _CPS_TOP, old,
                                                                 _CPS_BOTTOM),
              "/en/documents/position/neonatal-jaundice": _page("Jaundice | CPS", _CPS_TOP, new, _CPS_BOTTOM)}
    body = {"en/documents/position/Acute-Otitis-Media": [
                "- Observe otherwise healthy children aged 6 months and older with mild symptoms for 48 hours",
                "- Use amoxicillin 75 to 90 mg/kg/day"],
            "en/documents/position/neonatal-jaundice": ["Measure bilirubin in every newborn before discharge"]}
    junk = ["uses cookies", "Membership", "Donate", "Home / Documents", "Share this statement", "Related",
            "St. Laurent", "Contact us"]
    return Site(routes, body, junk)


# -- WHO, CCO, ICRC: the URL shapes are established (see their YAML); the content markup is NOT. These fixtures use
#    generic markup (header/nav, breadcrumb, share bar, footer around <main>/<article>/a Drupal body field) so they
#    test the crawl path and the YAML's fallback selectors, not the sites' real class names. -----------------------
_GEN_TOP = ('<div class="cookie-banner">This site uses cookies. <button>Accept</button></div><a href="#main">Skip'
            ' to main content</a><header><nav><a href="/">Home</a> <a href="/about">About us</a></nav></header>'
            '<nav class="breadcrumb"><a href="/">Home</a> / Publications</nav>')
_GEN_BOTTOM = '<footer><p>Copyright 2026. Privacy policy.</p><a href="/contact">Contact</a></footer>'
_GEN_JUNK = ["uses cookies", "Skip to main", "About us", "Publications", "Share on", "Privacy policy", "Contact"]


def _generic_site(listing_path: str, pages: dict[str, tuple[str, str]], wrap: str,
                  pdfs: dict[str, tuple[str, str, str]] | None = None, pdf_type: str = "application/pdf",
                  pdf_root: str | None = None) -> Site:
    """A listing linking guideline pages; ``pdfs``: guideline page → (PDF path, title, sentence) of the full text it
    links (a real PDF with a running header and page footers), served as ``pdf_type``."""
    links = "".join(f'<li><a href="/{path}">{title}</a></li>' for path, (title, _) in pages.items())
    routes = {f"/{listing_path}": _page("Listing", _GEN_TOP, f"<main><h1>Guidelines</h1><ul>{links}</ul></main>",
                                        _GEN_BOTTOM)}
    body, files = {}, {}
    for path, (title, text) in pages.items():
        share = '<div class="share-buttons">Share on social media</div>'
        download = ""
        if pdfs and path in pdfs:
            pdf_path, pdf_title, pdf_text = pdfs[path]
            download = f'<p><a class="download-url" href="/{pdf_path}">Download (PDF)</a></p>'
            files[f"/{pdf_path}"] = (_pdf(pdf_title, pdf_text), pdf_type)
            body[pdf_path] = [pdf_title, pdf_text]
        routes[f"/{path}"] = _page(title, _GEN_TOP, wrap.format(f"<h1>{title}</h1><p>{text}</p>{RATIONALE}{download}"
                                                                f"{share}"), _GEN_BOTTOM)
        body[path] = [text]
    return Site(routes, body, _GEN_JUNK, files, pdf_root)


def _pdf(title: str, sentence: str) -> bytes:
    """A three-page guideline PDF: running header and "Page N of 3" footers, which no row may keep."""
    from tests.corpus.pdf_fixtures import Section, guideline_pdf

    rationale = RATIONALE.removeprefix("<p>").removesuffix("</p>")
    sections = [Section("1. Recommendations", [sentence, rationale]),
                Section("2. Evidence", [f"The evidence for this guideline ({title.lower()}) was graded by the panel."
                                        " " + rationale]),
                Section("3. Implementation", ["Services should audit adherence to these recommendations every year"
                                              " and report the results to the guideline committee."])]
    return guideline_pdf(title, sections, running_header=PDF_HEADER)


PDF_HEADER = "Guideline document - version for public consultation"
_GEN_JUNK = [*_GEN_JUNK, PDF_HEADER, "Page 1 of 3", "Page 2 of 3"]


def who_site() -> Site:
    """WHO: no static listing — the grid's OData API (``api/hubs/publications``, ``$skip``/``$top``, items under
    ``value`` with ``ItemDefaultUrl`` and ``DownloadUrl``) names the item pages and their PDFs on IRIS."""
    site = _generic_site("publications/who-guidelines", {
        "publications/i/item/9789240000011": (
            "WHO guidelines on hand hygiene in outpatient care",
            "Health workers should perform hand hygiene before and after every patient contact."),
        "publications/i/item/WHO-UCN-2026-1": (
            "WHO guideline on tuberculosis preventive treatment",
            "Household contacts of people with bacteriologically confirmed tuberculosis should receive preventive"
            " treatment."),
    }, "<main>{}</main>", pdfs={
        "publications/i/item/9789240000011": (
            "iris/server/api/core/bitstreams/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/content",
            "Guidelines on hand hygiene in outpatient care",
            "Alcohol-based hand rub is the preferred method of hand hygiene when hands are not visibly soiled."),
        "publications/i/item/WHO-UCN-2026-1": (
            "iris/server/api/core/bitstreams/1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809/content",
            "Tuberculosis preventive treatment: consolidated guidelines",
            "Six months of daily isoniazid is a recommended regimen of tuberculosis preventive treatment."),
    }, pdf_type="application/octet-stream", pdf_root="/iris/")
    items = [{"Title": title, "ItemDefaultUrl": "/" + path.rsplit("/", 1)[1], "FormatedDate": "4 December 2026",
              "DownloadUrl": pdf} for path, title, pdf in [
        ("publications/i/item/9789240000011", "Hand hygiene", "iris/server/api/core/bitstreams/"
         "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/content"),
        ("publications/i/item/WHO-UCN-2026-1", "TB preventive treatment", "iris/server/api/core/bitstreams/"
         "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809/content")]]
    site.handlers["/api/hubs/publications"] = odata_listing(items)
    return site


def odata_listing(items: list[dict]) -> Callable:
    """An OData listing endpoint over ``items`` (``$skip``/``$top``); ``DownloadUrl`` paths become absolute URLs on
    the server that answers, as WHO's API gives absolute IRIS URLs."""

    def answer(request) -> Resource:
        query = parse_qs(urlsplit(request.path).query)
        skip, top = int(query.get("$skip", ["0"])[0]), int(query.get("$top", ["20"])[0])
        host = request.headers["host"]
        page = [{**item, "DownloadUrl": f"http://{host}/{item['DownloadUrl']}"} for item in items[skip:skip + top]]
        return Resource(json.dumps({"@odata.count": len(items), "value": page}).encode(),
                        content_type="application/json; charset=utf-8")

    return answer


_CCO_TOP = ('<header><nav><a href="/en">Home</a> <a href="/en/types-of-cancer">Types of Cancer</a> <a href="/en/'
            'cancer-treatments">Cancer Treatments</a></nav></header><nav class="breadcrumb">Home / Guidelines &amp; '
            'Advice</nav>')
_CCO_BOTTOM = ('<footer><p>Feedback</p><p>CCO tips</p><p>Disclaimer: the information is provided for informational '
               'purposes only.</p></footer>')
_CCO_GUIDELINES = {  # id → (title, objective sentence, report title, report sentence)
    "38101": ("Follow-up care for survivors of colorectal cancer",
              "Offer a CEA test every 6 months for 3 years to patients who had curative resection.",
              "Follow-up care for survivors of colorectal cancer: full report",
              "Offer a computed tomography scan of the chest and abdomen every year for three years."),
    "38102": ("Management of febrile neutropenia",
              "Give empiric broad-spectrum antibiotics within one hour of the onset of fever.",
              "Management of febrile neutropenia: full report",
              "Assess the risk of complications with a validated score before choosing outpatient treatment."),
}


def cco_site() -> Site:
    """CCO as a 2026 third-party scraper's tests show it: the master listing ``types-of-cancer`` with a Drupal "Load
    more" pager (``?page=1``), a category link that is not a guideline, guideline pages with an ``h1``, metadata
    lines and ``h2`` sections in the ``role=main`` region, and the full report as ``/en/file/<id>/download``."""
    routes, body, files = {}, {}, {}
    for gid, (title, sentence, report_title, report_sentence) in _CCO_GUIDELINES.items():
        page = (f'<div id="content" role="main"><h1>{title}</h1><div class="ts-p"><strong>Version:</strong> '
                f'<span>2 Dec 2025</span></div><div class="ts-p"><strong>Type of Content: </strong><span>Guidelines '
                f'&amp; Advice, Clinical</span></div><div class="ts-p"><strong>Document Status: </strong><span>'
                f'Current</span></div><div class="ts-p"><strong>Authors: </strong><span>Program in Evidence-Based '
                f'Care</span></div><h2>Guideline Objective</h2><p>{sentence}</p><h2>Patient Population</h2>'
                f'{RATIONALE}<div class="guideline-file"><a href="/en/file/{gid}/download?token=Xy7">Full Report (PDF)'
                f' (376.82 KB)</a></div><div class="share-buttons">Share on social media</div></div>')
        routes[f"/en/guidelines-advice/types-of-cancer/{gid}"] = _page(title, _CCO_TOP, page, _CCO_BOTTOM)
        body[f"en/guidelines-advice/types-of-cancer/{gid}"] = [sentence]
        files[f"/en/file/{gid}/download"] = (_pdf(report_title, report_sentence), "application/pdf")
        body[f"en/file/{gid}/download?token=Xy7"] = [report_title, report_sentence]
    first, second = list(_CCO_GUIDELINES)
    listing = {
        "0": (f'<a href="/en/guidelines-advice/types-of-cancer/{first}">{_CCO_GUIDELINES[first][0]}</a>'
              '<a href="/en/guidelines-advice/types-of-cancer/breast">Breast Cancer</a>'
              '<ul class="pager pager-load-more"><li class="pager-next first last">'
              '<a href="/en/guidelines-advice/types-of-cancer?page=1">Load more</a></li></ul>'),
        "1": f'<a href="/en/guidelines-advice/types-of-cancer/{second}">{_CCO_GUIDELINES[second][0]}</a>',
    }

    def listing_page(request) -> Resource:
        number = parse_qs(urlsplit(request.path).query).get("page", ["0"])[0]
        html = _page("Guidelines & Advice", _CCO_TOP, f'<div role="main"><h1>Guidelines</h1>{listing[number]}</div>',
                     _CCO_BOTTOM)
        return Resource(html.encode(), content_type="text/html; charset=utf-8")

    junk = [*_GEN_JUNK, "Types of Cancer", "Feedback", "CCO tips", "Disclaimer"]
    return Site(routes, body, junk, files, handlers={"/en/guidelines-advice/types-of-cancer": listing_page})


def icrc_site() -> Site:
    return _generic_site("en/publications", {
        "en/publication/4261-first-aid-in-armed-conflicts": (
            "First aid in armed conflicts",
            "Control severe bleeding with direct pressure before any other first-aid measure."),
        "en/publication/war-surgery-field-manual": (
            "War surgery field manual",
            "Leave contaminated war wounds open after debridement and close them after five days."),
    }, "<main><article>{}</article></main>", pdfs={
        "en/publication/4261-first-aid-in-armed-conflicts": (
            "sites/default/files/document/file_list/4261-first-aid.pdf",
            "First aid in armed conflicts and other situations of violence",
            "Place an unconscious casualty who is breathing in the recovery position and keep checking breathing."),
        "en/publication/war-surgery-field-manual": (
            "sites/default/files/document/file_list/war-surgery-vol1.pdf",
            "War surgery: working with limited resources",
            "Excise all dead muscle at the first operation, since it is the medium in which infection develops."),
    })


SITES = {"nice": nice_site, "cma": cma_site, "spor": spor_site, "who": who_site, "cco": cco_site, "icrc": icrc_site}
