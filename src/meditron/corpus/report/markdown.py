"""``corpus_report.md``: the report as tables a reader scans (a pure function of ``corpus_report.json``)."""

from __future__ import annotations

from typing import Any


def render_markdown(report: dict[str, Any]) -> str:
    t = report["totals"]
    lines = [
        "# Corpus report",
        "",
        f"**{t['input']}** input records → **{t['kept']}** kept, **{t['dropped']}** dropped, "
        f"**{t['quarantined']}** quarantined. Tokens: {report['tokens']['train']} train, "
        f"{report['tokens']['validation']} validation.",
        "",
        "| source | input | kept | dropped | quarantined | train docs | train tokens | validation docs | "
        "validation tokens |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in report["per_source"].items():
        tr, va = s["splits"].get("train", {}), s["splits"].get("validation", {})
        lines.append(
            f"| {name} | {s['input']} | {s.get('kept', 0)} | {s.get('dropped', 0)} | {s.get('quarantined', 0)} | "
            f"{tr.get('num_docs', 0)} | {tr.get('num_tokens', 0)} | {va.get('num_docs', 0)} | "
            f"{va.get('num_tokens', 0)} |"
        )
    lines += ["", "## Drop reasons", "", "| reason | documents |", "|---|---:|"]
    lines += [f"| {r} | {n} |" for r, n in report["drop_reasons"].items()] or ["| (none) | 0 |"]
    if report["quarantine_errors"]:
        lines += ["", "## Quarantined", "", "| error | records |", "|---|---:|"]
        lines += [f"| {e} | {n} |" for e, n in report["quarantine_errors"].items()]
    if report["dedup"]:
        d = report["dedup"]
        lines += ["", "## Deduplication", "",
                  f"{d['clusters']} clusters; removed {d['removed_exact']} exact and {d['removed_near']} near "
                  f"duplicates. Cluster sizes: "
                  + ", ".join(f"{k}: {v}" for k, v in d["cluster_sizes"].items())]
    c = report["contamination"]
    lines += ["", "## Decontamination", ""]
    if c.get("enabled"):
        lines.append(f"{c['ngram']}-gram overlap, action `{c['action']}`: {c['docs_flagged']} documents flagged; "
                     f"contaminated items per benchmark: {c['items_contaminated'] or 'none'}; index: `{c['index']}`.")
        if c["benchmarks_skipped"]:
            lines.append(f"Not checked: {c['benchmarks_skipped']}.")
    else:
        lines.append(f"Not run ({c.get('skipped')}).")
    phi = report["phi"].get("replacements", {})
    lines += ["", "## PHI scrubbing", "", ", ".join(f"{k}: {v}" for k, v in phi.items()) or "nothing found"]
    r = report["replay"]
    lines += ["", "## Replay", "",
              f"target share {r.get('target_share', 0)}, realised {r['realised_share']:.4f} "
              f"({r['replay_train_tokens']} tokens)."]
    lines += _upsampling_lines(report.get("upsampling") or {})
    return "\n".join(lines) + "\n"


def _upsampling_lines(u: dict[str, Any]) -> list[str]:
    if not u.get("enabled"):
        return []
    docs = u["documents"]
    lines = ["", "## Upsampling", "",
             f"{docs.get('scored', 0)} documents scored, {docs.get('dropped', 0)} dropped, {docs.get('upsampled', 0)} "
             f"upsampled: {u['copies_added']} copies ({u['tokens_added']} tokens) added to the training split.",
             "", "| rule | matched | dropped | copies added | not applied (conditional) |", "|---|---:|---:|---:|---:|"]
    for name, r in u["rules"].items():
        lines.append(f"| {name} | {r.get('matched', 0)} | {r.get('dropped', 0)} | {r.get('copies_added', 0)} | "
                     f"{r.get('not_applied', 0)} |")
    return lines
