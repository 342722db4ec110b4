// The stxchat operator page: the admin channel (docs/ADMIN.md) over a
// WebSocket. Waiting and connected clients live (SUBSCRIBE + LIST pages,
// applied in arrival order), counters and a messages-per-second chart
// (COUNTERS once a second), kick with confirmation, and the rooms.

import { FrameDecoder, FrameError, admin, decodeAdmin, ADMIN_ERROR_NAMES, ERROR_NAMES } from "/static/stx.js";

const $ = (id) => document.getElementById(id);
const PAGE = 1000; // LIST limit per request
const MAX_ROWS = 5000; // connections kept per list
const REFRESH_MS = 2000; // how often the lists are re-read (byte counts, rooms)
const CHART_POINTS = 120;

const st = {
  ws: null,
  decoder: null,
  authed: false,
  token: sessionStorage.getItem("stxchat.admin.token") || "",
  lists: [new Map(), new Map()], // state 0 waiting, 1 connected: id -> entry
  more: [false, false],
  refresh: null, // {maps: [Map, Map], pending: Set(states)}
  counters: null,
  rates: null,
  errors: [],
  series: [],
  attempt: 0,
  timers: [],
  dirty: false,
  fresh: new Set(),
  authProblem: null,
  // Rooms from the ROOMS request; null: the server predates it (the rooms
  // are then derived from the connected clients' room lists).
  rooms: null,
  roomsSupported: true,
};
const ROOMS_LIMIT = 200;

// ---------- connection ----------

function setStatus(text, cls) {
  $("status").textContent = text;
  $("status").className = `status ${cls || ""}`;
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/admin/ws`);
  ws.binaryType = "arraybuffer";
  st.ws = ws;
  st.decoder = new FrameDecoder(65535);
  st.authed = false;
  st.authProblem = null;
  setStatus(`connecting to ${location.host}…`, "busy");
  ws.onopen = () => send(admin.auth(st.token));
  ws.onmessage = (ev) => {
    if (st.ws !== ws) return;
    try {
      if (!(ev.data instanceof ArrayBuffer)) throw new FrameError("text", "the server sent a text message");
      for (const p of st.decoder.push(new Uint8Array(ev.data))) handle(decodeAdmin(p));
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      setStatus(`bad frame from the server (${e.message}): disconnected`, "bad");
      try { ws.close(4000, "bad frame"); } catch { /* closing */ }
      closed();
    }
  };
  ws.onclose = () => { if (st.ws === ws) closed(); };
}

function send(bytes) {
  if (st.ws && st.ws.readyState === WebSocket.OPEN) st.ws.send(bytes);
}

function closed() {
  st.ws = null;
  st.timers.forEach(clearInterval);
  st.timers = [];
  if (st.authProblem) {
    setStatus(st.authProblem, "bad");
    $("auth-form").hidden = false;
    $("token").focus();
    return;
  }
  const delay = Math.min(30000, 1000 * 2 ** st.attempt) * (0.8 + Math.random() * 0.4);
  st.attempt++;
  setStatus(`disconnected; reconnecting in ${Math.round(delay / 1000)} s…`, "busy");
  setTimeout(connect, delay);
}

// ---------- protocol ----------

function handle(m) {
  switch (m.type) {
    case "ok":
      if (m.request === 0x40) onAuthed();
      break;
    case "counters":
      st.counters = m.counters;
      st.errors = m.errors;
      if (m.rates.interval_ms > 0) {
        st.rates = m.rates;
        st.series.push(m.rates.messages);
        if (st.series.length > CHART_POINTS) st.series.shift();
      }
      renderCounters();
      drawChart();
      break;
    case "list": onList(m); break;
    case "event": onEvent(m); break;
    case "rooms":
      st.rooms = m;
      renderRooms();
      break;
    case "kicked":
      toast(m.found ? `Kicked ${m.nick}.` : `No client named ${m.nick} is connected.`);
      break;
    case "error": {
      const name = ADMIN_ERROR_NAMES[m.code] || `error ${m.code}`;
      if (m.code === 4 || m.code === 5) st.authProblem = m.code === 4 ? "this server needs an admin token" : "wrong admin token";
      else if (m.code === 3 && st.roomsSupported) { st.roomsSupported = false; st.rooms = null; renderRooms(); }
      else setStatus(`${name}${m.detail ? `: ${m.detail}` : ""}`, "bad");
      break;
    }
    default: break;
  }
}

function onAuthed() {
  st.authed = true;
  st.attempt = 0;
  if (st.token) sessionStorage.setItem("stxchat.admin.token", st.token);
  $("auth-form").hidden = true;
  setStatus(`live · ${location.host}`, "ok");
  st.lists = [new Map(), new Map()];
  send(admin.subscribe());
  startRefresh();
  send(admin.counters());
  send(admin.rooms(ROOMS_LIMIT));
  st.timers.push(setInterval(() => {
    send(admin.counters());
    if (st.roomsSupported) send(admin.rooms(ROOMS_LIMIT));
  }, 1000));
  st.timers.push(setInterval(() => { if (!st.refresh) startRefresh(); }, REFRESH_MS));
}

/** Re-reads both lists page by page; events keep applying meanwhile. */
function startRefresh() {
  st.refresh = { maps: [new Map(), new Map()], pending: new Set([0, 1]) };
  send(admin.list(0, 0, PAGE));
  send(admin.list(1, 0, PAGE));
}

function onList(m) {
  const r = st.refresh;
  if (!r || m.state > 1) return;
  const map = r.maps[m.state];
  for (const e of m.entries) if (map.size < MAX_ROWS) map.set(e.id, e);
  const more = (m.flags & 1) !== 0;
  if (more && map.size < MAX_ROWS) {
    send(admin.list(m.state, m.nextAfter, PAGE));
    return;
  }
  st.more[m.state] = more;
  r.pending.delete(m.state);
  if (r.pending.size === 0) {
    st.lists = r.maps;
    st.refresh = null;
  }
  dirty();
}

function applyEvent(lists, m) {
  const [waiting, connected] = lists;
  const base = { id: m.id, peer: m.peer, nick: m.nick, flags: 0, accepted: m.time, connected: 0, bytesIn: 0, bytesOut: 0, queued: 0, rooms: [] };
  if (m.change === 0) waiting.set(m.id, base);
  else if (m.change === 1) {
    const before = waiting.get(m.id) || base;
    waiting.delete(m.id);
    connected.set(m.id, { ...before, nick: m.nick, connected: m.time });
  } else {
    waiting.delete(m.id);
    connected.delete(m.id);
  }
}

function onEvent(m) {
  applyEvent(st.lists, m);
  if (st.refresh) applyEvent(st.refresh.maps, m);
  if (m.change <= 1) st.fresh.add(m.id);
  dirty();
}

// ---------- rendering ----------

function dirty() {
  if (st.dirty) return;
  st.dirty = true;
  requestAnimationFrame(() => { st.dirty = false; renderLists(); });
}

function bytes(n) {
  if (n < 1024) return `${n}B`;
  const units = ["K", "M", "G", "T"];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[u]}`;
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function sortedById(map) {
  return [...map.values()].sort((a, b) => a.id - b.id);
}

function renderLists() {
  const now = Date.now();
  const [waiting, connected] = st.lists;
  const wBody = $("waiting").tBodies[0];
  wBody.replaceChildren();
  for (const e of sortedById(waiting)) {
    const tr = document.createElement("tr");
    tr.dataset.id = e.id;
    if (st.fresh.has(e.id)) tr.className = "fresh";
    tr.append(cell(String(e.id), "num"), cell(e.peer, "mono"), cell(duration(now - e.accepted), "num"), cell(bytes(e.bytesIn), "num"));
    wBody.append(tr);
  }
  if (!waiting.size) wBody.append(emptyRow(4, "nobody is waiting"));
  const cBody = $("connected").tBodies[0];
  cBody.replaceChildren();
  for (const e of sortedById(connected)) {
    const tr = document.createElement("tr");
    tr.dataset.nick = e.nick;
    if (st.fresh.has(e.id)) tr.className = "fresh";
    const kick = document.createElement("button");
    kick.type = "button";
    kick.className = "ghost small kick";
    kick.textContent = "Kick";
    kick.title = `Kick ${e.nick}`;
    kick.addEventListener("click", () => askKick(e.nick));
    const k = document.createElement("td");
    k.append(kick);
    const rooms = e.rooms.length ? e.rooms.join(", ") + (e.flags & 1 ? " …" : "") : "—";
    tr.append(cell(e.nick), cell(e.peer, "mono"), cell(rooms), cell(duration(now - (e.connected || e.accepted)), "num"),
      cell(bytes(e.bytesIn), "num"), cell(bytes(e.bytesOut), "num"), cell(bytes(e.queued), "num"), k);
    cBody.append(tr);
  }
  if (!connected.size) cBody.append(emptyRow(8, "nobody is connected"));
  st.fresh.clear();
  $("waiting-count").textContent = `${waiting.size}${st.more[0] ? "+" : ""}`;
  $("connected-count").textContent = `${connected.size}${st.more[1] ? "+" : ""}`;
  renderRooms();
}

/** The rooms: from ROOMS, or derived from the connected clients' room lists. */
function renderRooms() {
  if (st.rooms) {
    const body = $("rooms").tBodies[0];
    body.replaceChildren();
    for (const r of st.rooms.list) {
      const tr = document.createElement("tr");
      tr.dataset.room = r.name;
      const name = cell(`#${r.name}`);
      if (r.quiet) {
        const q = document.createElement("span");
        q.className = "tag";
        q.textContent = "quiet";
        q.title = "a quiet room: joins and departures are not announced";
        name.append(" ", q);
      }
      tr.append(name, cell(r.members.toLocaleString(), "num"));
      body.append(tr);
    }
    if (!st.rooms.list.length) body.append(emptyRow(2, "no rooms"));
    const more = st.rooms.flags & 1 ? ` (largest ${st.rooms.list.length} shown)` : "";
    $("rooms-count").textContent = `${st.rooms.rooms.toLocaleString()}${st.rooms.quiet ? ` · ${st.rooms.quiet.toLocaleString()} quiet` : ""}${more}`;
    return;
  }
  const rooms = new Map();
  for (const e of st.lists[1].values()) {
    for (const r of e.rooms) {
      const key = r.replace(/[A-Z]/g, (c) => c.toLowerCase());
      const entry = rooms.get(key) || { name: r, members: 0 };
      entry.members++;
      rooms.set(key, entry);
    }
  }
  const body = $("rooms").tBodies[0];
  body.replaceChildren();
  const list = [...rooms.values()].sort((a, b) => b.members - a.members || a.name.localeCompare(b.name));
  for (const r of list) {
    const tr = document.createElement("tr");
    tr.append(cell(`#${r.name}`), cell(r.members.toLocaleString(), "num"));
    body.append(tr);
  }
  if (!list.length) body.append(emptyRow(2, "no rooms"));
  const total = st.counters ? st.counters.rooms : list.length;
  $("rooms-count").textContent = total.toLocaleString();
}

function emptyRow(span, text) {
  const tr = document.createElement("tr");
  const td = cell(text, "empty");
  td.colSpan = span;
  tr.append(td);
  return tr;
}

function renderCounters() {
  const c = st.counters;
  const r = st.rates || {};
  $("uptime").textContent = `up ${duration(c.uptime_ms)}`;
  const items = [
    ["waiting", c.waiting],
    ["connected", c.connected],
    ["closing", c.closing],
    ["rooms", c.rooms],
    ["accepted", c.accepted, r.accepted, "/s"],
    ["messages", c.messages, r.messages, "/s"],
    ["privates", c.privates, r.privates, "/s"],
    ["frames in", c.frames_in, r.frames_in, "/s"],
    ["frames out", c.frames_out, r.frames_out, "/s"],
    ["bytes in", bytes(c.bytes_in), r.bytes_in !== undefined ? bytes(r.bytes_in) : undefined, "/s"],
    ["bytes out", bytes(c.bytes_out), r.bytes_out !== undefined ? bytes(r.bytes_out) : undefined, "/s"],
    ["slow consumers", c.slow_consumers],
    ["refused (full)", c.rejected_full],
  ];
  const errors = st.errors.map((n, i) => [n, i + 1]).filter(([n]) => n > 0);
  const box = $("counters");
  box.replaceChildren();
  for (const [k, v, rate, unit] of items) {
    const d = document.createElement("div");
    d.className = "counter";
    d.dataset.key = k;
    const vv = document.createElement("span");
    vv.className = "v";
    vv.textContent = typeof v === "number" ? v.toLocaleString() : v;
    d.append(vv);
    if (rate !== undefined) {
      const rr = document.createElement("span");
      rr.className = "r";
      rr.textContent = `${typeof rate === "number" ? rate.toLocaleString() : rate}${unit}`;
      d.append(rr);
    }
    const kk = document.createElement("div");
    kk.className = "k";
    kk.textContent = k;
    d.append(kk);
    box.append(d);
  }
  const e = document.createElement("div");
  e.className = "counter";
  e.style.gridColumn = "1 / -1";
  e.innerHTML = '<div class="k">errors sent</div>';
  const ev = document.createElement("div");
  ev.textContent = errors.length ? errors.map(([n, code]) => `${ERROR_NAMES[code] || code} ${n.toLocaleString()}`).join(" · ") : "none";
  e.append(ev);
  box.append(e);
  $("rate-now").textContent = st.rates ? `${st.rates.messages.toLocaleString()}/s now` : "";
  renderRooms();
}

function drawChart() {
  const canvas = $("chart");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const css = getComputedStyle(document.documentElement);
  const ink = css.getPropertyValue("--muted").trim() || "#888";
  const line = css.getPropertyValue("--line").trim() || "#ddd";
  const accent = css.getPropertyValue("--accent").trim() || "#2f6fde";
  const max = Math.max(...st.series, 1);
  const top = niceCeil(max);
  const left = 44;
  const bottom = h - 18;
  const plotW = w - left - 6;
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = ink;
  g.strokeStyle = line;
  g.lineWidth = 1;
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const y = Math.round(8 + ((bottom - 8) * i) / 4) + 0.5;
    g.beginPath(); g.moveTo(left, y); g.lineTo(w - 6, y); g.stroke();
    g.fillText(compact((top * (4 - i)) / 4), left - 6, y);
  }
  g.textAlign = "left";
  g.textBaseline = "alphabetic";
  g.fillText(`last ${CHART_POINTS / 60 >= 1 ? `${CHART_POINTS / 60} min` : `${CHART_POINTS} s`}`, left, h - 3);
  g.textAlign = "right";
  g.fillText("now", w - 6, h - 3);
  if (!st.series.length) return;
  const step = plotW / (CHART_POINTS - 1);
  const x0 = left + plotW - (st.series.length - 1) * step;
  const yOf = (v) => bottom - ((bottom - 8) * v) / top;
  g.beginPath();
  st.series.forEach((v, i) => { const x = x0 + i * step; if (i) g.lineTo(x, yOf(v)); else g.moveTo(x, yOf(v)); });
  g.strokeStyle = accent;
  g.lineWidth = 2;
  g.stroke();
  g.lineTo(x0 + (st.series.length - 1) * step, bottom);
  g.lineTo(x0, bottom);
  g.closePath();
  g.globalAlpha = 0.15;
  g.fillStyle = accent;
  g.fill();
  g.globalAlpha = 1;
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function compact(v) {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(1)}`;
}

// ---------- kick ----------

function askKick(nick) {
  $("kick-nick").textContent = nick;
  $("kick-dialog").dataset.nick = nick;
  $("kick-dialog").showModal();
  $("kick-reason").select();
}

let toastTimer = null;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 3000);
}

function init() {
  $("kick-dialog").addEventListener("close", () => {
    const d = $("kick-dialog");
    if (d.returnValue === "kick") send(admin.kick(d.dataset.nick, $("kick-reason").value));
  });
  $("auth-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    st.token = $("token").value;
    $("auth-form").hidden = true;
    connect();
  });
  window.addEventListener("resize", drawChart);
  drawChart();
  renderLists();
  connect();
}

init();
