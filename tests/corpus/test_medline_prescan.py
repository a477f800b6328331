"""The MEDLINE pre-scan saved once by the ``prepare`` stage and loaded by every filter task (instead of each task
re-scanning every file): same decisions as an index built in the task, refused for other files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meditron.corpus.readers.medline import DELETED, SUPERSEDED, MedlineIndex, MedlineReader
from meditron.corpus.readers.medline_prescan import MedlineIndexWriter
from tests.corpus.test_medline import _update_files
from tests.testing import SHARED_DATA

REAL_MEDLINE = SHARED_DATA / "pubmed" / "medline"


def test_saved_index_gives_each_task_the_same_documents(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _update_files(data)
    built = MedlineReader([str(data)], source="abstracts")
    expected = [[(d.id, d.metadata.get("drop_reason")) for d in built(rank=r, world_size=2)] for r in range(2)]
    assert (expected[0][0], expected[0][1]) == (("pmid1001@pubmed25n0001.xml#0", DELETED),
                                                ("pmid1002@pubmed25n0001.xml#1", SUPERSEDED))

    reader = MedlineReader([str(data)], source="abstracts")
    list(MedlineIndexWriter(reader, tmp_path / "index").run())  # what the prepare stage runs
    assert reader.index_dir == tmp_path / "index"
    assert json.loads((tmp_path / "index" / "index.json").read_text())["num_deletions"] == 2
    loaded = [[(d.id, d.metadata.get("drop_reason")) for d in reader(rank=r, world_size=2)] for r in range(2)]
    assert loaded == expected
    assert isinstance(reader.index.pmids, np.memmap)  # memory-mapped, not rebuilt
    assert list(reader.index.pmids) == [1001, 1002, 1003, 1004]


def test_saved_index_is_refused_for_other_files(tmp_path):
    files = sorted(_update_files(tmp_path), key=lambda p: p.name)
    MedlineIndex(files).save(tmp_path / "index", files)
    with pytest.raises(ValueError, match="built for other files"):
        MedlineIndex.load(tmp_path / "index", files[:1])


def _index_arrays(index: MedlineIndex) -> dict:
    return {k: np.asarray(getattr(index, k)).tolist() for k in ("pmids", "last_file", "last_occ", "deleted")} | {
        "events": index.num_events, "deletions": index.num_deletions}


@pytest.mark.parametrize("tasks", [1, 2, 3])
def test_files_scanned_by_parallel_tasks_merge_into_the_one_pass_index(tmp_path, tasks):
    """The ``medline-scan`` stage splits the files over its tasks (one ``.npz`` of events per file); the merge in
    ``prepare`` gives the index one process scanning every file gives — versions, deletions, a truncated file's
    events before its fault — on the update-file fixture plus the real MEDLINE files when ``../shared`` has them."""
    from meditron.corpus.readers.medline_prescan import MedlineEventScanner

    data = tmp_path / "data"
    data.mkdir()
    _update_files(data)
    real = sorted(REAL_MEDLINE.glob("*.xml*")) if REAL_MEDLINE.is_dir() else []
    for path in real:
        (data / path.name).write_bytes(path.read_bytes())
    whole = (data / "pubmed25n0001.xml").read_bytes()
    (data / "pubmed25n0009.xml").write_bytes(whole[: len(whole) * 2 // 3])  # cut mid-record
    reader = MedlineReader([str(data)], source="abstracts")
    assert len(reader.files) == 3 + len(real)
    one_pass = MedlineIndex(reader.files)
    truncated_alone = MedlineIndex([data / "pubmed25n0009.xml"])
    assert 0 < truncated_alone.num_events < MedlineIndex([data / "pubmed25n0001.xml"]).num_events

    scanner = MedlineEventScanner(reader, tmp_path / "events")
    for rank in range(tasks):
        list(scanner.run(rank=rank, world_size=tasks))
    assert len(list((tmp_path / "events").glob("*.npz"))) == len(reader.files)
    list(MedlineIndexWriter(reader, tmp_path / "index", tmp_path / "events").run())
    assert _index_arrays(MedlineIndex.load(tmp_path / "index", reader.files)) == _index_arrays(one_pass)


def test_a_medline_source_gets_a_parallel_scan_stage_before_prepare(tmp_path):
    from meditron.config import load_config
    from meditron.corpus.pipeline import build_stages, corpus_paths, input_files
    from meditron.run import RunDir

    data = tmp_path / "data"
    data.mkdir()
    _update_files(data)
    cfg = load_config("quickstart-cpu", [
        f"out_dir={tmp_path / 'runs'}", "corpus.executor.tasks=3", "corpus.mixtures={}",
        f'corpus.sources=[{{"name": "abstracts", "kind": "medline", "paths": ["{data}"]}}]'])
    run_dir = RunDir.from_config(cfg)
    readers = [s.build() for s in cfg.corpus.sources]
    stages = build_stages(cfg, run_dir, corpus_paths(cfg, run_dir, input_files(readers)), readers)
    assert [(s.name, s.tasks) for s in stages][:3] == [("medline-scan", 3), ("prepare", 1), ("filter", 3)]
