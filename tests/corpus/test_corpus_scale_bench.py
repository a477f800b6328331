"""benchmarks/corpus_scale.py at a tiny size: the generated MEDLINE input is deterministic and parses, every planted
near-duplicate pair is found across files and tasks, and the result JSON has the figures docs/PERFORMANCE.md uses."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.testing import REPO, requires_shared_data

BENCH = REPO / "benchmarks"


@requires_shared_data
def test_generated_input_is_deterministic_and_every_record_parses(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        from corpus_scale_input import build_inputs
    finally:
        sys.path.remove(str(BENCH))
    from meditron.corpus.readers.medline import MedlineReader

    a = build_inputs(tmp_path / "a", 0.5, seed=3, file_mb=0.2)
    b = build_inputs(tmp_path / "b", 0.5, seed=3, file_mb=0.2)
    files = sorted((tmp_path / "a").glob("*.xml.gz"))
    assert len(files) == a["files"] == 3 and a["pairs"] == b["pairs"]
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in sorted((tmp_path / "b").glob("*.xml.gz"))]
    docs = list(MedlineReader([str(tmp_path / "a")], source="abstracts")())
    assert len(docs) == a["records"] and len({d.id for d in docs}) == a["records"]
    assert not [d for d in docs if d.metadata.get("quarantined") or d.metadata.get("drop_reason")]
    by_id = {d.id: d for d in docs}
    for pair in a["pairs"]:
        first, copy = by_id[pair["first"]], by_id[pair["copy"]]
        assert first.metadata["file_path"] != copy.metadata["file_path"]
        changed = sum(x != y for x, y in zip(first.text.split(), copy.text.split(), strict=True))
        assert 1 <= changed <= pair["edits"]


@requires_shared_data
def test_tiny_run_finds_every_planted_duplicate(tmp_path):
    out = tmp_path / "result.json"
    cmd = [sys.executable, str(BENCH / "corpus_scale.py"), "--size-mb", "1", "--file-mb", "0.25", "--workers", "1",
           "--tasks", "2", "--peer-max-mb", "0", "--scratch", str(tmp_path / "scratch"), "--json", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"nproc", "ram_gib", "cpu", "date", "uptime_start", "uptime_end"} <= set(result["machine"])
    (size,) = result["sizes"]
    assert size["files"] == 4 and size["prescan"]["pmids"] == size["records"]
    (run,) = size["runs"]
    assert run["pipeline"] == "ours" and (run["tasks"], run["workers"]) == (2, 1)
    assert run["docs"] == size["records"]
    assert run["planted"] == {"planted": size["planted_pairs"], "found": size["planted_pairs"], "failures": []}
    assert set(run["stage_s"]) == {"medline-scan", "prepare", "filter", "dedup-buckets", "dedup-clusters", "shards", "replay",
                                   "finalize"}
    assert run["peak_rss_mb_by_role"]["main"] > 0 and run["tokens"] > 0
    assert [p["cores"] for p in result["projection"]] == [16, 512]
    assert not (tmp_path / "scratch" / "1mb").exists()  # generated input removed after the size is measured
