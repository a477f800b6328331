"""The one answer parser for every generative mode (CoT, self-consistency, chat, HTTP backends).

MEDITRON's own scorer lost most CoT answers to a brittle parser and crashed on an ``assert`` (meditron #23, #30), and its
PubMedQA parser could never return "maybe". This parser is deliberately conservative and total: it returns one of the
given choices or ``None`` (counted as *unparsed* by the caller), never raises on any string, and prefers the model's
*last* explicit conclusion ("... so the answer is C") over letters mentioned while reasoning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# "the answer is", "answer:", "final answer", "correct option", "I choose" ... followed by the choice.
_VERB = r"(?:\s+(?:is|would\s+be|will\s+be|should\s+be|must\s+be|=|choice\s+is|option\s+is))?"
_CUE = (
    # "the (final/correct/best) answer is", "answer:", "correct option:"; a bare "option C" is not a conclusion
    # ("Option C is wrong because..."), so option/choice need a qualifier.
    rf"(?:(?:final|correct|best|right|most\s+likely)\s+)?answer{_VERB}"
    rf"|(?:final|correct|best|right|most\s+likely)\s+(?:option|choice|response){_VERB}"
    r"|\b(?:i\s+(?:would\s+)?(?:choose|pick|select|go\s+with))"
)
# Weaker conclusions ("Therefore, B.") count only when no explicit answer statement exists ("The answer is C. So A
# is wrong" is C).
_WEAK_CUE = r"\btherefore|\bthus|\bhence|\bso"
_OPEN = r"[\s:=\-–—,]*(?:\*\*|__|\*|`)?\s*(?:option|choice|letter)?\s*[\(\[\{]?\s*(?:\*\*)?"
_MARKDOWN = re.compile(r"(\*\*|__)")


def _letters_regex(letters: Sequence[str]) -> str:
    return "[" + "".join(re.escape(c) for c in letters) + "]"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().strip(" .!?:;,\"'`*()[]"))


def _parse_letter(text: str, letters: Sequence[str], options: Mapping[str, str] | None) -> str | None:
    lset = _letters_regex([c.upper() for c in letters] + [c.lower() for c in letters])
    # The letter must not run on into a word: "B)", "B.", "(B)", "B," or end; "A 45-year-old" is an article.
    end = r"(?=\s*(?:[\)\]\}\.,:;!?\*`'\"]|$|\s+(?:is|because|as|since|which|-|–|—)\b|\s*\n))"
    hits = []
    for cues in (_CUE, _WEAK_CUE):
        cue = re.compile(rf"(?:{cues})\s*{_OPEN}({lset}){end}", re.IGNORECASE)
        # A lower-case letter counts only when clearly delimited, to avoid prose such as "so a patient ...".
        hits = [
            m
            for m in cue.finditer(text)
            if m.group(1).isupper() or text[m.end(1) : m.end(1) + 1] in (")", ".", "", "\n", "*", "]")
        ]
        if hits:
            break
    if hits:
        last = hits[-1]
        tail = text[last.end(1) : last.end(1) + 12]
        if re.match(rf"\s*\)?\s*(?:or|and|/)\s*\(?{lset}\b", tail):
            return None  # "the answer is B or C" is not an answer
        return last.group(1).upper()
    stripped = text.strip()
    # The whole reply is a letter: "B", "(c).", "**D**", "Answer: b".
    m = re.fullmatch(
        rf"[\s\*_`\"'\(\[]*(?:answer\s*[:\-]?\s*)?[\(\[]?({lset})[\)\]]?[\s\.\*_`\"'!]*", stripped, re.IGNORECASE
    )
    if m:
        return m.group(1).upper()
    # Starts with a labelled option: "B) Glomerulus", "C. Ureter", "(A) ...", "**C** because ...", "D: ...".
    m = re.match(rf"[\s\*_`\"']*[\(\[]?({lset})(?:[\)\]\.:]|\*\*)(?:\s|$)", stripped)
    if m and (m.group(1).isupper() or stripped[m.end(1) : m.end(1) + 1] in ")]"):
        return m.group(1).upper()
    # A single bold letter anywhere: "... I'd go with **C** here".
    bold = set(re.findall(rf"\*\*\(?({lset})\)?\*\*", text))
    if len({b.upper() for b in bold}) == 1:
        return bold.pop().upper()
    # The reply (or the text after an answer cue) is exactly one option's text.
    if options:
        by_text = {_norm(v): k for k, v in options.items() if _norm(v)}
        candidates = [_norm(stripped)]
        cue_text = re.search(r"answer(?:\s+is|:)\s*(.+?)\s*(?:\.\s|\.?$)", stripped, re.IGNORECASE | re.DOTALL)
        if cue_text:
            candidates.insert(0, _norm(cue_text.group(1)))
        for cand in candidates:
            if cand in by_text:
                return by_text[cand]
    return None


def _parse_label(text: str, labels: Sequence[str]) -> str | None:
    alts = "|".join(re.escape(x) for x in labels)
    lowered = _MARKDOWN.sub("", text).lower()
    for cues in (_CUE, _WEAK_CUE):
        cue = re.compile(rf"(?:{cues})\s*[\s:=\-–—\"'`\(\[]*({alts})\b", re.IGNORECASE)
        hits = list(cue.finditer(lowered))
        if hits:
            return hits[-1].group(1)
    m = re.match(rf"[\s\"'`\(\[]*({alts})\b", lowered)
    if m:
        return m.group(1)
    return None


def parse_answer(text: str | None, choices: Sequence[str] | Mapping[str, str]) -> str | None:
    """The choice a generated ``text`` commits to, or ``None`` when it commits to none (or to several).

    ``choices`` is the option keys (``["A", "B", "C", "D"]`` or ``["yes", "no", "maybe"]``) or the options mapping
    letter → text, which also lets a reply that is exactly an option's text count. Never raises.
    """
    try:
        if not isinstance(text, str) or not text.strip():
            return None
        options = choices if isinstance(choices, Mapping) else None
        keys = [str(k) for k in choices]
        if not keys:
            return None
        if all(len(k) == 1 and k.isalpha() for k in keys):
            found = _parse_letter(text, [k.upper() for k in keys], options)
            return next((k for k in keys if k.upper() == found), None) if found else None
        found = _parse_label(text, [k.lower() for k in keys])
        return next((k for k in keys if k.lower() == found), None) if found else None
    except Exception:  # noqa: BLE001 - the contract is "never raises"; an odd input is an unparsed answer
        return None
