"""The MEDLINE pre-scan saved once by the ``prepare`` stage and loaded by every filter task (instead of each task
re-scanning every file): same decisions as an index built in the task, refused for other files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meditron.corpus.readers.medline import DELETED, SUPERSEDED, MedlineIndex, MedlineReader
from meditron.corpus.readers.medline_prescan import MedlineIndexWriter
from tests.corpus.test_medline import _update_files


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
