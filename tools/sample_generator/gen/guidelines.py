"""Clinical-guideline pages in the layout of MEDITRON's released guidelines, rendered from the clinical facts.

Each page mixes what real scraped guidelines contain and the cleaners must handle: Markdown headers of varying depth,
"-", "*", "•" and "o " bullets, bracketed reference numbers, bare URLs and Markdown links, a line that starts with the
word "often" (MEDITRON's cleaner turned it into "-ften"), a References section and a Disclaimer.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from .clinical import Condition
from .facts import load
from .medqa import metamap_phrases

_FACTS = load("guidelines")
SOURCES: list[str] = _FACTS["sources"]
SURNAMES: list[str] = _FACTS["surnames"]
JOURNALS: list[str] = _FACTS["journals"]
AUDIENCE: dict[str, str] = _FACTS["audience"]
POPULATION: dict[str, str] = _FACTS["population"]


def population(cond: Condition) -> str:
    if cond.age_text or cond.age[1] < 16:
        return POPULATION["child"]
    return POPULATION["older"] if cond.age[0] >= 60 else POPULATION["adult"]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


EPONYMS = tuple(_FACTS["eponyms"])  # a tuple: str.startswith takes no list


def lower_first(text: str) -> str:
    """Sentence-case a phrase for use mid-sentence, keeping acronyms and eponyms capitalised."""
    if text[:2].isupper() or text.startswith(EPONYMS):
        return text
    return text[0].lower() + text[1:]


def reference(rng: random.Random, dx: str, n: int) -> str:
    authors = ", ".join(f"{s} {rng.choice('ABCDEFGHJKLMRST')}{rng.choice(('', 'A', 'J', 'M'))}"
                        for s in rng.sample(SURNAMES, rng.randint(1, 4)))
    title = rng.choice((
        f"{dx}: a systematic review of diagnostic accuracy",
        f"Variation in the management of {lower_first(dx)} across {rng.randint(8, 60)} hospitals",
        f"Outcomes of {lower_first(dx)} after implementation of a care pathway",
        f"Time to treatment and mortality in {lower_first(dx)}: a cohort study",
        f"Patient experience of care for {lower_first(dx)}: a qualitative study",
        f"Cost-effectiveness of early specialist review in {lower_first(dx)}",
    ))
    year = rng.randint(2004, 2022)
    return (f"{n}. {authors}. {title}. {rng.choice(JOURNALS)}. {year};{rng.randint(3, 60)}({rng.randint(1, 12)}):"
            f"{rng.randint(10, 900)}-{rng.randint(901, 990)}.")


def _bullets(rng: random.Random, items: list[str]) -> list[str]:
    mark = rng.choice(("-", "*", "•"))
    return [f"{mark} {item}" for item in items]


def _sub(rng: random.Random, items: list[str]) -> list[str]:
    # Word-processor exports often keep "o" as the second-level bullet.
    return [f"    o {item}" if rng.random() < 0.7 else f"  - {item}" for item in items]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[a-z0-9%)])\. (?=[A-Z])", text) if s.strip()]


def fragments(text: str) -> list[str]:
    """Key findings of a case description as terse noun phrases, one bullet per sentence: guideline bullets list
    features ("first metatarsophalangeal joint; erythematous; warm"), they do not retell a case."""
    out = []
    for sentence in _sentences(text):
        if "no history of" in sentence:  # "He has no history of serious illness" is no feature to list
            out.append("previous illnesses, injuries and regular medicines")
            continue
        chunks = [c for c in metamap_phrases(sentence) if c.lower() not in ("he", "she", "there", "shows")]
        if chunks:
            out.append(lower_first("; ".join(chunks)))
    return out


def _short(clause: str) -> str:
    """Cut a long symptom description at its first relative clause ("pain that began ..." → "pain")."""
    m = re.search(r" (that|which|who|when|while|after|during|because) ", clause)
    if m and len(clause.split()) > 8 and len(clause[: m.start()].split()) >= 2:
        return clause[: m.start()]
    return clause


def _answers(cond: Condition) -> dict[str, str]:
    return {name: kind.answer for name, kind in cond.kinds.items()}


@dataclass
class _Page:
    """What the sections of one guideline page share: the facts, the header levels, the wording generator (whose
    draws must stay in page order for byte-identical output) and the reference list that ``cite`` fills."""

    cond: Condition
    rng: random.Random
    h: tuple[str, str, str]
    site: str
    dxl: str
    pop: str
    ans: dict[str, str]
    refs: list[str]
    compact: bool = False

    def cite(self) -> str:
        self.refs.append(reference(self.rng, self.cond.dx, len(self.refs) + 1))
        return f"[{len(self.refs)}]"


def render(cond: Condition, source: str, rng: random.Random, extra_case: str = "", contact: bool = False) -> dict:
    """One guideline row: ``{id, source, title, url, raw_text}`` (+ ``clean_text``/``overview`` for some sources).

    Every boilerplate sentence has several wordings, so that two guidelines on different conditions are not
    near-duplicates for MinHash (5-gram Jaccard well under 0.5 after cleaning)."""
    dx = cond.dx
    dxl = lower_first(dx)
    pop = population(cond)
    ans = _answers(cond)
    year = rng.randint(2012, 2023)
    pick = rng.choice
    title = pick((f"{dx}: assessment and initial management", f"Management of {dxl} in {pop}",
                  f"{dx} — clinical practice guideline", f"Recognising and treating {dxl}",
                  f"{dx}: diagnosis and treatment"))
    h = pick((("#", "##", "###"), ("##", "###", "####"), ("#", "###", "#####")))
    refs: list[str] = []
    site = f"https://www.{source}-guidance.example.org"
    url = f"{site}/{slug(dx)}"
    lines = [f"{h[0]} {title}", ""]
    lines += [pick(("Published", "Last updated", "Issued", "Review date")) + f": {rng.randint(1, 28)} "
              f"{pick(('January', 'March', 'May', 'July', 'September', 'November'))} {year}", ""]
    pg = _Page(cond, rng, h, site, dxl, pop, ans, refs)
    lines += _scope(pg, source, year)
    lines += _assessment(pg)
    lines += _investigations(pg)
    lines += _management(pg)
    lines += _end_matter(pg, extra_case, contact)
    raw = "\n".join(lines).strip() + "\n"
    return {"id": hashlib.sha1(f"{source}:{title}:{year}".encode()).hexdigest(), "source": source, "title": title,
            "url": url, "raw_text": raw}


def _scope(pg: _Page, source: str, year: int) -> list[str]:
    """Scope paragraph and the links to the evidence (decides whether the page is compact)."""
    cond, rng, h, dx, dxl, pick, cite = pg.cond, pg.rng, pg.h, pg.cond.dx, pg.dxl, pg.rng.choice, pg.cite
    pop, site = pg.pop, pg.site
    lines: list[str] = []
    lines += [f"{h[1]} {pick(('Scope', 'About this guideline', 'Purpose and scope', 'Introduction'))}", ""]
    lines += [pick((
        f"This guideline covers the recognition, assessment and early management of {dxl} in {pop}. It is "
        f"written for {AUDIENCE[cond.setting]} {cite()}.",
        f"These recommendations apply to {pop} with suspected or confirmed {dxl}. The intended users are "
        f"{AUDIENCE[cond.setting]} {cite()}.",
        f"We developed this guidance because care for {dxl} differs widely between services. It addresses {pop} "
        f"and is aimed at {AUDIENCE[cond.setting]} {cite()}.",
    )), ""]
    pg.compact = compact = rng.random() < 0.3
    if compact:
        lines += [f"See also the [{source.upper()} summary for patients]({site}/{slug(dx)}/public).", ""]
    else:
        lines += [pick((
            f"The full evidence review is available at {site}/evidence/{slug(dx)}-{year}.pdf and a summary for "
            f"patients at [information for the public]({site}/{slug(dx)}/public).",
            f"Methods, evidence tables and the committee's discussion are published separately "
            f"([evidence review]({site}/evidence/{slug(dx)})); a printable flowchart is at {site}/flowcharts/"
            f"{slug(dx)}.pdf.",
            f"For the evidence behind each recommendation, see {site}/{slug(dx)}/evidence. Patient leaflets can be "
            f"ordered from [our publications page]({site}/publications).",
        )), ""]
    return lines


def _assessment(pg: _Page) -> list[str]:
    """Recognition and assessment: features, history, examination, observations."""
    cond, rng, h, dxl, pick, cite = pg.cond, pg.rng, pg.h, pg.dxl, pg.rng.choice, pg.cite
    lines: list[str] = []
    lines += [f"{h[1]} {pick(('Recognition and assessment', 'Key recommendations', 'Recommendations', 'Assessment'))}",
              ""]
    lines += [f"{h[2]} {pick(('Clinical features', 'Symptoms and signs', 'When to suspect it'))}", ""]
    feats = "; ".join(_short(x) for x in reversed(cond.symptoms))
    if cond.symptoms:
        intro = pick((f"Suspect {dxl} in people who present with {feats}",
                      f"Think of {dxl} when someone reports {feats}",
                      f"Common presenting complaints are {feats}"))
    else:
        intro = f"Consider {dxl} in any person with the examination findings listed below"
    first = f"{intro} {cite()}."
    ask = pick(("Take a focused history, including:", "Ask about:", "Relevant history includes:",
                "Enquire specifically about:"))
    history = fragments(cond.history)
    lines += _bullets(rng, [first, ask if history else "Take a focused history."])
    lines += _sub(rng, history)
    lines += _bullets(rng, [pick(("Examine the person and record the findings. Typical findings are:",
                                  "On examination, look for:", "Signs that support the diagnosis:"))])
    lines += _sub(rng, fragments(cond.exam))
    if cond.vitals:
        t, p, r, bp = cond.vitals
        bp_text = f", blood pressure about {bp} mmHg" if bp else ""
        lines += _bullets(rng, [pick((
            f"Record a full set of observations; a typical patient has a temperature near {t:.1f}°C, pulse "
            f"{p} beats/min and respiratory rate {r} breaths/min{bp_text}.",
            f"Observations in typical cases: temperature {t:.1f}°C, heart rate {p}/min, respiratory rate {r}/min"
            f"{bp_text}.",
            f"Measure vital signs and use an early warning score (illustrative values: {t:.1f}°C, {p}/min, "
            f"{r}/min{bp_text}).",
        ))])
    lines.append("")
    if rng.random() < 0.75:
        lines += [pick((
            f"often the first contact is with a clinician who does not see {dxl} regularly, so a structured "
            f"checklist and a low threshold for senior review are recommended {cite()}.",
            f"often the early features of {dxl} are mistaken for a minor illness; document the reasoning when the "
            f"diagnosis is excluded {cite()}.",
            f"often more than one visit is needed before {dxl} is recognised. Review the history again if the "
            f"person returns {cite()}.",
        )), ""]
    return lines


def _investigations(pg: _Page) -> list[str]:
    """Investigations, with the preferred first test where the facts name one."""
    cond, rng, h, dxl, pick, cite = pg.cond, pg.rng, pg.h, pg.dxl, pg.rng.choice, pg.cite
    ans = pg.ans
    lines: list[str] = []
    lines += [f"{h[2]} {pick(('Investigations', 'Diagnostic tests', 'Confirming the diagnosis'))}", ""]
    if not cond.labs and "test" not in ans:
        lines += [pick((
            "The diagnosis is usually clinical. Choose investigations according to the severity of illness and "
            "local protocols, and do not let them delay treatment.",
            f"No single test confirms {dxl}; tests help to exclude alternatives and to assess severity.",
        )), ""]
    if cond.labs:
        lines += [pick((f"Investigation findings that support the diagnosis include {cite()}:",
                        f"Supportive results {cite()}:", f"Expected test results {cite()}:"))]
        lines += _bullets(rng, fragments(cond.labs)) + [""]
    if "test" in ans:
        lines += _bullets(rng, [pick((
            f"Offer {lower_first(ans['test'])} as the first diagnostic test when {dxl} is suspected {cite()}.",
            f"The preferred initial test is {lower_first(ans['test'])} {cite()}.",
        )), pick(("Do not delay treatment while waiting for results if the person is unwell.",
                  "Start treatment before results are available when the person is seriously ill."))])
        lines.append("")
    return lines


def _management(pg: _Page) -> list[str]:
    """Management (first step, drug), safety-netting, and microbiology or background."""
    rng, h, pick, cite = pg.rng, pg.h, pg.rng.choice, pg.cite
    ans, compact = pg.ans, pg.compact
    lines: list[str] = []
    lines += [f"{h[1]} {pick(('Management', 'Treatment', 'Initial management', 'What to do'))}", ""]
    for name in ("next", "pharm"):
        if name in ans:
            label = pick(("Recommended first step", "Do first", "Priority")) if name == "next" else pick(
                ("First-line treatment", "Preferred treatment", "Drug treatment of choice"))
            lines += _bullets(rng, [f"{label}: {lower_first(ans[name])} {cite()}."])
    if not compact:
        lines += _bullets(rng, [pick((
            "Explain the diagnosis and the treatment plan to the person and their family or carers, and give "
            "written information.",
            "Share decisions with the person; check they understand what happens next.",
            "Give clear verbal and written advice in a format the person can use.",
        )), pick(("Reassess within the time frame set out in the local pathway and escalate if there is:",
                  "Escalate to a senior clinician in case of:", "Seek urgent review for:"))])
        pool = ["worsening observations or a new early warning score trigger",
                "new symptoms or signs that suggest a complication", "concern expressed by the person, family or staff",
                "no improvement after the expected interval", "difficulty taking oral medicines or fluids",
                "a change in mental state"]
        lines += _sub(rng, rng.sample(pool, 3))
    lines.append("")
    if "organism" in ans:
        lines += [f"{h[2]} Microbiology", "", pick((
            f"In the typical presentation described above, the most likely causal organism is {ans['organism']} "
            f"{cite()}. Send samples for culture before antibiotics when this does not delay treatment.",
            f"{ans['organism']} is the usual cause in this setting {cite()}; local resistance patterns should "
            f"guide empirical choices.",
        )), ""]
    elif "cause" in ans:
        lines += [f"{h[2]} Background", "", pick((
            f"The point most relevant to practice is: {lower_first(ans['cause'])} {cite()}.",
            f"Key teaching point — {lower_first(ans['cause'])} {cite()}.",
        )), ""]
    return lines


def _end_matter(pg: _Page, extra_case: str, contact: bool) -> list[str]:
    """Case example, special populations, follow-up, contact, references, disclaimer."""
    rng, h, dx, dxl, pick, cite = pg.rng, pg.h, pg.cond.dx, pg.dxl, pg.rng.choice, pg.cite
    refs, compact = pg.refs, pg.compact
    lines: list[str] = []
    if extra_case:
        lines += [f"{h[2]} Case example used in training sessions", "", extra_case, "",
                  f"Answer: {dx} pathway, as described above.", ""]
    if not compact and rng.random() < 0.5:
        lines += [f"{h[1]} Special populations", "", pick((
            "Pregnant women, people with frailty and people with learning disabilities may present atypically; "
            f"involve the appropriate specialist team early {cite()}.",
            f"Adjust doses for renal function and check interactions in people taking several medicines {cite()}.",
        )), ""]
    if not compact:
        lines += [f"{h[1]} {pick(('Follow-up', 'Safety-netting and follow-up', 'After discharge'))}", "", pick((
            "Arrange follow-up according to severity. Tell the person which symptoms should prompt them to seek "
            f"help again and how to do so out of hours {cite()}.",
            f"Services should audit the proportion of people with {dxl} who receive first-line treatment within "
            f"the recommended time {cite()}.",
            f"Most people recover fully; offer a review appointment if symptoms persist {cite()}.",
        )), ""]
    if contact:
        lines += [f"{h[1]} Contact the guideline team", "",
                  "Comments on this guideline are welcome. Write to the guideline development group at "
                  "dr.amelia.kerrigan@northfield-health.example.org, telephone +44 20 7946 0321, or fax "
                  "+44 20 7946 0322. Office hours are Monday to Friday, 9 am to 5 pm.", ""]
    lines += [f"{h[1]} References", ""]
    lines += refs + [""]
    lines += [f"{h[1]} Disclaimer", "", pick((
        "This guideline represents the view of the development group, arrived at after careful consideration of "
        "the evidence available. Healthcare professionals are expected to take it fully into account when "
        "exercising their clinical judgement, but it does not override their responsibility to make decisions "
        "appropriate to the circumstances of the individual patient.",
        "The information in this document is intended to support, not replace, clinical judgement. The authors "
        "accept no liability for decisions made on the basis of this guidance.",
        "This material is provided for educational purposes. Local policies and the product information of each "
        "medicine should be consulted before prescribing.",
    ))]
    return lines



def render_plain(cond: Condition, source: str, rng: random.Random) -> dict:
    """A patient-information page: plain Markdown (two header levels, "-" bullets) with no reference numbers,
    URLs or end matter, so guideline cleaning leaves it unchanged and a verbatim copy elsewhere is an *exact*
    duplicate after cleaning."""
    dx = cond.dx
    dxl = lower_first(dx)
    ans = _answers(cond)
    title = f"{dx}: information for patients and families"
    lines = [f"# {title}", "",
             f"This leaflet explains what {dxl} is, how it is diagnosed and how it is treated. It does not replace "
             f"the advice of the doctors and nurses who know you. Please ask them if anything is unclear.", "",
             f"## What is {dxl}?", "",
             f"{dx} is a condition that doctors see regularly in {population(cond)}. It can usually be treated "
             f"successfully when it is recognised early, which is why it is worth knowing the warning signs.", "",
             "## What are the symptoms?", ""]
    if cond.symptoms:
        lines += [f"- {_short(x)[0].upper()}{_short(x)[1:]}" for x in cond.symptoms]
    else:
        lines += ["- Very slow or shallow breathing", "- Being very hard to wake"]
    lines += ["", "Not everybody has every symptom, and some people feel only mildly unwell at first.", "",
              "## How is it diagnosed?", "",
              "The doctor will ask about your symptoms and your health in general, and will examine you."]
    if "test" in ans:
        lines.append(f"The most useful first test is {lower_first(ans['test'])}.")
    lines += ["Some blood tests may be needed to check how your body is coping.", "", "## How is it treated?", ""]
    for name in ("next", "pharm"):
        if name in ans:
            lines.append(f"- {ans[name]}")
    lines += ["- Pain relief and fluids when needed", "- A clear plan for what to do if things get worse", "",
              "## When should I get help?", "",
              "Seek urgent medical help if you feel much worse, if new symptoms appear, or if you are worried. "
              "Trust your instincts: you know your body and your family best.", "",
              "## Recovery and everyday life", "",
              "Most people can return to their usual activities once they feel well again. Rest when you need to, "
              "eat regular meals and drink enough fluids. If you were given medicines, take the whole course unless "
              "you are told otherwise, and tell the pharmacist about any other medicines you take, including ones "
              "bought without a prescription.", "",
              "## Questions you may want to ask", "",
              "- How long will it take to get better?", "- Do I need to come back for a check-up?",
              "- Is there anything I should avoid while I recover?"]
    raw = "\n".join(lines)
    year = rng.randint(2015, 2023)
    return {"id": hashlib.sha1(f"{source}:{title}:{year}".encode()).hexdigest(), "source": source, "title": title,
            "url": f"https://www.{source}-guidance.example.org/patients/{slug(dx)}", "raw_text": raw}


SYNONYMS: dict[str, str] = _FACTS["synonyms"]  # in order: reword() swaps the first ``count`` that occur


def reword(text: str, count: int = 4) -> str:
    """A near-duplicate: the first occurrence of ``count`` different words swapped for synonyms."""
    done = 0
    for word, other in SYNONYMS.items():
        if done == count:
            break
        new = re.sub(rf"\b{word}\b", other, text, count=1)
        if new != text:
            text, done = new, done + 1
    return text


def simple_clean(raw: str) -> str:
    """The ``clean_text`` some released rows carry: references, URLs and link targets removed (a light pass)."""
    text = re.sub(r"\[([^\]]+)\]\((https?://[^)]+)\)", r"\1", raw)
    text = re.sub(r"https?://\S+", "", text)
    text = re.sub(r" ?\[\d+\]", "", text)
    return re.sub(r"\n{3,}", "\n\n", text)
