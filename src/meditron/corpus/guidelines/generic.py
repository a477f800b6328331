"""Rules for a site we know nothing about: the common stop headings only (References, Acknowledgements, Disclaimer…)."""

from meditron.corpus.guidelines.rules import SiteRules

RULES = SiteRules(
    name="generic",
    description="No site-specific markers; stops at References / Acknowledgements / Disclaimer and similar headings.",
    html_start=(r"<main\b", r"<article\b", r"<body\b"),
    html_end=(r"</main>", r"</article>"),
    html_drop_xpaths=tuple(
        f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ') or @id='{name}']"
        for name in (
            "nav",
            "navbar",
            "navigation",
            "menu",
            "breadcrumb",
            "breadcrumbs",
            "sidebar",
            "skip-link",
            "cookie-banner",
            "page-tools",
            "share",
            "social-share",
        )
    )
    + ("//*[@role='navigation']", "//*[@role='banner']", "//*[@role='contentinfo']"),
    boilerplate_lines=(
        r"^skip to (main )?content$",
        r"^(back to|return to) top$",
        r"^print( this page)?$",
        r"^share( this page)?$",
    ),
)
