"""`meditron corpus download hf` on local parquet/JSONL files written here (no hub access): guideline rows kept as
MEDITRON's layout, seeded replay samples within the token budget, clear errors."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from meditron.cli import app
from meditron.corpus.download.hf import download_hf
from meditron.corpus.readers.guideline import GuidelineJsonlReader
from meditron.errors import InputError
from tests.testing import SHARED_DATA, requires_shared_data

runner = CliRunner()
GUIDELINE_TEXT = ("Adults with type 2 diabetes should have their HbA1c measured every three to six months. "
                  "Metformin is the first-line drug unless it is contraindicated or not tolerated. ") * 3


def _guideline_rows() -> list[dict]:
    return [{"id": f"g{i}", "source": "who", "title": f"Guideline {i}", "url": f"https://who.int/g{i}",
             "raw_text": f"Raw {i}. " + GUIDELINE_TEXT, "clean_text": f"Recommendation {i}. " + GUIDELINE_TEXT,
             "overview": None} for i in range(4)]


def _replay_rows(n: int = 60) -> list[dict]:
    return [{"id": f"doc{i}", "text": " ".join(f"w{i}_{j}" for j in range(3 + i % 7)), "url": f"u{i}",
             "meta": {"nested": True}} for i in range(n)]


def test_guideline_parquet_folder_becomes_guideline_jsonl(tmp_path):
    data = tmp_path / "guidelines" / "data"
    data.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(_guideline_rows()), data / "train-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist(_guideline_rows()[:1]), data / "test-00000-of-00001.parquet")
    result = runner.invoke(app, ["corpus", "download", "hf", "--dataset", str(tmp_path / "guidelines"),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "guidelines-train.jsonl"
    assert [json.loads(line) for line in out.read_text().splitlines()] == _guideline_rows()
    docs = list(GuidelineJsonlReader([str(out)], source="guidelines").run())
    assert [d.id for d in docs] == [f"guidelines-g{i}" for i in range(4)]
    assert docs[0].text.startswith("# Guideline 0") and "Recommendation 0." in docs[0].text
    entry = json.loads((tmp_path / "out" / "manifest.json").read_text())["files"][0]
    assert entry["path"] == "guidelines-train.jsonl" and entry["rows"] == 4 and entry["source"] == "hf"


def test_replay_sample_respects_the_budget_and_the_seed(tmp_path):
    src = tmp_path / "replay.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _replay_rows()))
    words = {r["id"]: len(r["text"].split()) for r in _replay_rows()}

    def sample(seed: int, out: str) -> list[dict]:
        result, entry = download_hf(str(src), tmp_path / out, max_tokens=100, seed=seed)
        rows = [json.loads(line) for line in result.path.read_text().splitlines()]
        assert entry["tokens"] == sum(words[r["id"]] for r in rows) <= 100
        assert entry["rows_scanned"] == 60 and entry["seed"] == seed and entry["token_count"] == "whitespace words"
        return rows

    first, again, other = sample(3, "a"), sample(3, "b"), sample(4, "c")
    assert first == again and first != other
    ids = [int(r["id"][3:]) for r in first]
    assert ids == sorted(ids) and ids != list(range(len(ids)))  # stream order, but not just the first rows
    assert sum(words[r["id"]] for r in first) > 100 - 10  # filled up to within one document of the budget
    assert first[0].keys() == {"id", "text", "url"}  # scalar fields kept, nested ones left out


def test_missing_text_field_names_the_row_and_the_fields(tmp_path):
    src = tmp_path / "rows.jsonl"
    src.write_text(json.dumps({"id": 1, "content": "x"}) + "\n")
    with pytest.raises(InputError, match=r"row has no string field 'text' \(fields: content, id\)"):
        download_hf(str(src), tmp_path / "out")
    _, entry = download_hf(str(src), tmp_path / "out", text_field="content")
    assert entry["rows"] == 1


@requires_shared_data
def test_token_budget_counted_with_a_real_tokenizer(tmp_path):
    from meditron.tokenizer import load_tokenizer

    tokenizer = SHARED_DATA / "tokenizers" / "tokenizer.model.v1"
    src = tmp_path / "replay.parquet"
    pq.write_table(pa.Table.from_pylist(_replay_rows()), src)
    result, entry = download_hf(str(src), tmp_path / "out", max_tokens=300, tokenizer=str(tokenizer), seed=1)
    tok = load_tokenizer(tokenizer)
    rows = [json.loads(line) for line in result.path.read_text().splitlines()]
    recount = sum(len(tok(r["text"], add_special_tokens=False)["input_ids"]) for r in rows)
    assert entry["tokens"] == recount <= 300 and recount > 200
