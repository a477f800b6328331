"""CDC MMWR pages (www.cdc.gov/mmwr): old ``mmwrhtml`` pages (windows-1252, webbot includes, content between
``<!-- content area -->`` comments) and new ``volumes`` pages (UTF-8, ``<main>``, Bootstrap boxes).

The guideline starts at its title (the page's only ``# `` heading after conversion) and stops at References /
Acknowledgments / Disclaimer; CDC cites as ``(12)`` or ``(3,4)`` / ``(4--6)``, which the inline pattern removes.
"""

from meditron.corpus.guidelines.rules import DEFAULT_STOP_HEADINGS, SiteRules

_CARD_HEADERS = " or ".join(
    f"contains(normalize-space(.), '{name}')" for name in ("Article Metrics", "Related Materials", "Altmetric")
)

RULES = SiteRules(
    name="cdc",
    description="CDC MMWR reports and ACIP recommendations (old mmwrhtml and new volumes layouts).",
    html_start=(r"<!--\s*content area\s*-->", r"<main\b"),
    html_end=(r"<!--\s*end content area\s*-->", r"</main>"),
    html_drop_xpaths=(
        "//div[@id='archivedbox']",
        "//*[contains(concat(' ', normalize-space(@class), ' '), ' dateline ')]",
        "//*[contains(concat(' ', normalize-space(@class), ' '), ' title-bar ')]",
        "//*[contains(concat(' ', normalize-space(@class), ' '), ' tp-related-pages ')]",
        "//*[contains(concat(' ', normalize-space(@class), ' '), ' section-nav-area ')]",
        "//*[contains(concat(' ', normalize-space(@class), ' '), ' d-none ')]",
        "//*[contains(concat(' ', normalize-space(@class), ' '), ' sr-only ')]",
        "//a[@href='#' or @href='#top']",
        f"//div[contains(@class, 'card')][div[contains(@class, 'card-header')][{_CARD_HEADERS}]]",
        "//p[.//a[contains(normalize-space(.), 'View author affiliations')]]",  # the author line of new pages
        "//div[contains(@class, 'tp-on-this-page')]",
        "//*[@id='suggestedcitation']",
        "//*[contains(@class, 'page-format')]",
        "//*[@id='last-reviewed-date']/..",
        "//a[starts-with(normalize-space(.), 'Download Image')]",
        "//p[starts-with(normalize-space(.), 'Prepared by')]",
        "//p[starts-with(normalize-space(.), 'The material in this report originated')]",
        "//p[starts-with(normalize-space(.), 'Corresponding preparer')]",
    ),
    start_lines=(r"^# ",),
    stop_headings=DEFAULT_STOP_HEADINGS,
    boilerplate_lines=(
        r"^persons using assistive technology",
        r"^please note:",
        r"errata have been published",
        r"this report has been corrected and republished",
        r"^view suggested citation$",
        r"^(back to )?top$",
        r"^return to top",
        r"^(print|download)( this page)?$",
        r"^page last (reviewed|updated)",
        r"^content source:",
        r"^all (mmwr )?html versions( of mmwr)?",
        r"are service marks of the u\.?s\.? department",
        r"^questions or messages regarding errors in formatting",
        r"^view page in\b",
        r"^last reviewed:",
        r"^on this page$",
        r"^use of trade names",
        r"^references to non-cdc sites",
        r"^\*?corresponding (preparer|author)",
        r"^the material in this report originated",
    ),
    inline_patterns=(
        # the 508 notice glued to the title when a converter flattened the page's layout table into one line
        r"persons using assistive technology might not be able to fully access information in this file\.?"
        r"(?:\s*for assistance,[^\n]{0,200}?subject line of e-mail\.)?",
        r"(?<=[\w.,;:%])\s*\((?:\d{1,3}(?:\s*(?:[,;]|--?|[–—])\s*\d{1,3})*)\)",),
)
