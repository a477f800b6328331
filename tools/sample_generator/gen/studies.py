"""Hand-written study designs and the abstract renderer shared by PubMedQA items, MEDLINE citations and JATS papers.

A study is a domain (population, intervention versus comparator, outcome) plus a finding (yes / no / maybe). Numbers
are drawn from a seeded generator so that the results agree with the finding: a "yes" study shows a clear effect
with a confidence interval excluding no effect, a "no" study a null result, a "maybe" study a borderline or
subgroup-only effect.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# domain -> background sentences, populations, (intervention, comparator, rationale), (outcome, kind, verb), MeSH
DOMAINS: dict[str, dict] = {
    "heart failure": {
        "background": (
            "Readmission after a hospital stay for heart failure is common and costly, and much of it is thought "
            "to be preventable.",
            "Patients with chronic heart failure often deteriorate in the weeks after discharge, when support from "
            "the hospital team ends.",
        ),
        "populations": ("adults discharged after admission for acute heart failure",
                        "older patients with chronic heart failure and reduced ejection fraction",
                        "patients with heart failure followed in a community clinic"),
        "interventions": (
            ("a nurse-led telephone follow-up programme", "usual care",
             "Regular contact may detect fluid retention before it requires admission."),
            ("home telemonitoring of weight and blood pressure", "standard outpatient review",
             "Daily measurements transmitted to a nurse could prompt early adjustment of diuretics."),
            ("a pharmacist-led medication review", "no structured review",
             "Errors in reconciling medicines at discharge are frequent in this population."),
            ("a supervised exercise programme", "advice on physical activity alone",
             "Exercise training improves peripheral muscle function and exercise tolerance."),
        ),
        "outcomes": (("readmission within 30 days", "rate", "reduce"),
                     ("all-cause mortality at 12 months", "rate", "reduce"),
                     ("length of hospital stay", "days", "shorten"),
                     ("health-related quality of life", "score", "improve")),
        "mesh": ("Heart Failure", "Patient Readmission", "Aged", "Humans"),
    },
    "diabetes": {
        "background": (
            "Glycaemic control in type 2 diabetes remains poor for many patients despite the range of available "
            "drugs.",
            "Self-management is central to the care of type 2 diabetes, but the best way to support it is "
            "unclear.",
        ),
        "populations": ("adults with type 2 diabetes treated in primary care",
                        "patients with type 2 diabetes and an HbA1c above 8%",
                        "South Asian adults with newly diagnosed type 2 diabetes"),
        "interventions": (
            ("a structured group education course", "individual advice at routine visits",
             "Group courses can reach more patients with the same staff time."),
            ("text-message reminders", "no reminders",
             "Forgotten doses are a frequent reason for poor control."),
            ("continuous glucose monitoring", "self-monitoring with a fingerstick meter",
             "Continuous readings show patients the effect of meals and activity as it happens."),
            ("a low-carbohydrate diet", "a low-fat diet",
             "Reducing carbohydrate intake lowers postprandial glucose excursions."),
        ),
        "outcomes": (("HbA1c at 6 months", "percent", "lower"),
                     ("severe hypoglycaemia", "rate", "reduce"),
                     ("body weight at 12 months", "kg", "lower"),
                     ("diabetes-related distress", "score", "reduce")),
        "mesh": ("Diabetes Mellitus, Type 2", "Glycated Hemoglobin", "Blood Glucose", "Humans"),
    },
    "surgery": {
        "background": (
            "Enhanced recovery pathways have changed perioperative care, yet several of their elements rest on "
            "limited evidence.",
            "Complications after major abdominal surgery prolong recovery and increase costs.",
        ),
        "populations": ("adults undergoing elective colorectal resection",
                        "patients undergoing laparoscopic cholecystectomy",
                        "older adults undergoing hip fracture surgery"),
        "interventions": (
            ("early oral feeding", "delayed feeding after the return of bowel sounds",
             "Early feeding may preserve gut barrier function."),
            ("mobilisation within 24 hours of surgery", "mobilisation after 48 hours",
             "Bed rest promotes muscle loss, atelectasis and venous thrombosis."),
            ("preoperative carbohydrate loading", "overnight fasting",
             "A carbohydrate drink before surgery may reduce postoperative insulin resistance."),
            ("wound infiltration with local anaesthetic", "systemic analgesia alone",
             "Local infiltration may reduce the need for opioids and their adverse effects."),
        ),
        "outcomes": (("postoperative complications within 30 days", "rate", "reduce"),
                     ("length of hospital stay", "days", "shorten"),
                     ("opioid consumption in the first 48 hours", "mg", "reduce"),
                     ("postoperative delirium", "rate", "reduce")),
        "mesh": ("Postoperative Complications", "Length of Stay", "Perioperative Care", "Humans"),
    },
    "pregnancy": {
        "background": (
            "Preterm birth is the leading cause of death in children under five years of age.",
            "Antenatal care offers many opportunities to prevent complications, but adherence to recommendations "
            "varies.",
        ),
        "populations": ("pregnant women attending a public antenatal clinic",
                        "nulliparous women at low risk of complications",
                        "pregnant women with gestational diabetes"),
        "interventions": (
            ("low-dose aspirin from the first trimester", "placebo",
             "Aspirin may improve placental perfusion."),
            ("group antenatal care", "individual antenatal visits",
             "Group sessions give more time for education and peer support."),
            ("vitamin D supplementation", "no supplementation",
             "Low vitamin D concentrations have been linked with adverse pregnancy outcomes."),
            ("a midwife-led continuity model", "shared obstetric care",
             "Knowing the midwife may improve communication and trust."),
        ),
        "outcomes": (("preterm birth before 37 weeks", "rate", "reduce"),
                     ("caesarean delivery", "rate", "reduce"),
                     ("birth weight", "g", "increase"),
                     ("maternal satisfaction with care", "score", "improve")),
        "mesh": ("Pregnancy", "Premature Birth", "Prenatal Care", "Female", "Humans"),
    },
    "infection": {
        "background": (
            "Antibiotic resistance is a growing threat, and much antibiotic use in hospitals is unnecessary.",
            "Healthcare-associated infections affect about one in twenty hospital patients.",
        ),
        "populations": ("adults admitted to medical wards", "patients in intensive care units",
                        "children presenting to the emergency department with fever"),
        "interventions": (
            ("procalcitonin-guided antibiotic decisions", "decisions based on clinical judgement",
             "Procalcitonin rises in bacterial but not in most viral infections."),
            ("an antimicrobial stewardship programme", "no stewardship programme",
             "Review of prescriptions by an infectious disease team may shorten courses."),
            ("daily chlorhexidine bathing", "bathing with soap and water",
             "Chlorhexidine reduces the bacterial load on the skin."),
            ("a rapid multiplex PCR panel", "conventional culture",
             "Faster identification of the pathogen may allow earlier targeted treatment."),
        ),
        "outcomes": (("duration of antibiotic therapy", "days", "shorten"),
                     ("bloodstream infection", "rate", "reduce"),
                     ("in-hospital mortality", "rate", "reduce"),
                     ("Clostridioides difficile infection", "rate", "reduce")),
        "mesh": ("Anti-Bacterial Agents", "Cross Infection", "Antimicrobial Stewardship", "Humans"),
    },
    "stroke": {
        "background": (
            "Stroke is a major cause of disability, and recovery of function depends on timely treatment and "
            "rehabilitation.",
            "Secondary prevention after stroke is often incomplete in routine practice.",
        ),
        "populations": ("patients admitted with acute ischaemic stroke", "stroke survivors discharged home",
                        "adults with transient ischaemic attack"),
        "interventions": (
            ("a mobile stroke unit", "standard ambulance transport",
             "Imaging in the ambulance allows thrombolysis before arrival at hospital."),
            ("early supported discharge", "conventional inpatient rehabilitation",
             "Rehabilitation at home may transfer better to daily activities."),
            ("a nurse-led risk factor clinic", "follow-up by the family physician",
             "Blood pressure and lipid targets are often missed after stroke."),
            ("robot-assisted arm training", "conventional physiotherapy",
             "Robots allow many more repetitions of a movement in a session."),
        ),
        "outcomes": (("functional independence at 90 days", "rate", "increase"),
                     ("recurrent stroke within 1 year", "rate", "reduce"),
                     ("time to treatment", "min", "shorten"),
                     ("upper limb motor function", "score", "improve")),
        "mesh": ("Stroke", "Ischemic Stroke", "Stroke Rehabilitation", "Humans"),
    },
    "mental health": {
        "background": (
            "Depression and anxiety are common in primary care and frequently go untreated.",
            "Access to psychological therapy is limited by the number of trained therapists.",
        ),
        "populations": ("adults with moderate depression in primary care", "university students with anxiety",
                        "older adults living alone"),
        "interventions": (
            ("guided internet-based cognitive behavioural therapy", "waiting-list control",
             "Online programmes can deliver therapy at scale with little therapist time."),
            ("a group mindfulness course", "usual care",
             "Mindfulness training may reduce rumination."),
            ("collaborative care with a care manager", "usual physician care",
             "Care managers coordinate treatment and monitor response."),
            ("a structured physical activity programme", "health education sessions",
             "Exercise has antidepressant effects in several trials."),
        ),
        "outcomes": (("depressive symptoms at 12 weeks", "score", "reduce"),
                     ("remission at 6 months", "rate", "increase"),
                     ("anxiety symptoms", "score", "reduce"),
                     ("days off work", "days", "reduce")),
        "mesh": ("Depression", "Anxiety", "Primary Health Care", "Humans"),
    },
    "respiratory": {
        "background": (
            "Exacerbations of chronic obstructive pulmonary disease drive much of its morbidity and cost.",
            "Many patients with asthma use their inhalers incorrectly.",
        ),
        "populations": ("patients with chronic obstructive pulmonary disease", "children with persistent asthma",
                        "adults discharged after an exacerbation of COPD"),
        "interventions": (
            ("pulmonary rehabilitation", "usual care",
             "Exercise and education may improve breathlessness and confidence."),
            ("inhaler technique training by a pharmacist", "written instructions only",
             "Correct technique increases the dose reaching the lungs."),
            ("a written self-management action plan", "verbal advice",
             "A plan helps patients recognise and treat worsening early."),
            ("influenza vaccination reminders", "no reminder",
             "Influenza is a frequent trigger of exacerbations."),
        ),
        "outcomes": (("exacerbations requiring oral corticosteroids", "rate", "reduce"),
                     ("emergency department visits", "rate", "reduce"),
                     ("six-minute walk distance", "m", "increase"),
                     ("symptom control", "score", "improve")),
        "mesh": ("Pulmonary Disease, Chronic Obstructive", "Asthma", "Self-Management", "Humans"),
    },
    "oncology": {
        "background": (
            "Survival after cancer has improved, but many survivors live with the effects of treatment.",
            "Screening can detect cancer early, yet uptake is low in disadvantaged groups.",
        ),
        "populations": ("women invited for breast cancer screening", "adults aged 50 to 74 years eligible for "
                        "colorectal cancer screening", "patients receiving chemotherapy for solid tumours"),
        "interventions": (
            ("a patient navigator", "a standard invitation letter",
             "Navigators help people overcome practical barriers to attendance."),
            ("mailed faecal immunochemical test kits", "an invitation to collect a kit at the clinic",
             "Removing the need to visit a clinic may increase participation."),
            ("electronic symptom monitoring", "symptom review at scheduled visits",
             "Weekly reports may detect toxicity earlier."),
            ("a supervised exercise programme during treatment", "usual care",
             "Exercise may counteract fatigue and deconditioning."),
        ),
        "outcomes": (("screening participation", "rate", "increase"),
                     ("emergency admissions during treatment", "rate", "reduce"),
                     ("cancer-related fatigue", "score", "reduce"),
                     ("completion of planned chemotherapy", "rate", "increase")),
        "mesh": ("Neoplasms", "Early Detection of Cancer", "Patient Navigation", "Humans"),
    },
    "kidney": {
        "background": (
            "Acute kidney injury is common in hospitalised patients and is associated with long-term loss of "
            "kidney function.",
            "Chronic kidney disease often progresses silently until late stages.",
        ),
        "populations": ("patients undergoing contrast-enhanced CT", "adults with stage 3 chronic kidney disease",
                        "patients undergoing cardiac surgery"),
        "interventions": (
            ("intravenous isotonic hydration", "no prophylactic hydration",
             "Volume expansion may dilute the contrast medium in the tubules."),
            ("an electronic alert for acute kidney injury", "no alert",
             "Alerts may prompt review of nephrotoxic drugs."),
            ("remote ischaemic preconditioning", "a sham procedure",
             "Brief limb ischaemia may protect distant organs."),
            ("dietary sodium restriction counselling", "standard dietary advice",
             "Sodium restriction lowers blood pressure and proteinuria."),
        ),
        "outcomes": (("acute kidney injury within 72 hours", "rate", "reduce"),
                     ("need for dialysis", "rate", "reduce"),
                     ("change in estimated glomerular filtration rate", "mlmin", "improve"),
                     ("urinary albumin excretion", "mg", "reduce")),
        "mesh": ("Acute Kidney Injury", "Renal Insufficiency, Chronic", "Glomerular Filtration Rate", "Humans"),
    },
}

DESIGNS = (
    ("randomised controlled trial", "We randomly assigned"),
    ("prospective cohort study", "We followed"),
    ("retrospective cohort study", "We reviewed the records of"),
    ("cluster randomised trial", "We randomised 24 practices, including"),
)

UNITS = {"days": "days", "percent": "%", "kg": "kg", "score": "points", "g": "g", "min": "min", "m": "m",
         "mg": "mg", "mlmin": "mL/min/1.73 m2"}


@dataclass(frozen=True)
class Study:
    domain: str
    population: str
    intervention: str
    comparator: str
    rationale: str
    outcome: str
    outcome_kind: str
    verb: str
    design: str
    design_verb: str
    decision: str  # yes | no | maybe
    n1: int
    n2: int
    year: int
    numbers: dict
    mesh: tuple[str, ...]

    @property
    def plural(self) -> bool:
        """Whether the intervention phrase is grammatically plural ("text-message reminders")."""
        last = self.intervention.split()[-1]
        return last.endswith("s") and not last.endswith("ss")

    @property
    def question(self) -> str:
        if self.design.startswith(("prospective", "retrospective")):
            return f"Is {self.intervention} associated with {'better' if self.verb in ('improve', 'increase') else 'lower'} {self.outcome} in {self.population}?"
        return f"{'Do' if self.plural else 'Does'} {self.intervention} {self.verb} {self.outcome} in {self.population}?"

    @property
    def title(self) -> str:
        verb = self.verb if self.plural else {"reduce": "reduces", "shorten": "shortens", "improve": "improves",
                                              "increase": "increases", "lower": "lowers"}[self.verb]
        if self.decision == "yes":
            return f"{self.intervention[0].upper()}{self.intervention[1:]} {verb} {self.outcome} in {self.population}: a {self.design}."
        if self.decision == "no":
            return f"Effect of {self.intervention} on {self.outcome} in {self.population}: a {self.design}."
        return f"{self.intervention[0].upper()}{self.intervention[1:]} and {self.outcome} in {self.population}: results of a {self.design}."


def draw(domain: str, pop_i: int, int_i: int, out_i: int, decision: str, rng: random.Random) -> Study:
    d = DOMAINS[domain]
    inter, comp, why = d["interventions"][int_i]
    outcome, kind, verb = d["outcomes"][out_i]
    design, dverb = DESIGNS[rng.randrange(len(DESIGNS))]
    n1, n2 = rng.randint(60, 480), rng.randint(60, 480)
    nums: dict = {}
    if kind == "rate":
        base = rng.uniform(0.12, 0.38)
        better = verb in ("increase", "improve")
        factor = {"yes": rng.uniform(0.55, 0.72), "no": rng.uniform(0.94, 1.05), "maybe": rng.uniform(0.8, 0.88)}[
            decision
        ]
        r2 = base
        r1 = min(0.95, base / factor) if better else base * factor
        e1, e2 = round(r1 * n1), round(r2 * n2)
        ratio = (e1 / n1) / (e2 / n2)
        spread = {"yes": 0.14, "no": 0.22, "maybe": 0.2}[decision]
        lo, hi = ratio * (1 - spread), ratio * (1 + spread)
        if decision == "no":
            lo, hi = min(lo, 0.9), max(hi, 1.12)
        if decision == "maybe":
            lo, hi = (min(lo, 0.78), 1.02) if ratio < 1 else (0.98, max(hi, 1.3))
        nums = {"e1": e1, "e2": e2, "ratio": ratio, "lo": lo, "hi": hi}
    else:
        mean2 = {"days": rng.uniform(6, 12), "percent": rng.uniform(7.8, 9.2), "kg": rng.uniform(82, 96),
                 "score": rng.uniform(40, 62), "g": rng.uniform(3000, 3350), "min": rng.uniform(70, 110),
                 "m": rng.uniform(280, 380), "mg": rng.uniform(30, 80), "mlmin": rng.uniform(-4, -1)}[kind]
        sd = abs(mean2) * rng.uniform(0.15, 0.3) + 0.5
        rel = {"yes": rng.uniform(0.12, 0.22), "no": rng.uniform(-0.02, 0.02), "maybe": rng.uniform(0.05, 0.08)}[
            decision
        ]
        up = verb in ("increase", "improve")
        if kind == "mlmin":
            mean1 = mean2 + abs(mean2) * (rel * 6)
        else:
            mean1 = mean2 * (1 + rel) if up else mean2 * (1 - rel)
        diff = mean1 - mean2
        half = abs(diff) * 0.45 + sd * 0.15 if decision == "yes" else abs(diff) + sd * 0.2
        nums = {"m1": mean1, "m2": mean2, "sd1": sd * rng.uniform(0.9, 1.1), "sd2": sd, "diff": diff,
                "lo": diff - half, "hi": diff + half}
    p = {"yes": rng.choice(["<0.001", "0.002", "0.004", "0.01"]), "no": f"{rng.uniform(0.3, 0.9):.2f}",
         "maybe": f"{rng.uniform(0.052, 0.09):.3f}"}[decision]
    nums["p"] = p
    return Study(domain, d["populations"][pop_i], inter, comp, why, outcome, kind, verb, design, dverb, decision,
                 n1, n2, rng.randint(2009, 2023), nums, d["mesh"])


def _fmt_num(x: float, kind: str) -> str:
    if kind in ("g", "m", "min"):
        return f"{x:.0f}"
    return f"{x:.1f}"


def background(s: Study, rng: random.Random) -> str:
    d = DOMAINS[s.domain]
    aim = rng.choice((
        f"We aimed to determine whether {s.intervention} would {s.verb} {s.outcome} compared with {s.comparator}.",
        f"This study assessed the effect of {s.intervention}, compared with {s.comparator}, on {s.outcome}.",
        f"The aim of this study was to evaluate {s.intervention} in {s.population}.",
    ))
    return f"{rng.choice(d['background'])} {s.rationale} {aim}"


def methods(s: Study, rng: random.Random) -> str:
    total = s.n1 + s.n2
    who = f"{total} {s.population}"
    if s.design == "randomised controlled trial":
        first = f"{s.design_verb} {who} to {s.intervention} (n = {s.n1}) or {s.comparator} (n = {s.n2})."
    elif s.design == "cluster randomised trial":
        first = f"{s.design_verb} {who}, to {s.intervention} or {s.comparator}."
    else:
        first = f"{s.design_verb} {who}, of whom {s.n1} received {s.intervention} and {s.n2} {s.comparator}."
    primary = f"The primary outcome was {s.outcome}."
    if "random" in s.design:
        extra = rng.choice(("Analyses followed the intention-to-treat principle.",
                            "Outcomes were assessed by investigators unaware of group allocation."))
    else:
        extra = rng.choice(("Multivariable regression was used to adjust for age, sex and comorbidity.",
                            "Propensity scores were used to balance baseline characteristics between groups."))
    return f"{first} {primary} {extra}"


def results(s: Study, rng: random.Random) -> str:
    n = s.numbers
    if s.outcome_kind == "rate":
        pct1, pct2 = 100 * n["e1"] / s.n1, 100 * n["e2"] / s.n2
        measure = "relative risk" if "random" in s.design else "adjusted odds ratio"
        text = (f"{s.outcome[0].upper()}{s.outcome[1:]} occurred in {n['e1']} of {s.n1} participants "
                f"({pct1:.1f}%) in the intervention group and in {n['e2']} of {s.n2} "
                f"({pct2:.1f}%) in the comparison group ({measure} {n['ratio']:.2f}, 95% CI {n['lo']:.2f} to "
                f"{n['hi']:.2f}; P = {n['p'].lstrip('<')})".replace("P = 0.001", "P < 0.001") + ".")
    else:
        unit = UNITS[s.outcome_kind]
        k = s.outcome_kind
        text = (f"The mean {s.outcome} was {_fmt_num(n['m1'], k)} {unit} (SD {_fmt_num(n['sd1'], k)}) with "
                f"{s.intervention} and {_fmt_num(n['m2'], k)} {unit} (SD {_fmt_num(n['sd2'], k)}) with "
                f"{s.comparator} (mean difference {_fmt_num(n['diff'], k)} {unit}, 95% CI "
                f"{_fmt_num(n['lo'], k)} to {_fmt_num(n['hi'], k)}; P {'<' if n['p'].startswith('<') else '='} "
                f"{n['p'].lstrip('<')}).")
    if s.decision == "maybe":
        text += rng.choice((
            " In a prespecified subgroup of participants older than 70 years the effect was larger and "
            "statistically significant.",
            " The effect was consistent in direction across sites but the confidence interval was wide.",
            " A per-protocol analysis suggested a benefit among participants who completed the programme.",
        ))
    elif s.decision == "no":
        text += rng.choice((" Secondary outcomes did not differ between the groups.",
                            " Adverse events were similar in both groups.", ""))
    else:
        text += rng.choice((" Secondary outcomes also favoured the intervention.",
                            " No serious adverse events were attributed to the intervention.", ""))
    return text


def conclusion(s: Study, rng: random.Random) -> str:
    if s.decision == "yes":
        return rng.choice((
            f"In {s.population}, {s.intervention} {dict(reduce='reduced', shorten='shortened', improve='improved', increase='increased', lower='lowered')[s.verb]} {s.outcome} compared with {s.comparator}.",
            f"{s.intervention[0].upper()}{s.intervention[1:]} {'are' if s.plural else 'is'} an effective way to {s.verb} {s.outcome} in {s.population} and should be considered in routine care.",
        ))
    if s.decision == "no":
        return rng.choice((
            f"{s.intervention[0].upper()}{s.intervention[1:]} did not {s.verb} {s.outcome} in {s.population}.",
            f"We found no evidence that {s.intervention} {s.verb if s.plural else s.verb + 's'} {s.outcome}; routine use in {s.population} is not supported.",
        ))
    return rng.choice((
        f"{s.intervention[0].upper()}{s.intervention[1:]} may {s.verb} {s.outcome} in some {s.population}, but the evidence is inconclusive and a larger trial is needed.",
        f"The benefit of {s.intervention} on {s.outcome} was uncertain; it may be limited to selected patients.",
    ))


def draw_many(count: int, rng: random.Random, taken: set[tuple[str, int, int]], decisions: list[str],
              avoid: set[tuple[str, str, str]] = frozenset()) -> list[Study]:
    """``count`` studies with distinct (domain, intervention, outcome) triples not already in ``taken``, and whose
    (domain, population, outcome) and (domain, population, intervention) are not in ``avoid``."""
    studies = []
    domains = sorted(DOMAINS)
    while len(studies) < count:
        dom = domains[rng.randrange(len(domains))]
        ii, oi = rng.randrange(4), rng.randrange(4)
        if (dom, ii, oi) in taken:
            continue
        st = draw(dom, rng.randrange(3), ii, oi, decisions[len(studies) % len(decisions)], rng)
        if (dom, st.population, st.outcome) in avoid or (dom, st.population, st.intervention) in avoid:
            continue
        taken.add((dom, ii, oi))
        studies.append(st)
    return studies
