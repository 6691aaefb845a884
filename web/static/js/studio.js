// The seller studio: camera/mic preview with device pickers, Go live / Pause / End show from the
// browser, a connection and bitrate indicator, the stream key (rotate or paste) with OBS/ffmpeg
// hints, offers to pin, unpin, start or end, questions to answer, the live order feed and the
// viewer count.
import { $, addressLines, api, buyerName, cfg, clock, confirmFirst, connectShow, el, errorText, itemText, money, minorOf, timeOf, toMinor } from "./common.js";
import { bitrateMeter, publishWhip, whenLost } from "./media.js";
import { studioGiveaway } from "./giveaways.js";
import { followShowStatus } from "./showstate.js";
import { mountStudioSocial } from "./social.js";
import { parseTiers } from "./groupbuy.js";

const showId = cfg.showId;
const iceServers = JSON.parse(cfg.iceServers || "[]");
const preview = $("preview");
let stream = null;
let publisher = null;
let meter = null;

function status(text, state = "") {
  $("studio-status").textContent = text;
  $("studio-status").dataset.state = state;
}
function conn(text, cls) {
  const c = $("conn");
  c.textContent = text;
  c.className = `badge ${cls}`;
  document.body.dataset.publish = text;
}

// --- devices -------------------------------------------------------------------------------
async function openCamera() {
  const video = $("camera").value ? { deviceId: { exact: $("camera").value } } : { width: 1280, height: 720 };
  const audio = $("microphone").value ? { deviceId: { exact: $("microphone").value } } : true;
  const next = await navigator.mediaDevices.getUserMedia({ video, audio });
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = next;
  preview.srcObject = stream;
  if (publisher) {
    // Switch devices while live without renegotiating: replace the sender's track.
    for (const sender of publisher.pc.getSenders()) {
      const track = stream.getTracks().find((t) => t.kind === sender.track?.kind);
      if (track) await sender.replaceTrack(track);
    }
  }
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (select, kind) => {
    const current = select.value;
    const options = devices.filter((d) => d.kind === kind).map((d, i) => el("option", { value: d.deviceId, text: d.label || `${kind} ${i + 1}` }));
    select.replaceChildren(...options);
    if (current) select.value = current;
  };
  fill($("camera"), "videoinput");
  fill($("microphone"), "audioinput");
}

$("camera").addEventListener("change", () => openCamera().catch((e) => status(e.message, "error")));
$("microphone").addEventListener("change", () => openCamera().catch((e) => status(e.message, "error")));
navigator.mediaDevices?.addEventListener?.("devicechange", listDevices);

// --- stream key ----------------------------------------------------------------------------
// The key is shown only when created or rotated, so this tab keeps the show's key in
// sessionStorage: a reloaded studio goes live again with it instead of rotating (which would
// cut off OBS or anything else streaming with the key).
const KEY_STORE = `lc_stream_key:${showId}`;
$("stream-key").value = sessionStorage.getItem(KEY_STORE) || "";

function rememberKey(key) {
  $("stream-key").value = key;
  if (key) sessionStorage.setItem(KEY_STORE, key);
  else sessionStorage.removeItem(KEY_STORE);
}
$("stream-key").addEventListener("change", () => rememberKey($("stream-key").value.trim()));

$("rotate").addEventListener("click", confirmFirst($("rotate"), async () => {
  try {
    const data = await api("POST", `/api/v1/shows/${encodeURIComponent(showId)}/stream-key`);
    rememberKey(data.stream_key);
    if (data.whip_url) $("whip-url").value = data.whip_url;
    status("New stream key ready.", "ok");
  } catch (err) {
    status(`Could not rotate the key: ${err.message}`, "error");
  }
}, "Rotate? Old key stops"));

async function ensureKey() {
  const key = $("stream-key").value.trim();
  if (key) return key;
  const data = await api("POST", `/api/v1/shows/${encodeURIComponent(showId)}/stream-key`);
  rememberKey(data.stream_key);
  return data.stream_key;
}

// --- go live, pause, end show --------------------------------------------------------------
// Go live publishes over WHIP with the key; on a show that is already live or paused the server
// replaces the old session and resumes the same show (a reload, a dropped connection). Pause
// leaves (WHIP DELETE): the show is paused and viewers wait. A connection lost without Pause is
// re-published with backoff. Only End show (after a confirmation) ends the show for good.
const lifecycle = followShowStatus(showId, cfg.showStatus, statusChanged);
let reconnects = 0; // automatic re-publish attempts since the connection was lost
let reconnectTimer = null;

async function goLive() {
  clearTimeout(reconnectTimer);
  if (lifecycle.status === "ended") return;
  $("go-live").disabled = true;
  status(reconnects ? "Connection lost; reconnecting…" : "Going live…", "pending");
  conn("connecting", "off");
  let p = null;
  try {
    if (!stream || stream.getTracks().some((t) => t.readyState === "ended")) await openCamera();
    p = await publishWhip(stream, cfg.whipUrl, await ensureKey(), iceServers);
  } catch (err) {
    conn("offline", "off");
    if (err.code === "show_ended") { lifecycle.learned("ended"); return; }
    $("go-live").disabled = false;
    if (err.status === 401) {
      reconnects = 0;
      rememberKey("");
      status("This stream key no longer works (it was rotated). Press Go live for a new one, or paste the current key.", "error");
    } else if (reconnects) {
      const wait = Math.min(2 ** reconnects, 10);
      reconnects += 1;
      status(`Still offline (${err.message}); viewers see “back in a moment”. Trying again in ${wait} s…`, "error");
      reconnectTimer = setTimeout(goLive, wait * 1000);
    } else status(`Could not go live: ${err.message}`, "error");
    return;
  }
  publisher = p;
  reconnects = 0;
  meter = bitrateMeter(p.pc, "outbound");
  p.pc.addEventListener("connectionstatechange", () => {
    const s = p.pc.connectionState;
    if (publisher !== p) return;
    if (s === "disconnected") conn(s, "warn");
    else if (s === "connected") conn("live", "live");
  });
  whenLost(p.pc, (reason) => { if (publisher === p) connectionLost(reason); });
  conn("live", "live");
  status("You are live.", "live");
  $("pause").disabled = false;
}

/** Forget the publisher (DELETE, then close its connection). */
async function dropPublisher() {
  const p = publisher;
  publisher = null;
  meter = null;
  $("pause").disabled = true;
  $("bitrate").textContent = "";
  conn("offline", "off");
  if (p) await p.stop();
}

/** The publisher's connection is gone without Pause: come back, unless another encoder took
 * the show over (the server closed this session and the show stayed live). */
function connectionLost(reason) {
  dropPublisher();
  if (lifecycle.status === "ended") return;
  $("go-live").disabled = false;
  if (reason === "closed") {
    // A stall or a rotated key pauses the show; a new session with the key replacing this one
    // leaves it live: that is OBS or another tab, and the two must not take turns.
    status("The server closed this broadcast…", "pending");
    reconnectTimer = setTimeout(() => {
      if (lifecycle.status === "paused") { reconnects = 1; goLive(); }
      else if (lifecycle.status === "live") status("Another encoder (OBS or another tab) took over the show with the stream key. Press Go live to take it back.", "error");
    }, 1500);
    return;
  }
  conn("reconnecting", "warn");
  status("Connection lost; viewers see “back in a moment”. Reconnecting…", "error");
  reconnects = 1;
  reconnectTimer = setTimeout(goLive, 1000);
}

$("go-live").addEventListener("click", () => { reconnects = 0; goLive(); });

$("pause").addEventListener("click", async () => {
  clearTimeout(reconnectTimer);
  reconnects = 0;
  await dropPublisher();
  status("Paused: viewers see “back in a moment”. Press Go live to resume the same show.", "paused");
  $("go-live").disabled = lifecycle.status === "ended";
});

const endDialog = $("end-dialog");
$("end-show").addEventListener("click", () => {
  endDialog.returnValue = "";
  endDialog.showModal();
});
endDialog.addEventListener("close", async () => {
  if (endDialog.returnValue !== "end") return;
  $("end-show").disabled = true;
  status("Ending the show…", "pending");
  try {
    const show = await api("POST", `/api/v1/shows/${encodeURIComponent(showId)}/end`);
    lifecycle.learned(show.status);
  } catch (err) {
    $("end-show").disabled = lifecycle.status === "ended";
    status(`Could not end the show: ${err.message}`, "error");
  }
});

const BADGE = { live: "LIVE", paused: "PAUSED", ended: "ENDED", scheduled: "SCHEDULED" };

/** A new show status (from the lifecycle follower): the badge; after the end, nothing to press. */
function statusChanged(s) {
  const badge = $("live-badge");
  badge.textContent = BADGE[s] || String(s).toUpperCase();
  badge.className = `badge ${s === "live" ? "live" : s === "paused" ? "warn" : "off"}`;
  if (s !== "ended") return;
  clearTimeout(reconnectTimer);
  reconnects = 0;
  dropPublisher();
  for (const id of ["go-live", "pause", "end-show"]) $(id).disabled = true;
  $("ended-note").hidden = false;
  status("The show has ended.", "ended");
}

setInterval(async () => {
  if (!meter) return;
  const { kbps, rtt, frames } = await meter();
  const parts = [];
  if (kbps !== null) parts.push(`${Math.round(kbps)} kbit/s`);
  if (rtt !== null) parts.push(`${Math.round(rtt * 1000)} ms`);
  if (frames !== null) parts.push(`${frames} frames`);
  $("bitrate").textContent = parts.join(" · ");
  if (kbps !== null && kbps < 150 && publisher) conn("weak", "warn");
  else if (publisher && publisher.pc.connectionState === "connected") conn("live", "live");
}, 1000);

// --- hub: offers, questions, orders, viewers -----------------------------------------------
let giveaway = null;
const hub = connectShow(showId, {
  onJoined(ack) {
    giveaway?.show(ack.giveaway);
    for (const q of ack.questions || []) upsertQuestion(q);
    if (typeof ack.viewers === "number") $("viewers-count").textContent = String(ack.viewers);
    lifecycle.joined();
  },
});

giveaway = studioGiveaway(hub, {
  showId,
  products: async () => (await api("GET", `/api/v1/products?seller_id=${encodeURIComponent(cfg.userId)}`)).products || [],
});
hub.on("show.state", (p) => lifecycle.event(p));
hub.on("viewers.count", (p) => { $("viewers-count").textContent = String(p.count ?? 0); });

const offers = new Map();
const products = new Map();
let pinnedId = null;

async function productName(id) {
  if (!products.has(id)) products.set(id, api("GET", `/api/v1/products/${encodeURIComponent(id)}`).catch(() => null));
  return (await products.get(id))?.name || id;
}

/** End offer is two-step (it cannot be undone). The armed state lives here, not in the button,
 * because stock updates re-render the list several times a second during a sale. */
let endArmed = null;

async function renderOffers() {
  const list = $("offer-list");
  const items = await Promise.all([...offers.values()].map(async (o) => {
    const name = await productName(o.product_id);
    const ended = o.status === "ended";
    const onScreen = pinnedId === o.id;
    const pin = el("button", { type: "button", className: "secondary", "data-action": "pin", onclick: () => act("offer.pin", o) }, onScreen ? "Pinned" : "Pin");
    pin.disabled = onScreen || ended;
    const unpin = el("button", { type: "button", className: "secondary", "data-action": "unpin", onclick: () => act("offer.unpin", o) }, "Unpin");
    unpin.hidden = !onScreen;
    const start = el("button", { type: "button", "data-action": "start", onclick: () => act("offer.start", o) }, o.kind === "flash" ? "Start flash sale" : o.kind === "auction" ? "Start auction" : o.kind === "group" ? "Start group buy" : "Start sale");
    start.disabled = o.status === "live" || ended;
    const armed = endArmed?.id === o.id && Date.now() < endArmed.until;
    const end = el("button", { type: "button", className: "secondary danger", "data-action": "end", "data-armed": armed || null, onclick: () => endOffer(o) }, armed ? "Confirm end" : "End offer");
    end.disabled = ended;
    const timing = o.ends_at
      ? el("span", { className: "countdown", "data-ends": o.ends_at, "data-starts": o.starts_at || "" })
      : o.status === "draft" && o.duration_seconds ? ` · runs ${clock(o.duration_seconds)} from start` : "";
    return el("li", { id: `offer-${o.id}`, "data-offer-id": o.id, className: onScreen ? "pinned" : "" },
      el("div", {}, el("strong", { text: name }), " ", el("span", { className: "badge tag", text: o.kind }), " ", el("span", { className: `badge status ${o.status}`, text: o.status })),
      el("div", { className: "muted" }, money(o.price), " · ", `${o.stock_left ?? o.stock} left`, timing),
      el("div", { className: "row" }, pin, unpin, start, end));
  }));
  list.replaceChildren(...items);
  $("offers-empty").hidden = items.length > 0;
  tickCountdowns();
}

/** Flash-sale countdowns in the offer list, ticking without re-rendering the list. */
function tickCountdowns() {
  const now = Date.now();
  for (const span of document.querySelectorAll("#offer-list .countdown")) {
    const starts = Number(span.dataset.starts || 0);
    const ends = Number(span.dataset.ends || 0);
    if (starts && now < starts) span.textContent = ` · starts in ${clock((starts - now) / 1000)}`;
    else if (ends && now < ends) span.textContent = ` · ends in ${clock((ends - now) / 1000)}`;
    else span.textContent = " · over";
  }
}
setInterval(tickCountdowns, 1000);

function endOffer(o) {
  if (endArmed?.id === o.id && Date.now() < endArmed.until) {
    endArmed = null;
    act("offer.end", o);
    return;
  }
  endArmed = { id: o.id, until: Date.now() + 4000 };
  renderOffers();
  setTimeout(renderOffers, 4100);
}

const DONE = { "offer.pin": "Pinned.", "offer.unpin": "Unpinned.", "offer.start": "Sale started.", "offer.end": "Offer ended." };

/** A group buy's members and price, in the offers' status line. */
hub.on("group.updated", (g) => {
  const price = money({ amount: g.price_now, currency: g.currency });
  $("offer-status").textContent = g.status === "open" ? `Group buy: ${g.buyers} joined, ${price} now.` : `Group buy closed (${g.status}): ${g.buyers} members at ${price}.`;
});

/** The auction feed: every accepted bid and the winner, in the offers' status line. */
hub.on("auction.updated", (a) => {
  const high = a.high_bid;
  $("offer-status").textContent = high ? `Auction: ${money({ amount: high.amount, currency: a.currency })} by ${high.bidder.name} (${a.bids} bids).` : "Auction started.";
});
hub.on("auction.closed", (p) => {
  $("offer-status").textContent = p.winner ? `Auction won by ${p.winner.name} at ${money({ amount: p.amount, currency: p.currency })}.` : `Auction closed: no sale${p.reserve_met ? "" : " (reserve not met)"}.`;
});

async function act(event, o) {
  const ack = await hub.emit(event, { offer_id: o.id });
  $("offer-status").textContent = ack.ok ? DONE[event] : errorText(ack);
  if (ack.ok) {
    if (event === "offer.pin") pinnedId = o.id;
    else if ((event === "offer.unpin" || event === "offer.end") && pinnedId === o.id) pinnedId = null;
    if (ack.offer) offers.set(ack.offer.id, { ...offers.get(ack.offer.id), ...ack.offer });
    renderOffers();
  }
}

async function loadOffers() {
  try {
    const data = await api("GET", `/api/v1/shows/${encodeURIComponent(showId)}/offers`);
    for (const o of data.offers || []) offers.set(o.id, o);
    const pinned = (data.offers || []).find((o) => o.pinned);
    if (pinned) pinnedId = pinned.id;
    renderOffers();
  } catch { /* no shop yet */ }
}
function mergeOffer(o) {
  if (!o?.id) return;
  offers.set(o.id, { ...offers.get(o.id), ...o });
  if (o.status === "ended" && pinnedId === o.id) pinnedId = null;
}
hub.on("offer.pinned", (p) => { if (p.offer?.id) pinnedId = p.offer.id; mergeOffer(p.offer); renderOffers(); });
hub.on("offer.unpinned", (p) => { if (pinnedId === p.offer_id) pinnedId = null; mergeOffer(p.offer); renderOffers(); });
hub.on("offer.updated", (p) => { mergeOffer(p.offer); renderOffers(); });

// New offers: the seller's products, a kind, an optional price, stock and a flash-sale length.
async function loadProducts() {
  try {
    const data = await api("GET", `/api/v1/products?seller_id=${encodeURIComponent(cfg.userId)}`);
    const select = $("offer-product");
    select.replaceChildren(...(data.products || []).map((p) => {
      products.set(p.id, Promise.resolve(p));
      return el("option", { value: p.id, text: `${p.name} · ${money(p.price, p.currency)}` });
    }));
  } catch { /* no catalog */ }
}
$("offer-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  let body = { product_id: $("offer-product").value, kind: $("offer-kind").value, stock: Number($("offer-stock").value) };
  if ($("offer-price").value !== "") body.price = toMinor($("offer-price").value);
  if ($("offer-limit").value) body.per_buyer_limit = Number($("offer-limit").value);
  if (body.kind === "auction") {
    // one unit, from a starting bid (the price field, else the product's price), for a short clock
    const product = await products.get(body.product_id);
    body = {
      product_id: body.product_id,
      kind: "auction",
      starting_bid: body.price || minorOf(product?.price) || 100,
      duration_seconds: Math.max(5, Number($("offer-seconds").value) || 30),
      sudden_death: $("offer-sudden").checked,
    };
  }
  if (body.kind === "group") {
    // priced by its tiers, held at checkout, charged at the deadline (the flash sale length)
    const product = await products.get(body.product_id);
    delete body.price;
    body.tiers = parseTiers($("offer-tiers").value, product?.currency);
  }
  // the sale runs this long from Start, however long before the show it is prepared
  if (body.kind === "flash" || body.kind === "group") body.duration_seconds = Math.max(1, Math.round(Number($("offer-minutes").value || 5) * 60));
  try {
    const o = await api("POST", `/api/v1/shows/${encodeURIComponent(showId)}/offers`, body);
    offers.set(o.id, o);
    renderOffers();
    $("offer-status").textContent = "Offer added. Pin it, then start it.";
  } catch (err) {
    $("offer-status").textContent = err.message;
  }
});

// Questions: answer inline (text optional: "answered on air").
const questions = new Map();
function upsertQuestion(q) {
  if (!q?.id) return;
  questions.set(q.id, q);
  const items = [...questions.values()].sort((a, b) => (a.answered - b.answered) || (b.votes - a.votes));
  $("qa-list").replaceChildren(...items.map((item) => {
    const input = el("input", { "aria-label": "Answer", placeholder: "Answer (optional)", maxlength: 500 });
    const form = el("form", { className: "row" }, input, el("button", { type: "submit", className: "secondary" }, "Answer"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const payload = { question_id: item.id };
      if (input.value.trim()) payload.text = input.value.trim();
      const ack = await hub.emit("qa.answer", payload);
      if (ack.ok && ack.question) upsertQuestion(ack.question);
    });
    return el("li", { id: `q-${item.id}`, className: item.answered ? "answered" : "" },
      el("span", { className: "badge tag", text: `▲ ${item.votes}` }), " ",
      el("span", { className: "who", text: item.user?.name || "someone" }), " ",
      el("span", { className: "text", text: item.text }),
      item.answered ? el("p", { className: "answer", text: item.answer || "Answered on air" }) : form);
  }));
}
hub.on("qa.updated", (p) => upsertQuestion(p.question));

// Orders: the feed (buyer, item, where it ships) and running totals (paid orders count).
const orders = new Map();
function upsertOrder(o) {
  if (!o?.id || (o.show_id && o.show_id !== showId)) return;
  orders.set(o.id, { ...(orders.get(o.id) || {}), ...o });
  renderOrders();
}
async function renderOrders() {
  // name items from the catalog when an order carries only ids (fetched once per product)
  const catalog = new Map();
  for (const x of [...orders.values()]) {
    const id = x.product?.id || x.product_id;
    if (id && !catalog.has(id)) {
      await productName(id);
      catalog.set(id, await products.get(id));
    }
  }
  const items = [...orders.values()].sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
  $("order-feed").replaceChildren(...items.slice(0, 100).map((x) => {
    const where = addressLines(x.shipping_address);
    return el("li", { id: `order-${x.id}`, "data-status": x.status },
      el("div", {}, el("span", { className: `badge status ${x.status}`, text: x.status }), " ",
        el("strong", { className: "buyer", text: buyerName(x) }), " ",
        el("span", { text: money(x.total) }), " ",
        el("span", { className: "muted", text: timeOf(x.created_at) })),
      el("div", { className: "item", text: itemText(x, catalog) }),
      where.length ? el("div", { className: "muted small address", text: `Ship to ${where.join(", ")}` }) : null);
  }));
  const paid = items.filter((x) => x.status === "paid" || x.status === "fulfilled");
  const total = paid.reduce((sum, x) => sum + minorOf(x.total), 0);
  const currency = paid[0]?.total?.currency || cfg.currency;
  $("orders-total").textContent = `${paid.length} paid · ${money(total, currency)}`;
}
hub.on("order.updated", (p) => upsertOrder(p.order || p));
async function loadOrders() {
  try {
    const data = await api("GET", `/api/v1/orders?scope=seller&show_id=${encodeURIComponent(showId)}`);
    for (const o of data.orders || []) upsertOrder(o);
  } catch { /* no shop on this server */ }
}

// --- start ---------------------------------------------------------------------------------
const READY = {
  scheduled: "Camera ready. Press Go live when you are.",
  live: "Camera ready. Press Go live to resume the show from this camera.",
  paused: "Camera ready. Press Go live to resume the show from this camera.",
  ended: "The show has ended.",
};
(async () => {
  try {
    await openCamera();
    await listDevices();
    status(READY[lifecycle.status] || READY.scheduled, lifecycle.status === "ended" ? "ended" : "ready");
  } catch (err) {
    status(`Camera or microphone unavailable: ${err.message}. You can still stream from OBS.`, "error");
  }
  document.body.dataset.ready = "1";
})();
loadOffers();
loadOrders();
loadProducts();
window.addEventListener("pagehide", () => { if (publisher) publisher.stop(); });

mountStudioSocial(showId);
