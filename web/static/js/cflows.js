// The cflows protocol client for browsers: one WebSocket to /ws, MessagePack frames,
// reconnect with backoff, and resume of every subscribed stream from its last seq.
// Spec: protocol/PROTOCOL.md. Needs the vendored MessagePack build (window.MessagePack).

const { encode, decode } = globalThis.MessagePack;
const PROTOCOL_VERSION = 2;
const REQUEST_TIMEOUT_MS = 15000;

export class CflowsClient {
  constructor({ url, onStatus } = {}) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = url ?? `${scheme}://${location.host}/ws`;
    this.listeners = onStatus ? [onStatus] : [];
    this.status = "connecting";
    this.streams = new Map(); // name -> { seq: number|null, handlers: [{ onSnapshot, onEvent }] }
    this.pending = new Map(); // request id -> { resolve, reject, timer }
    this.nextId = 1;
    this.backoff = 500;
    this.ws = null;
    this.ready = false;
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      // Streams we have seen resume from their seq; new ones subscribe after welcome.
      const resume = [];
      for (const [stream, s] of this.streams) {
        if (s.seq !== null) resume.push({ stream, seq: s.seq });
      }
      this.send({ type: "hello", version: PROTOCOL_VERSION, resume });
    };
    ws.onmessage = (ev) => this.dispatch(decode(new Uint8Array(ev.data)));
    ws.onclose = (ev) => {
      this.ready = false;
      this.emit("offline", ev.code);
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error("connection lost"));
      }
      this.pending.clear();
      if (ev.code === 4001) return; // the session ended: do not hammer the server
      const delay = this.backoff * (0.5 + Math.random());
      this.backoff = Math.min(this.backoff * 2, 30000);
      setTimeout(() => this.connect(), delay);
    };
  }

  emit(status, code) {
    this.status = status;
    for (const listener of this.listeners) listener(status, code);
  }

  /** Calls `listener(status)` on every change of `"online"` / `"offline"`, and now. */
  addStatusListener(listener) {
    this.listeners.push(listener);
    if (this.status !== "connecting") listener(this.status);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(encode(msg));
  }

  dispatch(msg) {
    switch (msg.type) {
      case "welcome":
        this.ready = true;
        this.backoff = 500;
        this.emit("online");
        for (const [stream, s] of this.streams) {
          if (s.seq === null) this.send({ type: "subscribe", stream });
        }
        break;
      case "snapshot": {
        const s = this.streams.get(msg.stream);
        if (!s) return;
        s.seq = msg.seq;
        for (const h of s.handlers) h.onSnapshot?.(msg.state, msg.reset);
        break;
      }
      case "subscribed": {
        const s = this.streams.get(msg.stream);
        if (s) s.seq = msg.seq;
        break;
      }
      case "event": {
        const s = this.streams.get(msg.stream);
        if (!s || s.seq === null || msg.seq <= s.seq) return; // already applied
        if (msg.seq !== s.seq + 1) {
          // Never expected; ask again from what we have.
          this.send({ type: "subscribe", stream: msg.stream, after: s.seq });
          return;
        }
        s.seq = msg.seq;
        for (const h of s.handlers) h.onEvent?.(msg.event, msg.seq);
        break;
      }
      case "reply": {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.error) p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
        else p.resolve(msg.ok);
        break;
      }
      case "error":
        console.warn("cflows:", msg.stream ?? "", msg.error.code, msg.error.message);
        break;
      default:
        break;
    }
  }

  /**
   * Follows `stream`: `onSnapshot(state, reset)` first, then `onEvent(event, seq)`. Several
   * scripts of a page may follow the same stream (the bell and the start page both follow
   * the inbox); one that joins after the snapshot gets `onSnapshot(null)` and the events
   * from then on.
   */
  subscribe(stream, handlers) {
    const followed = this.streams.get(stream);
    if (followed) {
      followed.handlers.push(handlers);
      if (followed.seq !== null) handlers.onSnapshot?.(null, false);
      return;
    }
    this.streams.set(stream, { seq: null, handlers: [handlers] });
    if (this.ready) this.send({ type: "subscribe", stream });
  }

  /** Stops following `stream`. */
  unsubscribe(stream) {
    if (this.streams.delete(stream) && this.ready) this.send({ type: "unsubscribe", stream });
  }

  /** Sends an operation (`{ op: "mark_all_read" }`, ...); resolves with the reply body. */
  request(op) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error("request timed out"));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ type: "request", id, op });
    });
  }
}

let shared = null;

/** The page's one connection, shared by every script on it (the bell, the calendar, …). */
export function sharedClient({ onStatus } = {}) {
  shared ??= new CflowsClient();
  if (onStatus) shared.addStatusListener(onStatus);
  return shared;
}
