"""Clinical-guideline pages in the layout of MEDITRON's released guidelines, rendered from the clinical facts.

Each page mixes what real scraped guidelines contain and the cleaners must handle: Markdown headers of varying depth,
"-", "*", "•" and "o " bullets, bracketed reference numbers, bare URLs and Markdown links, a line that starts with the
word "often" (MEDITRON's cleaner turned it into "-ften"), a References section and a Disclaimer.
"""

from __future__ import annotations

import hashlib
import random
import re

from .clinical import Condition
from .medqa import metamap_phrases

SOURCES = ("who", "nice", "cdc", "icrc", "spor", "cco", "aafp", "rch", "magic", "wikidoc")
SURNAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Kowalski", "Brennan", "Iyer",
            "Mensah", "Fischer", "Castillo", "Nakamura", "O'Neill", "Petrov", "Achterberg", "Rahman", "Duarte",
            "Whitfield", "Osei", "Bianchi", "Karlsson", "Ferreira", "Zhou", "Abdi", "Lefebvre", "Hughes")
JOURNALS = ("BMJ Open", "Lancet Glob Health", "J Emerg Med", "Fam Pract", "Ann Intern Med", "Clin Med (Lond)",
            "Emerg Med J", "Arch Dis Child", "J Gen Intern Med", "Int J Clin Pract", "Eur J Intern Med")
AUDIENCE = {
    "ed": "emergency department clinicians, paramedics and acute medical teams",
    "office": "general practitioners, nurse practitioners and specialists working in outpatient care",
    "hospital": "ward doctors, nurses and pharmacists caring for inpatients",
}
POPULATION = {"child": "children and young people", "adult": "adults aged 16 years and over",
              "older": "adults, including older people with frailty"}


def population(cond: Condition) -> str:
    if cond.age_text or cond.age[1] < 16:
        return POPULATION["child"]
    return POPULATION["older"] if cond.age[0] >= 60 else POPULATION["adult"]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


EPONYMS = ("Hashimoto", "Graves", "Lyme", "Parkinson", "Kawasaki", "Clostridioides", "Streptococcus", "Neisseria",
           "Escherichia", "Borrelia", "Epstein")


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


def render(cond: Condition, source: str, rng: random.Random, extra_case: str = "", contact: bool = False) -> dict:
    """One guideline row: ``{id, source, title, url, raw_text}`` (+ ``clean_text``/``overview`` for some sources)."""
    dx = cond.dx
    dxl = lower_first(dx)
    pop = population(cond)
    ans = _answers(cond)
    year = rng.randint(2012, 2023)
    title = rng.choice((f"{dx}: assessment and initial management", f"Management of {dxl} in {pop}",
                        f"{dx} — clinical practice guideline", f"Recognising and treating {dxl}"))
    h = rng.choice((("#", "##", "###"), ("##", "###", "####"), ("#", "###", "#####")))
    refs: list[str] = []

    def cite() -> str:
        refs.append(reference(rng, dx, len(refs) + 1))
        return f"[{len(refs)}]"

    url = f"https://www.{source}-guidance.example.org/{slug(dx)}"
    lines = [f"{h[0]} {title}", ""]
    lines += [rng.choice(("Published", "Last updated", "Issued")) + f": {rng.randint(1, 28)} "
              f"{rng.choice(('January', 'March', 'May', 'July', 'September', 'November'))} {year}", ""]
    lines += [f"{h[1]} {rng.choice(('Scope', 'About this guideline', 'Purpose and scope'))}", ""]
    lines += [f"This guideline covers the recognition, assessment and early management of {dxl} in {pop}. It is "
              f"written for {AUDIENCE[cond.setting]}, and for commissioners planning services {cite()}. It aims to "
              f"reduce delays in diagnosis and variation in treatment between services.", ""]
    compact = rng.random() < 0.3
    if compact:
        lines += [f"See also the [{source.upper()} summary for patients](https://www.{source}-guidance.example.org/"
                  f"{slug(dx)}/public).", ""]
    else:
        lines += [f"The full evidence review is available at https://www.{source}-guidance.example.org/evidence/"
                  f"{slug(dx)}-{year}.pdf and a summary for patients at [information for the public]"
                  f"(https://www.{source}-guidance.example.org/{slug(dx)}/public).", ""]
    lines += [f"{h[1]} {rng.choice(('Recognition and assessment', 'Key recommendations', 'Recommendations'))}", ""]
    lines += [f"{h[2]} Clinical features", ""]
    if cond.symptoms:
        intro = f"Suspect {dxl} in people who present with {'; '.join(_short(x) for x in reversed(cond.symptoms))}"
    else:
        intro = f"Consider {dxl} in any person with the examination findings listed below"
    lines += _bullets(rng, [f"{intro} {cite()}.", "Take a focused history, including:"])
    lines += _sub(rng, fragments(cond.history))
    lines += _bullets(rng, ["Examine the person and record the findings. Typical findings are:"])
    lines += _sub(rng, fragments(cond.exam))
    if cond.vitals:
        t, p, r, bp = cond.vitals
        lines += _bullets(rng, [f"Record a full set of observations. In the typical presentation the temperature "
                                f"may be around {t:.1f}°C, the pulse rate {p} beats/min and the respiratory rate "
                                f"{r} breaths/min" + (f", with a blood pressure of about {bp} mmHg." if bp else ".")])
    lines.append("")
    if rng.random() < 0.75:
        lines += [f"often the first contact is with a clinician who does not see {dxl} regularly, so a structured "
                  f"checklist and a low threshold for senior review are recommended {cite()}.", ""]
    lines += [f"{h[2]} {rng.choice(('Investigations', 'Diagnostic tests', 'Confirming the diagnosis'))}", ""]
    if not cond.labs and "test" not in ans:
        lines += ["The diagnosis is usually clinical. Choose investigations according to the severity of illness "
                  "and local protocols, and do not let them delay treatment.", ""]
    if cond.labs:
        lines += [f"Investigation findings that support the diagnosis include {cite()}:"]
        lines += _bullets(rng, fragments(cond.labs)) + [""]
    if "test" in ans:
        lines += _bullets(rng, [f"Offer {lower_first(ans['test'])} as the first diagnostic test when {dxl} is "
                                f"suspected {cite()}.",
                                "Do not delay treatment while waiting for results if the person is unwell."])
        lines.append("")
    lines += [f"{h[1]} {rng.choice(('Management', 'Treatment', 'Initial management'))}", ""]
    for name in ("next", "pharm"):
        if name in ans:
            lines += _bullets(rng, [f"{'Recommended first step' if name == 'next' else 'First-line treatment'}: "
                                    f"{lower_first(ans[name])} {cite()}."])
    if not compact:
        lines += _bullets(rng, ["Explain the diagnosis and the treatment plan to the person and their family or "
                                "carers, and give written information.",
                                "Reassess within the time frame set out in the local pathway and escalate if there "
                                "is no improvement:"])
        lines += _sub(rng, ["worsening observations or a new early warning score trigger",
                            "new symptoms or signs that suggest a complication",
                            "concern expressed by the person, family or staff"])
    lines.append("")
    if "organism" in ans:
        lines += [f"{h[2]} Microbiology", "", f"In the typical presentation described above, the most likely causal "
                  f"organism is {ans['organism']} {cite()}. Send samples for culture before antibiotics when this "
                  f"does not delay treatment.", ""]
    elif "cause" in ans:
        lines += [f"{h[2]} Background", "", f"The point most relevant to practice is: {lower_first(ans['cause'])} "
                  f"{cite()}. Trainees should be able to explain how this links to the clinical features.", ""]
    if extra_case:
        lines += [f"{h[2]} Case example used in training sessions", "", extra_case, "",
                  f"Answer: {dx} pathway, as described above.", ""]
    if not compact and rng.random() < 0.5:
        lines += [f"{h[1]} Special populations", "",
                  "Pregnant women, people with frailty and people with learning disabilities may present "
                  "atypically; involve the appropriate specialist team early and adjust doses for renal function "
                  f"where relevant {cite()}.", ""]
    if not compact:
        lines += [f"{h[1]} {rng.choice(('Follow-up', 'Safety-netting and follow-up', 'After discharge'))}", "",
                  f"Arrange follow-up according to severity. Tell the person which symptoms should prompt them to "
                  f"seek help again and how to do so out of hours. Services should audit the proportion of people "
                  f"with {dxl} who receive the first-line treatment within the recommended time {cite()}.", ""]
    if contact:
        lines += [f"{h[1]} Contact the guideline team", "",
                  "Comments on this guideline are welcome. Write to the guideline development group at "
                  "dr.amelia.kerrigan@northfield-health.example.org, telephone +44 20 7946 0321, or fax "
                  "+44 20 7946 0322. Office hours are Monday to Friday, 9 am to 5 pm.", ""]
    lines += [f"{h[1]} References", ""]
    lines += refs + [""]
    lines += [f"{h[1]} Disclaimer", "", rng.choice((
        "This guideline represents the view of the development group, arrived at after careful consideration of "
        "the evidence available. Healthcare professionals are expected to take it fully into account when "
        "exercising their clinical judgement, but it does not override their responsibility to make decisions "
        "appropriate to the circumstances of the individual patient.",
        "The information in this document is intended to support, not replace, clinical judgement. The authors "
        "accept no liability for decisions made on the basis of this guidance.",
        "This material is provided for educational purposes. Local policies and the product information of each "
        "medicine should be consulted before prescribing.",
    ))]
    raw = "\n".join(lines).strip() + "\n"
    row = {"id": hashlib.sha1(f"{source}:{title}:{year}".encode()).hexdigest(), "source": source, "title": title,
           "url": url, "raw_text": raw}
    return row


def simple_clean(raw: str) -> str:
    """The ``clean_text`` some released rows carry: references, URLs and link targets removed (a light pass)."""
    text = re.sub(r"\[([^\]]+)\]\((https?://[^)]+)\)", r"\1", raw)
    text = re.sub(r"https?://\S+", "", text)
    text = re.sub(r" ?\[\d+\]", "", text)
    return re.sub(r"\n{3,}", "\n\n", text)
