// stxchat frame codec for the browser: STX | u16 LEN | PAYLOAD | u32 CRC-32 | ETX
// (docs/PROTOCOL.md section 1), the chat messages (section 3) and the admin
// channel's (docs/ADMIN.md section 3). No dependencies.
//
// The WebSocket carries the chat byte stream: a frame may be split across
// WebSocket messages and one message may hold several frames, so the
// decoder is incremental. It checks every frame (LEN within the limit, CRC,
// ETX) and throws FrameError on the first bad one: the caller closes.

export const STX = 0x02;
export const ETX = 0x03;
export const OVERHEAD = 8;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32/IEEE of bytes[start..end) continuing from crc (0 to start). */
export function crc32(bytes, start = 0, end = bytes.length, crc = 0) {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A framing or message error; `kind` says which. */
export class FrameError extends Error {
  constructor(kind, detail) {
    super(`${kind}: ${detail}`);
    this.kind = kind;
  }
}

/** One whole frame around `payload` (a Uint8Array of 1..=65535 bytes). */
export function encodeFrame(payload) {
  const len = payload.length;
  if (len < 1 || len > 65535) throw new FrameError("too_large", `payload of ${len} bytes`);
  const out = new Uint8Array(len + OVERHEAD);
  out[0] = STX;
  out[1] = len >> 8;
  out[2] = len & 0xff;
  out.set(payload, 3);
  const crc = crc32(out, 1, 3 + len);
  new DataView(out.buffer).setUint32(3 + len, crc);
  out[7 + len] = ETX;
  return out;
}

/** Incremental frame decoder: push() chunks, get whole payloads back. */
export class FrameDecoder {
  constructor(maxPayload = 4096) {
    this.maxPayload = maxPayload;
    this.buf = new Uint8Array(0);
  }

  /** Appends `chunk`; returns the payloads of the frames it completed. Throws FrameError. */
  push(chunk) {
    let buf = chunk;
    if (this.buf.length) {
      buf = new Uint8Array(this.buf.length + chunk.length);
      buf.set(this.buf);
      buf.set(chunk, this.buf.length);
    }
    const frames = [];
    let at = 0;
    while (buf.length - at >= 1) {
      if (buf[at] !== STX) throw new FrameError("garbage", `byte 0x${buf[at].toString(16)} where a frame must start`);
      if (buf.length - at < 3) break;
      const len = (buf[at + 1] << 8) | buf[at + 2];
      if (len === 0) throw new FrameError("empty", "LEN is 0");
      if (len > this.maxPayload) throw new FrameError("too_large", `LEN ${len} is over ${this.maxPayload}`);
      if (buf.length - at < len + OVERHEAD) break;
      if (buf[at + 7 + len] !== ETX) throw new FrameError("missing_etx", "no ETX after the checksum");
      const want = new DataView(buf.buffer, buf.byteOffset + at + 3 + len, 4).getUint32(0);
      if (crc32(buf, at + 1, at + 3 + len) !== want) throw new FrameError("bad_checksum", "CRC-32 does not match");
      frames.push(buf.slice(at + 3, at + 3 + len));
      at += len + OVERHEAD;
    }
    this.buf = buf.slice(at);
    return frames;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Builds a payload field by field. */
class Writer {
  constructor(type) { this.parts = [Uint8Array.of(type)]; this.len = 1; }
  bytes(b) { this.parts.push(b); this.len += b.length; return this; }
  u8(v) { return this.bytes(Uint8Array.of(v)); }
  u16(v) { return this.bytes(Uint8Array.of(v >> 8, v & 0xff)); }
  u64(v) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v)); return this.bytes(b); }
  str8(s) {
    const b = enc.encode(s);
    if (b.length > 255) throw new FrameError("malformed", "name longer than 255 bytes");
    return this.u8(b.length).bytes(b);
  }
  str16(s) {
    const b = enc.encode(s);
    if (b.length > 65535) throw new FrameError("malformed", "text longer than 65535 bytes");
    return this.u16(b.length).bytes(b);
  }
  frame() {
    const p = new Uint8Array(this.len);
    let at = 0;
    for (const part of this.parts) { p.set(part, at); at += part.length; }
    return encodeFrame(p);
  }
}

/** Reads a payload field by field; malformed input throws. */
class Reader {
  constructor(p) { this.p = p; this.at = 1; this.view = new DataView(p.buffer, p.byteOffset, p.length); }
  need(n) { if (this.at + n > this.p.length) throw new FrameError("malformed", "payload too short"); }
  u8() { this.need(1); return this.p[this.at++]; }
  u16() { this.need(2); const v = this.view.getUint16(this.at); this.at += 2; return v; }
  u32() { this.need(4); const v = this.view.getUint32(this.at); this.at += 4; return v; }
  u64() { this.need(8); const v = this.view.getBigUint64(this.at); this.at += 8; return v; }
  /** A u64 as a Number (exact below 2^53: times, counters, ids). */
  num() { return Number(this.u64()); }
  text(n) {
    this.need(n);
    const b = this.p.subarray(this.at, this.at + n);
    this.at += n;
    try { return dec.decode(b); } catch { throw new FrameError("malformed", "invalid UTF-8"); }
  }
  str8() { return this.text(this.u8()); }
  str16() { return this.text(this.u16()); }
  addr() {
    const family = this.u8();
    let host;
    if (family === 4) { this.need(4); host = Array.from(this.p.subarray(this.at, this.at + 4)).join("."); this.at += 4; }
    else if (family === 6) {
      const words = [];
      for (let i = 0; i < 8; i++) words.push(this.u16().toString(16));
      host = `[${words.join(":").replace(/(^|:)0(:0)+(:|$)/, "::")}]`;
      return `${host}:${this.u16()}`;
    } else throw new FrameError("malformed", `address family ${family}`);
    return `${host}:${this.u16()}`;
  }
  end(msg) {
    if (this.at !== this.p.length) throw new FrameError("malformed", `${this.p.length - this.at} bytes left over`);
    return msg;
  }
}

// ---- chat protocol (PROTOCOL.md section 3) ----

export const PROTOCOL_VERSION = 2;

/** Client-to-server frames. */
export const chat = {
  hello: (nick, token = "", version = PROTOCOL_VERSION) => new Writer(0x01).u8(version).str8(nick).str8(token).frame(),
  join: (room) => new Writer(0x02).str8(room).frame(),
  part: (room) => new Writer(0x03).str8(room).frame(),
  say: (room, text) => new Writer(0x04).str8(room).str16(text).frame(),
  whisper: (to, text) => new Writer(0x05).str8(to).str16(text).frame(),
  who: (room) => new Writer(0x06).str8(room).frame(),
  ping: (token) => new Writer(0x07).u64(token).frame(),
  bye: () => new Writer(0x08).frame(),
};

/** Decodes one server-to-client payload into an object with a `type` name. */
export function decodeChat(p) {
  const r = new Reader(p);
  switch (p[0]) {
    case 0x81: return r.end({ type: "welcome", version: r.u8(), nick: r.str8(), server: r.str8(), maxPayload: r.u16(), keepalive: r.u16() });
    case 0x82: return r.end({ type: "message", flags: r.u8(), seq: r.u64(), time: r.num(), room: r.str8(), from: r.str8(), text: r.str16() });
    case 0x83: return r.end({ type: "private", flags: r.u8(), seq: r.u64(), time: r.num(), from: r.str8(), to: r.str8(), text: r.str16() });
    case 0x84: return r.end({ type: "joined", room: r.str8(), nick: r.str8() });
    case 0x85: return r.end({ type: "left", room: r.str8(), nick: r.str8(), reason: r.u8() });
    case 0x86: {
      const m = { type: "members", room: r.str8(), flags: r.u8(), nicks: [] };
      const count = r.u16();
      for (let i = 0; i < count; i++) m.nicks.push(r.str8());
      return r.end(m);
    }
    case 0x87: return r.end({ type: "pong", token: r.u64() });
    case 0x88: return r.end({ type: "error", code: r.u16(), detail: r.str16() });
    case 0x89: return r.end({ type: "room", room: r.str8(), flags: r.u8(), members: r.u32() });
    default: return { type: "unknown", byte: p[0] };
  }
}

export const ERROR_NAMES = [
  "", "bad_frame", "malformed", "unknown_type", "not_registered", "bad_version", "bad_name",
  "nick_taken", "auth_failed", "not_in_room", "no_such_room", "no_such_nick", "rate_limited",
  "too_many_rooms", "server_full", "timeout", "slow_consumer", "shutting_down",
  "already_registered", "too_long", "kicked", "unavailable",
];

/** Errors after which the server closes (PROTOCOL.md section 3). */
export const CLOSING_ERRORS = new Set([1, 4, 5, 7, 8, 14, 15, 16, 17, 20]);

export const LEFT_REASONS = [
  "left", "quit", "timed out", "dropped as a slow consumer", "closed after an error",
  "server shutting down", "kicked by an operator",
];

// ---- admin channel (docs/ADMIN.md section 3) ----

/** Operator-to-server frames. */
export const admin = {
  auth: (token) => new Writer(0x40).u8(1).str8(token).frame(),
  counters: () => new Writer(0x41).frame(),
  list: (state, afterId, limit) => new Writer(0x42).u8(state).u64(afterId).u16(limit).frame(),
  subscribe: () => new Writer(0x43).frame(),
  kick: (nick, reason) => new Writer(0x45).str8(nick).str16(reason).frame(),
  rooms: (limit) => new Writer(0x46).u16(limit).frame(),
};

const COUNTER_NAMES = [
  "uptime_ms", "waiting", "connected", "closing", "rooms", "accepted", "rejected_full",
  "frames_in", "frames_out", "bytes_in", "bytes_out", "messages", "privates", "slow_consumers",
];
const RATE_NAMES = ["interval_ms", "accepted", "frames_in", "frames_out", "bytes_in", "bytes_out", "messages", "privates"];

function readEntry(r) {
  const e = { id: r.num(), peer: r.addr(), nick: r.str8(), flags: r.u8(), accepted: r.num(), connected: r.num(), bytesIn: r.num(), bytesOut: r.num(), queued: r.num(), rooms: [] };
  const n = r.u16();
  for (let i = 0; i < n; i++) e.rooms.push(r.str8());
  return e;
}

/** Decodes one server-to-operator payload. */
export function decodeAdmin(p) {
  const r = new Reader(p);
  switch (p[0]) {
    case 0xc0: return r.end({ type: "ok", request: r.u8() });
    case 0xc1: {
      const m = { type: "counters", counters: {}, errors: [], rates: {} };
      for (const name of COUNTER_NAMES) m.counters[name] = r.num();
      const n = r.u8();
      for (let i = 0; i < n; i++) m.errors.push(r.num());
      for (const name of RATE_NAMES) m.rates[name] = r.num();
      return r.end(m);
    }
    case 0xc2: {
      const m = { type: "list", state: r.u8(), flags: r.u8(), nextAfter: r.num(), entries: [] };
      const count = r.u16();
      for (let i = 0; i < count; i++) m.entries.push(readEntry(r));
      return r.end(m);
    }
    case 0xc3: return r.end({ type: "event", id: r.num(), time: r.num(), peer: r.addr(), nick: r.str8(), change: r.u8(), code: r.u16() });
    case 0xc4: return r.end({ type: "kicked", found: r.u8() === 1, nick: r.str8() });
    case 0xc5: return r.end({ type: "error", code: r.u16(), detail: r.str16() });
    case 0xc6: {
      const m = { type: "rooms", rooms: r.num(), quiet: r.num(), flags: r.u8(), list: [] };
      const count = r.u16();
      for (let i = 0; i < count; i++) m.list.push({ name: r.str8(), members: r.u32(), quiet: (r.u8() & 1) !== 0 });
      return r.end(m);
    }
    default: return { type: "unknown", byte: p[0] };
  }
}

export const ADMIN_ERROR_NAMES = ["", "bad_frame", "malformed", "unknown_type", "auth_required", "auth_failed", "bad_version", "slow_consumer", "shutting_down"];
