// Shared helpers for the pages: configuration from data-* attributes, safe DOM building
// (textContent only, never innerHTML, so chat, names and product text can never become markup),
// money formatting from integer minor units, the Socket.IO connection with resume, and fetch
// wrappers that attach the CSRF token to cookie-authenticated writes.
import { io } from "../vendor/socket.io-client-4.8.3/socket.io.esm.min.js";

/** Page configuration handed over by the template on <body data-*>. */
export const cfg = document.body.dataset;

/** Build an element; text goes through textContent, attributes through setAttribute. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "className") node.className = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

const ZERO_DECIMAL = new Set(["JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX"]);

/** Format money given as {amount, currency} (minor units) or as a bare integer plus currency. */
export function money(value, currency = cfg.currency || "USD") {
  let minor = value;
  if (value && typeof value === "object") {
    minor = value.amount ?? value.minor ?? 0;
    currency = value.currency || currency;
  }
  const digits = ZERO_DECIMAL.has(currency) ? 0 : 2;
  const major = Number(minor) / 10 ** digits;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(major);
  } catch {
    return `${major.toFixed(digits)} ${currency}`;
  }
}

/** Major units typed by a person (12.5) → integer minor units (1250; 12 for JPY). */
export function toMinor(major, currency = cfg.currency || "USD") {
  const digits = ZERO_DECIMAL.has(currency) ? 0 : 2;
  return Math.round(Number(major) * 10 ** digits);
}

/** Minor units of a money value, whatever its wire shape. */
export function minorOf(value) {
  if (value && typeof value === "object") return Number(value.amount ?? value.minor ?? 0);
  return Number(value || 0);
}

export function timeOf(ms) {
  if (!ms) return "";
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** A fresh idempotency key per purchase attempt (retries of one attempt reuse it). */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** fetch JSON; cookie-authenticated writes carry X-CSRF-Token; errors become Error(message). */
export async function api(method, url, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (method !== "GET" && cfg.csrf) init.headers["X-CSRF-Token"] = cfg.csrf;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok) {
    const err = new Error(data?.error?.message || `${res.status} ${res.statusText}`);
    err.status = res.status;
    err.code = data?.error?.code;
    throw err;
  }
  return data;
}

/**
 * Connect to the hub and keep this show joined. On every (re)connect it sends show.join with the
 * highest chat seq seen, so a reconnect replays the missed lines (no gaps); pages dedupe lines by
 * id, so nothing shows twice. Pages register handlers with `on`.
 */
export function connectShow(showId, { token, onJoined, onState } = {}) {
  const socket = io({ path: "/socket.io/", transports: ["websocket"], auth: token ? { token } : {} });
  // Highest chat seq seen; handlers dedupe by id, so a replayed line is harmless.
  let lastSeq = null;
  const hub = {
    socket,
    /** Handle a server event, remembering the seq of chat events for resume. */
    on(event, handler) {
      socket.on(event, (payload) => {
        if (event.startsWith("chat.")) hub.noteSeq(payload?.seq);
        handler(payload || {});
      });
    },
    /** Emit with an ack, resolved as the ack envelope or a timeout error envelope. */
    emit(event, payload, timeoutMs = 8000) {
      return new Promise((resolve) => {
        socket.timeout(timeoutMs).emit(event, { show_id: showId, ...payload }, (err, ack) => {
          if (err) resolve({ ok: false, error: { code: "timeout", message: "the server did not answer; try again" } });
          else resolve(ack || { ok: false, error: { code: "no_ack", message: "no answer" } });
        });
      });
    },
    noteSeq(seq) {
      if (typeof seq === "number" && (lastSeq === null || seq > lastSeq)) lastSeq = seq;
    },
  };
  socket.on("connect", async () => {
    onState?.("connected");
    const payload = lastSeq === null ? {} : { last_seq: lastSeq };
    const ack = await hub.emit("show.join", payload);
    if (ack.ok) {
      const messages = ack.messages || [];
      const resumed = lastSeq !== null;
      for (const m of messages) hub.noteSeq(m.seq);
      onJoined?.(ack, messages, resumed);
    } else {
      onState?.("error", ack.error);
    }
  });
  socket.on("disconnect", () => onState?.("disconnected"));
  socket.on("connect_error", (err) => onState?.("connect_error", { message: err.message, data: err.data }));
  return hub;
}

/** The text of an ack error, for a status line. */
export function errorText(ack) {
  return ack?.error?.message || "something went wrong";
}

/** Render one chat line; `actions` adds moderator buttons. Text only, never markup. */
export function chatLine(m, actions = null) {
  const user = m.user || {};
  const badges = (user.badges || []).map((b) => el("span", { className: `badge tag ${b}`, text: b }));
  const li = el("li", { id: `msg-${m.id}`, "data-id": m.id, "data-user-id": user.id || "" },
    el("span", { className: "who", text: user.name || "someone" }), ...badges, " ",
    el("span", { className: "text", text: m.text || "" }));
  if (actions) li.append(actions(m));
  return li;
}

/** Keep a scrolling list short and pinned to the newest line unless the reader scrolled up. */
export function appendCapped(list, node, cap = 200) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(node);
  while (list.children.length > cap) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

/** Seconds → "m:ss" for countdowns. */
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Accessible tabs: arrow keys move between tabs, the selected tab shows its panel. */
export function tabs(root) {
  const list = Array.from(root.querySelectorAll('[role="tab"]'));
  const select = (tab) => {
    for (const t of list) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
  };
  for (const tab of list) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      const i = list.indexOf(tab);
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        const next = list[(i + (e.key === "ArrowRight" ? 1 : list.length - 1)) % list.length];
        select(next);
        next.focus();
        e.preventDefault();
      }
    });
  }
  return select;
}

/**
 * A two-step button for destructive actions (ban, rotate key) instead of window.confirm, which
 * blocks the page and cannot be styled: the first press arms it for four seconds.
 */
export function confirmFirst(button, action, armedText = "Sure?") {
  const label = button.textContent;
  let timer = null;
  return () => {
    if (button.dataset.armed) {
      clearTimeout(timer);
      delete button.dataset.armed;
      button.textContent = label;
      action();
      return;
    }
    button.dataset.armed = "1";
    button.textContent = armedText;
    timer = setTimeout(() => { delete button.dataset.armed; button.textContent = label; }, 4000);
  };
}

