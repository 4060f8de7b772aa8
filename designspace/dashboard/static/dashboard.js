// designspace dashboard: polls /api/state, redraws what changed. Every text from a store is set as
// text (never as HTML): store contents are data, not markup.
"use strict";

const POLL_MS = 2000;
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];
const STATUSES = [["done", "done"], ["running", "running"], ["failed", "failed"], ["diverged", "diverged"],
                  ["timeout", "timed out"]];
// no mode bar (it covers the titles): drag zooms, double-click resets
const PLOT_CONFIG = { displaylogo: false, responsive: true, displayModeBar: false };

const shown = {};    // sweep or claims key -> data version on the page
const loading = {};  // key -> a request in flight
const modelCache = new Map();
const sections = new Map();  // sweep or claims key -> its section

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

async function getJSON(url) {
  const resp = await fetch(url, { cache: "no-store", credentials: "same-origin" });
  if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
  return resp.json();
}

const num = (v, digits = 2) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const sig = (v) => (v === null || v === undefined ? "–" : Number(v).toPrecision(3).replace(/\.?0+$/, ""));

function si(v) {
  if (v === null || v === undefined) return "–";
  const units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [f, u] of units) if (Math.abs(v) >= f) return `${(v / f).toPrecision(3)}${u}`;
  return String(v);
}

function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  const h = Math.floor(s / 3600);
  return `${h} h ${Math.round((s - 3600 * h) / 60)} min`;
}

const sweepKey = (store, sweep) => `${store}\u0000${sweep}`;
const colorOf = (spaces, space) => PALETTE[Math.max(spaces.indexOf(space), 0) % PALETTE.length];

// --- progress -------------------------------------------------------------------------------------

function sweepSection(store, sw) {
  const key = sweepKey(store.key, sw.sweep);
  let sec = sections.get(key);
  if (sec) return sec;
  sec = el("section", { class: "sweep", "data-store": store.key, "data-sweep": sw.sweep },
    el("h2", {}, el("span", { class: "name", text: `sweep ${sw.sweep}` }), el("span", { class: "where", text: store.label })),
    el("div", { class: "bar" }), el("p", { class: "counts" }), el("p", { class: "eta" }), el("p", { class: "driver" }),
    el("table", { class: "spaces" }), el("table", { class: "ranking" }),
    el("div", { class: "plots" },
      el("figure", {}, el("div", { class: "plot edf" }), el("figcaption", { class: "caption" })),
      el("figure", {}, el("div", { class: "plot edf-normalized" }), el("figcaption", { class: "caption" })),
      el("figure", {}, el("div", { class: "plot scatter" }), el("figcaption", { class: "caption",
        text: "Each model's error (repeated trainings averaged) against its flops; hover a point for the model." })),
      el("div", { class: "model" }, el("p", { class: "hint", text: "Hover over a model in the scatter plot to see its spec and per-epoch curve." }))),
    el("p", { class: "notes" }));
  document.getElementById("stores").append(sec);
  sections.set(key, sec);
  return sec;
}

function renderProgress(sec, sw) {
  const total = Math.max(sw.planned || 0, sw.stored + (sw.running || 0), 1);
  const bar = sec.querySelector(".bar");
  bar.replaceChildren(...STATUSES.map(([k]) => el("span", { class: k, style: `width:${(100 * (sw[k] || 0)) / total}%` })));
  bar.title = `${sw.stored} of ${sw.planned ?? "?"} planned trials stored`;
  const counts = sec.querySelector(".counts");
  const parts = [];
  for (const [k, label] of STATUSES) {
    const v = k === "running" ? (sw.driver ? (sw.running ?? "?") : 0) : sw[k];
    parts.push(el("span", { class: `n-${k}` }, el("b", { text: String(v) }), ` ${label}`), " · ");
  }
  parts.push(`${sw.stored} of ${sw.planned ?? "?"} planned stored`);
  if (sw.to_go) parts.push(`, ${sw.to_go} to go`);
  counts.replaceChildren(...parts);
  sec.querySelector(".eta").textContent = sw.eta_s !== null && sw.eta_s !== undefined
    ? `ETA ≈ ${duration(sw.eta_s)} (${sw.basis})` : sw.basis;
  sec.querySelector(".driver").textContent = sw.driver
    ? `driver: pid ${sw.driver.pid} on ${sw.driver.host}, last heartbeat ${duration(sw.driver.heartbeat_age_s)} ago`
    : "no live driver";
  const head = el("tr", {}, ...["space", "done", "failed", "diverged", "timed out", "best err %", "median err %"]
    .map((t) => el("th", { text: t })));
  const rows = sw.spaces.map((sp) => el("tr", { "data-space": sp.space },
    el("td", { text: sp.space }), el("td", { text: String(sp.done) }), el("td", { text: String(sp.failed) }),
    el("td", { text: String(sp.diverged) }), el("td", { text: String(sp.timeout) }),
    el("td", { text: num(sp.best_error) }), el("td", { text: num(sp.median_error) })));
  sec.querySelector("table.spaces").replaceChildren(head, ...rows);
}

// --- plots ----------------------------------------------------------------------------------------

function showMissing(div, text) {
  if (div.classList.contains("js-plotly-plot")) Plotly.purge(div);
  div.replaceChildren(el("p", { class: "missing", text }));
}

function edfTraces(series, spaces) {
  const traces = [];
  for (const s of series) {
    const color = colorOf(spaces, s.group);
    const d = s.data;
    traces.push({ x: d.error, y: d.lo, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false,
                  legendgroup: s.group });
    traces.push({ x: d.error, y: d.hi, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: color + "33",
                  hoverinfo: "skip", showlegend: false, legendgroup: s.group });
    traces.push({ x: d.error, y: d.cdf, mode: "lines", line: { color, width: 2.5 }, legendgroup: s.group,
                  name: `${s.group} (${s.n})`,
                  hovertemplate: `${s.group}<br>error %{x:.2f}%<br>F %{y:.3f}<extra></extra>` });
  }
  return traces;
}

function drawFigure(fig, div, spaces, level) {
  const caption = div.parentElement.querySelector(".caption");
  if (!fig) { showMissing(div, "not computed"); caption.textContent = ""; return; }
  caption.textContent = fig.caption || "";
  if (fig.missing) { showMissing(div, `${fig.title}: ${fig.missing}`); return; }
  const panel = fig.panels[0];
  if (!div.classList.contains("js-plotly-plot")) div.replaceChildren();
  Plotly.react(div, edfTraces(panel.series, spaces), {
    title: { text: `${panel.title} (${level}% bands)`, font: { size: 15 } }, margin: { l: 55, r: 15, t: 40, b: 45 },
    uirevision: "keep", xaxis: { title: { text: panel.xlabel } },
    yaxis: { title: { text: panel.ylabel }, range: [0, 1.02] }, hovermode: "closest",
    legend: { x: 0.98, xanchor: "right", y: 0.05, font: { size: 13 } },
  }, PLOT_CONFIG);
}

function interval(row, stat) {
  return `${num(row[stat])} [${num(row[stat + "_lo"])}, ${num(row[stat + "_hi"])}]`;
}

function drawRanking(sec, ranking, level) {
  const table = sec.querySelector("table.ranking");
  if (!ranking.length) { table.replaceChildren(); return; }
  const head = el("tr", {}, ...["rank", "space", "models", `median err % [${level}%]`, "best err %",
    "median, normalized", "KS p vs best"].map((t) => el("th", { text: t })));
  table.replaceChildren(head, ...ranking.map((r) => el("tr", { "data-space": r.space },
    el("td", { text: String(r.rank) }), el("td", { text: r.space }), el("td", { text: String(r.n) }),
    el("td", { text: interval(r, "median") }), el("td", { text: num(r.best) }),
    el("td", { text: num(r.median_normalized) }),
    el("td", { text: r.ks_p_vs_best === null ? "–" : sig(r.ks_p_vs_best) }))));
}

function drawPanel(sec, data) {
  const spaces = data.scatter.map((s) => s.space);
  const edfDiv = sec.querySelector(".plot.edf");
  const normDiv = sec.querySelector(".plot.edf-normalized");
  const scatDiv = sec.querySelector(".plot.scatter");
  const why = data.error ? `cannot read the store now: ${data.error}` : data.missing;
  if (why) {
    for (const d of [edfDiv, normDiv, scatDiv]) showMissing(d, why);
    return;
  }
  const level = Math.round(100 * data.settings.level);
  drawFigure(data.figures.edf, edfDiv, spaces, level);
  drawFigure(data.figures.edf_normalized, normDiv, spaces, level);
  drawRanking(sec, data.ranking, level);
  const traces = data.scatter.map((s) => ({
    x: s.flops, y: s.error, customdata: s.trial_id, mode: "markers", type: "scatter", name: `${s.space} (${s.error.length})`,
    marker: { color: colorOf(spaces, s.space), size: 7, opacity: 0.75 },
    hovertemplate: `${s.space}<br>error %{y:.2f}%<br>flops %{x:.3s}<extra></extra>`,
  }));
  if (!scatDiv.classList.contains("js-plotly-plot")) scatDiv.replaceChildren();
  const fresh = !scatDiv.dataset.bound;
  Plotly.react(scatDiv, traces, {
    title: { text: "Error against flops (one point per model)", font: { size: 15 } }, uirevision: "keep",
    margin: { l: 55, r: 15, t: 40, b: 45 }, hovermode: "closest", legend: { font: { size: 13 } },
    xaxis: { title: { text: "flops" }, type: "log" }, yaxis: { title: { text: "error (%)" } },
  }, PLOT_CONFIG);
  if (fresh) {
    scatDiv.dataset.bound = "1";
    scatDiv.on("plotly_hover", (ev) => {
      const p = ev.points && ev.points[0];
      if (p && p.customdata) showModel(sec, p.customdata);
    });
  }
  sec.querySelector(".notes").textContent = data.notes.join(" · ");
}

async function loadPanel(store, sweep) {
  const key = sweepKey(store, sweep);
  loading[key] = true;
  try {
    const have = shown[key] === undefined ? "" : `&have=${encodeURIComponent(shown[key])}`;
    const data = await getJSON(`/api/panel?store=${encodeURIComponent(store)}&sweep=${encodeURIComponent(sweep)}${have}`);
    if (data.unchanged) return;  // still being recomputed, or held back: asked again at the next poll
    const sec = sections.get(key);
    drawPanel(sec, data);
    shown[key] = data.data;
    sec.dataset.models = String(data.models);
  } finally {
    loading[key] = false;
  }
}

// --- one model ------------------------------------------------------------------------------------

async function showModel(sec, trialId) {
  const box = sec.querySelector(".model");
  if (box.dataset.trial === trialId) return;
  box.dataset.trial = trialId;
  const url = `/api/model?store=${encodeURIComponent(sec.dataset.store)}&sweep=${encodeURIComponent(sec.dataset.sweep)}`
    + `&trial=${encodeURIComponent(trialId)}`;
  let m = modelCache.get(url);
  if (!m) {
    try { m = await getJSON(url); } catch (e) { box.replaceChildren(el("p", { class: "error", text: String(e) })); return; }
    modelCache.set(url, m);
  }
  if (box.dataset.trial !== trialId) return;  // the pointer moved on
  const stages = (m.spec && m.spec.stages) || [];
  const table = el("table", {},
    el("tr", {}, ...["stage", "width", "depth", "stride", "bottleneck", "group w.", "SE"].map((t) => el("th", { text: t }))),
    ...stages.map((st, i) => el("tr", {}, el("td", { text: String(i + 1) }), el("td", { text: String(st.width) }),
      el("td", { text: String(st.depth) }), el("td", { text: String(st.stride) }),
      el("td", { text: String(st.bottleneck_ratio) }), el("td", { text: String(st.group_width) }),
      el("td", { text: String(st.se_ratio) }))));
  const seeds = m.trials.map((t) => `seed ${t.seed}: ${t.status}${t.error === null ? "" : ` ${num(t.error)}%`}`).join(" · ");
  const curve = el("div", { class: "curve" });
  box.replaceChildren(
    el("h3", { text: `${m.space} · ${m.spec_id}` }),
    el("p", { text: `error ${num(m.error)}% · ${si(m.flops)} flops · ${si(m.params)} params · ${num(m.epochs, 1)} epochs · ${duration(m.seconds)}` }),
    el("p", { class: "note", text: seeds }),
    table, curve,
    el("details", {}, el("summary", { text: "spec (JSON)" }), el("pre", { text: JSON.stringify(m.spec, null, 1) })));
  const traces = [];
  m.trials.forEach((t, i) => {
    if (!t.epochs.epoch.length) return;
    traces.push({ x: t.epochs.epoch, y: t.epochs.test_error, mode: "lines+markers", name: `test error, seed ${t.seed}`,
                  line: { color: PALETTE[i % PALETTE.length] } });
    traces.push({ x: t.epochs.epoch, y: t.epochs.train_loss, mode: "lines+markers", yaxis: "y2",
                  name: `train loss, seed ${t.seed}`, marker: { symbol: "circle-open" },
                  line: { color: PALETTE[i % PALETTE.length], dash: "dot" } });
  });
  if (!traces.length) {
    curve.replaceChildren(el("p", { class: "hint", text: "no per-epoch records for this model" }));
    return;
  }
  Plotly.react(curve, traces, {
    margin: { l: 50, r: 50, t: 10, b: 70 }, showlegend: true,
    legend: { orientation: "h", y: -0.45, font: { size: 11 } },
    xaxis: { title: { text: "epoch" }, dtick: 1 }, yaxis: { title: { text: "test error (%)" } },
    yaxis2: { title: { text: "train loss" }, overlaying: "y", side: "right" },
  }, PLOT_CONFIG);
}

// --- claims ---------------------------------------------------------------------------------------

function effectText(p) {
  if (p.estimate === null) return "–";
  return `${sig(p.estimate)} [${sig(p.lo)}, ${sig(p.hi)}]`;
}

async function loadClaims(folder) {
  const key = `claims\u0000${folder.key}`;
  loading[key] = true;
  try {
    const have = shown[key] === undefined ? "" : `&have=${encodeURIComponent(shown[key])}`;
    const data = await getJSON(`/api/claims?folder=${encodeURIComponent(folder.key)}${have}`);
    if (data.unchanged) return;
    let sec = sections.get(key);
    if (!sec) {
      sec = el("section", { class: "claims", "data-folder": folder.key });
      document.getElementById("claims").append(sec);
      sections.set(key, sec);
    }
    const rows = [el("tr", {}, ...["claim", "part", "effect [interval]", "n", "verdict"].map((t) => el("th", { text: t })))];
    for (const c of data.claims) {
      const cls = (v) => `verdict ${String(v || "").replace(/ /g, "-")}`;
      rows.push(el("tr", { class: "claim", "data-claim": String(c.id) }, el("td", { text: String(c.id) }),
        el("td", { class: "text", text: c.text + (c.skip ? ` (not run at this tier: ${c.skip})` : "") }),
        el("td"), el("td"), el("td", { class: cls(c.verdict), text: c.verdict })));
      for (const p of c.parts) {
        const nText = Object.entries(p.n).map(([k, v]) => `${k}=${v}`).join(" / ");
        const level = p.level ? ` (${Math.round(100 * p.level)}%)` : "";
        rows.push(el("tr", { class: "part" }, el("td"), el("td", { class: "text", text: `${p.name} — ${p.rule}` }),
          el("td", { text: effectText(p) + (p.estimate === null ? "" : level) }), el("td", { text: nText || "–" }),
          el("td", { class: cls(p.verdict), text: p.verdict })));
      }
    }
    const when = data.judged_at ? ` at ${new Date(1000 * data.judged_at).toLocaleTimeString()}` : "";
    sec.replaceChildren(el("h2", {}, el("span", { text: `claims of ${folder.suite} (${folder.tier} tier)` }),
                           el("span", { class: "where", text: folder.label })),
                        el("p", { class: "note", text: `${data.note}${when}` }), el("table", {}, ...rows));
    shown[key] = data.version;
  } finally {
    loading[key] = false;
  }
}

// --- the loop -------------------------------------------------------------------------------------

async function poll() {
  const status = document.getElementById("status");
  try {
    const state = await getJSON("/api/state");
    let sweeps = 0;
    for (const store of state.stores) {
      if (store.error) {
        status.textContent = `${store.label}: ${store.error}`;
        continue;
      }
      for (const sw of store.sweeps) {
        sweeps += 1;
        const sec = sweepSection(store, sw);
        renderProgress(sec, sw);
        const key = sweepKey(store.key, sw.sweep);
        if (shown[key] !== sw.data && !loading[key]) loadPanel(store.key, sw.sweep).catch((e) => console.error(e));
      }
    }
    for (const folder of state.claims) {
      const key = `claims\u0000${folder.key}`;
      if (shown[key] !== folder.version && !loading[key]) loadClaims(folder).catch((e) => console.error(e));
    }
    document.getElementById("empty").hidden = sweeps > 0 || state.claims.length > 0;
    status.className = "";
    status.textContent = `updated ${new Date(1000 * state.now).toLocaleTimeString()}`;
  } catch (e) {
    status.className = "down";
    status.textContent = "cannot reach the dashboard server (stopped?); retrying";
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
