// kmedic UI: plain JS over the JSON API (/api/...). Every figure shown carries data-k (and the
// raw value in data-v) so the browser test can check it against the API.
"use strict";

const app = document.getElementById("app");
const crumbs = document.getElementById("crumbs");

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
async function api(path) {
  const r = await fetch("/api" + path);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || r.statusText);
  return body;
}
function bytes(n) {
  if (n == null) return "-";
  const u = ["B", "KB", "MB", "GB", "TB", "PB"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function rate(n) { return n == null ? "-" : bytes(n) + "/s"; }
function fig(k, v, shown) { return `<td class="num" data-k="${k}" data-v="${esc(v)}">${esc(shown ?? v)}</td>`; }
function bar(k, load, limit, fmt = rate) {
  const u = limit ? load / limit : 0;
  const cls = u > 1 ? "over" : u > 0.8 ? "hot" : "";
  const w = Math.min(100, Math.round(u * 100));
  return `<td data-k="${k}" data-v="${load}" data-limit="${limit}"><span class="bar ${cls}" title="${esc(fmt(load))} of ${esc(fmt(limit))}"><span style="width:${w}%"></span><em>${Math.round(u * 100)}% of ${esc(fmt(limit))}</em></span></td>`;
}
function badge(s) { return `<span class="badge ${esc(s)}">${esc(s)}</span>`; }
function card(k, v, label) { return `<div class="card" data-k="${k}" data-v="${esc(v)}"><b>${esc(v)}</b><span>${esc(label)}</span></div>`; }
function setCrumbs(parts) {
  crumbs.innerHTML = parts.map(([href, t]) => `<a href="${href}">${esc(t)}</a>`).join("");
}

async function fleet() {
  setCrumbs([]);
  const { clusters } = await api("/clusters");
  app.innerHTML = `<h1>Fleet</h1>
  <table id="fleet"><tr><th>cluster</th><th>health</th><th>status</th><th class="num">round</th>
  <th class="num">brokers ok</th><th class="num">dead</th><th class="num">suspect/hung</th><th class="num">partitions</th>
  <th class="num">URPs</th><th class="num">offline</th><th class="num">findings</th><th>maintenance</th><th>dry-run</th></tr>
  ${clusters.map(c => `<tr data-cluster="${esc(c.cluster)}">
    <td><a href="#/c/${encodeURIComponent(c.cluster)}">${esc(c.cluster)}</a></td>
    <td data-k="health" data-v="${esc(c.health)}">${badge(c.health)}</td>
    <td>${esc(c.status.status)}${c.status.detail ? ': <span class="muted">' + esc(c.status.detail) + "</span>" : ""}</td>
    ${fig("round", c.round)}${fig("ok", c.brokers.ok)}${fig("dead", c.brokers.dead)}
    ${fig("suspect", c.brokers.suspect + c.brokers.hung)}${fig("partitions", c.partitions)}
    ${fig("urp", c.under_replicated)}${fig("offline", c.offline)}${fig("findings", c.findings)}
    <td data-k="maintenance" data-v="${c.maintenance}">${c.maintenance ? "ON" : "off"}</td>
    <td data-k="dry_run" data-v="${c.dry_run}">${c.dry_run ? "ON" : "off"}</td></tr>`).join("")}
  </table>`;
}

function findingsHtml(fs) {
  if (!fs.length) return '<p class="muted">No findings.</p>';
  return fs.map(f => {
    const crit = ["DeadBroker", "OfflinePartitions", "MassFailure", "UnderReplicatedUnexplained"].includes(f.kind);
    return `<div class="finding ${crit ? "crit" : ""}" data-k="finding" data-v="${esc(f.kind)}"><b>${esc(f.kind)}</b>
      ${f.partitions.length ? "(" + f.partitions.length + " partitions)" : ""} ${esc(f.evidence)} <span class="muted">rule: ${esc(f.rule)}</span></div>`;
  }).join("");
}

function headroomHtml(h) {
  if (!h) return '<p class="muted">Not available yet.</p>';
  const row = w => `<tr data-lost="${esc(JSON.stringify(w.lost))}"><td>${esc(w.lost.broker ?? w.lost.rack)}</td>
    ${fig("replicas", w.replicas)}${fig("placed", w.placed)}${fig("unplaceable", w.unplaceable)}
    <td data-k="verdict" data-v="${esc(w.verdict)}">${w.verdict === "expected" ? badge("expected") + ' <span class="muted">RF = AZ count: never co-locate</span>' : w.absorbable ? badge("ok") : badge("critical")}</td>
    <td>${esc(Object.entries(w.reasons).map(([k, n]) => k + " " + n).join(", "))}</td>
    <td class="muted wrap">${esc(w.examples[0] || "")}</td></tr>`;
  const head = '<tr><th>lost</th><th class="num">replicas</th><th class="num">placed</th><th class="num">unplaceable</th><th>absorbed</th><th>why not</th><th>example</th></tr>';
  return `<div class="cards">
    ${card("absorbs_any_broker", h.absorbs_any_broker ? "yes" : "NO", "absorbs the loss of any one broker")}
    ${card("absorbs_any_rack", h.absorbs_any_rack ? "yes" : h.rack_loss_expected ? "expected" : "NO", h.rack_loss_expected && !h.absorbs_any_rack ? "an AZ loss stays one replica short until it returns (RF = AZ count: never co-locate)" : "absorbs the loss of any one AZ")}
    ${card("headroom_round", h.round, "as of round (recomputed at most every minute)")}${card("headroom_ms", h.took_ms, "ms to compute")}</div>
    <table id="headroom-brokers">${head}${h.brokers.filter(w => !w.absorbable).map(row).join("") || '<tr><td colspan="7" class="muted">Every single broker loss can be healed within limits.</td></tr>'}</table>
    <h3>If one AZ is lost</h3><table id="headroom-racks">${head}${h.racks.map(row).join("")}</table>`;
}

function azHtml(brokers) {
  const racks = {};
  for (const b of brokers) {
    const r = racks[b.rack || "(no rack)"] ||= { n: 0, ok: 0, inL: 0, inC: 0, outL: 0, outC: 0 };
    r.n++; if (b.state === "ok") r.ok++;
    r.inL += b.net_in_bytes_per_sec; r.inC += b.net_in_limit_bytes_per_sec;
    r.outL += b.net_out_bytes_per_sec; r.outC += b.net_out_limit_bytes_per_sec;
  }
  return `<div class="az">${Object.entries(racks).map(([name, r]) => `<div class="card" data-rack="${esc(name)}">
    <b>${esc(name)}</b><span data-k="rack_brokers" data-v="${r.n}">${r.ok} of ${r.n} brokers ok</span>
    <table><tr><td>net in</td>${bar("rack_in", r.inL, r.inC)}</tr><tr><td>net out</td>${bar("rack_out", r.outL, r.outC)}</tr></table></div>`).join("")}</div>`;
}

async function cluster(name) {
  setCrumbs([["#/", "fleet"], ["#/c/" + encodeURIComponent(name), name]]);
  const c = await api("/clusters/" + encodeURIComponent(name));
  let brokers = [], topics = [], headroom = null, err = "";
  try {
    [{ brokers }, { topics }] = await Promise.all([api(`/clusters/${encodeURIComponent(name)}/brokers`), api(`/clusters/${encodeURIComponent(name)}/topics`)]);
    headroom = await api(`/clusters/${encodeURIComponent(name)}/headroom`);
  } catch (e) { err = e.message; }
  const v = c.view || {};
  const k = c.brokers;
  app.innerHTML = `<h1>${esc(name)} ${badge(c.health)} <span class="muted">round ${esc(c.round)}, ${esc(c.status.status)}</span>
    <a class="nav" id="actions-link" href="#/c/${encodeURIComponent(name)}/actions">action history</a></h1>
  ${err ? `<p class="error">${esc(err)}</p>` : ""}
  <div class="cards">
    ${card("brokers", v.brokers ?? 0, "brokers")}${card("dead", k.dead, "dead")}${card("suspect", k.suspect + k.hung, "suspect / hung")}
    ${card("partitions", v.partitions ?? 0, "partitions")}${card("urp", v.under_replicated ?? 0, "under-replicated")}
    ${card("offline", v.offline ?? 0, "offline")}${card("in_flight", c.in_flight.length, "reassigning")}
    ${card("maintenance", c.controls.maintenance ? "ON" : "off", "maintenance")}${card("dry_run", c.controls.dry_run ? "ON" : "off", "dry-run")}
  </div>
  <h2>Findings</h2>${findingsHtml(c.findings)}
  <h2>Brokers</h2>
  <table id="brokers"><tr><th>id</th><th>rack</th><th>state</th><th class="num">replicas</th><th class="num">leaders</th>
    <th>net in vs limit</th><th>net out vs limit</th><th>disk</th><th class="num">stats age</th><th class="num">clock skew</th><th>host</th></tr>
  ${brokers.map(b => `<tr data-broker="${b.id}"><td><a href="#/c/${encodeURIComponent(name)}/b/${b.id}">${b.id}</a></td><td>${esc(b.rack)}</td>
    <td data-k="state" data-v="${esc(b.state)}">${badge(b.state)}</td>${fig("replicas", b.replicas)}${fig("leaders", b.leaders)}
    ${bar("net_in", b.net_in_bytes_per_sec, b.net_in_limit_bytes_per_sec)}${bar("net_out", b.net_out_bytes_per_sec, b.net_out_limit_bytes_per_sec)}
    ${b.disk_total_bytes ? bar("disk", b.disk_used_bytes, b.disk_total_bytes, bytes) : `<td data-k="disk" data-v="${b.disk_used_bytes}">${bytes(b.disk_used_bytes)}</td>`}
    ${fig("stats_age", b.stats_age_secs, b.stats_age_secs == null ? "never" : b.stats_age_secs + " s")}
    ${fig("clock_skew", b.clock_skew_ms, b.clock_skew_ms == null ? "-" : b.clock_skew_ms + " ms")}
    <td class="muted">${esc(b.host)}</td></tr>`).join("")}
  </table>
  <h2>Per AZ</h2>${azHtml(brokers)}
  <h2>Failure headroom</h2>${headroomHtml(headroom)}
  <h2>Decisions</h2>
  <table id="decisions"><tr><th>id</th><th>verdict</th><th>finding</th><th>broker(s)</th><th>rule</th><th>reason</th></tr>
  ${c.decisions.map(d => `<tr data-decision="${d.id}"><td>d${d.id}</td><td>${esc(typeof d.verdict === "string" ? d.verdict : Object.keys(d.verdict)[0])}</td>
    <td>${esc(d.finding)}</td><td>${esc(d.brokers.join(", "))}</td><td>${esc(d.rule)}</td><td class="wrap">${esc(d.reason)}</td></tr>`).join("") || '<tr><td colspan="6" class="muted">None.</td></tr>'}</table>
  <h2>Plan</h2>${c.plan ? `<p data-k="plan_moves" data-v="${c.plan.plan.moves.length}">${c.plan.plan.moves.length} moves, ${c.plan.plan.elections.length} elections, ${c.plan.plan.unplaceable.length} unplaceable, ${bytes(c.plan.plan.totals.bytes_moved)} to copy (since round ${c.plan.since_round}; not executed by this page)</p>` : '<p class="muted">Nothing asked for.</p>'}
  <h2>In flight</h2>
  <table id="in-flight"><tr><th>partition</th><th>adding</th><th>removing</th><th>progress</th></tr>
  ${c.in_flight.map(r => `<tr data-k="reassignment" data-v="${esc(r.topic)}-${r.partition}"><td>${esc(r.topic)}-${r.partition}</td><td>${esc(r.adding.join(", "))}</td><td>${esc(r.removing.join(", "))}</td>
    <td data-k="bytes_done" data-v="${r.bytes_done ?? ""}">${r.bytes_total == null ? '<span class="muted">not kmedic\'s: no byte figures</span>' : `${bytes(r.bytes_done)} of ${bytes(r.bytes_total)} (${r.bytes_total ? (100 * r.bytes_done / r.bytes_total).toFixed(1) : "100.0"} %)${r.eta_secs == null ? "" : `, ETA ${r.eta_secs} s`}`}</td></tr>`).join("") || '<tr><td colspan="4" class="muted">No reassignments in progress.</td></tr>'}</table>
  <h2>Topics</h2>
  <table id="topics"><tr><th>topic</th><th class="num">partitions</th><th class="num">RF</th><th class="num">URPs</th><th class="num">in</th><th class="num">out</th><th class="num">size</th><th>leaders per AZ</th></tr>
  ${topics.map(t => `<tr data-topic="${esc(t.topic)}"><td>${esc(t.topic)}</td>${fig("partitions", t.partitions)}${fig("rf", t.replication_factor)}${fig("urp", t.under_replicated)}
    ${fig("in", t.bytes_in_per_sec, rate(t.bytes_in_per_sec))}${fig("out", t.bytes_out_per_sec, rate(t.bytes_out_per_sec))}${fig("size", t.size_bytes, bytes(t.size_bytes))}
    <td>${esc(Object.entries(t.leaders_per_rack).map(([r, n]) => r + ": " + n).join(", "))}</td></tr>`).join("")}</table>`;
}

async function broker(name, id) {
  setCrumbs([["#/", "fleet"], ["#/c/" + encodeURIComponent(name), name], [`#/c/${encodeURIComponent(name)}/b/${id}`, "broker " + id]]);
  const { broker: b, findings, decisions } = await api(`/clusters/${encodeURIComponent(name)}/brokers/${id}`);
  const hist = await api(`/clusters/${encodeURIComponent(name)}/brokers/${id}/history`).catch(e => ({ points: [], error: e.message }));
  app.innerHTML = `<h1>Broker ${b.id} ${badge(b.state)} <span class="muted">${esc(b.rack)} ${esc(b.host)}</span></h1>
  <table id="broker" data-broker="${b.id}"><tr><th>replicas</th><th>leaders</th><th>net in vs limit</th><th>net out vs limit</th><th>host rx (agent)</th><th>host tx (agent)</th><th>stats age</th><th>clock skew</th><th>process</th></tr>
  <tr>${fig("replicas", b.replicas)}${fig("leaders", b.leaders)}${bar("net_in", b.net_in_bytes_per_sec, b.net_in_limit_bytes_per_sec)}${bar("net_out", b.net_out_bytes_per_sec, b.net_out_limit_bytes_per_sec)}
  ${fig("rx", b.host_rx_bytes_per_sec, rate(b.host_rx_bytes_per_sec))}${fig("tx", b.host_tx_bytes_per_sec, rate(b.host_tx_bytes_per_sec))}
  ${fig("stats_age", b.stats_age_secs, b.stats_age_secs == null ? "never" : b.stats_age_secs + " s")}${fig("clock_skew", b.clock_skew_ms, b.clock_skew_ms == null ? "-" : b.clock_skew_ms + " ms")}<td>${esc(b.process ?? "-")}</td></tr></table>
  <h2>Net in / out, last hour <span class="muted">(host counters from its agent; the bars above are the planner's daily-peak demand)</span></h2>
  ${chartHtml(hist)}
  <p><a id="broker-actions" href="#/c/${encodeURIComponent(name)}/actions?broker=${b.id}">actions on broker ${b.id}</a></p>
  <h2>Findings</h2>${findingsHtml(findings)}
  <h2>Decisions</h2><table>${decisions.map(d => `<tr><td>d${d.id}</td><td>${esc(d.rule)}</td><td>${esc(d.reason)}</td></tr>`).join("") || '<tr><td class="muted">None.</td></tr>'}</table>`;
}

// Net in/out history as plain SVG: one polyline per direction, y from 0 to the highest point.
function chartHtml(h) {
  const pts = (h.points || []).filter(p => p.rx_bytes_per_sec != null || p.tx_bytes_per_sec != null);
  if (!pts.length) return `<p class="muted" data-k="chart_points" data-v="0">${esc(h.error || "No samples from its agent yet (one point per stats record, about every 10 s).")}</p>`;
  const W = 760, H = 220, L = 70, R = 10, T = 10, B = 30;
  const t0 = pts[0].at_ms, t1 = Math.max(pts[pts.length - 1].at_ms, t0 + 1);
  const max = Math.max(1, ...pts.map(p => Math.max(p.rx_bytes_per_sec || 0, p.tx_bytes_per_sec || 0)));
  const x = t => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = v => T + (1 - v / max) * (H - T - B);
  const line = key => pts.filter(p => p[key] != null).map(p => `${x(p.at_ms).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");
  const last = key => { const p = [...pts].reverse().find(p => p[key] != null); return p ? p[key] : null; };
  const ticks = [0, 0.5, 1].map(f => `<line x1="${L}" x2="${W - R}" y1="${y(max * f)}" y2="${y(max * f)}" class="grid"/><text x="${L - 6}" y="${y(max * f) + 4}" text-anchor="end">${esc(rate(Math.round(max * f)))}</text>`).join("");
  const time = t => new Date(t).toISOString().slice(11, 19) + "Z";
  return `<svg id="net-chart" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" data-k="chart_points" data-v="${pts.length}" data-max="${max}">
    ${ticks}<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" class="axis"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="axis"/>
    <text x="${L}" y="${H - 10}">${time(t0)}</text><text x="${W - R}" y="${H - 10}" text-anchor="end">${time(t1)}</text>
    <polyline class="rx" points="${line("rx_bytes_per_sec")}" data-k="chart_rx" data-v="${last("rx_bytes_per_sec")}"/>
    <polyline class="tx" points="${line("tx_bytes_per_sec")}" data-k="chart_tx" data-v="${last("tx_bytes_per_sec")}"/>
  </svg>
  <p class="legend"><span class="key rx"></span> net in (rx) now ${esc(rate(last("rx_bytes_per_sec")))} <span class="key tx"></span> net out (tx) now ${esc(rate(last("tx_bytes_per_sec")))} <span class="muted">${pts.length} samples</span></p>`;
}

const KINDS = ["set_throttle", "clear_throttle", "reassign", "cancel_reassign", "elect_leaders", "cordon", "uncordon", "unregister", "replace_host", "caught_up", "set_mode", "decommission", "recommission"];
const OUTCOMES = ["succeeded", "failed", "partial", "cancelled", "pending", "state"];
const SINCE = [["", "any time"], ["3600000", "last hour"], ["86400000", "last day"], ["604800000", "last week"]];

function actionStatus(a) {
  if (a.phase === "outcome") return a.outcome ? a.outcome.status : "outcome";
  return a.pending ? "pending" : a.phase;
}

// The action history: filters live in the hash (#/c/NAME/actions?kind=..&outcome=..&broker=..&ago=..&offset=..).
async function actions(name, query) {
  const base = "#/c/" + encodeURIComponent(name) + "/actions";
  setCrumbs([["#/", "fleet"], ["#/c/" + encodeURIComponent(name), name], [base, "actions"]]);
  const q = new URLSearchParams();
  for (const k of ["kind", "outcome", "broker", "offset"]) if (query.get(k)) q.set(k, query.get(k));
  if (query.get("ago")) q.set("since", String(Date.now() - Number(query.get("ago"))));
  q.set("limit", "50");
  const r = await api(`/clusters/${encodeURIComponent(name)}/actions?${q}`);
  const sel = (k, opts) => `<label>${k} <select data-f="${k}"><option value="">any</option>${opts.map(o => { const [v, t] = Array.isArray(o) ? o : [o, o]; return `<option value="${esc(v)}" ${query.get(k) === v ? "selected" : ""}>${esc(t)}</option>`; }).join("")}</select></label>`;
  const offset = Number(query.get("offset") || 0);
  const link = off => { const n = new URLSearchParams(query); n.set("offset", String(off)); return base + "?" + n; };
  app.innerHTML = `<h1>Actions <span class="muted">${esc(name)} (${esc(r.cluster_id)}), newest first, from the action log</span></h1>
  <form id="action-filters" class="filters">${sel("kind", KINDS)}${sel("outcome", OUTCOMES)}
    <label>broker <input data-f="broker" size="5" value="${esc(query.get("broker") || "")}"></label>
    <label>since <select data-f="ago">${SINCE.map(([v, t]) => `<option value="${v}" ${(query.get("ago") || "") === v ? "selected" : ""}>${t}</option>`).join("")}</select></label>
    <button type="submit">filter</button></form>
  <p class="muted" data-k="actions_total" data-v="${r.total}">${r.total} matching${r.truncated ? " (older records dropped from memory; `kmedic-master actions` reads the whole topic)" : ""}</p>
  <table id="actions"><tr><th>time (UTC)</th><th>status</th><th>kind</th><th>brokers</th><th class="num">partitions</th><th>decision</th><th>reason / outcome</th><th>action id</th></tr>
  ${r.actions.map(a => `<tr data-action="${esc(a.action_id)}" data-phase="${esc(a.phase)}"><td>${esc(new Date(a.wall_ms).toISOString().replace("T", " ").slice(0, 19))}</td>
    <td data-k="status" data-v="${esc(actionStatus(a))}">${badge(actionStatus(a))}</td><td data-k="kind" data-v="${esc(a.kind_name)}">${esc(a.kind_name)}${a.kind.mode ? " " + esc(a.kind.mode) + "=" + (a.kind.on ? "on" : "off") : ""}</td>
    <td>${esc([...new Set([...(a.brokers || []), ...(a.kind.broker != null ? [a.kind.broker] : []), ...(a.kind.brokers || [])])].join(", "))}</td>${fig("partitions", a.partitions.length)}
    <td>${a.decision_id != null ? "d" + a.decision_id : ""}</td><td class="wrap">${esc(a.reason)}${a.outcome && a.outcome.detail ? ' <span class="muted">→ ' + esc(a.outcome.detail) + "</span>" : ""}</td>
    <td class="muted">${esc(a.action_id)}</td></tr>`).join("") || '<tr><td colspan="8" class="muted">No actions match.</td></tr>'}</table>
  <p>${offset > 0 ? `<a href="${link(Math.max(0, offset - 50))}">newer</a> ` : ""}${offset + r.actions.length < r.total ? `<a id="older" href="${link(offset + 50)}">older</a>` : ""}</p>`;
  document.getElementById("action-filters").addEventListener("submit", ev => {
    ev.preventDefault();
    const n = new URLSearchParams();
    for (const el of ev.target.querySelectorAll("[data-f]")) if (el.value) n.set(el.dataset.f, el.value);
    location.hash = base + (n.toString() ? "?" + n : "");
  });
}

async function route() {
  const [path, qs] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map(decodeURIComponent);
  const query = new URLSearchParams(qs || "");
  try {
    if (parts[0] === "c" && parts[1] && parts[2] === "b") await broker(parts[1], parts[3]);
    else if (parts[0] === "c" && parts[1] && parts[2] === "actions") await actions(parts[1], query);
    else if (parts[0] === "c" && parts[1]) await cluster(parts[1]);
    else await fleet();
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.ready = "1";
  } catch (e) {
    app.innerHTML = `<p class="error" data-k="error">${esc(e.message)}</p>`;
    document.body.dataset.ready = "1";
  }
}
window.addEventListener("hashchange", route);
route();
// Refresh every 5 s, keeping the page as it is between loads.
setInterval(route, 5000);
