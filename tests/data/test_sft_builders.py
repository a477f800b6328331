"""SFT builders: official training-file layouts → chat examples with the evaluation's prompts, and exact counts."""

from __future__ import annotations

import json

import pytest

from meditron.benchmarks import BenchmarkItem
from meditron.benchmarks.prompts import COT_TRIGGER, instruction, training_messages
from meditron.data.sft import build_examples
from meditron.errors import ConfigError, InputError
from tests.testing import SHARED_DATA, requires_shared_data

BENCH = SHARED_DATA / "benchmarks"


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


MEDQA_ROW = {
    "question": "A 30-year-old woman has a cough. What is the next step?",
    "answer": "Chest radiograph",
    "options": {"A": "Chest radiograph", "B": "CT head", "C": "Bone scan", "D": "No action"},
    "meta_info": "step2&3",
    "answer_idx": "A",
}
MEDMCQA_ROWS = [
    {"question": "Axonal transport is:", "exp": "Kinesin moves cargo forward; dynein moves it back.", "cop": 3,
     "opa": "Antegrade", "opb": "Retrograde", "opc": "Antegrade and retrograde", "opd": "None", "id": "q1"},
    {"question": "Which nerve supplies the deltoid?", "exp": None, "cop": 2,
     "opa": "Radial", "opb": "Axillary", "opc": "Ulnar", "opd": "Median", "id": "q2"},
]  # fmt: skip
PUBMEDQA = {
    "111": {"QUESTION": "Does drug X lower blood pressure?", "CONTEXTS": ["Trial of 40 adults.", "BP fell by 10 mmHg."],
            "final_decision": "yes", "LONG_ANSWER": "Drug X lowered systolic pressure in adults."},
    "222": {"QUESTION": "Is test Y accurate?", "CONTEXTS": ["Small cohort."], "final_decision": "maybe",
            "LONG_ANSWER": "Evidence is limited."},
}  # fmt: skip


def test_medqa_uses_the_evaluation_prompt_and_answer(tmp_path):
    exs, rep = build_examples(
        "medqa", _write_jsonl(tmp_path / "train.jsonl", [MEDQA_ROW, MEDQA_ROW | {"answer_idx": "C"}])
    )
    assert rep.to_dict() | {"path": None} == {
        "source": "medqa", "path": None, "kind": "medqa", "cot": False, "num_records": 2, "num_examples": 2, "skipped": {}
    }  # fmt: skip
    item = BenchmarkItem("x", "medqa4", MEDQA_ROW["question"], MEDQA_ROW["options"], "A")
    assert exs[0].messages == training_messages(item)
    assert exs[0].messages[0]["content"] == instruction(item)
    assert exs[0].messages[1]["content"] == (
        "Question: A 30-year-old woman has a cough. What is the next step?\nOptions:\n"
        "A. Chest radiograph\nB. CT head\nC. Bone scan\nD. No action"
    )
    assert [e.messages[-1] for e in exs] == [
        {"role": "assistant", "content": "The answer is A."},
        {"role": "assistant", "content": "The answer is C."},
    ]
    assert exs[0].id == "train.jsonl:1" and exs[1].id == "train.jsonl:2"
    assert "Chest radiograph" in exs[0].guard_text and "medical doctor" not in exs[0].guard_text


def test_medqa_five_options_and_cot_refused(tmp_path):
    row = MEDQA_ROW | {"options": MEDQA_ROW["options"] | {"E": "Biopsy"}, "answer_idx": "E"}
    exs, _ = build_examples("medqa", _write_jsonl(tmp_path / "train.jsonl", [row]))
    assert "from A to E" in exs[0].messages[0]["content"] and exs[0].messages[-1]["content"] == "The answer is E."
    with pytest.raises(ConfigError, match="no explanation"):
        build_examples("medqa", tmp_path / "train.jsonl", cot=True)


def test_medmcqa_plain_and_cot(tmp_path):
    path = _write_jsonl(tmp_path / "train.json", MEDMCQA_ROWS)
    plain, rep = build_examples("medmcqa", path)
    assert (rep.num_records, rep.num_examples, dict(rep.skipped)) == (2, 2, {})
    assert [e.messages[-1]["content"] for e in plain] == ["The answer is C.", "The answer is B."]
    cot, rep = build_examples("medmcqa", path, cot=True)
    assert (rep.num_records, rep.num_examples, dict(rep.skipped)) == (2, 1, {"cot-without-explanation": 1})
    assert cot[0].id == "medmcqa-q1"
    assert cot[0].messages[1]["content"].endswith("\n\n" + COT_TRIGGER)
    assert cot[0].messages[-1]["content"] == (
        "Kinesin moves cargo forward; dynein moves it back.\nTherefore, the answer is C."
    )


def test_pubmedqa_plain_and_cot(tmp_path):
    path = tmp_path / "ori_pqaa.json"
    path.write_text(json.dumps(PUBMEDQA), encoding="utf-8")
    plain, rep = build_examples("pubmedqa", path)
    assert (rep.num_records, rep.num_examples) == (2, 2)
    assert plain[0].messages[1]["content"] == (
        "Context: Trial of 40 adults.\nBP fell by 10 mmHg.\nQuestion: Does drug X lower blood pressure?"
    )
    assert [e.messages[-1]["content"] for e in plain] == ["The answer is yes.", "The answer is maybe."]
    cot, _ = build_examples("pubmedqa", path, cot=True, limit=1)
    assert len(cot) == 1 and cot[0].messages[-1]["content"] == (
        "Drug X lowered systolic pressure in adults.\nTherefore, the answer is yes."
    )


def test_chat_jsonl_kept_as_is(tmp_path):
    conv = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Dose of amoxicillin?"},
        {"role": "assistant", "content": "500 mg three times daily."},
        {"role": "user", "content": "For how long?"},
        {"role": "assistant", "content": "Five days."},
    ]
    path = _write_jsonl(tmp_path / "chat.jsonl", [{"messages": conv, "id": "c1"}, {"messages": conv[:2]}])
    exs, rep = build_examples("chat", path)
    assert rep.to_dict()["skipped"] == {"no-assistant-turn": 1} and rep.num_records == 2
    assert [e.id for e in exs] == ["chat-c1"] and exs[0].messages == conv


@pytest.mark.parametrize(
    ("kind", "line", "message"),
    [
        ("medqa", json.dumps(MEDQA_ROW | {"answer_idx": "F"}), "answer_idx"),
        ("medqa", "{not json", "not valid JSON"),
        ("medmcqa", json.dumps(MEDMCQA_ROWS[0] | {"cop": 0}), "1..4"),
        ("chat", json.dumps({"messages": [{"role": "doctor", "content": "x"}]}), "role"),
        ("chat", json.dumps({"messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]}), "last message"),
    ],
)  # fmt: skip
def test_bad_records_name_file_and_line(tmp_path, kind, line, message):
    path = tmp_path / "data.jsonl"
    good = json.dumps(MEDQA_ROW if kind == "medqa" else MEDMCQA_ROWS[1] if kind == "medmcqa" else {"messages": []})
    path.write_text((good + "\n" if kind != "chat" else "") + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as err:
        build_examples(kind, path)
    assert str(path) in str(err.value) and f"line {2 if kind != 'chat' else 1}" in str(err.value)


def test_unknown_kind_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="valid: medqa, medmcqa, pubmedqa, chat"):
        build_examples("usmle", tmp_path / "x")
    with pytest.raises(InputError, match="does not exist"):
        build_examples("medqa", tmp_path / "absent.jsonl")


@requires_shared_data
def test_official_layouts_report_counts():
    _, medqa = build_examples("medqa", BENCH / "medqa_usmle_4opt" / "phrases_no_exclude_test.jsonl")
    assert (medqa.num_records, medqa.num_examples) == (1273, 1273)
    _, medmcqa = build_examples("medmcqa", BENCH / "medmcqa_dev" / "dev.json")
    assert (medmcqa.num_records, medmcqa.num_examples) == (4183, 4183)
    _, medmcqa_cot = build_examples("medmcqa", BENCH / "medmcqa_dev" / "dev.json", cot=True)
    assert (medmcqa_cot.num_examples, dict(medmcqa_cot.skipped)) == (2206, {"cot-without-explanation": 1977})
    exs, pubmedqa = build_examples("pubmedqa", BENCH / "pubmedqa" / "ori_pqal.json", cot=True)
    assert (pubmedqa.num_records, pubmedqa.num_examples) == (1000, 1000)
    assert exs[0].id == "pubmedqa-21645374" and exs[0].messages[-1]["content"].endswith("the answer is yes.")
