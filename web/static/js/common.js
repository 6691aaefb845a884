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

/** True once a page's own hub connection carries notifications (the bell then opens none). */
export let hubShared = false;

/** Hand `notification.new` from a page's hub connection to the bell (a DOM event). */
export function shareNotifications(socket) {
  hubShared = true;
  socket.on("notification.new", (n) => window.dispatchEvent(new CustomEvent("lc:notification", { detail: n })));
}

/** A hub connection for pages without one: signed in by the session cookie, no show joined. */
export function connectHub() {
  const socket = io({ path: "/socket.io/", transports: ["websocket"] });
  shareNotifications(socket);
  return socket;
}

/**
 * Connect to the hub and keep this show joined. On every (re)connect it sends show.join with the
 * highest chat seq seen, so a reconnect replays the missed lines (no gaps); pages dedupe lines by
 * id, so nothing shows twice. Pages register handlers with `on`.
 */
export function connectShow(showId, { token, onJoined, onState } = {}) {
  const socket = io({ path: "/socket.io/", transports: ["websocket"], auth: token ? { token } : {} });
  shareNotifications(socket);
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


// --- times in the browser's zone, countdowns, prices typed by people, raw request bodies -----

/** The browser's time zone name ("Europe/Lisbon"), for hints next to time inputs. */
export function timeZoneName() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch { return ""; }
}

/**
 * A moment (epoch ms, or an ISO 8601 string with its offset) in the browser's local time:
 * "Sat, 5 Dec, 19:00" (the year only when it is not this year). Empty for nothing.
 */
export function localTime(value, options = {}) {
  if (value === null || value === undefined || value === "") return "";
  const date = new Date(typeof value === "number" ? value : String(value));
  if (Number.isNaN(date.getTime())) return "";
  const sameYear = date.getFullYear() === new Date().getFullYear();
  return date.toLocaleString(undefined, {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    ...(sameYear ? {} : { year: "numeric" }), ...options,
  });
}

/** Show every `<time datetime=… data-local>` under root in the browser's local time. */
export function localizeTimes(root = document) {
  for (const node of root.querySelectorAll("time[data-local]")) {
    const text = localTime(node.getAttribute("datetime"));
    if (text) {
      node.textContent = text;
      node.title = node.getAttribute("datetime");
    }
  }
}

/** How long until a moment, for people: "in 2 d 3 h", "in 1 h 5 min", "in 4:09"; "" once it
 * has passed. */
export function untilText(target, now = Date.now()) {
  const at = typeof target === "number" ? target : new Date(String(target)).getTime();
  const left = Math.round((at - now) / 1000);
  if (!(left > 0)) return "";
  const days = Math.floor(left / 86400);
  const hours = Math.floor((left % 86400) / 3600);
  const minutes = Math.floor((left % 3600) / 60);
  if (days) return `in ${days} d ${hours} h`;
  if (hours) return `in ${hours} h ${minutes} min`;
  return `in ${clock(left)}`;
}

/**
 * Keep every `[data-countdown]` under root (epoch ms or ISO in the attribute) showing the time
 * left, once a second; `onDone(node)` runs once when one reaches zero. Returns a stop function.
 * Viewer pages use it for upcoming shows: `<span data-countdown="2026-12-05T18:00:00+00:00">`.
 */
export function startCountdowns(root = document, onDone = null) {
  const done = new WeakSet();
  const tick = () => {
    for (const node of root.querySelectorAll("[data-countdown]")) {
      const raw = node.dataset.countdown;
      const text = untilText(/^\d+$/.test(raw) ? Number(raw) : raw);
      node.textContent = text || "starting now";
      if (!text && !done.has(node)) {
        done.add(node);
        onDone?.(node);
      }
    }
  };
  tick();
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

/** A `<input type=datetime-local>` value ("2026-12-05T19:00") read in the browser's zone, as
 * ISO 8601 with that zone's offset on that date ("2026-12-05T19:00:00+01:00"). */
export function isoWithOffset(localValue) {
  const date = new Date(localValue);
  if (!localValue || Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:00${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

/** A price typed by a person ("12.50", "12,5", "1250" for JPY) → integer minor units, or null
 * when it is not a positive price with at most the currency's decimals. No floats involved. */
export function parseMoney(text, currency = cfg.currency || "USD") {
  const digits = ZERO_DECIMAL.has(currency) ? 0 : 2;
  const raw = String(text ?? "").trim().replace(",", ".");
  const match = /^(\d{1,9})(?:\.(\d+))?$/.exec(raw);
  if (!match || (match[2] || "").length > digits) return null;
  const minor = Number(match[1]) * 10 ** digits + Number((match[2] || "").padEnd(digits, "0") || 0);
  return minor > 0 ? minor : null;
}

/** Minor units → the text a person would type back into a price field ("12.50"). */
export function majorText(minor, currency = cfg.currency || "USD") {
  const digits = ZERO_DECIMAL.has(currency) ? 0 : 2;
  if (!digits) return String(minor);
  return `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, "0")}`;
}

/** Like `api`, with a raw body (FormData for uploads, CSV text): the browser or `headers` set
 * its Content-Type. Cookie-authenticated writes carry X-CSRF-Token. */
export async function apiBody(method, url, body, headers = {}) {
  const init = { method, body, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (cfg.csrf) init.headers["X-CSRF-Token"] = cfg.csrf;
  const res = await fetch(url, init);
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok) {
    const err = new Error(data?.error?.message || `${res.status} ${res.statusText}`);
    err.status = res.status;
    err.code = data?.error?.code;
    err.details = data?.error?.details;
    throw err;
  }
  return data;
}

// --- orders as people read them (seller pages and the studio's feed) -------------------------

/** The buyer's name on an order: the `buyer` object's, else the shipping address's name. */
export function buyerName(order) {
  const buyer = order?.buyer;
  if (buyer && typeof buyer === "object" && buyer.name) return buyer.name;
  return order?.buyer_name || order?.shipping_address?.name || "A buyer";
}

/** "Logo tee · M × 2": the order's product, variant and quantity. `catalog` (product id →
 * product with variants) names them for servers whose orders carry only ids. */
export function itemText(order, catalog = null) {
  const known = catalog?.get?.(order?.product?.id || order?.product_id);
  const product = order?.product?.name || known?.name || "Product";
  const variantId = order?.variant?.id || order?.variant_id;
  let variant = order?.variant?.label || known?.variants?.find((v) => v.id === variantId)?.label || "";
  if (variant === "default") variant = "";
  return `${product}${variant ? ` · ${variant}` : ""} × ${order?.quantity || 1}`;
}

/** A shipping address as lines ("Ana Lima", "Rua A 1, 2º", "1100-001 Lisboa", "PT"); [] for none. */
export function addressLines(address) {
  if (!address) return [];
  const place = [address.postal_code, address.city].filter(Boolean).join(" ");
  return [
    address.name,
    [address.line1, address.line2].filter(Boolean).join(", "),
    [place, address.region].filter(Boolean).join(", "),
    address.country,
  ].filter(Boolean);
}
