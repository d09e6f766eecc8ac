"""The batch's index.html: the page a person opens first."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from ..core.files import atomic_write_text
from ..core.scheme import Grading

SCORES = ("scoring", "tables", "scores.csv")


def comparison_table(root: Path, manifest: dict) -> pd.DataFrame:
    """One row per scenario: score statistics and rank agreement with the first scenario."""
    from ..analyses.compare import rank_shifts, summarise

    rows, reference = [], None
    for facts in manifest["scenarios"]:
        path = root / facts["name"] / Path(*SCORES)
        row = {"scenario": facts["name"], "status": facts["status"]}
        if path.exists():
            table = pd.read_csv(path)
            row.update({"units": len(table), "mean_total": table["total"].mean(),
                        "sd_total": table["total"].std(), "min_total": table["total"].min(),
                        "max_total": table["total"].max(), "vetoes": int(table["veto"].sum())})
            for grade, count in table["grade"].value_counts().items():
                row[f"n_{grade}"] = int(count)
            if reference is None:
                reference = (facts["name"], table)
            else:
                overall = summarise(rank_shifts(reference[1], table)).iloc[-1]
                row[f"tau_vs_{reference[0]}"] = overall["kendall_tau"]
                row["mean_abs_shift"] = overall["mean_abs_shift"]
                row["grade_changes"] = overall["grade_changes"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    # grade counts in each scheme's grade order (best first), 0 where a grade is not given
    order: list[str] = []
    for facts in manifest["scenarios"]:
        stored = root / facts["name"] / "scenario.json"
        if stored.exists():
            grading = (json.loads(stored.read_text(encoding="utf-8")).get("resolved") or {}).get("grading") or {}
            grades = grading.get("grades") or Grading.model_fields["grades"].default
            order += [g for g in grades if g not in order]
    counts = [c for c in frame.columns if c.startswith("n_")]
    ranked = [f"n_{g}" for g in order if f"n_{g}" in counts] + [c for c in counts if c[2:] not in order]
    if counts:
        scored = frame["units"].notna()             # counts exist only beside a scores table
        frame.loc[scored, counts] = frame.loc[scored, counts].fillna(0).astype(int)
        rest = [c for c in frame.columns if c not in counts]
        at = rest.index("vetoes") + 1 if "vetoes" in rest else len(rest)
        frame = frame[rest[:at] + ranked + rest[at:]]
    return frame


def _link(root: Path, target: Path, text: str) -> str:
    if not target.exists():
        return ""
    return f'<a href="{html.escape(target.relative_to(root).as_posix())}">{html.escape(text)}</a>'


def write_index(root: Path, manifest: dict) -> Path:
    root = Path(root)
    comparison = comparison_table(root, manifest)
    rows = []
    for job in manifest["jobs"]:
        folder = root / job["scenario"] / job["notebook"]
        links = [_link(root, folder / f"{job['notebook']}.html", "html"),
                 _link(root, folder / f"{job['notebook']}.ipynb", "notebook")]
        tables = sorted((folder / "tables").glob("*.csv")) if folder.exists() else []
        figures = sorted((folder / "figures").glob("*.png")) if folder.exists() else []
        links += [_link(root, t, t.stem) for t in tables]
        thumbs = "".join(f'<a href="{html.escape(f.relative_to(root).as_posix())}">'
                         f'<img src="{html.escape(f.relative_to(root).as_posix())}" height="60" '
                         f'alt="{html.escape(f.stem)}"></a>' for f in figures)
        status = "cached" if job.get("cached") else job["status"]
        error = html.escape(job.get("error") or "")
        rows.append(f"<tr class='{job['status']}'><td>{html.escape(job['scenario'])}</td>"
                    f"<td>{html.escape(job['notebook'])}</td><td>{status}</td>"
                    f"<td>{job.get('seconds', 0):.1f}</td><td>{' '.join(l for l in links if l)}</td>"
                    f"<td>{thumbs}</td><td class='err'>{error}</td></tr>")
    scen_rows = []
    for s in manifest["scenarios"]:
        diff = html.escape(str(s.get("diff") or "")) if s.get("diff") else "(scheme)"
        scen_rows.append(f"<tr class='{'failed' if s['error'] else 'done'}'><td>{html.escape(s['name'])}</td>"
                         f"<td>{html.escape(s['file'])}</td><td><code>{diff}</code></td>"
                         f"<td>{html.escape((s.get('hash') or '')[:12])}</td>"
                         f"<td class='err'>{html.escape(s.get('error') or '')}</td></tr>")
    n_failed = sum(1 for j in manifest["jobs"] if j["status"] == "failed")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>perfsim batch {html.escape(manifest['batch'])}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; margin-bottom: 2em; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }} th {{ background: #eee; }}
tr.failed td {{ background: #fde2e2; }} td.err {{ color: #a00; font-family: monospace; }}
</style></head><body>
<h1>perfsim batch <code>{html.escape(manifest['batch'])}</code></h1>
<p>{len(manifest['jobs'])} jobs, {n_failed} failed; created {html.escape(manifest['created'])};
perfsim {html.escape(manifest['perfsim_version'])}, commit {html.escape(str(manifest.get('git_commit')))};
data: {html.escape(manifest['data'])} (sha256 {html.escape(manifest['data_hash'][:12])}); seed {manifest['seed']}.
Files: <a href="manifest.json">manifest.json</a>.</p>
<h2>Scenarios compared</h2>
<p>Totals in points; tau is the within-category Kendall tau of ranks against the first scenario
(n-weighted over categories).</p>
{comparison.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="", border=0)}
<h2>Scenarios</h2>
<table><tr><th>scenario</th><th>file</th><th>declared change</th><th>hash</th><th>error</th></tr>
{''.join(scen_rows)}</table>
<h2>Jobs</h2>
<table><tr><th>scenario</th><th>notebook</th><th>status</th><th>seconds</th><th>outputs</th><th>figures</th><th>error</th></tr>
{''.join(rows)}</table>
</body></html>
"""
    return atomic_write_text(root / "index.html", page)
