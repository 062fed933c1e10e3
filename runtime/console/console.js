// weir console. Polls /status every second; keeps 15 minutes of rates per node
// here in the page (900 samples); draws the graph as SVG; shows the selected
// node's details from /node/NAME; actions POST to /ctl/ (the routes of `weir ctl`)
// with the token, if one is typed, as `Authorization: Bearer` (never a cookie).
"use strict";

const POLL_MS = 1000, DETAILS_MS = 2000, HISTORY = 900;  // 15 min of 1 s samples
const NODE_W = 156, NODE_H = 78, COL_GAP = 64, ROW_GAP = 22, PAD = 14;
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  status: null, prev: null, rates: {}, history: {}, selected: null, details: null, layoutKey: "",
};

// ------------------------------------------------------------------ helpers
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) if (c != null) e.append(c instanceof Node ? c : String(c));
  return e;
}
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}
function rate(x) {
  if (x == null) return "–";
  if (x >= 1e6) return (x / 1e6).toFixed(2) + "M";
  if (x >= 1e3) return (x / 1e3).toFixed(1) + "k";
  return x.toFixed(x < 10 && x > 0 ? 1 : 0);
}
function count(x) { return x == null ? "–" : x.toLocaleString("en-US"); }
function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, (Date.now() - ms) / 1000);
  return s < 60 ? s.toFixed(0) + " s ago" : s < 3600 ? (s / 60).toFixed(0) + " min ago" : new Date(ms).toISOString();
}
function bytes(n) { return n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB" : n >= 1024 ? (n / 1024).toFixed(1) + " KiB" : n + " B"; }
function headers() {
  const token = document.getElementById("token").value.trim();
  return token ? { Authorization: "Bearer " + token } : {};
}
// The node's throughput for its sparkline: what a source emits, what the others take.
function throughput(n, r) { return n.kind === "source" ? r.out : r.in; }

// A node run as several tasks (`parallelism`) is listed once per task in
// /status: draw it once, with its tasks' counters summed.
const SUMMED = ["records_in", "records_out", "records_error", "wakeups", "records_late"];
function merge_tasks(status) {
  const byName = new Map();
  for (const n of status.nodes) {
    const seen = byName.get(n.name);
    if (!seen) {
      byName.set(n.name, { ...n });
      continue;
    }
    for (const k of SUMMED) if (typeof n[k] === "number") seen[k] = (seen[k] || 0) + n[k];
    seen.outputs = (seen.outputs || []).concat(n.outputs || []);
    seen.finished = seen.finished && n.finished;
  }
  return { ...status, nodes: [...byName.values()] };
}

// ------------------------------------------------------------------ polling
async function poll() {
  try {
    const res = await fetch("/status", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    update(merge_tasks(await res.json()));
  } catch (e) {
    const badge = document.getElementById("state");
    badge.textContent = "unreachable";
    badge.className = "badge down";
  }
  setTimeout(poll, POLL_MS);
}

function update(status) {
  const now = performance.now();
  if (state.prev) {
    const dt = (now - state.prev.at) / 1000;
    const before = Object.fromEntries(state.prev.status.nodes.map((n) => [n.name, n]));
    for (const n of status.nodes) {
      const b = before[n.name];
      if (!b || dt <= 0) continue;
      const r = {
        in: Math.max(0, n.records_in - b.records_in) / dt,
        out: Math.max(0, n.records_out - b.records_out) / dt,
        error: Math.max(0, n.records_error - b.records_error) / dt,
      };
      state.rates[n.name] = r;
      const h = (state.history[n.name] = state.history[n.name] || []);
      h.push(throughput(n, r));
      if (h.length > HISTORY) h.shift();
    }
  }
  state.prev = { at: now, status };
  state.status = status;
  const badge = document.getElementById("state");
  badge.textContent = status.stopping ? "stopping" : "running";
  badge.className = "badge " + (status.stopping ? "stopping" : "running");
  document.getElementById("uptime").textContent = "up " + status.uptime_s.toFixed(0) + " s";
  if (status.pipeline) document.getElementById("pipeline").textContent = status.pipeline;
  drawGraph(status);
  drawTable(status);
  if (state.selected) drawDetails();
}

// ------------------------------------------------------------------ graph
// Columns by longest path from a source; rows in file order within a column.
function layout(status) {
  const names = status.nodes.map((n) => n.name);
  const into = {};
  for (const e of status.edges) (into[e.to] = into[e.to] || []).push(e.from.split(".")[0]);
  const col = {};
  const depth = (name, seen) => {
    if (col[name] != null) return col[name];
    if (seen.has(name)) return 0;
    seen.add(name);
    col[name] = (into[name] || []).reduce((m, from) => Math.max(m, depth(from, seen) + 1), 0);
    return col[name];
  };
  names.forEach((n) => depth(n, new Set()));
  const rows = {}, pos = {};
  for (const n of names) {
    const c = col[n], r = (rows[c] = (rows[c] || 0) + 1) - 1;
    pos[n] = { x: PAD + c * (NODE_W + COL_GAP), y: PAD + r * (NODE_H + ROW_GAP) };
  }
  const width = PAD * 2 + (Math.max(...Object.values(col)) + 1) * (NODE_W + COL_GAP) - COL_GAP;
  const height = PAD * 2 + Math.max(...Object.values(rows)) * (NODE_H + ROW_GAP) - ROW_GAP;
  return { pos, width, height };
}

function portY(node, port) {
  const i = Math.max(0, node.ports.indexOf(port)), n = Math.max(1, node.ports.length);
  return ((i + 1) * NODE_H) / (n + 1);
}

function sparkline(values, w, h) {
  if (values.length < 2) return "";
  const max = Math.max(1, ...values), step = w / (HISTORY - 1), x0 = w - (values.length - 1) * step;
  return values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(h - (v / max) * h).toFixed(1)}`).join(" ");
}

function drawGraph(status) {
  const g = document.getElementById("graph");
  const { pos, width, height } = layout(status);
  g.setAttribute("viewBox", `0 0 ${width + 50} ${height}`);
  // As tall as the drawing is at the page's width (within bounds), so it is not shrunk twice.
  const scale = g.clientWidth / (width + 50);
  g.style.height = Math.round(Math.min(440, Math.max(160, height * Math.min(1.3, scale)))) + "px";
  g.replaceChildren();
  const byName = Object.fromEntries(status.nodes.map((n) => [n.name, n]));
  for (const e of status.edges) {
    const [fromName, port] = e.from.split(".");
    const from = byName[fromName], a = pos[fromName], b = pos[e.to];
    if (!from || !a || !b) continue;
    const x1 = a.x + NODE_W, y1 = a.y + portY(from, port), x2 = b.x, y2 = b.y + NODE_H / 2;
    const mx = (x1 + x2) / 2;
    const cls = "edge" + (port === "error" || port === "late" ? " error" : "") + (e.depth > 0 ? " full" : "");
    g.append(svg("path", { class: cls, d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, "data-edge": e.from + ">" + e.to }));
    g.append(svg("text", { class: "depth", x: mx, y: (y1 + y2) / 2 - 3, "text-anchor": "middle" }, "queue " + e.depth));
  }
  for (const n of status.nodes) {
    const p = pos[n.name], r = state.rates[n.name] || {};
    const cls = ["node", n.kind, n.paused ? "paused" : "", n.finished ? "finished" : "",
                 r.error > 0 ? "failing" : "", state.selected === n.name ? "selected" : ""].join(" ");
    const grp = svg("g", { class: cls, transform: `translate(${p.x},${p.y})`, "data-node": n.name });
    grp.append(svg("rect", { class: "box", width: NODE_W, height: NODE_H }));
    grp.append(svg("text", { class: "name", x: 8, y: 16 }, n.name + (n.paused ? " (paused)" : "")));
    grp.append(svg("text", { class: "plugin", x: 8, y: 29 }, n.plugin + " " + n.version));
    const rates = svg("text", { class: "rates", x: 8, y: 44 });
    rates.append(svg("tspan", {}, "in " + rate(r.in) + "/s  out " + rate(r.out) + "/s  "));
    rates.append(svg("tspan", { class: "err" }, "err " + rate(r.error) + "/s"));
    grp.append(rates);
    grp.append(svg("text", { class: "rates total", x: 8, y: 57 },
                   (n.kind === "source" ? "out " + count(n.records_out) : "in " + count(n.records_in)) +
                   (n.records_error ? "  errors " + count(n.records_error) : "")));
    grp.append(svg("polyline", { class: "spark", transform: `translate(8,${NODE_H - 17})`,
                                 points: sparkline(state.history[n.name] || [], NODE_W - 16, 13) }));
    for (const port of n.ports) {
      const y = portY(n, port);
      grp.append(svg("circle", { class: "port" + (port === "error" ? " error" : ""), cx: NODE_W, cy: y, r: 3.5 }));
      grp.append(svg("text", { class: "port-label", x: NODE_W + 6, y: y + 3 }, port));
    }
    if (n.kind !== "source") grp.append(svg("circle", { class: "port", cx: 0, cy: NODE_H / 2, r: 3.5 }));
    grp.addEventListener("click", () => select(n.name));
    g.append(grp);
  }
}

function drawTable(status) {
  const body = document.querySelector("#nodes tbody");
  body.replaceChildren();
  for (const n of status.nodes) {
    const r = state.rates[n.name] || {};
    const spark = svg("svg", { width: 120, height: 16, viewBox: `0 0 120 16` });
    spark.append(svg("polyline", { class: "spark", points: sparkline(state.history[n.name] || [], 120, 15) }));
    const tr = el("tr", { "data-node": n.name, class: state.selected === n.name ? "selected" : "" },
                  el("td", {}, n.name), el("td", {}, n.plugin), el("td", {}, rate(r.in)), el("td", {}, rate(r.out)),
                  el("td", {}, rate(r.error)), el("td", { class: "total-in" }, count(n.records_in)),
                  el("td", { class: "total-out" }, count(n.records_out)), el("td", {}, count(n.records_error)),
                  el("td", {}, n.batch_p99_us + " µs"), el("td", {}, spark));
    tr.addEventListener("click", () => select(n.name));
    body.append(tr);
  }
}

// ------------------------------------------------------------------ details
function select(name) {
  state.selected = name;
  state.details = null;
  loadDetails();
  if (state.status) update(state.status);
}

async function loadDetails() {
  const name = state.selected;
  if (!name) return;
  try {
    const res = await fetch("/node/" + encodeURIComponent(name), { cache: "no-store", headers: headers() });
    state.details = res.ok ? await res.json() : { refused: res.status + " " + ((await res.json().catch(() => ({}))).message || "") };
  } catch (e) {
    state.details = { refused: String(e) };
  }
  if (name === state.selected) drawDetails();
}
setInterval(loadDetails, DETAILS_MS);

function section(title, ...content) { return [el("h3", {}, title), ...content]; }
function pairs(obj) {
  const dl = el("dl");
  for (const [k, v] of Object.entries(obj)) if (v != null && v !== "") dl.append(el("dt", {}, k), el("dd", {}, v));
  return dl;
}
// Gauges "name{labels}" -> value whose name is NAME, by their `partition` label.
function gaugesNamed(n, name) {
  const out = {};
  for (const [k, v] of Object.entries(n.gauges || {})) {
    if (!k.startsWith(name + "{") && k !== name) continue;
    const m = k.match(/partition="([^"]*)"/);
    out[m ? "partition " + m[1] : name] = v;
  }
  return out;
}

function drawDetails() {
  const box = document.getElementById("details");
  const n = state.status && state.status.nodes.find((x) => x.name === state.selected);
  if (!n) return;
  const d = state.details || {};
  const parts = [el("h2", {}, n.name + " ", el("span", { class: "hint" }, n.kind))];
  parts.push(pairs({ plugin: n.plugin + " " + n.version, library: n.library, swaps: n.swaps,
                     state: n.finished ? "finished" : n.paused ? "paused" : "running",
                     "records in / out / error": `${count(n.records_in)} / ${count(n.records_out)} / ${count(n.records_error)}`,
                     "batch p50 / p99": `${n.batch_p50_us} / ${n.batch_p99_us} µs`,
                     "queue wait p50 / p99": n.kind === "source" ? null : `${n.hop_p50_us} / ${n.hop_p99_us} µs`,
                     "taps open": n.taps || null }));
  const actions = el("div", { class: "actions" });
  for (const a of ["reload", "pause", "resume"]) {
    const b = el("button", { type: "button", id: "btn-" + a }, a);
    b.addEventListener("click", () => act(a, "node=" + n.name + "\n"));
    actions.append(b);
  }
  const path = el("input", { id: "swap-path", type: "text", placeholder: "/path/to/weir_x.so" });
  const swap = el("button", { type: "button", id: "btn-swap" }, "swap");
  swap.addEventListener("click", () => act("swap", "node=" + n.name + "\npath=" + path.value.trim() + "\n"));
  actions.append(path, swap);
  parts.push(...section("actions", actions));
  if (n.kind === "source") {
    const committed = {};
    for (const [p, o] of Object.entries(n.committed || {})) committed["partition " + p] = count(o);
    parts.push(...section("source", pairs({ "last commit": ago(n.committed_ms), commits: n.commits })),
               ...section("offsets committed", Object.keys(committed).length ? pairs(committed) : el("p", { class: "hint" }, "none yet")));
    const lag = gaugesNamed(n, "kafka_consumer_lag");
    if (Object.keys(lag).length) parts.push(...section("consumer lag (records)", pairs(lag)));
  }
  if (n.kind === "sink")
    parts.push(...section("sink", pairs({ "writes in flight": n.inflight, "batches waiting for a retry": n.retry_batches })));
  if (n.checkpoint)
    parts.push(...section("checkpoint", pairs({ where: n.checkpoint.path, "last written": ago(n.checkpoint.last_ms),
                                                "state size": bytes(n.checkpoint.state_bytes), written: n.checkpoints })));
  if (n.partitions) {
    const wm = {};
    wm["clock"] = n.watermark_ms == null ? "unknown" : new Date(n.watermark_ms).toISOString();
    for (const p of n.partitions)
      wm["partition " + p.partition] = (p.watermark_ms == null ? "unknown" : new Date(p.watermark_ms).toISOString()) +
        (p.idle ? " (idle)" : "") + (p.late ? `, late ${p.late}` : "");
    parts.push(...section("event time (" + n.state + ")", pairs(wm)), pairs({ "records late": n.records_late }));
  }
  const other = Object.fromEntries(Object.entries(n.gauges || {}).filter(([k]) => !k.startsWith("kafka_consumer_lag")));
  if (Object.keys(other).length) parts.push(...section("gauges", pairs(other)));
  if (n.last_problem)
    parts.push(...section("last problem", el("pre", { class: "log-" + n.last_problem.level },
                                              ago(n.last_problem.time_ms) + ": " + n.last_problem.message)));
  if (d.refused) parts.push(el("p", { class: "hint" }, "details refused: " + d.refused));
  if (d.log) {
    const reload = [...d.log].reverse().find((l) => /reload/i.test(l.message));
    if (reload) parts.push(...section("last reload", el("pre", { class: "log-" + reload.level, id: "last-reload" },
                                                        ago(reload.time_ms) + ": " + reload.message)));
  }
  for (const f of d.files || [])
    parts.push(...section(`${f.param}: ${f.path}`, el("pre", { class: "file" }, f.text)));
  if (d.params) parts.push(...section("parameters (as given)", el("pre", {}, JSON.stringify(d.params, null, 1))));
  if (d.errors && d.errors.length)
    parts.push(...section(`error records (last ${d.errors.length}, sampled)`,
                          el("pre", { class: "log-ERROR" }, d.errors.slice().reverse().map((e) => e.record).join("\n"))));
  if (d.log && d.log.length)
    parts.push(...section("log", el("pre", {}, ...d.log.slice(-12).reverse().map(
      (l) => el("div", { class: "log-" + l.level }, new Date(l.time_ms).toISOString().slice(11, 19) + " " + l.level + " " + l.message)))));
  const scroll = box.scrollTop;
  const focused = document.activeElement && document.activeElement.id === "swap-path" ? path : null;
  const typed = box.querySelector("#swap-path");
  if (typed) path.value = typed.value;
  box.replaceChildren(...parts);
  box.scrollTop = scroll;
  if (focused || (typed && document.activeElement === typed)) path.focus();
}

// ------------------------------------------------------------------ actions
async function act(action, body) {
  const out = document.getElementById("action-result");
  out.className = "";
  out.textContent = action + ": …";
  try {
    const res = await fetch("/ctl/" + action, { method: "POST", headers: { ...headers(), "Content-Type": "text/plain" }, body });
    const j = await res.json().catch(() => ({ ok: false, message: "HTTP " + res.status }));
    out.className = j.ok ? "ok" : "refused";
    out.textContent = `${action}: ${j.ok ? "done" : "refused (" + res.status + ")"}: ${j.message}` +
                      (j.pause_ms ? ` (node paused ${j.pause_ms.toFixed(3)} ms)` : "");
  } catch (e) {
    out.className = "refused";
    out.textContent = action + ": " + e;
  }
  loadDetails();
}

document.getElementById("btn-apply").addEventListener("click", () =>
  act("apply", "file=" + document.getElementById("apply-file").value.trim() + "\n"));
poll();
