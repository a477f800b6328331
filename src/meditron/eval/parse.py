"""The one answer parser for every generative mode (CoT, self-consistency, chat, HTTP backends).

MEDITRON's own scorer lost most CoT answers to a brittle parser and crashed on an ``assert`` (meditron #23, #30), and its
PubMedQA parser could never return "maybe". The paper's Table 5 also scores instruction-tuned baselines (Mistral-7B-
instruct, Zephyr, Med42, Clinical-Camel) out of the box, whose prose answers ("Option B is correct", "**Option D**",
"C - Warfarin", "It's B.") a narrow parser reads as unparsed or, worse, as the wrong letter.

The parser is a list of named rules (``RULES``), each a regular expression with the reason it exists, grouped in tiers:
the first tier with a match decides, and inside it the *last* match wins (a model's final conclusion beats letters it
mentioned while reasoning, and a self-correction beats the first try). Before the rules run, the reply is cut where it
runs on into an invented next question ("\\nQuestion:", a new chat turn), so the first answer wins there, and a
repeated option list ("A. x\\nB. y\\nC. z\\nD. w") is set aside so it is not read as answer A. A match followed by more
keys ("A, B, and C", "B or C") is ambiguous and the reply is unparsed. ``parse_answer`` is total: it returns a key of
the choices or ``None``, never raises, and stays linear in the input (every quantifier that can meet a long run of the
same character is bounded), so a 100 kB reply is parsed in milliseconds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

# ---------------------------------------------------------------------------------------------------------------------
# Regex building blocks (``%(name)s`` placeholders, filled per key set by ``_compile``)
# ---------------------------------------------------------------------------------------------------------------------

#: What may sit between a cue and the key: spaces, ``:``, dashes, markdown emphasis, "option", an opening bracket.
_OPEN = r"[\s:=\-–—*_`'\"$]{0,8}(?:(?:option|choice|letter)[ \t]{0,3})?[\(\[\{]?[*_]{0,2}[ \t]{0,2}"
#: What must follow a letter key so that it is a key and not a word: "B)", "B.", "B,", "(B)", "B - text", "B (text)",
#: "B because", end of line. "A 45-year-old", "B12", "C-reactive" and "a patient" fail here.
_CLOSE_LETTER = (
    r"(?=[*_`'\"$]{0,2}(?:[\)\]\}]|[ \t]{0,2}[.,:;!?](?!\d)|[ \t]*(?:\n|$)|[ \t]+[-–—][ \t]|[ \t]*\(|[ \t]*/|[ \t]*&"
    r"|[ \t]+(?:is|as|because|since|which|for|due|given|but|in|with|from|on|and|or|=|\#\#\#)\b|[ \t]+\#))"
)
#: Labels (yes/no/maybe) end at punctuation, a line end or a word that starts a justification, never at a noun:
#: "No, ..." and "maybe." are answers, "no significant difference" and "no further trials" are not.
_CLOSE_LABEL = (
    r"(?=[*_`'\"]{0,2}(?:[\)\]\}]|[.,:;!?]|[ \t]*(?:\n|$)|[ \t]+[-–—][ \t]|[ \t]*\(|[ \t]*/"
    r"|[ \t]+(?:because|as|since|given|based|it|this|there|according|and|or|in|the|\#\#\#)\b|[ \t]+\#))"
)
#: "the (final/correct/best) answer is", "answer:", "the most likely answer would be", "the correct option is",
#: "### Answer" on its own line. A bare "option C"/"answer C" is not a conclusion ("Option C is wrong because..."),
#: so a verb or a colon is required, and option/choice need a qualifier.
_QUALIFIER = r"(?:final|correct|best|right|true|most[ \t]+(?:likely|appropriate|probable|accurate)|only|single[ \t]+best)"
_VERB = (
    r"(?:[ \t]{1,3}(?:is|would[ \t]+be|will[ \t]+be|should[ \t]+be|must[ \t]+be|seems[ \t]+to[ \t]+be|appears[ \t]+to"
    r"[ \t]+be|remains)(?:[ \t]{1,3}(?:most[ \t]+)?(?:likely|probably|clearly|definitely|therefore|then|thus))?"
    r"|[ \t]{0,3}\*{0,2}[ \t]{0,2}[:：=]|[ \t]{1,3}[-–—])"
)
_CUE = (
    r"(?:\b(?:" + _QUALIFIER + r"[ \t]{1,3})?answer(?:[ \t]+to[ \t]+(?:this|the)[ \t]+question)?(?:[ \t]+choice)?" + _VERB
    + r"|\b" + _QUALIFIER + r"[ \t]{1,3}(?:option|choice|response|letter)" + _VERB
    + r"|(?m:^)[ \t]*[#*]{1,6}[ \t]*(?:final[ \t]+|correct[ \t]+)?answer[ \t]*[*:]{0,3}[ \t]*(?=\n)"
    r"|\bI(?:[ \t]+would|'d|[ \t]+will|'ll)?[ \t]+(?:choose|pick|select|go[ \t]+with|answer(?:[ \t]+with)?|opt[ \t]+for|say)"
    r"|\bmy[ \t]+(?:final[ \t]+)?(?:answer|choice|pick)" + _VERB + ")"
)
#: A letter key opening a sentence or line, or named as "option C": where "C is correct" can be meant. "hepatitis C
#: is the most likely diagnosis" and "vitamin B is" fail here.
_PRE_KEY = r"(?:(?:^|(?<=[\n.!?;:,*]))[ \t]{0,3}(?:\*\*)?|\b(?:option|choice|answer|letter)[ \t]{1,3}(?:\*\*)?)"
_CONCLUSION = (
    r"\b(?:therefore|thus|hence|so|consequently|accordingly|in[ \t]+conclusion|in[ \t]+summary|to[ \t]+conclude"
    r"|overall|ultimately|in[ \t]+short|based[ \t]+on|most[ \t]+likely)\b"
)
_NEGATION = re.compile(
    r"\b(?:not|incorrect|wrong|false|unlikely|less[ \t]+likely|ruled[ \t]+out|excluded|eliminated|inappropriate"
    r"|isn't|aren't|cannot|can't|never)\b",
    re.IGNORECASE,
)
#: Where a reply runs on into an invented next item: a new "Question:"/"Q:"/"Context:" line or a new chat turn.
_RUN_ON = re.compile(
    r"\n[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?(?:Question|Q|Context|Instruction|User|Human)(?:[ \t]*\d{1,4})?"
    r"(?:\*\*)?[ \t]*[:.)]"
    r"|<\|im_end\|>|<\|im_start\|>|<\|endoftext\|>|<\|eot_id\|>|<\|user\|>|<\|prompter\|>|</s>|\[INST\]",
)
_LOWER_KEY_END = re.compile(r"[ \t]{0,4}(?:[)\].:*!'\"`](?![ \t]?[a-z0-9])|\n|\Z)")
_SPECIAL_TOKEN = re.compile(r"<\|[A-Za-z0-9_]{1,40}\|>")
_OPTION_LINE = re.compile(
    r"[ \t]*(?:\*\*)?(?:(?:option|choice)[ \t]{1,3})?[\(\[]?([A-Za-z])(?:[\)\]][.:]?|[.:])(?:\*\*)?[ \t]+\S", re.IGNORECASE
)
_OPTIONS_HEADER = re.compile(r"[ \t#*]*(?:options|choices|answer choices)[ \t]*:?[ \t*]*", re.IGNORECASE)
_TEXT_IS_CORRECT = re.compile(
    r"(?:^|(?<=[.!?\n]))[ \t*]{0,4}(?P<text>[^.!?\n*]{1,200}?)[ \t*]{0,4}\b(?:is|would[ \t]+be)[ \t]+(?:the[ \t]+)?"
    r"(?:correct|right|best|most[ \t]+appropriate)[ \t]+(?:answer|option|choice)\b",
    re.IGNORECASE,
)
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


@dataclass(frozen=True)
class Rule:
    """One extraction rule: a name (shown in reports), its tier (lower decides first) and why it exists."""

    name: str
    tier: int
    pattern: str | None  # ``None``: the rule is a function over the options' text (see ``_TEXT_RULES``)
    reason: str
    keys: str = "any"  # "letter" (A-E style keys), "label" (yes/no/maybe style keys) or "any"


RULES: tuple[Rule, ...] = (
    Rule(
        "meditron_format",
        0,
        r"(?im:^)[ \t]*(?:therefore,?[ \t]+)?the[ \t]+answer[ \t]+is:?[ \t]+%(key)s(?=[ \t]*(?:\.|\#\#\#|\n|\Z))",
        "MEDITRON's finetuned format: 'The answer is B.' / '...\\nTherefore, the answer is B.' (prompts.chat_answer) "
        "and epfLLM/meditron's 'The answer is: B ###'",
    ),
    Rule(
        "answer_statement",
        1,
        r"%(cue)s" + _OPEN + r"%(key)s%(close)s",
        "an explicit answer statement: 'the answer is (C)', 'Answer: C', 'Final answer: B', 'I'd go with D'",
    ),
    Rule(
        "answer_markup",
        1,
        r"\\boxed\{[ \t]{0,2}(?:\\text\{)?[ \t]{0,2}\(?%(key)s\)?[ \t]{0,2}\}|<answer>[ \t\n]{0,3}\(?%(key)s\)?[ \t\n]{0,3}"
        r"</answer>",
        "machine-readable answers: '\\boxed{C}', '<answer>C</answer>'",
    ),
    Rule("answer_text", 1, None, "an answer statement followed by one option's whole text: 'The answer is warfarin.'"),
    Rule(
        "option_is_correct",
        2,
        _PRE_KEY + r"[\(\[]?%(key)s[\)\]]?(?:\*\*)?(?:[ \t]{0,2}[:.\-–—][ \t]{0,2}[^\n.:]{0,80}?)?(?:\*\*)?[ \t]{1,3}"
        r"(?:is|would[ \t]+be|seems[ \t]+to[ \t]+be)[ \t]{1,3}(?:the[ \t]+|our[ \t]+)?(?:(?:most[ \t]+|only[ \t]+)?"
        r"(?:correct|right|best|appropriate|accurate|likely|true)|answer)\b",
        "the key before its verdict: 'Option B is correct', 'C is the best answer', 'D. Warfarin is the right choice'",
        keys="letter",
    ),
    Rule(
        "superlative_statement",
        2,
        r"\b(?:most[ \t]+(?:appropriate|likely|accurate|probable|consistent)|best|correct|right)\b[^.\n]{0,60}?"
        r"\b(?:is|would[ \t]+be|will[ \t]+be)" + _OPEN + r"%(key)s%(close)s",
        "a superlative conclusion naming a key: 'The most appropriate next step is D.'",
        keys="letter",
    ),
    Rule(
        "it_is",
        2,
        r"\b(?:it'?s|it[ \t]+is|it[ \t]+must[ \t]+be|it[ \t]+would[ \t]+be|it[ \t]+should[ \t]+be)[ \t]{1,3}"
        + _OPEN
        + r"%(key)s%(close)s",
        "a short commitment: 'It's B.', 'It must be (C).'",
    ),
    Rule(
        "bold_key",
        3,
        r"\*\*[ \t]{0,2}(?:(?:the[ \t]+)?(?:final[ \t]+|correct[ \t]+)?(?:answer|option|choice)[ \t]{0,2}(?:is)?"
        r"[ \t]{0,2}[:\-]?[ \t]{0,2})?[\(\[]?%(key)s[\)\]]?(?:[ \t]{0,2}[.:\-–—)][^*\n]{0,200})?[ \t]{0,2}\*\*",
        "markdown emphasis on one key: '**Option D**', '**C. Warfarin**', 'I'd pick **B**' (several keys: unparsed)",
    ),
    Rule(
        "leading_key",
        4,
        r"\A[\s*_`\"'>]{0,400}(?:answer[ \t]{0,2}[:\-]?[ \t]{0,2})?[\(\[]?%(key)s(?:[\)\]][\.:]?|[\.:](?!\d)|\*\*|[ \t]+[-–—]"
        r"[ \t]|[ \t]*\((?!\d))(?![ \t*]*(?:is|are|was|were)\b)",
        "the reply opens with a key: 'B) Glomerulus', 'C. Ureter', 'C - Warfarin', 'C (Warfarin)', '[C]', 'D: ...'",
        keys="letter",
    ),
    Rule(
        "bare_key",
        4,
        r"\A[\s*_`\"'(\[>]{0,400}(?:(?:answer|option|choice)[ \t]{0,2}[:\-]?[ \t]{0,2})?[\(\[]?%(key)s[\)\]]?"
        r"[\s.*_`\"'!]{0,8}\Z",
        "the whole reply is a key: 'B', '(c).', '**D**', 'Answer: b', 'Maybe.'",
    ),
    Rule(
        "leading_option",
        4,
        r"\A[\s*_`\"'>]{0,400}(?:option|choice)[ \t]{1,2}[\(\[]?%(key)s(?:[\)\]][.:]?|(?:\*\*)?[ \t]{0,2}[:.\-–—])[ \t]{0,2}"
        r"(?=[^\n]{0,80}(?:\n|\Z))",
        "a short first line naming an option: 'Option C: Warfarin' (a long 'Option A: ...' line is a discussion)",
        keys="letter",
    ),
    Rule(
        "first_line_key",
        4,
        r"\A[\s*_`\"'(\[>]{0,400}(?:(?:answer|option|choice)[ \t]{0,2}[:\-]?[ \t]{0,2})?[\(\[]?%(key)s[\)\]]?"
        r"[ \t.*_`\"'!]{0,8}\n",
        "the key alone on the first line, then an explanation: 'B\\n\\nExplanation: ...'",
        keys="letter",
    ),
    Rule(
        "last_line_key",
        5,
        r"(?:\n|(?<=[.!?])[ \t])[\s*_`\"'(\[>]{0,8}(?:answer[ \t]{0,2}[:\-]?[ \t]{0,2})?[\(\[]?%(key)s[\)\]]?"
        r"[\s.*_`\"'!]{0,8}\Z",
        "reasoning that ends with the key alone on its last line or sentence: '...the answer is:\\n\\nE', '... Yes.'",
    ),
    Rule(
        "leading_label",
        4,
        r"\A[\s*_`\"'(\[>]{0,400}%(key)s%(close)s",
        "a yes/no/maybe reply opening with its label: 'Yes, ...', 'No. The study...', '**Maybe**'",
        keys="label",
    ),
    Rule(
        "conclusion",
        5,
        _CONCLUSION + r"[^.\n!?]{0,150}?(?:\bis|\bbe|\bchoose|\bselect|:|,|\boption|\bchoice|\banswer|\bletter)"
        + _OPEN
        + r"%(key)s%(close)s|"
        + _CONCLUSION
        + r"[ \t,]{1,3}%(key)s%(close)s",
        "a final conclusion sentence: 'Therefore, the most appropriate next step is D.', 'Thus, B.', 'So A is right'",
    ),
    Rule("whole_option_text", 6, None, "the whole reply is one option's text: 'Warfarin' (case/punctuation-insensitive)"),
    Rule(
        "conclusion_option_text",
        7,
        None,
        "the last conclusion sentence names exactly one option's whole text: 'In conclusion, the high-dose dexamethasone "
        "suppression test is the most appropriate next step.'",
    ),
)


# ---------------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------------


def parse_answer(text: str | None, choices: Sequence[str] | Mapping[str, str]) -> str | None:
    """The choice a generated ``text`` commits to, or ``None`` when it commits to none (or to several).

    ``choices`` is the option keys (``["A", "B", "C", "D"]`` or ``["yes", "no", "maybe"]``) or the options mapping
    key → text (``BenchmarkItem.options``), which also lets a reply that gives only an option's text count. Never
    raises: any odd input is an unparsed answer.
    """
    return parse_answer_explained(text, choices)[0]


def parse_answer_explained(
    text: str | None, choices: Sequence[str] | Mapping[str, str]
) -> tuple[str | None, str]:
    """``(answer or None, name of the rule that decided)``; the name is ``"unparsed"`` or ``"ambiguous"`` for ``None``.

    Reports can show which rule fired, so a surprising accuracy can be traced to how replies were read.
    """
    try:
        return _parse(text, choices)
    except Exception:  # the contract is "never raises": an odd input is an unparsed answer
        return None, "unparsed"


# ---------------------------------------------------------------------------------------------------------------------
# Implementation
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    pos: int
    key: str | None  # ``None``: the statement names several keys ("A, B, and C")
    rule: str
    end: int = -1  # where a regex key ends: the deciding hit is checked for more keys following it


def _parse(text: str | None, choices: Sequence[str] | Mapping[str, str]) -> tuple[str | None, str]:
    if not isinstance(text, str) or not text.strip():
        return None, "unparsed"
    keys = tuple(str(k) for k in choices)
    if not keys or len(set(k.lower() for k in keys)) != len(keys) or not all(k.strip() for k in keys):
        return None, "unparsed"
    options = {str(k): str(v) for k, v in choices.items()} if isinstance(choices, Mapping) else {}
    letters = all(len(k) == 1 and k.isalpha() for k in keys)
    reply = _prepare(text, keys if letters else ())
    compiled = _compile(keys, letters)
    by_tier: dict[int, list[_Hit]] = {}
    for rule, regex in compiled:
        if by_tier and rule.tier > min(by_tier):
            break  # rules are sorted by tier: a decided tier ends the search
        hits = _TEXT_RULES[rule.name](reply, options) if regex is None else _regex_hits(rule, regex, reply, keys)
        if hits:
            by_tier.setdefault(rule.tier, []).extend(hits)
    if not by_tier:
        return None, "unparsed"
    deciding = max(by_tier[min(by_tier)], key=lambda h: h.pos)
    if deciding.key is None or (deciding.end >= 0 and _more_keys_follow(reply, deciding.end, keys, letters)):
        return None, "ambiguous"
    return deciding.key, deciding.rule


def _prepare(text: str, letter_keys: tuple[str, ...]) -> str:
    """Normalised reply: NFKC (full-width letters), no zero-width characters, cut at a run-on, echoed options dropped."""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text)).replace("\r\n", "\n").replace("\r", "\n")
    for m in _RUN_ON.finditer(text):
        if text[: m.start()].strip():
            text = text[: m.start()]
            break
    text = _SPECIAL_TOKEN.sub(" ", text)  # "the answer is <|begin_of_box|>B<|end_of_box|>"
    if letter_keys:
        text = _drop_echoed_options(text, letter_keys)
    return text


def _drop_echoed_options(text: str, keys: tuple[str, ...]) -> str:
    """Drop a repeated option list: consecutive lines labelled with the keys in order, from the first key.

    "A. x\\nB. y\\nC. z\\nD. w\\nAnswer: C" must read C, not the A that opens the reply; a model walking through the
    options in order ("A) ... wrong.\\nB) ... wrong.") is treated the same way, its verdict must come after. An
    "Options:" header right above the list goes with it.
    """
    if "\n" not in text:
        return text
    upper = [k.upper() for k in keys]
    lines = text.split("\n")
    drop: set[int] = set()
    run: list[int] = []

    def close_run() -> None:
        if len(run) >= 2:
            drop.update(run)
            above = run[0] - 1
            if above >= 0 and _OPTIONS_HEADER.fullmatch(lines[above]):
                drop.add(above)
        run.clear()

    for i, line in enumerate(lines):
        if not line.strip():
            continue
        m = _OPTION_LINE.match(line)
        letter = m.group(1).upper() if m else None
        if letter is not None and len(run) < len(upper) and letter == upper[len(run)]:
            run.append(i)
            continue
        close_run()
        if letter == upper[0]:
            run.append(i)
    close_run()
    return "\n".join(line for i, line in enumerate(lines) if i not in drop) if drop else text


@lru_cache(maxsize=64)
def _compile(keys: tuple[str, ...], letters: bool) -> tuple[tuple[Rule, re.Pattern[str] | None], ...]:
    """The rules that apply to this key set, compiled once per key set (ABCD, ABCDE, yes/no/maybe)."""
    if letters:
        key = "(?<![\\w'])(?P<key>[" + "".join(re.escape(k.upper()) + re.escape(k.lower()) for k in keys) + "])"
        close = _CLOSE_LETTER
    else:
        alts = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
        key = r"(?<![\w'])(?P<key>" + alts + r")(?![\w'])"
        close = _CLOSE_LABEL
    fill = {"key": key}
    out = []
    for rule in RULES:
        if rule.keys == ("label" if letters else "letter"):
            continue
        if rule.pattern is None:
            if letters:
                out.append((rule, None))
            continue
        pattern = rule.pattern.replace("%(close)s", close).replace("%(cue)s", _CUE)
        for i in range(pattern.count("%(key)s")):  # alternatives each capture their own key group: key0, key1
            pattern = pattern.replace("%(key)s", fill["key"].replace("?P<key>", f"?P<key{i}>"), 1)
        out.append((rule, re.compile(pattern, re.IGNORECASE)))
    return tuple(sorted(out, key=lambda rc: rc[0].tier))


def _regex_hits(rule: Rule, regex: re.Pattern[str], reply: str, keys: tuple[str, ...]) -> list[_Hit]:
    """Every acceptable match of one rule, each resolved to a key (or marked ambiguous)."""
    by_lower = {k.lower(): k for k in keys}
    letters = all(len(k) == 1 for k in keys)
    hits: list[_Hit] = []
    bold_keys: set[str] = set()
    for m in regex.finditer(reply):
        group = next(name for name, value in m.groupdict().items() if value is not None)
        raw, start, end = m.group(group), m.start(group), m.end(group)
        if letters and raw.islower() and rule.name in _PROSE_RULES and not _lowercase_is_key(reply, start, end):
            continue
        if rule.name in ("conclusion", "option_is_correct", "leading_option") and _negated_after(reply, end):
            continue
        key = by_lower[raw.lower()]
        bold_keys.add(key)
        hits.append(_Hit(start, key, rule.name, end))
    if rule.name == "bold_key" and len(bold_keys) > 1:
        return [_Hit(hits[-1].pos, None, rule.name)]  # "**A** ... **C**" commits to no single key
    return hits


#: Rules whose key follows prose, where a lower-case letter may be an article ("the answer is a bit..."); the others
#: demand a delimited key on their own ("b. 4", "(c)", "**d**").
_PROSE_RULES = frozenset(
    {"meditron_format", "answer_statement", "option_is_correct", "superlative_statement", "it_is", "conclusion"}
)


def _lowercase_is_key(reply: str, start: int, end: int) -> bool:
    """A lower-case letter is a key only when clearly delimited: "(c)", "c.", "c)" or the end; "a patient" is prose."""
    if reply[start - 1 : start] in ("(", "[", "'", '"', "`", "*"):
        return True
    return _LOWER_KEY_END.match(reply, end) is not None


def _negated_after(reply: str, end: int) -> bool:
    """The rest of the sentence says the key is wrong: "Therefore, option A (aspirin) is not appropriate."."""
    rest = reply[end : end + 160]
    stop = re.search(r"[.!?\n]", rest)
    return bool(_NEGATION.search(rest[: stop.start()] if stop else rest))


def _more_keys_follow(reply: str, end: int, keys: tuple[str, ...], letters: bool) -> bool:
    """ "A, B, and C", "B or C", "(A) Aspirin and (B) Heparin", "yes or no": naming several keys commits to none."""
    return any(g.match(reply, end, end + 120) for g in _guards(keys, letters))


@lru_cache(maxsize=64)
def _guards(keys: tuple[str, ...], letters: bool) -> tuple[re.Pattern[str], ...]:
    if letters:
        alts = "[" + "".join(re.escape(k.upper()) for k in keys) + "]"
        return (
            re.compile(
                r"[*_\)\]]{0,4}[ \t]*(?:,|/|&|\+|\band\b|\bor\b)[ \t]*(?:(?:and|or)[ \t]+)?(?:option[ \t]+)?[\(\[]?"
                + alts
                + r"(?![\w])(?![ \t]+(?:is|was)\b)"
            ),
            # a second bracket-labelled key after option text: "(A) Aspirin and (B) Heparin", "A) Aspirin, B) Heparin"
            re.compile(
                r"[\)\]]?[.:]?[^.\n]{0,80}?(?:,|;|\band\b|\bor\b)[ \t]*(?:option[ \t]+)?(?:[\(\[]"
                + alts
                + r"[\)\]]?|"
                + alts
                + r"[\)\]])"
            ),
        )
    alts = "(?:" + "|".join(re.escape(k) for k in keys) + ")"
    # "yes or no" is a stock phrase for "it depends"; after "," or "and" the second label must stand alone ("no, and
    # no further trials" is an answer).
    return (
        re.compile(
            r"[*_\)\]]{0,4}[ \t]*(?:(?:/|\bor\b)[ \t]*" + alts + r"(?![\w])"
            r"|(?:,|\band\b)[ \t]*(?:(?:and|or)[ \t]+)?" + alts + _CLOSE_LABEL + ")",
            re.IGNORECASE,
        ),
    )


# --- rules over the options' text ------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    """Case-, punctuation- and spacing-insensitive form used to compare a reply with an option's text."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def _options_by_text(options: Mapping[str, str]) -> dict[str, str | None]:
    """Normalised option text → key (``None`` when two options share a text: no unambiguous match exists)."""
    out: dict[str, str | None] = {}
    for k, v in options.items():
        n = _norm(v)
        if n:
            out[n] = None if n in out else k
    return out


def _answer_text_hits(reply: str, options: Mapping[str, str]) -> list[_Hit]:
    """An answer cue followed by one option's whole text ("The answer is warfarin because...")."""
    texts = _options_by_text(options)
    if not texts:
        return []
    cue = _answer_cue_regex()
    hits = []
    for m in cue.finditer(reply):
        segment = _norm(reply[m.end() : m.end() + 400].split("\n", 1)[0])
        found = [t for t in texts if segment == t or segment.startswith(t + " ")]
        if found:
            longest = max(found, key=len)  # "aspirin and warfarin" over "aspirin"
            rest = segment[len(longest) :].split()
            another = rest[:1] in (["or"], ["and"]) and any(" ".join(rest[1:]).startswith(t) for t in texts)
            hits.append(_Hit(m.end(), None if another else texts[longest], "answer_text"))
    for m in _TEXT_IS_CORRECT.finditer(reply):  # "Heparin is the correct answer."
        key = texts.get(_norm(m.group("text")), "")
        if key != "":
            hits.append(_Hit(m.start("text"), key, "answer_text"))
    return hits


@lru_cache(maxsize=1)
def _answer_cue_regex() -> re.Pattern[str]:
    return re.compile(_CUE + r"[\s:=\-–—*_`'\"]{0,8}", re.IGNORECASE)


def _whole_option_hits(reply: str, options: Mapping[str, str]) -> list[_Hit]:
    """The whole reply is one option's text ("Warfarin."); two options with that text make it ambiguous."""
    if len(reply) > 2000:
        return []
    texts = _options_by_text(options)
    norm = _norm(reply)
    return [_Hit(0, texts[norm], "whole_option_text")] if norm in texts else []


def _conclusion_option_hits(reply: str, options: Mapping[str, str]) -> list[_Hit]:
    """The last conclusion sentence that names exactly one option's whole text (longest match wins over parts)."""
    texts = _options_by_text(options)
    if not texts:
        return []
    last = None
    for m in re.finditer(_CONCLUSION + r"[^.\n!?]{0,400}", reply, re.IGNORECASE):
        last = m
    if last is None or _NEGATION.search(last.group(0)):
        return []
    sentence = " " + _norm(last.group(0)) + " "
    found = [t for t in texts if " " + t + " " in sentence]
    found = [t for t in found if not any(t != o and " " + t + " " in " " + o + " " for o in found)]
    if len(found) != 1:
        return [_Hit(last.start(), None, "conclusion_option_text")] if found else []
    return [_Hit(last.start(), texts[found[0]], "conclusion_option_text")]


_TEXT_RULES: dict[str, Callable[[str, Mapping[str, str]], list[_Hit]]] = {
    "answer_text": _answer_text_hits,
    "whole_option_text": _whole_option_hits,
    "conclusion_option_text": _conclusion_option_hits,
}
