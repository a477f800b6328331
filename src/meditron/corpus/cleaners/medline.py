"""One MEDLINE/PubMed citation element → abstract text and metadata.

Handles ``<PubmedArticle>`` (PubMed DTDs 2016–2025), bare ``<MedlineCitation>`` (the old ``<MedlineCitationSet>``
format) and ``<PubmedBookArticle>``. Text = the title, a blank line, then the abstract; a structured abstract keeps
each section label (``BACKGROUND: …``), one section per line.
"""

from __future__ import annotations

import re

from lxml import etree

from meditron.corpus.cleaners.xml import element_text, iso_date

_YEAR = re.compile(r"(1[89]\d\d|20\d\d)")


def citation_pmid(record: etree._Element) -> str:
    """The record's own PMID (not those of CommentsCorrections), as a string of digits ('' when absent)."""
    holder = record.find("MedlineCitation")
    if holder is None:
        holder = record.find("BookDocument")
    if holder is None:
        holder = record
    pmid = holder.findtext("PMID") or ""
    return pmid.strip()


def _abstract_lines(abstract: etree._Element | None) -> list[str]:
    lines: list[str] = []
    if abstract is None:
        return lines
    for part in abstract.iterfind("AbstractText"):
        text = element_text(part)
        if not text:
            continue
        label = (part.get("Label") or "").strip()
        lines.append(f"{label}: {text}" if label and label.upper() != "UNLABELLED" else text)
    return lines


def _year(article: etree._Element | None) -> int | None:
    if article is None:
        return None
    for path in (
        "Journal/JournalIssue/PubDate/Year",
        "Journal/JournalIssue/PubDate/MedlineDate",
        "ArticleDate/Year",
        "PubDate/Year",  # <Book>
        "PubDate/MedlineDate",
    ):
        value = article.findtext(path)
        if value and (m := _YEAR.search(value)):
            return int(m.group(1))
    return None


def _pub_date(article: etree._Element | None) -> str | None:
    """The issue's publication date (``PubDate``), else the electronic one (``ArticleDate``), else the year of a free
    text ``MedlineDate`` (``1998 Dec-1999 Jan``) with its first month."""
    if article is None:
        return None
    for path in ("Journal/JournalIssue/PubDate", "ArticleDate", "PubDate"):
        date = article.find(path)
        if date is not None and date.findtext("Year"):
            return iso_date(date.findtext("Year"), date.findtext("Month"), date.findtext("Day"))
    for path in ("Journal/JournalIssue/PubDate/MedlineDate", "PubDate/MedlineDate"):
        text = article.findtext(path)
        if text and (m := _YEAR.search(text)):
            rest = text[m.end():].split()
            return iso_date(m.group(1), rest[0] if rest else None)
    return None


def citation_to_text(record: etree._Element) -> tuple[str, dict]:
    """Render one record; ``metadata["has_abstract"]`` tells the reader whether there is anything beyond a title."""
    citation = record.find("MedlineCitation")
    book = record.find("BookDocument")
    if citation is None and book is None:
        citation = record
    pmid = citation_pmid(record)
    if citation is not None:
        article = citation.find("Article")
        title = element_text(article.find("ArticleTitle")) if article is not None else ""
        abstract = article.find("Abstract") if article is not None else None
        journal = element_text(article.find("Journal/Title")) if article is not None else ""
        journal = journal or (citation.findtext("MedlineJournalInfo/MedlineTA") or "").strip()
        year = _year(article)
        pub_date = _pub_date(article)
        pub_types = [element_text(p) for p in citation.iterfind("Article/PublicationTypeList/PublicationType")]
        mesh = [element_text(d) for d in citation.iterfind("MeshHeadingList/MeshHeading/DescriptorName")]
        languages = [(x.text or "").strip() for x in citation.iterfind("Article/Language")]
        version = citation.find("PMID").get("Version") if citation.find("PMID") is not None else None
        doi = next(
            (element_text(e) for e in citation.iterfind("Article/ELocationID") if e.get("EIdType") == "doi"), None
        )
    else:
        title = element_text(book.find("ArticleTitle")) or element_text(book.find("Book/BookTitle"))
        abstract = book.find("Abstract")
        journal = ""
        year = _year(book.find("Book"))
        pub_date = _pub_date(book.find("Book"))
        pub_types = [element_text(p) for p in book.iterfind("PublicationType")]
        mesh = []
        languages = [(x.text or "").strip() for x in book.iterfind("Language")]
        version = book.find("PMID").get("Version") if book.find("PMID") is not None else None
        doi = None
    pmcid = None
    for aid in record.iterfind("PubmedData/ArticleIdList/ArticleId"):
        kind = aid.get("IdType")
        if kind == "doi" and not doi:
            doi = (aid.text or "").strip() or None
        elif kind == "pmc" and aid.text:
            pmcid = aid.text.strip()
    lines = _abstract_lines(abstract)
    text = title + ("\n\n" + "\n".join(lines) if lines else "")
    metadata = {
        "pmid": pmid,
        "pmcid": pmcid,
        "doi": doi,
        "version": int(version) if version and version.isdigit() else 1,
        "title": title,
        "journal": journal or None,
        "year": year,
        "pub_date": pub_date,
        "publication_types": pub_types,
        "mesh_terms": mesh,
        "language": languages[0] if languages else None,
        "languages": languages,
        "structured_abstract": any(part.get("Label") for part in abstract.iterfind("AbstractText"))
        if abstract is not None
        else False,
        "has_abstract": bool(lines),
    }
    return text, metadata
