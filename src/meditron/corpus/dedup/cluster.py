"""Stage 3 of dedup: duplicate pairs → clusters; the kept member of a cluster is its *earliest* document.

datatrove's ``MinhashDedupCluster`` keeps the root of a union-by-size forest, which depends on pair order. Here the
root is always the smallest ``(task, index)``: with one task that is input order (sources in config order, files in
sorted order), so "which copy survives" is predictable and documented. Per task it writes ``<rank>.tsv`` lines
``index<TAB>reason`` (``exact-dup of <id>`` when the content hashes match, else ``near-dup of <id>``), sorted by
index, and ``clusters.json`` with the size histogram. Memory is proportional to the number of duplicates only.
"""

from __future__ import annotations

import json
import struct
from collections import Counter, defaultdict
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

Node = tuple[int, int]


class DedupCluster(PipelineStep):
    name = "🎯 Dedup clusters"
    type = "🫂 - DEDUP"

    def __init__(self, dups_folder: str | Path, sigs_folder: str | Path, output_folder: str | Path):
        super().__init__()
        self.dups_folder = Path(dups_folder)
        self.sigs_folder = Path(sigs_folder)
        self.output_folder = Path(output_folder)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        assert world_size == 1, "clustering runs as a single task"
        parent: dict[Node, Node] = {}

        def find(x: Node) -> Node:
            root = x
            while parent.get(root, root) != root:
                root = parent[root]
            while x != root:  # path compression
                parent[x], x = root, parent[x]
            return root

        for path in sorted(self.dups_folder.glob("*.dups")):
            with open(path, "rb") as f:
                for f1, d1, f2, d2 in struct.iter_unpack("<4I", f.read()):
                    ra, rb = find((f1, d1)), find((f2, d2))
                    parent.setdefault(ra, ra)
                    parent.setdefault(rb, rb)
                    if ra != rb:
                        lo, hi = min(ra, rb), max(ra, rb)
                        parent[hi] = lo
        roots = {node: find(node) for node in parent}
        sizes = Counter(roots.values())
        info = self._doc_info(set(parent))
        removals: dict[int, list[tuple[int, str]]] = defaultdict(list)
        exact = near = 0
        for node, root in sorted(roots.items()):
            if node == root:
                continue
            (h_node, _), (h_root, root_id) = info[node], info[root]
            kind = "exact-dup" if h_node == h_root else "near-dup"
            exact += kind == "exact-dup"
            near += kind == "near-dup"
            removals[node[0]].append((node[1], f"{kind} of {root_id}"))
        self.output_folder.mkdir(parents=True, exist_ok=True)
        for old in self.output_folder.glob("*.tsv"):
            old.unlink()
        for task, rows in removals.items():
            with open(self.output_folder / f"{task:05d}.tsv", "w", encoding="utf-8") as f:
                for idx, reason in sorted(rows):
                    f.write(f"{idx}\t{reason}\n")
        histogram = Counter(sizes.values())
        largest = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        summary = {
            "clusters": len(sizes),
            "removed": exact + near,
            "removed_exact": exact,
            "removed_near": near,
            "cluster_sizes": {str(k): v for k, v in sorted(histogram.items())},
            "largest": [{"kept": info[root][1], "size": size} for root, size in largest],
        }
        (self.output_folder / "clusters.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return
        yield

    def _doc_info(self, nodes: set[Node]) -> dict[Node, tuple[str, str]]:
        """(content hash, id) of the given nodes, streamed from the per-task ``docs`` side files."""
        wanted: dict[int, set[int]] = defaultdict(set)
        for task, idx in nodes:
            wanted[task].add(idx)
        info: dict[Node, tuple[str, str]] = {}
        for task, indices in wanted.items():
            with open(self.sigs_folder / "docs" / f"{task:05d}.tsv", encoding="utf-8") as f:
                for idx, line in enumerate(f):
                    if idx in indices:
                        chash, doc_id = line.rstrip("\n").split("\t", 1)
                        info[(task, idx)] = (chash, doc_id)
        return info
