"""MEDLINE/PubMed XML citations and PMC JATS articles rendered from the study designs.

The markup follows the real files in ``../shared/data/pubmed`` closely: ``<PubmedArticleSet>`` of the 2024 DTD with
structured and plain abstracts, MedlineDate, a French citation and a letter without abstract; JATS 1.x articles and
older NLM 2.3 / 3.0 ones with front matter, permissions, nested sections, cross-references, figures, tables, MathML
and TeX formulas, element- and mixed-citations, and back matter.
"""

from __future__ import annotations

import random
from xml.sax.saxutils import escape

from .facts import load
from .guidelines import SURNAMES
from .studies import Study, background, conclusion, methods, results

_FACTS = load("pubmed")
FORENAMES: list[str] = _FACTS["forenames"]
JOURNALS = [(j["title"], j["iso"], j["issn"], j["nlm_id"]) for j in _FACTS["journals"]]
CITIES: list[str] = _FACTS["cities"]
DEPARTMENTS: list[str] = _FACTS["departments"]
UNIVERSITIES: list[str] = _FACTS["universities"]
MESH_UI: dict[str, str] = _FACTS["mesh_ui"]
PUBTYPES = {design: tuple(tuple(p) for p in types) for design, types in _FACTS["pubtypes"].items()}
NLM_CATEGORY: dict[str, str] = _FACTS["nlm_category"]
MONTHS: list[str] = _FACTS["months"]


_SCRUB = [lambda text: text]


def set_scrubber(fn) -> None:
    """Install the generator's sentence filter (drops sentences that would copy a benchmark test item)."""
    _SCRUB[0] = fn


def scrub(text: str) -> str:
    return _SCRUB[0](text)


def e(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def authors(rng: random.Random, k: int) -> list[tuple[str, str]]:
    return [(s, rng.choice(FORENAMES)) for s in rng.sample(SURNAMES, k)]


def affiliation(rng: random.Random) -> str:
    return f"{rng.choice(DEPARTMENTS)}, {rng.choice(UNIVERSITIES)}, {rng.choice(CITIES)}."


def abstract_sections(s: Study, rng: random.Random) -> list[tuple[str, str]]:
    return [("BACKGROUND", scrub(background(s, rng))), ("METHODS", scrub(methods(s, rng))),
            ("RESULTS", scrub(results(s, rng))), ("CONCLUSIONS", scrub(conclusion(s, rng)))]


# ------------------------------------------------------------------------------------------------ MEDLINE
def _date(tag: str, y: int, m: int, d: int, indent: str) -> str:
    return (f"{indent}<{tag}>\n{indent}\t<Year>{y}</Year>\n{indent}\t<Month>{m:02d}</Month>\n"
            f"{indent}\t<Day>{d:02d}</Day>\n{indent}</{tag}>\n")


def medline_citation(pmid: str, title: str, sections: list[tuple[str, str]] | None, s: Study | None,
                     rng: random.Random, *, structured: bool = True, medline_date: bool = False,
                     language: str = "eng", vernacular: str = "", pubtypes=None, mesh=None,
                     revised_year: int | None = None, comment_on: str = "", pmc: str = "", doi: str = "",
                     year: int | None = None) -> str:
    """One ``<PubmedArticle>`` in the 2024 DTD, tab-indented like NLM's own pretty-printed files."""
    year = year or (s.year if s else rng.randint(2010, 2023))
    journal = rng.choice(JOURNALS)
    doi = doi or f"10.{rng.randint(1000, 9999)}/{journal[1].split()[0].lower()}.{year}.{rng.randint(100, 999)}"
    t = "\t"
    out = [f"{t}<PubmedArticle>\n", f"{t*2}<MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\">\n",
           f"{t*3}<PMID Version=\"1\">{pmid}</PMID>\n",
           _date("DateCompleted", year + 1, rng.randint(1, 12), rng.randint(1, 28), t * 3),
           _date("DateRevised", revised_year or year + 2, rng.randint(1, 12), rng.randint(1, 28), t * 3),
           f"{t*3}<Article PubModel=\"Print-Electronic\">\n", f"{t*4}<Journal>\n",
           f"{t*5}<ISSN IssnType=\"Electronic\">{journal[2]}</ISSN>\n",
           f"{t*5}<JournalIssue CitedMedium=\"Internet\">\n",
           f"{t*6}<Volume>{rng.randint(5, 80)}</Volume>\n", f"{t*6}<Issue>{rng.randint(1, 12)}</Issue>\n",
           f"{t*6}<PubDate>\n"]
    if medline_date:
        mo = rng.randrange(0, 11)
        out.append(f"{t*7}<MedlineDate>{year} {MONTHS[mo]}-{MONTHS[mo + 1]}</MedlineDate>\n")
    else:
        out.append(f"{t*7}<Year>{year}</Year>\n{t*7}<Month>{rng.choice(MONTHS)}</Month>\n")
    out += [f"{t*6}</PubDate>\n", f"{t*5}</JournalIssue>\n", f"{t*5}<Title>{e(journal[0])}</Title>\n",
            f"{t*5}<ISOAbbreviation>{e(journal[1])}</ISOAbbreviation>\n", f"{t*4}</Journal>\n",
            f"{t*4}<ArticleTitle>{e(title)}</ArticleTitle>\n"]
    first = rng.randint(10, 900)
    last = first + rng.randint(4, 14)
    out += [f"{t*4}<Pagination>\n{t*5}<StartPage>{first}</StartPage>\n{t*5}<EndPage>{last}</EndPage>\n"
            f"{t*5}<MedlinePgn>{first}-{str(last)[-2:] if str(last)[:-2] == str(first)[:-2] else last}</MedlinePgn>\n"
            f"{t*4}</Pagination>\n",
            f"{t*4}<ELocationID EIdType=\"doi\" ValidYN=\"Y\">{e(doi)}</ELocationID>\n"]
    if sections:
        out += _medline_abstract(sections, structured, year)
    out += _medline_authors(rng)
    out += [f"{t*4}</AuthorList>\n", f"{t*4}<Language>{language}</Language>\n",
            f"{t*4}<PublicationTypeList>\n"]
    for ui, name in pubtypes or (PUBTYPES[s.design] if s else (("D016428", "Journal Article"),)):
        out.append(f"{t*5}<PublicationType UI=\"{ui}\">{name}</PublicationType>\n")
    out.append(f"{t*4}</PublicationTypeList>\n")
    if vernacular:
        out.append(f"{t*4}<VernacularTitle>{e(vernacular)}</VernacularTitle>\n")
    out += [f"{t*3}</Article>\n", f"{t*3}<MedlineJournalInfo>\n{t*4}<Country>England</Country>\n"
            f"{t*4}<MedlineTA>{e(journal[1])}</MedlineTA>\n{t*4}<NlmUniqueID>{journal[3]}</NlmUniqueID>\n"
            f"{t*4}<ISSNLinking>{journal[2]}</ISSNLinking>\n{t*3}</MedlineJournalInfo>\n",
            f"{t*3}<CitationSubset>IM</CitationSubset>\n"]
    if comment_on:
        out.append(f"{t*3}<CommentsCorrectionsList>\n{t*4}<CommentsCorrections RefType=\"CommentOn\">\n"
                   f"{t*5}<RefSource>{e(comment_on)}</RefSource>\n{t*4}</CommentsCorrections>\n"
                   f"{t*3}</CommentsCorrectionsList>\n")
    terms = mesh if mesh is not None else sorted(set(s.mesh) | {"Female", "Male", "Middle Aged"}) if s else []
    if terms:
        out.append(f"{t*3}<MeshHeadingList>\n")
        for term in terms:
            major = "Y" if s and term == s.mesh[0] else "N"
            out.append(f"{t*4}<MeshHeading>\n{t*5}<DescriptorName UI=\"{MESH_UI.get(term, 'D000000')}\" "
                       f"MajorTopicYN=\"{major}\">{e(term)}</DescriptorName>\n{t*4}</MeshHeading>\n")
        out.append(f"{t*3}</MeshHeadingList>\n")
    out += [f"{t*2}</MedlineCitation>\n", f"{t*2}<PubmedData>\n{t*3}<History>\n"]
    for status in ("received", "accepted", "entrez", "pubmed", "medline"):
        out.append(f"{t*4}<PubMedPubDate PubStatus=\"{status}\">\n{t*5}<Year>{year}</Year>\n"
                   f"{t*5}<Month>{rng.randint(1, 12)}</Month>\n{t*5}<Day>{rng.randint(1, 28)}</Day>\n"
                   f"{t*4}</PubMedPubDate>\n")
    out += [f"{t*3}</History>\n{t*3}<PublicationStatus>ppublish</PublicationStatus>\n{t*3}<ArticleIdList>\n",
            f"{t*4}<ArticleId IdType=\"pubmed\">{pmid}</ArticleId>\n",
            f"{t*4}<ArticleId IdType=\"doi\">{e(doi)}</ArticleId>\n"]
    if pmc:
        out.append(f"{t*4}<ArticleId IdType=\"pmc\">{pmc}</ArticleId>\n")
    out += [f"{t*3}</ArticleIdList>\n{t*2}</PubmedData>\n", f"{t}</PubmedArticle>\n"]
    return "".join(out)


def _medline_abstract(sections: list[tuple[str, str]], structured: bool, year: int) -> list[str]:
    """``<Abstract>``: labelled ``AbstractText`` parts (with NLM categories) or one plain paragraph."""
    t = "\t"
    out: list[str] = []
    out.append(f"{t*4}<Abstract>\n")
    if structured:
        for label, text in sections:
            category = NLM_CATEGORY.get(label, label)
            out.append(f"{t*5}<AbstractText Label=\"{e(label)}\" NlmCategory=\"{category}\">{e(text)}</AbstractText>\n")
    else:
        out.append(f"{t*5}<AbstractText>{e(' '.join(text for _, text in sections))}</AbstractText>\n")
    out.append(f"{t*5}<CopyrightInformation>© {year} The Authors.</CopyrightInformation>\n")
    out.append(f"{t*4}</Abstract>\n")
    return out


def _medline_authors(rng: random.Random) -> list[str]:
    """The opening ``<AuthorList>`` and 2-6 invented authors with their affiliations."""
    t = "\t"
    out = [f"{t*4}<AuthorList CompleteYN=\"Y\">\n"]
    for surname, fore in authors(rng, rng.randint(2, 6)):
        out += [f"{t*5}<Author ValidYN=\"Y\">\n", f"{t*6}<LastName>{e(surname)}</LastName>\n",
                f"{t*6}<ForeName>{fore}</ForeName>\n", f"{t*6}<Initials>{fore[0]}</Initials>\n",
                f"{t*6}<AffiliationInfo>\n{t*7}<Affiliation>{e(affiliation(rng))}</Affiliation>\n"
                f"{t*6}</AffiliationInfo>\n", f"{t*5}</Author>\n"]
    return out


def medline_file(citations: list[str], delete: list[str] = ()) -> str:
    head = ('<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January '
            '2024//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n<PubmedArticleSet>\n')
    tail = ""
    if delete:
        tail = "<DeleteCitation>\n" + "".join(f'<PMID Version="1">{p}</PMID>\n' for p in delete) + "</DeleteCitation>\n"
    return head + "".join(citations) + tail + "</PubmedArticleSet>\n"


FRENCH = {**_FACTS["french"], "sections": [tuple(s) for s in _FACTS["french"]["sections"]]}


# ------------------------------------------------------------------------------------------------ JATS
DOCTYPES = {
    "jats1.2": ('<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.2 '
                '20190208//EN" "JATS-archivearticle1.dtd">', "1.2"),
    "jats1.1": ('<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.1 '
                '20151215//EN" "JATS-archivearticle1.dtd">', "1.1"),
    "jats1.0": ('<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.0 '
                '20120330//EN" "JATS-archivearticle1.dtd">', "1.0"),
    "nlm3.0": ('<!DOCTYPE article PUBLIC "-//NLM//DTD Journal Archiving and Interchange DTD v3.0 20080202//EN" '
               '"archivearticle3.dtd">', "3.0"),
    "nlm2.3": ('<!DOCTYPE article PUBLIC "-//NLM//DTD Journal Archiving and Interchange DTD v2.3 20070202//EN" '
               '"archivearticle.dtd">', "2.3"),
}
LICENCES = {
    "cc-by-4.0": ('<license license-type="open-access" xlink:href="https://creativecommons.org/licenses/by/4.0/">'
                  '<license-p>This is an open access article distributed under the terms of the <ext-link '
                  'ext-link-type="uri" xlink:href="https://creativecommons.org/licenses/by/4.0/">Creative Commons '
                  'Attribution License</ext-link>, which permits unrestricted use, distribution, and reproduction in '
                  'any medium, provided the original author and source are credited.</license-p></license>'),
    "cc-by-nc-4.0": ('<license license-type="open-access" '
                     'xlink:href="https://creativecommons.org/licenses/by-nc/4.0/"><license-p>This is an open access '
                     'article under the terms of the Creative Commons Attribution-NonCommercial License, which '
                     'permits use, distribution and reproduction in any medium, provided the original work is '
                     'properly cited and is not used for commercial purposes.</license-p></license>'),
    "cc0": ('<license license-type="open-access" xlink:href="https://creativecommons.org/publicdomain/zero/1.0/">'
            '<license-p>This is an open access article, free of all copyright, and may be freely reproduced, '
            'distributed, transmitted, modified, built upon, or otherwise used by anyone for any lawful purpose. '
            'The work is made available under the Creative Commons CC0 public domain dedication.</license-p>'
            '</license>'),
    "cc-by-4.0-ali": ('<ali:free_to_read/><ali:license_ref specific-use="textmining" content-type="ccbylicense">'
                      'https://creativecommons.org/licenses/by/4.0/</ali:license_ref><license><license-p>This article '
                      'is licensed under a Creative Commons Attribution 4.0 International License.</license-p>'
                      '</license>'),
    "cc-by-2.0": ('<license license-type="open-access" xlink:href="http://creativecommons.org/licenses/by/2.0">'
                  '<p>This is an Open Access article distributed under the terms of the Creative Commons '
                  'Attribution License, which permits unrestricted use, distribution, and reproduction in any '
                  'medium, provided the original work is properly cited.</p></license>'),
    "all-rights-reserved": "",
}


def _intro(s: Study, rng: random.Random, cite) -> list[str]:
    d, pick = s.domain, rng.choice
    return [
        f"{background(s, rng)} " + pick((
            f"Previous studies of {s.intervention} have reported inconsistent results {cite(0)}{cite(1)}, partly "
            f"because they were small or recruited selected groups of patients.",
            f"Trials of {s.intervention} published so far {cite(0)}{cite(1)} were short, and few measured "
            f"{s.outcome}.",
            f"Observational reports {cite(0)} and one pilot study {cite(1)} suggested a benefit, but they were "
            f"prone to bias.",
        )),
        pick((
            f"In {s.population}, {s.outcome} matters to patients and to health services alike {cite(2)}. However, "
            f"the evidence available when we designed this study did not allow a firm recommendation, and clinical "
            f"guidelines in {d} care differed in their advice {cite(3)}.",
            f"{s.outcome[0].upper()}{s.outcome[1:]} is an outcome that patients rank highly {cite(2)}, yet national "
            f"recommendations on {d} are silent on {s.intervention} {cite(3)}.",
            f"The {s.outcome.split(' at ')[0].split(' within ')[0]} of {s.population} has consequences for "
            f"patients and for services {cite(2)}. Several {d} guidelines call for better evidence before "
            f"{s.intervention} is adopted {cite(3)}.",
        )),
        pick((
            f"We therefore conducted a {s.design} to compare {s.intervention} with {s.comparator}. Our hypothesis "
            f"was that {s.intervention} would {s.verb} {s.outcome}.",
            f"This {s.design} tested whether {s.intervention}, compared with {s.comparator}, would {s.verb} "
            f"{s.outcome}.",
            f"Here we report a {s.design} of {s.intervention} against {s.comparator} in routine practice.",
        )),
    ]


def _methods(s: Study, rng: random.Random, cite) -> list[tuple[str, list[str]]]:
    pick = rng.choice
    return [
        (pick(("Study design and participants", "Design, setting and participants", "Participants")), [
            f"{methods(s, rng)} " + pick((
                f"Eligible participants were {s.population} who were able to give informed consent. We excluded "
                f"people with a life expectancy of less than 6 months and those already taking part in another "
                f"interventional study.",
                "People who could not communicate in the local language without an interpreter, or who were "
                "expected to move away during follow-up, were not eligible.",
                f"All consecutive {s.population} seen during the recruitment period were screened by a research "
                f"nurse.",
            )),
            pick((
                "The protocol was approved by the regional research ethics committee, and all participants gave "
                "written informed consent before any study procedure.",
                "Ethical approval was granted by the institutional review board; the need for individual consent "
                "was waived for the analysis of routinely collected data.",
                "The study was registered before the first participant was enrolled and was approved by the "
                "national ethics board.",
            )),
        ]),
        (pick(("Intervention and comparator", "Interventions", "Study procedures")), [pick((
            f"Participants in the intervention group received {s.intervention}, delivered by trained staff "
            f"following a written manual {cite(4)}. Participants in the comparison group received {s.comparator}. "
            f"Adherence was recorded at each contact.",
            f"{s.intervention[0].upper()}{s.intervention[1:]} followed a standard operating procedure {cite(4)}; "
            f"fidelity was checked on a random tenth of sessions. The comparison group continued with "
            f"{s.comparator}.",
        ))]),
        ("Outcomes", [pick((
            f"The primary outcome was {s.outcome}. Secondary outcomes included adverse events, use of health "
            f"services and patient-reported experience, measured with validated instruments {cite(5)}.",
            f"We prespecified {s.outcome} as the primary outcome. Other outcomes were safety events and costs; "
            f"questionnaires had been validated in this population {cite(5)}.",
        ))]),
        (pick(("Statistical analysis", "Statistical methods", "Analysis")), [pick((
            f"We estimated that {s.n1 + s.n2} participants would give 80% power to detect a clinically important "
            f"difference at a two-sided significance level of 0.05. Continuous outcomes were compared with linear "
            f"models and binary outcomes with log-binomial or logistic regression {cite(6)}.",
            f"Binary outcomes were analysed with generalised linear models {cite(6)} and continuous ones with "
            f"analysis of covariance adjusted for the baseline value. Missing data were handled by multiple "
            f"imputation.",
        ))]),
    ]


def _discussion(s: Study, rng: random.Random, cite) -> list[str]:
    verdict = {"yes": "showed a clear benefit", "no": "did not show a benefit",
               "maybe": "suggested a possible benefit that did not reach statistical significance"}[s.decision]
    return [
        f"In this {s.design}, {s.intervention} {verdict} for {s.outcome} in {s.population}. "
        f"{conclusion(s, rng)}",
        rng.choice((
            f"Our findings are broadly consistent with earlier work {cite(0)}{cite(7)}, although the size of the "
            f"effect differs between studies. Differences in the populations recruited, in the intensity of the "
            f"intervention and in the comparator are the most likely explanations {cite(8)}.",
            f"Earlier reports {cite(0)}{cite(7)} used shorter follow-up, which may explain why they found larger "
            f"effects. A further trial with longer follow-up is under way {cite(8)}.",
            f"The result fits with the mechanism proposed in earlier work {cite(0)}. Comparison with {cite(7)} is "
            f"limited because outcome definitions differed {cite(8)}.",
        )),
    ]


def _limitations(rng: random.Random, cite) -> str:
    return rng.choice((
        "The main strengths of the study are its pragmatic design and the small number of participants lost to "
        "follow-up. Its limitations include the impossibility of blinding participants to the intervention and the "
        f"recruitment of participants from a single health system, which may limit generalisability {cite(8)}.",
        "Outcome assessors were unaware of allocation, but participants and staff were not. Follow-up was "
        f"complete for most participants. The setting may not represent rural services {cite(8)}.",
        "We could not measure adherence directly, and some outcomes were self-reported. On the other hand, the "
        f"sample was large and broadly representative {cite(8)}.",
    ))


def ref_titles(s: Study, rng: random.Random) -> list[str]:
    return [
        f"{s.intervention[0].upper()}{s.intervention[1:]} in {s.population}: a systematic review",
        f"A pilot study of {s.intervention}",
        f"The burden of {s.outcome.split(' at ')[0].split(' within ')[0]} in routine care",
        f"Variation between clinical guidelines in {s.domain}",
        f"Training manual for the delivery of {s.intervention}",
        f"Validation of patient-reported outcome measures in {s.domain}",
        "Regression methods for binary outcomes in clinical trials",
        f"Long-term follow-up of {s.comparator} in {s.population}",
        "",  # a reference with no article title: falls back to its label / citation text
    ]


def _ref_xml(i: int, title: str, rng: random.Random, style: str) -> str:
    names = authors(rng, rng.randint(1, 3))
    year = rng.randint(1998, 2020)
    journal = rng.choice(JOURNALS)
    vol, fp = rng.randint(2, 90), rng.randint(10, 900)
    if style == "citation":  # NLM 2.3
        people = "".join(f"<name><surname>{e(sn)}</surname><given-names>{fn[0]}</given-names></name>"
                         for sn, fn in names)
        art = f"<article-title>{e(title)}</article-title>" if title else ""
        return (f'<ref id="B{i}"><label>{i}</label><citation citation-type="journal"><person-group '
                f'person-group-type="author">{people}</person-group><year>{year}</year>{art}<source>'
                f'{e(journal[1])}</source><volume>{vol}</volume><fpage>{fp}</fpage><lpage>{fp + 9}</lpage>'
                f'</citation></ref>')
    if style == "mixed" or (style == "both" and i % 2 == 0):
        art = f"<article-title>{e(title)}</article-title>. " if title else ""
        return (f'<ref id="B{i}"><label>{i}</label><mixed-citation publication-type="journal">'
                + "".join(f"<string-name><surname>{e(sn)}</surname> <given-names>{fn[0]}</given-names></string-name>"
                          + (", " if k < len(names) - 1 else ". ") for k, (sn, fn) in enumerate(names))
                + f"{art}<source>{e(journal[1])}</source>. <year>{year}</year>;<volume>{vol}</volume>:"
                f"<fpage>{fp}</fpage>–<lpage>{fp + 9}</lpage>.</mixed-citation></ref>")
    people = "".join(f"<name><surname>{e(sn)}</surname><given-names>{fn[0]}</given-names></name>" for sn, fn in names)
    art = f"<article-title>{e(title)}</article-title>" if title else ""
    return (f'<ref id="B{i}"><label>{i}</label><element-citation publication-type="journal"><person-group '
            f'person-group-type="author">{people}</person-group>{art}<source>{e(journal[1])}</source>'
            f'<year>{year}</year><volume>{vol}</volume><fpage>{fp}</fpage><lpage>{fp + 9}</lpage>'
            f'<pub-id pub-id-type="doi">10.{rng.randint(1000, 9999)}/ref.{year}.{fp}</pub-id></element-citation></ref>')


def jats_article(s: Study, pmid: str, pmcid: str, doi: str, rng: random.Random, *, dtd: str, licence: str,
                 article_type: str = "research-article", title: str = "", sections=None) -> str:
    """One JATS/NLM article. Returns the ``<article>`` element only (the caller adds the prolog)."""
    _, version = DOCTYPES[dtd]
    old = dtd == "nlm2.3"
    ref_style = "citation" if old else ("both" if dtd in ("jats1.2", "jats1.1") else "element")
    titles = ref_titles(s, rng)
    used: list[int] = []

    def cite(k: int) -> str:
        i = k + 1
        used.append(i)
        return f'[<xref ref-type="bibr" rid="B{i}">{i}</xref>]'

    journal = rng.choice(JOURNALS)
    year = s.year
    names = authors(rng, rng.randint(3, 6))
    title = title or s.title.rstrip(".")
    sections = sections or abstract_sections(s, rng)

    ns = 'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML"'
    if licence == "cc-by-4.0-ali":
        ns += ' xmlns:ali="http://www.niso.org/schemas/ali/1.0/"'
    dtd_attr = "" if old else f' dtd-version="{version}"'
    x = [f'<article {ns}{dtd_attr} xml:lang="en" article-type="{article_type}"><?properties open_access?>']
    x.append("<front><journal-meta>")
    x.append(f'<journal-id journal-id-type="nlm-ta">{e(journal[1])}</journal-id>')
    x.append(f'<journal-id journal-id-type="iso-abbrev">{e(journal[1])}</journal-id>')
    if old:
        x.append(f"<journal-title>{e(journal[0])}</journal-title>")
    else:
        x.append(f"<journal-title-group><journal-title>{e(journal[0])}</journal-title></journal-title-group>")
    x.append(f'<issn pub-type="epub">{journal[2]}</issn><publisher><publisher-name>{e(journal[0].split()[-1])} '
             f'Press</publisher-name></publisher></journal-meta><article-meta>')
    x.append(f'<article-id pub-id-type="pmid">{pmid}</article-id><article-id pub-id-type="pmc">{pmcid}</article-id>'
             f'<article-id pub-id-type="doi">{e(doi)}</article-id>')
    x.append('<article-categories><subj-group subj-group-type="heading"><subject>'
             f'{"Research Article" if article_type == "research-article" else "Brief Report"}</subject></subj-group>'
             "</article-categories>")
    x.append(f"<title-group><article-title>{e(title)}</article-title></title-group>")
    x.append('<contrib-group>')
    for k, (sn, fn) in enumerate(names):
        corresp = '<xref ref-type="corresp" rid="cor1">*</xref>' if k == 0 else ""
        flag = ' corresp="yes"' if k == 0 else ""
        x.append(f'<contrib contrib-type="author"{flag}><name><surname>{e(sn)}'
                 f'</surname><given-names>{fn}</given-names></name><xref ref-type="aff" rid="aff{k % 2 + 1}">'
                 f'{k % 2 + 1}</xref>{corresp}</contrib>')
    x.append("</contrib-group>")
    for k in (1, 2):
        x.append(f'<aff id="aff{k}"><label>{k}</label>{e(affiliation(rng))}</aff>')
    mail = f"{names[0][1][0].lower()}.{names[0][0].lower().replace(chr(39), '')}@{journal[1].split()[0].lower()}-uni.example.edu"
    x.append(f'<author-notes><corresp id="cor1">* Corresponding author. E-mail: <email>{e(mail)}</email></corresp>'
             '<fn fn-type="conflict"><p>The authors declare no competing interests.</p></fn></author-notes>')
    mon = rng.randint(1, 12)
    x.append(f'<pub-date pub-type="epub"><day>{rng.randint(1, 28)}</day><month>{mon}</month><year>{year}</year>'
             f'</pub-date><pub-date pub-type="collection"><year>{year}</year></pub-date>')
    x.append(f"<volume>{rng.randint(3, 40)}</volume><issue>{rng.randint(1, 12)}</issue>"
             f"<elocation-id>e{rng.randint(1000, 9999)}</elocation-id>")
    x.append(_permissions(licence, old, year, journal, holder=f"{names[0][0]} et al."))
    x.append("<abstract>")
    for label, text in sections:
        x.append(f"<sec><title>{label.title()}</title><p>{e(text)}</p></sec>")
    x.append("</abstract>")
    x.append('<kwd-group kwd-group-type="author"><kwd>' + "</kwd><kwd>".join(e(k) for k in s.mesh[:3]) + "</kwd></kwd-group>")
    x.append("</article-meta></front><body>")

    x += _jats_body(s, rng, cite)
    x.append("</body><back>")
    x += _jats_back(titles, rng, ref_style)
    return "".join(x)


def _permissions(licence: str, old: bool, year: int, journal: tuple[str, ...], holder: str) -> str:
    """The article's copyright and licence: a publisher's "all rights reserved", a bare NLM 2.3 statement, or a
    ``<permissions>`` block with the licence markup of ``LICENCES``."""
    if licence == "all-rights-reserved":
        perm = (f"<permissions><copyright-statement>© {year} {e(journal[0].split()[-1])} Press. All rights reserved."
                f"</copyright-statement><copyright-year>{year}</copyright-year><copyright-holder>"
                f"{e(journal[0].split()[-1])} Press</copyright-holder></permissions>")
    elif old and licence == "bare":
        perm = (f"<copyright-statement>{e(holder)} This is an open-access article distributed under the terms of "
                "the Creative Commons Attribution License, which permits unrestricted use, distribution, and "
                "reproduction in any medium, provided the original author and source are credited."
                f"</copyright-statement><copyright-year>{year}</copyright-year>")
    else:
        perm = (f"<permissions><copyright-statement>© {year} {e(holder)}</copyright-statement>"
                f"<copyright-year>{year}</copyright-year>{LICENCES[licence]}</permissions>")
    return perm


def _jats_body(s: Study, rng: random.Random, cite) -> list[str]:
    """Introduction, Methods (with the formulas), Results (with a figure and a table), Discussion, Conclusions."""
    x: list[str] = []
    x.append('<sec id="s1"><title>Introduction</title>')
    x += [f"<p>{scrub(p)}</p>" for p in _intro(s, rng, cite)]
    x.append("</sec>")
    x.append('<sec id="s2" sec-type="methods"><title>Methods</title>')
    for j, (sub, paras) in enumerate(_methods(s, rng, cite)):
        x.append(f'<sec id="s2-{j + 1}"><title>{sub}</title>' + "".join(f"<p>{scrub(p)}</p>" for p in paras))
        if j == 3:
            x.append(_formulas(s, rng))
        x.append("</sec>")
    x.append("</sec>")
    x.append('<sec id="s3" sec-type="results"><title>Results</title>')
    x.append(f'<p>Of the participants enrolled, {s.n1} were allocated to {s.intervention} and {s.n2} to '
             f'{s.comparator} (<xref ref-type="fig" rid="f1">Figure 1</xref>). Baseline characteristics were similar '
             f'between the groups (<xref ref-type="table" rid="t1">Table 1</xref>).</p>')
    x.append(f"<p>{e(scrub(results(s, rng)))}</p>")
    x.append(f'<fig id="f1" position="float"><label>Figure 1</label><caption><title>Flow of participants through '
             f'the study.</title><p>Numbers of people assessed for eligibility, allocated to {e(s.intervention)} or '
             f'{e(s.comparator)}, and included in the analysis of {e(s.outcome)}.</p></caption>'
             f'<graphic xlink:href="f1.jpg"/></fig>')
    x.append(_table(s, rng))
    x.append("</sec>")
    x.append('<sec id="s4" sec-type="discussion"><title>Discussion</title>')
    x += [f"<p>{scrub(p)}</p>" for p in _discussion(s, rng, cite)]
    x.append(f'<sec id="s4-1"><title>{rng.choice(("Strengths and limitations", "Limitations"))}</title>'
             f'<p>{_limitations(rng, cite)}</p></sec>')
    x.append("</sec>")
    x.append(f'<sec id="s5" sec-type="conclusions"><title>Conclusions</title><p>{e(scrub(conclusion(s, rng)))}</p></sec>')
    return x


def _jats_back(titles: list[str], rng: random.Random, ref_style: str) -> list[str]:
    """Acknowledgements, funding footnote and the reference list, closing the article."""
    x: list[str] = []
    x.append("<ack><p>" + rng.choice((
        "We thank the participants and the staff of the participating sites, and the members of the trial "
        "steering committee.",
        "We are grateful to the research nurses who recruited participants and to the patient advisory group.",
        "The authors thank the data management team and the independent data monitoring committee.",
    )) + "</p></ack>")
    x.append('<fn-group><fn fn-type="financial-disclosure"><p>This study was funded by a research grant from a '
             'national health research programme. The funder had no role in study design, data collection and '
             'analysis, decision to publish, or preparation of the manuscript.</p></fn></fn-group>')
    x.append("<ref-list><title>References</title>")
    for i, t in enumerate(titles, start=1):
        x.append(_ref_xml(i, t, rng, ref_style))
    x.append("</ref-list></back></article>")
    return x


def _formulas(s: Study, rng: random.Random) -> str:
    mathml = ('<disp-formula id="e1"><label>(1)</label><mml:math id="m1"><mml:mrow><mml:mi>RR</mml:mi>'
              '<mml:mo>=</mml:mo><mml:mfrac><mml:mrow><mml:msub><mml:mi>a</mml:mi><mml:mn>1</mml:mn></mml:msub>'
              '<mml:mo>/</mml:mo><mml:msub><mml:mi>n</mml:mi><mml:mn>1</mml:mn></mml:msub></mml:mrow><mml:mrow>'
              '<mml:msub><mml:mi>a</mml:mi><mml:mn>2</mml:mn></mml:msub><mml:mo>/</mml:mo><mml:msub><mml:mi>n'
              '</mml:mi><mml:mn>2</mml:mn></mml:msub></mml:mrow></mml:mfrac></mml:mrow></mml:math></disp-formula>')
    tex = ('<disp-formula id="e2"><label>(2)</label><tex-math id="M2"><![CDATA[\\documentclass[12pt]{minimal}'
           '\\begin{document}$$n = \\frac{2\\,(z_{1-\\alpha/2} + z_{1-\\beta})^2\\,\\sigma^2}{\\delta^2}$$'
           '\\end{document}]]></tex-math></disp-formula>')
    text = ("<p>The relative risk was computed as the ratio of the event proportions in the two groups, where "
            "<italic>a</italic> is the number of events and <italic>n</italic> the number of participants in each "
            "group:</p>" + mathml +
            "<p>The sample size per group followed the usual formula for comparing two means:</p>" + tex)
    return text


def _table(s: Study, rng: random.Random) -> str:
    a1, a2 = rng.uniform(48, 72), rng.uniform(48, 72)
    f1, f2 = rng.uniform(38, 62), rng.uniform(38, 62)
    rows = [("Age, years, mean (SD)", f"{a1:.1f} ({rng.uniform(8, 14):.1f})", f"{a2:.1f} ({rng.uniform(8, 14):.1f})"),
            ("Women, n (%)", f"{round(s.n1 * f1 / 100)} ({f1:.0f})", f"{round(s.n2 * f2 / 100)} ({f2:.0f})"),
            ("Current smokers, n (%)", f"{round(s.n1 * 0.18)} (18)", f"{round(s.n2 * 0.2)} (20)"),
            ("Diabetes mellitus, n (%)", f"{round(s.n1 * 0.24)} (24)", f"{round(s.n2 * 0.22)} (22)")]
    body = "".join(f"<tr><td>{e(r[0])}</td><td>{r[1]}</td><td>{r[2]}</td></tr>" for r in rows)
    return (f'<table-wrap id="t1" position="float"><label>Table 1</label><caption><title>Baseline characteristics '
            f'of the participants.</title></caption><table frame="hsides" rules="groups"><thead><tr><th>'
            f'Characteristic</th><th>Intervention (n = {s.n1})</th><th>Comparison (n = {s.n2})</th></tr></thead>'
            f'<tbody>{body}</tbody></table><table-wrap-foot><fn><p>SD, standard deviation.</p></fn>'
            f'</table-wrap-foot></table-wrap>')


def jats_file(article: str, dtd: str) -> str:
    return DOCTYPES[dtd][0] + "\n" + article + "\n"


def efetch_file(articles: list[str]) -> str:
    return ('<?xml version="1.0" ?>\n<!DOCTYPE pmc-articleset PUBLIC "-//NLM//DTD ARTICLE SET 2.0//EN" '
            '"https://dtd.nlm.nih.gov/ncbi/pmc/articleset/nlm-articleset-2.0.dtd">\n<pmc-articleset>'
            + "\n".join(articles) + "\n</pmc-articleset>\n")
