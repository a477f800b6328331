"""MEDITRON's common guideline cleaning, encoding repair and HTML→Markdown; hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meditron.corpus.cleaners.encoding import UnknownEncodingError, decode_bytes, fix_mojibake
from meditron.corpus.cleaners.guideline import clean_guideline_text
from meditron.corpus.cleaners.html import html_to_markdown
from meditron.corpus.guidelines import SITES, get_site_rules
from meditron.errors import ConfigError

CDC = get_site_rules("cdc")
GENERIC = get_site_rules("generic")


def test_often_is_not_turned_into_a_bullet():
    # MEDITRON's cleaner made "-ften" of this line; only a lone "o " is a bullet
    text = (
        "Treatment\noften a watchful waiting approach is reasonable.\no Cefdinir if allergic.\nosteoporosis is rare."
    )
    assert clean_guideline_text(text) == (
        "Treatment\noften a watchful waiting approach is reasonable.\n- Cefdinir if allergic.\nosteoporosis is rare."
    )


def test_common_steps_exactly():
    raw = (
        "### Otitis media\r\n\r\n"
        "Common in children [1]. See the [summary table](https://ex.org/t) and ![logo](https://ex.org/l.png).\n"
        "More at https://ex.org/aom?ref=1 today.\n"
        "##### Antibiotic choice\n"
        "• Amoxicillin is first line [2, 3].\n"
        "   * Cefdinir if allergic.\n"
        "--- Azithromycin rarely.\n"
        "  2) review at 48 hours\n"
        "----\n1234 5678\n\n\n\n"
        "<b>Follow-up</b> &amp; review\u200b after 48&nbsp;hours\x00.\n"
        "**Bold** and *italic* words."
    )
    assert clean_guideline_text(raw) == (
        "# Otitis media\n\n"
        "Common in children. See the summary table and logo.\n"
        "More at today.\n"
        "## Antibiotic choice\n"
        "- Amoxicillin is first line.\n"
        "- Cefdinir if allergic.\n"
        "- Azithromycin rarely.\n"
        "2) review at 48 hours\n\n"
        "Follow-up & review after 48 hours.\n"
        "Bold and italic words."
    )


def test_headers_rescaled_to_three_levels():
    text = "## A\ntext\n#### B\ntext\n##### C\ntext\n###### D\ntext"
    assert clean_guideline_text(text) == "# A\ntext\n## B\ntext\n### C\ntext\n### D\ntext"


def test_site_rules_start_boilerplate_stop_and_inline_citations():
    text = (
        "Home | About\nSkip to content\n# Guideline title\n"
        "Please note: Errata have been published for this article.\n"
        "Vaccinate all infants at birth (12). Coverage rose (3,4) and fell (5--7).\n"
        "- References\n"  # a table-of-contents bullet is not the reference section
        "Keep going with more guideline text here.\n"
        "## References\n1. West DJ. A reference.\n"
    )
    assert clean_guideline_text(text, CDC) == (
        "# Guideline title\nVaccinate all infants at birth. Coverage rose and fell.\n- References\n"
        "Keep going with more guideline text here."
    )


def test_site_registry():
    assert set(SITES) >= {"cdc", "generic"}
    assert get_site_rules(None).name == "generic" and get_site_rules("CDC").name == "cdc"
    with pytest.raises(ConfigError, match="valid sites: cdc, generic"):
        get_site_rules("who-nonexistent")


def test_encoding_detection_and_mojibake_repair():
    assert decode_bytes('<meta charset="windows-1252"><p>caf\xe9 \x93q\x94</p>'.encode("latin-1")) == (
        '<meta charset="windows-1252"><p>café “q”</p>',
        "cp1252",
    )
    assert decode_bytes("naïve".encode())[1] == "utf-8"
    assert decode_bytes("no declaration, caf\xe9".encode("cp1252")) == ("no declaration, café", "cp1252")
    assert fix_mojibake("COVID-19\u00e2\u0080\u0093Associated \u00e2\u0080\u009cquoted\u00e2\u0080\u009d") == (
        "COVID-19–Associated “quoted”"
    )


def test_html_to_markdown_keeps_structure_flattens_tables():
    page = (
        "<html><head><title>T</title><script>var x=1;</script></head><body><nav>Menu</nav>"
        "<h1>Title <br>Part 1</h1><p>Line one\nstill line one.</p><ul><li>a</li><li>b</li></ul>"
        "<table><tr><th>Dose</th><th>Age</th></tr><tr><td>0.5 mL</td><td>birth</td></tr></table>"
        "<table><tr><td><h2>Layout heading</h2><p>Layout text.</p></td></tr></table></body></html>"
    )
    assert clean_guideline_text(html_to_markdown(page, GENERIC), GENERIC) == (
        "# Title Part 1\n\nLine one still line one.\n\n- a\n- b\n\nDose | Age\n\n0.5 mL | birth\n\n"
        "## Layout heading\n\nLayout text."
    )


# ------------------------------------------------------------------------------------------------------- properties
_PIECES = st.sampled_from(
    ["#", "##", "#####", " ", "\n", "\n\n", "o ", "often", "- ", "--- ", "• ", "*", "**", "_", "[", "]", "(", ")",
     "[1]", "(12)", "<b>", "</b>", "<!--", "-->", "&amp;", "&lt;", "&nbsp;", "http://x.org/a", "www.y.com",
     "References", "Acknowledgments", "a", "word", "1.", "2)", ":", ".", "\t", "\u00a0", "\u200b", "é", "\x00", "=", "|"]
)  # fmt: skip
_TEXT = st.one_of(st.text(max_size=400), st.lists(_PIECES, max_size=80).map("".join))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(_TEXT, st.sampled_from([None, GENERIC, CDC]))
def test_cleaning_never_crashes_and_is_idempotent(text, rules):
    once = clean_guideline_text(text, rules)
    assert clean_guideline_text(once, rules) == once


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.text(max_size=300), st.lists(st.sampled_from(["<p>", "</p>", "<h2>", "</h2>", "<li>", "<table>",
       "<tr><td>", "</td>", "<!-- content area -->", "<main>", "x", " y\n", "&amp;", "<br>", "<"]), max_size=40).map(
       "".join)), st.sampled_from([GENERIC, CDC]))  # fmt: skip
def test_html_conversion_never_crashes_and_its_cleaning_is_idempotent(page, rules):
    cleaned = clean_guideline_text(html_to_markdown(page, rules), rules)
    assert clean_guideline_text(cleaned, rules) == cleaned


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_decoding_never_crashes_on_arbitrary_bytes(data):
    try:
        text, encoding = decode_bytes(data)
    except UnknownEncodingError:
        return
    assert isinstance(text, str) and encoding
    assert isinstance(fix_mojibake(text), str)
