"""Pages converted whole to Markdown by a common tool (markdownify) lose their navigation junk in the
``guideline_markdown`` path: layout tables of links and spacer cells, accessibility banners, link-only footers."""

from __future__ import annotations

from markdownify import markdownify

from meditron.corpus.cleaners.encoding import decode_bytes
from meditron.corpus.guidelines.markdown import strip_markdown_junk
from meditron.corpus.readers.guideline import GuidelineFileReader
from tests.corpus.download.guideline_site import CDC_HTML, OWN_NEW, OWN_OLD
from tests.testing import requires_shared_data

NAV_JUNK = ("Skip Navigation Links", "Skip directly to site content", "CDC Home", "spacer", "Blue White",
            "Safer Healthier People", "Persons using assistive technology", "An official website of the United States",
            "ABOUT MMWR", "Health Topics A-Z")


def read_markdown(tmp_path, name: str, html: str) -> str:
    path = tmp_path / f"{name}.md"
    path.write_text(markdownify(html), encoding="utf-8")
    (doc,) = list(GuidelineFileReader([str(path)], "guidelines", site="cdc", fmt="markdown")(rank=0, world_size=1))
    assert "quarantined" not in doc.metadata
    return doc.text


def test_layout_table_page_keeps_its_text_and_loses_the_navigation(tmp_path):
    text = read_markdown(tmp_path, "old", OWN_OLD)
    assert text.startswith("Prevention of Hepatitis A Through Active or Passive Immunization\n\n")  # the <title>
    assert "Vaccinate all children aged 12–23 months with two doses of hepatitis A vaccine" in text
    for junk in NAV_JUNK + ("Search", "HOME"):
        assert junk not in text


def test_data_tables_and_prose_links_stay():
    markdown = ("| Age | Dose |\n| --- | --- |\n| 2 months | 0.5 mL |\n\n"
                "[Home](/) | [About](/about)\n\nSee [the 2019 statement](/rr6802) for details.\n")
    assert strip_markdown_junk(markdown) == ("| Age | Dose |\n| --- | --- |\n| 2 months | 0.5 mL |\n\n\n"
                                             "See [the 2019 statement](/rr6802) for details.\n")


def test_new_layout_page_loses_banners_and_menus(tmp_path):
    text = read_markdown(tmp_path, "new", OWN_NEW)
    assert "- Adults should receive a single dose at least 7 days before departure." in text
    for junk in NAV_JUNK:
        assert junk not in text


@requires_shared_data
def test_real_cdc_pages_converted_to_markdown(tmp_path):
    old_html, _ = decode_bytes((CDC_HTML / "mmwr_preview_mmwrhtml_rr5416a1.htm").read_bytes())
    old = read_markdown(tmp_path, "rr5416a1", old_html)
    # the whole guideline sits in one layout-table cell: before this pass the 508 notice line took all of it
    assert len(old) > 50_000
    assert "implementation of universal infant vaccination beginning at birth" in old
    assert "States are encouraged to expand or implement immunization registries to include adolescents." in old
    new_html, _ = decode_bytes((CDC_HTML / "mmwr_volumes_71_wr_mm7153a1.htm").read_bytes())
    new = read_markdown(tmp_path, "mm7153a1", new_html)
    assert new.startswith("# Early Estimates of Bivalent mRNA Vaccine Effectiveness in Preventing COVID-19–Associated")
    assert "Bivalent booster doses provided additional protection against COVID-19–associated" in new
    for junk in NAV_JUNK + ("Official websites use .gov", "Secure .gov websites", "Other Languages", "CDC Logo"):
        assert junk not in old and junk not in new
