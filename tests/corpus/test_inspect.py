"""``meditron corpus inspect``: documents as JSON lines on stdout, quarantined records on stderr, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meditron.cli import app
from meditron.corpus.inspect import inspect_files
from meditron.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"


def run(kind, files, source=None):
    out, err = io.StringIO(), io.StringIO()
    code = inspect_files(kind, [Path(f) for f in files], source, out=out, err=err)
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    quarantined = [json.loads(line) for line in err.getvalue().splitlines()]
    return code, docs, quarantined


def test_jats_documents_and_quarantine_streams():
    code, docs, quarantined = run("jats", [FIXTURES / "jats"])
    assert code == 1
    assert [d["id"] for d in docs] == ["jats-pmid90000002", "pmc9900001"]
    assert set(docs[1]) == {"id", "text", "metadata"} and docs[1]["metadata"]["license"] == "CC BY-NC"
    assert quarantined == [
        {
            "file": str(FIXTURES / "jats" / "articleset_nlm23.xml"),
            "position": 1,
            "error": "EmptyArticleError: article has no abstract and no body text",
        }
    ]


def test_medline_all_clean_exit_zero_and_drop_reasons_on_stdout():
    code, docs, quarantined = run("medline", [FIXTURES / "medline" / "pubmed25n0001.xml"])
    assert (code, quarantined) == (0, [])
    assert [(d["id"], d["metadata"].get("drop_reason")) for d in docs] == [
        ("pmid1001", None),
        ("pmid1002", None),
        ("pmid1003", "no-abstract"),
    ]
    assert docs[0]["metadata"]["source"] == "abstracts"


def test_guideline_kind_picks_reader_per_suffix_and_source_selects_site():
    code, docs, quarantined = run("guideline", sorted((FIXTURES / "guidelines").iterdir()), source="cdc")
    assert code == 1 and [q["position"] for q in quarantined] == ["line 3", "line 5"]
    kinds = {d["id"]: (d["metadata"]["kind"], d["metadata"]["site_rules"]) for d in docs}
    assert kinds == {
        "cdc-asthma_plan": ("guideline_markdown", "cdc"),
        "cdc-fever_cp1252": ("guideline_html", "cdc"),
        "cdc-aom-0001": ("guideline_jsonl", "cdc"),
        "cdc-htn-0002": ("guideline_jsonl", "cdc"),
        "cdc-aom-copy-0004": ("guideline_jsonl", "cdc"),
    }


def test_unknown_kind_is_a_config_error():
    """Also: the reader registry is the one map of source kinds, and the config's Literal lists exactly its names."""
    from typing import get_args

    from meditron.corpus.config import SourceKind
    from meditron.corpus.readers import READERS, reader_class

    with pytest.raises(ConfigError, match="unknown --kind 'pdf'"):
        run("pdf", [FIXTURES / "jats"])
    assert set(get_args(SourceKind)) == set(READERS)
    with pytest.raises(ConfigError, match=r"unknown corpus source kind 'pdf'; valid: guideline_html, .*parquet"):
        reader_class("pdf")


def test_cli_command():
    result = CliRunner().invoke(
        app, ["corpus", "inspect", "--kind", "medline", str(FIXTURES / "medline" / "medline_citationset.xml")]
    )
    assert result.exit_code == 0, result.output
    (doc,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert doc["id"] == "pmid2001" and doc["text"].startswith("Hand washing in clinics.")
