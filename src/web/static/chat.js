// The stxchat browser client: connect form, rooms and private conversations
// as tabs, member lists, history, notices, reconnect with backoff.
// It speaks the chat protocol (version 2) over a WebSocket whose binary
// messages carry protocol frames exactly as on the TCP port.

import { FrameDecoder, FrameError, chat, decodeChat, ERROR_NAMES, CLOSING_ERRORS, LEFT_REASONS } from "/static/stx.js";

const $ = (id) => document.getElementById(id);
const lower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase()); // ASCII only, as the protocol compares names
const LOG_LIMIT = 1000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
// Errors that answer HELLO and will not go away by trying again.
const FATAL_AT_HELLO = new Set([5, 6, 7, 8]);
const HELP = [
  "/join ROOM — join (or create) a room",
  "/part [ROOM] — leave a room (default: this one)",
  "/msg NICK TEXT — private message (opens a conversation)",
  "/who [ROOM] — list a room's members",
  "/quit — disconnect",
  "Keys: Alt+←/→ or Ctrl+PgUp/PgDn switch tabs, Alt+1…9 jump to a tab, Esc back to the message box.",
];

const st = {
  ws: null,
  decoder: null,
  settings: null, // {server, port, nick, password, tls}
  me: null, // nick as registered
  welcome: null,
  tabs: new Map(), // key -> tab
  order: [], // tab keys in display order
  active: null,
  joining: new Set(), // rooms (lowercased) the user asked to join: switch to them
  attempt: 0,
  retryTimer: null,
  retryAt: 0,
  countdown: null,
  pingTimer: null,
  userClosed: false,
  fatal: null,
};

// ---------- tabs ----------

function tabKey(kind, name) {
  return `${kind}:${lower(name)}`;
}

function ensureTab(kind, name) {
  const key = tabKey(kind, name);
  let tab = st.tabs.get(key);
  if (tab) return tab;
  const log = document.createElement("ol");
  log.className = "log";
  log.tabIndex = 0;
  log.setAttribute("aria-label", kind === "pm" ? `Conversation with ${name}` : `Room ${name}`);
  log.hidden = true;
  tab = {
    key, kind, name, log,
    members: new Map(), // lower nick -> nick
    collecting: null, // Map while a MEMBERS list is arriving
    partial: false, quiet: false, count: null,
    unread: 0, mention: false, lastSeq: 0n, joined: kind !== "room",
  };
  if (kind === "server") {
    tab.log = $("log");
    tab.log.setAttribute("aria-label", "Server messages");
  } else {
    $("log").parentNode.insertBefore(log, $("members"));
  }
  st.tabs.set(key, tab);
  st.order.push(key);
  renderTabs();
  return tab;
}

function removeTab(key) {
  const tab = st.tabs.get(key);
  if (!tab || tab.kind === "server") return;
  tab.log.remove();
  st.tabs.delete(key);
  const i = st.order.indexOf(key);
  st.order.splice(i, 1);
  if (st.active === key) activate(st.order[Math.max(0, i - 1)]);
  else renderTabs();
}

function activate(key) {
  const tab = st.tabs.get(key);
  if (!tab) return;
  st.active = key;
  tab.unread = 0;
  tab.mention = false;
  for (const t of st.tabs.values()) t.log.hidden = t !== tab;
  $("room-title").textContent = tab.kind === "room" ? `#${tab.name}` : tab.kind === "pm" ? `@${tab.name}` : st.welcome ? st.welcome.server : "server";
  $("leave").hidden = tab.kind === "server";
  $("leave").textContent = tab.kind === "pm" ? "Close" : "Leave";
  $("members").classList.toggle("none", tab.kind !== "room");
  $("members-toggle").hidden = tab.kind !== "room";
  renderMembers();
  renderTabs();
  tab.log.scrollTop = tab.log.scrollHeight;
}

function renderTabs() {
  const nav = $("tabs");
  nav.replaceChildren();
  st.order.forEach((key, i) => {
    const tab = st.tabs.get(key);
    const b = document.createElement("button");
    b.type = "button";
    b.className = `tab ${tab.kind}`;
    b.setAttribute("role", "tab");
    b.setAttribute("aria-selected", String(key === st.active));
    b.dataset.key = key;
    b.tabIndex = key === st.active ? 0 : -1;
    const label = tab.kind === "room" ? `#${tab.name}` : tab.kind === "pm" ? `@${tab.name}` : "server";
    b.title = i < 9 ? `${label} (Alt+${i + 1})` : label;
    const name = document.createElement("span");
    name.className = "tab-name";
    name.textContent = label;
    b.append(name);
    if (tab.unread) {
      const badge = document.createElement("span");
      badge.className = tab.mention || tab.kind === "pm" ? "badge hot" : "badge";
      badge.textContent = tab.unread > 99 ? "99+" : String(tab.unread);
      b.append(badge);
    }
    b.addEventListener("click", () => { activate(key); $("say").focus(); });
    nav.append(b);
  });
}

function renderMembers() {
  const tab = st.tabs.get(st.active);
  const list = $("member-list");
  list.replaceChildren();
  if (!tab || tab.kind !== "room") return;
  const nicks = [...tab.members.values()].sort((a, b) => lower(a).localeCompare(lower(b)));
  for (const n of nicks) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = lower(n) === lower(st.me || "") ? "member me" : "member";
    b.textContent = n;
    b.title = `Private message to ${n}`;
    b.addEventListener("click", () => openPrivate(n));
    li.append(b);
    list.append(li);
  }
  const count = tab.quiet || tab.partial ? tab.count ?? nicks.length : nicks.length;
  let title = `Members · ${count.toLocaleString()}`;
  if (tab.quiet) {
    title = `${count.toLocaleString()} members`;
    const li = document.createElement("li");
    li.className = "quiet-note";
    li.textContent = `Quiet room: joins and departures are not announced; ${nicks.length} of ${count.toLocaleString()} shown.`;
    list.append(li);
  }
  $("members-title").textContent = title;
  $("members-toggle").textContent = `Members (${count.toLocaleString()})`;
}

function openPrivate(nick) {
  const tab = ensureTab("pm", nick);
  activate(tab.key);
  $("say").focus();
}

// ---------- log lines ----------

function timeOf(ms) {
  const d = ms ? new Date(ms) : new Date();
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

function addLine(tab, cls, parts, opts = {}) {
  const li = document.createElement("li");
  li.className = `line ${cls}`;
  const t = document.createElement("time");
  t.textContent = timeOf(opts.time);
  if (opts.time) t.dateTime = new Date(opts.time).toISOString();
  li.append(t);
  for (const [pcls, text] of parts) {
    const s = document.createElement("span");
    s.className = pcls;
    s.textContent = text;
    li.append(s);
  }
  if (opts.title) li.title = opts.title;
  const log = tab.log;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(li);
  while (log.childElementCount > LOG_LIMIT) log.firstElementChild.remove();
  if (atBottom || opts.self) log.scrollTop = log.scrollHeight;
  if (tab.key !== st.active && !opts.quiet) {
    tab.unread++;
    if (opts.mention) tab.mention = true;
    renderTabs();
  }
}

function notice(tab, text, cls = "notice") {
  addLine(tab, cls, [["text", text]], { quiet: true });
}

function current() {
  return st.tabs.get(st.active) || serverTab();
}

function serverTab() {
  return ensureTab("server", "server");
}

// ---------- connection ----------

function setStatus(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = `status ${cls || ""}`;
}

function banner(text, action) {
  const b = $("banner");
  b.replaceChildren();
  if (!text) { b.hidden = true; return; }
  b.append(document.createTextNode(text));
  if (action) {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "small";
    btn.textContent = action.label;
    btn.addEventListener("click", action.run);
    b.append(" ", btn);
  }
  b.hidden = false;
}

function wsUrl(s) {
  let host = s.server.trim();
  if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
  return `${s.tls ? "wss" : "ws"}://${host}:${s.port}/ws`;
}

function connect() {
  clearTimeout(st.retryTimer);
  clearInterval(st.countdown);
  st.retryTimer = null;
  st.userClosed = false;
  st.fatal = null;
  const s = st.settings;
  let ws;
  try {
    ws = new WebSocket(wsUrl(s));
  } catch (e) {
    loginError(`Cannot connect: ${e.message}`);
    return;
  }
  ws.binaryType = "arraybuffer";
  st.ws = ws;
  st.decoder = new FrameDecoder(4096);
  st.welcome = null;
  setStatus(`connecting to ${s.server}:${s.port}…`, "busy");
  ws.onopen = () => {
    if (st.ws !== ws) return;
    send(chat.hello(s.nick, s.password || ""));
  };
  ws.onmessage = (ev) => {
    if (st.ws !== ws) return;
    let payloads;
    try {
      if (!(ev.data instanceof ArrayBuffer)) throw new FrameError("text", "the server sent a text message");
      payloads = st.decoder.push(new Uint8Array(ev.data));
      for (const p of payloads) handle(decodeChat(p));
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      protocolFailure(e);
    }
  };
  ws.onclose = (ev) => {
    if (st.ws !== ws) return;
    onClosed(ev);
  };
}

function send(bytes) {
  if (st.ws && st.ws.readyState === WebSocket.OPEN) st.ws.send(bytes);
}

function protocolFailure(e) {
  const ws = st.ws;
  notice(current(), `The server sent a bad frame (${e.message}); the connection was closed.`, "error");
  // 4000: an application close code (1002 may only be sent by the browser itself).
  try { ws.close(4000, "bad frame"); } catch { /* already closing */ }
  onClosed({ code: 4000, reason: `bad frame: ${e.kind}` });
}

function onClosed(ev) {
  const wasWelcome = !!st.welcome;
  st.ws = null;
  st.welcome = null;
  clearInterval(st.pingTimer);
  for (const t of st.tabs.values()) if (t.kind === "room") t.joined = false;
  if (st.userClosed) {
    setStatus("disconnected", "");
    return;
  }
  if (st.fatal) {
    setStatus("disconnected", "bad");
    if (!wasWelcome) {
      showLogin(st.fatal);
    } else {
      banner(`${st.fatal}.`, { label: "Reconnect", run: () => { st.attempt = 0; connect(); } });
    }
    return;
  }
  if (!wasWelcome && st.tabs.size === 0) {
    // Never got in: tell the user on the form, and keep trying.
    loginError(`Could not connect to ${st.settings.server}:${st.settings.port}${ev.code === 1006 ? "" : ` (close ${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`}; retrying…`);
  }
  scheduleRetry();
}

function scheduleRetry() {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** st.attempt);
  const delay = Math.round(base * (0.8 + Math.random() * 0.4));
  st.attempt++;
  st.retryAt = Date.now() + delay;
  const tick = () => {
    const left = Math.max(0, Math.ceil((st.retryAt - Date.now()) / 1000));
    const text = `Connection lost. Reconnecting in ${left} s (attempt ${st.attempt})…`;
    setStatus("reconnecting…", "busy");
    if (!$("app").hidden) banner(text, { label: "Reconnect now", run: () => connect() });
  };
  tick();
  clearInterval(st.countdown);
  st.countdown = setInterval(tick, 1000);
  st.retryTimer = setTimeout(() => { clearInterval(st.countdown); connect(); }, delay);
}

function disconnect() {
  st.userClosed = true;
  clearTimeout(st.retryTimer);
  clearInterval(st.countdown);
  if (st.ws) {
    send(chat.bye());
    st.ws.close(1000, "bye");
  }
  st.ws = null;
  st.welcome = null;
  clearInterval(st.pingTimer);
  for (const t of [...st.tabs.keys()]) removeTab(t);
  st.tabs.clear();
  st.order = [];
  st.active = null;
  banner(null);
  setStatus("not connected", "");
  showLogin(null);
}

// ---------- protocol ----------

function handle(m) {
  switch (m.type) {
    case "welcome": return onWelcome(m);
    case "message": return onMessage(m);
    case "private": return onPrivate(m);
    case "joined": return onJoined(m);
    case "left": return onLeft(m);
    case "members": return onMembers(m);
    case "room": return onRoom(m);
    case "error": return onError(m);
    case "pong": return undefined;
    default: notice(serverTab(), `Unknown frame type 0x${m.byte.toString(16)} ignored.`);
  }
  return undefined;
}

function onWelcome(m) {
  st.welcome = m;
  st.me = m.nick;
  st.attempt = 0;
  st.decoder.maxPayload = m.maxPayload;
  localStorage.setItem("stxchat.nick", m.nick);
  showApp();
  banner(null);
  setStatus(`${m.nick} on ${m.server} (${st.settings.server}:${st.settings.port})`, "ok");
  const srv = serverTab();
  notice(srv, `Connected to ${m.server} as ${m.nick} (protocol ${m.version}, frames up to ${m.maxPayload} bytes).`);
  if (!st.active) activate(srv.key);
  // Rejoin what was open before a reconnect (JOIN of a joined room is harmless).
  for (const t of st.tabs.values()) if (t.kind === "room") send(chat.join(t.name));
  clearInterval(st.pingTimer);
  if (m.keepalive > 0) {
    const every = Math.max(1000, (m.keepalive * 1000) / 3);
    let token = 0;
    st.pingTimer = setInterval(() => send(chat.ping(++token)), every);
  }
}

function onMessage(m) {
  const tab = ensureTab("room", m.room);
  const replayed = (m.flags & 1) !== 0;
  if (replayed && m.seq <= tab.lastSeq) return; // already shown before a reconnect
  if (m.seq > tab.lastSeq) tab.lastSeq = m.seq;
  const self = lower(m.from) === lower(st.me || "");
  const mention = !self && st.me && m.text.toLowerCase().includes(st.me.toLowerCase());
  addLine(tab, `msg${replayed ? " replayed" : ""}${self ? " self" : ""}${mention ? " mention" : ""}`,
    [["from", m.from], ["text", m.text]],
    { time: m.time, self, quiet: replayed, mention, title: replayed ? "from the room's history" : undefined });
}

function onPrivate(m) {
  const self = lower(m.from) === lower(st.me || "");
  const other = self ? m.to : m.from;
  const existed = st.tabs.has(tabKey("pm", other));
  const tab = ensureTab("pm", other);
  addLine(tab, `msg private${self ? " self" : ""}`, [["from", m.from], ["text", m.text]], { time: m.time, self, mention: !self });
  if (!existed && self) activate(tab.key);
}

function onJoined(m) {
  const isMe = lower(m.nick) === lower(st.me || "");
  const tab = ensureTab("room", m.room);
  if (isMe) {
    const was = tab.joined;
    tab.joined = true;
    if (!was) notice(tab, `You joined #${m.room}.`);
    if (st.joining.delete(lower(m.room)) || st.active === tabKey("server", "server") || !st.active) activate(tab.key);
  } else {
    notice(tab, `${m.nick} joined.`, "notice join");
  }
  tab.members.set(lower(m.nick), m.nick);
  if (!tab.quiet) tab.count = tab.members.size;
  if (tab.key === st.active) renderMembers();
}

function onLeft(m) {
  const key = tabKey("room", m.room);
  const tab = st.tabs.get(key);
  if (!tab) return;
  if (lower(m.nick) === lower(st.me || "")) {
    removeTab(key);
    notice(current(), `You left #${m.room}.`);
    return;
  }
  tab.members.delete(lower(m.nick));
  if (!tab.quiet) tab.count = tab.members.size;
  notice(tab, `${m.nick} ${LEFT_REASONS[m.reason] || "left"}.`, "notice leave");
  if (tab.key === st.active) renderMembers();
}

function onMembers(m) {
  const tab = ensureTab("room", m.room);
  if (!tab.collecting) tab.collecting = new Map();
  for (const n of m.nicks) tab.collecting.set(lower(n), n);
  if (m.flags & 1) return; // more frames of this list follow
  tab.members = tab.collecting;
  tab.collecting = null;
  tab.partial = (m.flags & 2) !== 0;
  if (!tab.partial) { tab.quiet = false; tab.count = tab.members.size; }
  if (tab.key === st.active) renderMembers();
}

function onRoom(m) {
  const tab = st.tabs.get(tabKey("room", m.room));
  if (!tab) return;
  const quiet = (m.flags & 1) !== 0;
  if (quiet !== tab.quiet) notice(tab, quiet
    ? `#${m.room} is now a quiet room (${m.members.toLocaleString()} members): joins and departures are no longer announced.`
    : `#${m.room} is no longer quiet: joins and departures are announced again.`);
  tab.quiet = quiet;
  tab.partial = quiet;
  tab.count = m.members;
  if (tab.key === st.active) renderMembers();
}

function onError(m) {
  const name = ERROR_NAMES[m.code] || `error ${m.code}`;
  const text = `${name}${m.detail ? `: ${m.detail}` : ""}`;
  if (!st.welcome && FATAL_AT_HELLO.has(m.code)) {
    st.fatal = text;
    return;
  }
  if (m.code === 20) {
    st.fatal = `Kicked by an operator${m.detail ? `: ${m.detail}` : ""}`;
    notice(current(), `${st.fatal}.`, "error");
    return;
  }
  if (m.code === 9 || m.code === 10) {
    // not in the room or no such room: a tab may be stale.
  }
  notice(current(), CLOSING_ERRORS.has(m.code) ? `${text} (the server closes the connection)` : text, "error");
}

// ---------- input ----------

function runLine(line) {
  const tab = current();
  if (!line.trim()) return;
  if (line.startsWith("/") && !line.startsWith("//")) {
    const [cmd, ...rest] = line.slice(1).split(/\s+/);
    const arg = rest.join(" ").trim();
    switch (cmd.toLowerCase()) {
      case "join": case "j":
        if (!arg) return notice(tab, "usage: /join ROOM", "error");
        return joinRoom(arg.replace(/^#/, ""));
      case "part": case "leave": {
        const room = arg ? arg.replace(/^#/, "") : tab.kind === "room" ? tab.name : null;
        if (!room) return notice(tab, "usage: /part ROOM", "error");
        return send(chat.part(room));
      }
      case "msg": case "query": case "w": case "whisper": {
        const m = /^(\S+)\s+([\s\S]+)$/.exec(arg);
        if (!m) return notice(tab, "usage: /msg NICK TEXT", "error");
        return send(chat.whisper(m[1].replace(/^@/, ""), m[2]));
      }
      case "who": case "names": {
        const room = arg ? arg.replace(/^#/, "") : tab.kind === "room" ? tab.name : null;
        if (!room) return notice(tab, "usage: /who ROOM", "error");
        return send(chat.who(room));
      }
      case "quit": case "exit": return disconnect();
      case "help": case "?": return HELP.forEach((h) => notice(tab, h));
      default: return notice(tab, `unknown command /${cmd} (try /help)`, "error");
    }
  }
  const text = line.startsWith("//") ? line.slice(1) : line;
  if (tab.kind === "room") send(chat.say(tab.name, text));
  else if (tab.kind === "pm") send(chat.whisper(tab.name, text));
  else notice(tab, "Join a room first: /join ROOM", "error");
  return undefined;
}

function joinRoom(room) {
  const key = tabKey("room", room);
  if (st.tabs.has(key) && st.tabs.get(key).joined) return activate(key);
  st.joining.add(lower(room));
  send(chat.join(room));
  return undefined;
}

function moveTab(delta) {
  if (!st.order.length) return;
  const i = st.order.indexOf(st.active);
  activate(st.order[(i + delta + st.order.length) % st.order.length]);
}

// ---------- screens ----------

function showLogin(error) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("disconnect").hidden = true;
  loginError(error);
  $("connect").disabled = false;
  $("f-nick").focus();
}

function loginError(text) {
  const e = $("login-error");
  e.textContent = text || "";
  e.hidden = !text;
}

function showApp() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("disconnect").hidden = false;
  $("say").focus();
}

function init() {
  const tls = location.protocol === "https:";
  $("f-server").value = location.hostname || "localhost";
  $("f-port").value = location.port || (tls ? "443" : "80");
  $("f-tls").checked = tls;
  $("f-nick").value = localStorage.getItem("stxchat.nick") || "";
  $("connect-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    st.settings = {
      server: $("f-server").value.trim(),
      port: $("f-port").value.trim(),
      nick: $("f-nick").value.trim(),
      password: $("f-password").value,
      tls: $("f-tls").checked,
    };
    st.attempt = 0;
    loginError(null);
    $("connect").disabled = true;
    setTimeout(() => { $("connect").disabled = false; }, 1500);
    connect();
  });
  $("say-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("say");
    const line = input.value;
    input.value = "";
    runLine(line);
  });
  $("join-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const room = $("join-room").value.trim().replace(/^#/, "");
    $("join-room").value = "";
    if (room) joinRoom(room);
    $("say").focus();
  });
  $("leave").addEventListener("click", () => {
    const tab = current();
    if (tab.kind === "room") send(chat.part(tab.name));
    else if (tab.kind === "pm") removeTab(tab.key);
    $("say").focus();
  });
  $("disconnect").addEventListener("click", disconnect);
  $("members-toggle").addEventListener("click", () => {
    const open = $("members").classList.toggle("open");
    $("members-toggle").setAttribute("aria-expanded", String(open));
  });
  $("tabs").addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") { moveTab(1); focusActiveTab(); ev.preventDefault(); }
    if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") { moveTab(-1); focusActiveTab(); ev.preventDefault(); }
  });
  document.addEventListener("keydown", (ev) => {
    if ($("app").hidden) return;
    if ((ev.altKey && ev.key === "ArrowRight") || (ev.ctrlKey && ev.key === "PageDown")) { moveTab(1); ev.preventDefault(); }
    else if ((ev.altKey && ev.key === "ArrowLeft") || (ev.ctrlKey && ev.key === "PageUp")) { moveTab(-1); ev.preventDefault(); }
    else if (ev.altKey && /^[1-9]$/.test(ev.key)) {
      const key = st.order[Number(ev.key) - 1];
      if (key) { activate(key); ev.preventDefault(); }
    } else if (ev.key === "Escape") { $("say").focus(); }
  });
  window.addEventListener("beforeunload", () => { if (st.ws) { st.userClosed = true; send(chat.bye()); } });
}

function focusActiveTab() {
  const b = $("tabs").querySelector('[aria-selected="true"]');
  if (b) b.focus();
}

init();
