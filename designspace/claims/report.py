"""claims.json, claims.md and report.html (one figure per claim) from a judged suite."""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os

from .statistics import CONTRADICTED, HOLDS, NOT_RESOLVED, NOT_RUN

MARK = {HOLDS: "holds", CONTRADICTED: "**contradicted**", NOT_RESOLVED: "not resolved", NOT_RUN: "not run"}
COLOR = {HOLDS: "#2a7d2a", CONTRADICTED: "#b22222", NOT_RESOLVED: "#8a6d00", NOT_RUN: "#777777"}


def _fmt(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}g}"


def effect_text(part: dict) -> str:
    eff = part.get("effect")
    if not eff:
        return "–"
    return f"{_fmt(eff['estimate'])} [{_fmt(eff['lo'])}, {_fmt(eff['hi'])}]"


def verdict_text(part: dict) -> str:
    text = MARK[part["verdict"]]
    return f"{text} (borderline)" if part.get("borderline") else text


def p_text(part: dict) -> str:
    if "p_value" not in part:
        return "–"
    return f"{_fmt(part['p_value'], 2)} / {_fmt(part.get('p_adjusted'), 2)}"


def design_lines(part: dict) -> list[str]:
    """Schema 2's account of how a part was computed: pairing, complexity, learning, what would resolve it."""
    out = []
    pairing = (part.get("design") or {}).get("pairing")
    for info in (pairing if isinstance(pairing, list) else [pairing] if pairing else []):
        out.append(f"design: {info['design']}")
    cx = (part.get("design") or {}).get("complexity")
    if cx:
        medians = ", ".join(f"{k} {v / 1e6:.3g} M" for k, v in cx["medians"].items())
        if "paired" in cx:
            state = cx["method"] if cx.get("applied") else ("raw paired differences compared (complexity.paired: "
                                                            "report)" if "warning" in cx else
                                                            "within the rule, raw paired differences compared")
            out.append(f"complexity (paired arms): median {cx['column']} {medians}; median pair ratio {cx['ratio']:g} "
                       f"(rule {cx['max_ratio']:g}): {state}")
        else:
            out.append(f"complexity: median {cx['column']} {medians} (ratio {cx['ratio']:g}, rule "
                       f"{cx['max_ratio']:g}): " + (cx["method"] if cx.get("applied") else
                                                    "within the rule, raw error compared"))
    band = (part.get("effect") or {}).get("mc_band")
    if band:
        out.append(f"Monte-Carlo band of the bootstrap endpoints ({band['resamples']:,} resamples, "
                   f"+-{band['z']:g} binomial sd of an endpoint's rank): lower end in [{_fmt(band['lo'][0], 4)}, "
                   f"{_fmt(band['lo'][1], 4)}], upper end in [{_fmt(band['hi'][0], 4)}, {_fmt(band['hi'][1], 4)}]")
    dnl = part.get("did_not_learn")
    if dnl and any(dnl.values()):
        out.append("did not learn: " + ", ".join(f"arm {k} {n}" for k, n in dnl.items()))
    sens = part.get("learning_sensitivity")
    if sens:
        eff = sens["effect"]
        out.append(f"with non-learners {sens['models']}: {_fmt(eff['estimate'])} [{_fmt(eff.get('lo'))}, "
                   f"{_fmt(eff.get('hi'))}] -> {MARK[sens['verdict']]}")
    if "p_adjusted" in part:
        lo, hi = part["interval_adjusted"]
        out.append(f"p = {_fmt(part['p_value'], 2)} for '{part['direction']}', adjusted {_fmt(part['p_adjusted'], 2)}; "
                   f"interval at the adjusted level {part['level_adjusted']:.4g}: [{_fmt(lo)}, {_fmt(hi)}]")
    seq = part.get("sequential")
    if seq:
        state = "decided there" if seq["decided"] else ("capped: not decided by the last look" if seq.get("capped")
                                                       else "not decided yet")
        sizes = ", ".join(f"{k} {n}" for k, n in seq["models_per_space"].items())
        out.append(f"sequential: look {seq['look']} (models per space: {sizes}) at its level {seq['level']:.3g}: "
                   f"{state}")
    if part.get("borderline"):
        out.append("borderline: a bootstrap endpoint's Monte-Carlo band straddles the line; not decided")
    need = part.get("models_needed")
    if need:
        out.append(f"would resolve: about {need['per_arm']:,} models per arm for {need['power']:.0%} power at an "
                   f"effect of {need['effect']:g} ({need['method']})")
    elif part.get("models_needed_reason"):
        out.append(f"models needed: not planned ({part['models_needed_reason']})")
    return out


def n_text(part: dict) -> str:
    eff = part.get("effect")
    return " / ".join(f"{k}={n}" for k, n in eff["n"].items()) if eff else "–"


def write_json(result: dict, path: str) -> None:
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    with open(path, "w") as fh:
        json.dump(clean(result), fh, indent=1, sort_keys=False, default=str)
        fh.write("\n")


def markdown(result: dict) -> str:
    """claims.md: the run, the statistics, the verdict table, compute, sweeps, then each claim in detail."""
    lines = (_run_lines(result) + _statistics_lines(result["statistics"]) + _schedule_lines(result)
             + _verdict_table(result["claims"]) + _compute_lines(result) + _missing_lines(result["claims"])
             + _sweeps_table(result["sweeps"]) + ["", "## Claims in detail", ""])
    for c in result["claims"]:
        lines += _claim_detail(c)
    return "\n".join(lines)


def _run_lines(result: dict) -> list[str]:
    run = result["run"]
    lines = [f"# Claims: {result['suite']} ({result['tier']} tier)", "",
             f"- command: `{run['command']}`", f"- date: {run['date']}", f"- machine: {run['machine']}",
             f"- wall time of this command: {run['wall_s']:.0f} s"]
    spans = [s.get("span_s") for s in result["sweeps"].values() if s.get("span_s")]
    if spans:
        lines.append(f"- sweeps' own wall time (first trial start to last finish, summed over sweeps): "
                     f"{sum(spans):.0f} s")
    return lines


def _statistics_lines(st: dict) -> list[str]:
    if st.get("schema", 1) >= 2:
        mult = st["multiplicity"]
        return [f"- statistics (schema {st['schema']}): unit = models (repeats averaged by {st['aggregate']}); "
                f"intervals: {st['interval']} ({st['resamples']} resamples, seed {st['seed']}); {st['level']:.0%} "
                f"intervals, one-sided alpha {st['alpha_one_sided']:g}; multiplicity: {mult['parts']} across a "
                f"claim's parts, {mult['claims']} across the suite (p = raw / adjusted); pairing {st['pairing']}; "
                f"complexity control when median {st['complexity']['column']} differ by more than "
                f"{st['complexity']['max_ratio']:g}x (paired arms: "
                f"{st['complexity'].get('paired', 'report')}); models that did not learn "
                f"{'kept' if st['learning']['keep'] else 'excluded'} (the other choice reported beside).", ""]
    # schema 1 results (the first paper-cpu suites) are still rendered in their own words
    return [f"- statistics: unit = models (a model's repeats averaged by {st['aggregate']}), percentile "
            f"bootstrap, {st['resamples']} resamples, {st['level']:.0%} intervals, seed {st['seed']}; each "
            f"claim's parts share the rule written in the suite file before the run.", ""]


def _schedule_lines(result: dict) -> list[str]:
    """The sequential schedule's looks and the merge note, when the run had them."""
    lines = []
    sched = result.get("schedule")
    if sched:
        levels = ", ".join(f"{n}: {x:.3g}" for n, x in zip(sched["looks"], sched["levels"]))
        lines += [f"- schedule: sequential, {sched['spending']} alpha spending (Lan-DeMets); each look's level "
                  f"(models per arm: level) {levels}; a part decided at a look keeps that look's verdict; "
                  f"{len(sched['rounds'])} look(s) taken.", ""]
    if result.get("merged"):
        lines += [f"- {result['merged']}", ""]
    return lines


def _verdict_table(claims: list) -> list[str]:
    """One row per part (a claim's text and verdict on its first row), then the count of each verdict."""
    lines = ["| claim | paper | verdict | part | effect [interval] | n | p raw / adj. | part verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for c in claims:
        parts = c["parts"] or [{"name": c.get("skip") or "–", "verdict": NOT_RUN}]
        for i, p in enumerate(parts):
            head = (f"{c['id']}. {c['text']}", c["figure"], MARK[c["verdict"]]) if i == 0 else ("", "", "")
            lines.append(f"| {head[0]} | {head[1]} | {head[2]} | {p['name']} | {effect_text(p)} | {n_text(p)} | "
                         f"{p_text(p)} | {verdict_text(p)} |")
    counts = {v: sum(c["verdict"] == v for c in claims) for v in MARK}
    return lines + ["", "Verdicts: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n), ""]


def _compute_lines(result: dict) -> list[str]:
    """Core-hours of the sweeps the claims read, and decided claims per core-hour; only when every finished
    sweep recorded its core seconds (otherwise the core-hours would undercount and the rate overstate)."""
    read = [result["sweeps"][k] for k in dict.fromkeys(k for c in result["claims"] for k in c.get("sweeps", []))
            if k in result["sweeps"]]
    core_h = sum(s.get("core_seconds", 0.0) for s in read) / 3600.0
    if not (core_h > 0 and all("core_seconds" in s for s in read if s.get("done"))):
        return []
    decided = sum(c["verdict"] in (HOLDS, CONTRADICTED) for c in result["claims"])
    return [f"Compute: {core_h:.2f} core-hours of training in the sweeps read (trial seconds x cores per "
            f"trial); {decided} claims decided (holds or contradicted): {decided / core_h:.2f} per core-hour.", ""]


def _missing_lines(claims: list) -> list[str]:
    missing = [m for c in claims for m in c.get("missing", [])]
    if not missing:
        return []
    return ["## Missing", ""] + [f"- {m}" for m in dict.fromkeys(missing)] + [""]


def _sweeps_table(sweeps: dict) -> list[str]:
    lines = ["## Sweeps", "", "| sweep | store | planned | done | failed | diverged | timeout |",
             "|---|---|---|---|---|---|---|"]
    for k, s in sweeps.items():
        lines.append(f"| {k} | {s['store']} | {s.get('planned') or '–'} | {s['done']} | {s['failed']} | "
                     f"{s['diverged']} | {s.get('timeout', 0)} |")
    return lines


def _claim_detail(c: dict) -> list[str]:
    """A claim's heading and note, then each part: arms, effect, rule and verdict, with its design notes,
    missing inputs and warnings indented below."""
    lines = [f"### {c['id']}. {c['text']} ({c['figure']}): {MARK[c['verdict']]}", ""]
    if c.get("note"):
        lines += [c["note"], ""]
    for p in c["parts"]:
        eff = p.get("effect") or {}
        lines.append(f"- {p['name']}: {p['describe']}, arms " +
                     "; ".join(f"{k} = {v}" for k, v in p["arms"].items()) +
                     f". Effect {effect_text(p)} ({n_text(p)} {eff.get('unit', 'models')}); rule: {p['rule']}"
                     f" -> {verdict_text(p)}.")
        lines += [f"  - {line}" for line in design_lines(p)]
        lines += [f"  - {m}" for m in p.get("missing", [])]
        lines += [f"  - warning: {w}" for w in eff.get("warnings", [])]
    return lines + [""]


def claim_figure(claim: dict):
    """Forest plot of a claim's parts: estimate, interval, reference and margin, verdict colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = claim["parts"]
    fig, axes = plt.subplots(len(parts) or 1, 1, figsize=(7.5, 0.9 + 1.1 * max(len(parts), 1)), squeeze=False)
    for ax, p in zip(axes[:, 0], parts or [None]):
        if p is None:
            ax.text(0.5, 0.5, f"not run: {claim.get('skip', '')}", ha="center", va="center", wrap=True)
            ax.axis("off")
            continue
        eff = p.get("effect")
        ref, margin = p["ref"], p["margin"]
        if p["expect"] in ("equivalent",):
            ax.axvspan(ref - margin, ref + margin, color="#dddddd")
        elif p["expect"] == "at_most":
            ax.axvline(ref + margin, color="#999999", ls=":")
        elif p["expect"] == "at_least":
            ax.axvline(ref - margin, color="#999999", ls=":")
        ax.axvline(ref, color="#555555", lw=1)
        color = COLOR[p["verdict"]]
        if eff and eff["estimate"] is not None and math.isfinite(eff["estimate"]):
            ax.errorbar([eff["estimate"]], [0], xerr=[[eff["estimate"] - eff["lo"]], [eff["hi"] - eff["estimate"]]],
                        fmt="o", color=color, capsize=4)
            label = f"{p['name']}: {effect_text(p)}, n {n_text(p)} -> {p['verdict']}"
        else:
            label = f"{p['name']}: {p['verdict']}" + (f" ({p['missing'][0]})" if p.get("missing") else "")
        ax.set_yticks([])
        ax.set_title(label, fontsize=8, color=color, loc="left")
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"Claim {claim['id']} ({claim['figure']}): {claim['verdict']}", fontsize=10,
                 color=COLOR[claim["verdict"]])
    fig.tight_layout()
    return fig


def write_html(result: dict, path: str, md_text: str) -> None:
    import matplotlib.pyplot as plt

    blocks = []
    for c in result["claims"]:
        fig = claim_figure(c)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        img = base64.b64encode(buf.getvalue()).decode()
        rows = "".join(f"<li>{html.escape(p['name'])}: {html.escape(p['describe'])}; "
                       f"{html.escape('; '.join(f'{k} = {v}' for k, v in p['arms'].items()))}; effect "
                       f"{html.escape(effect_text(p))}, n {html.escape(n_text(p))}; rule: {html.escape(p['rule'])}"
                       f" &rarr; <b>{html.escape(p['verdict'])}</b></li>" for p in c["parts"])
        miss = "".join(f"<li>{html.escape(m)}</li>" for m in c.get("missing", []))
        blocks.append(f"<section><h2 style='color:{COLOR[c['verdict']]}'>{c['id']}. {html.escape(c['text'])} "
                      f"<small>({html.escape(c['figure'])}): {html.escape(c['verdict'])}</small></h2>"
                      f"<p>{html.escape(c.get('note') or '')}</p><img src='data:image/png;base64,{img}'>"
                      f"<ul>{rows}{miss}</ul></section>")
    run = result["run"]
    doc = (f"<!doctype html><meta charset='utf-8'><title>claims: {html.escape(result['suite'])}</title>"
           "<style>body{font-family:sans-serif;max-width:60em;margin:auto} small{color:#555}</style>"
           f"<h1>Does it reproduce the paper? {html.escape(result['suite'])} ({html.escape(result['tier'])} tier)</h1>"
           f"<p>command <code>{html.escape(run['command'])}</code>, {html.escape(run['date'])}, "
           f"{html.escape(run['machine'])}, wall time {run['wall_s']:.0f} s</p>"
           f"<details><summary>claims.md</summary><pre>{html.escape(md_text)}</pre></details>" + "".join(blocks))
    with open(path, "w") as fh:
        fh.write(doc)


def write_all(result: dict, out_dir: str, figures: bool = True) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "claims.json"), "md": os.path.join(out_dir, "claims.md")}
    write_json(result, paths["json"])
    text = markdown(result)
    with open(paths["md"], "w") as fh:
        fh.write(text + "\n")
    if figures:
        paths["html"] = os.path.join(out_dir, "report.html")
        write_html(result, paths["html"], text)
    return paths
