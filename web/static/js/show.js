// The viewer page: WHEP first, HLS fallback; chat, reactions, Q&A, the pinned offer with
// checkout (demo card or Stripe), and my orders. State the tests look at is mirrored on
// <body data-transport="whep|hls" data-player="playing|..." data-show-status="live|paused|...">.
import { $, api, appendCapped, cfg, chatLine, clock, connectShow, el, errorText, minorOf, money, newKey, tabs, timeOf } from "./common.js";
import { playHls, playWhep, whenLost } from "./media.js";
import { followShowStatus } from "./showstate.js";

const showId = cfg.showId;
const video = $("player");
const iceServers = JSON.parse(cfg.iceServers || "[]");
const GUEST_KEY = "lc_guest_token";
const me = { id: cfg.userId || "", name: cfg.userName || "", guest: Boolean(cfg.userGuest) };
let guestToken = sessionStorage.getItem(GUEST_KEY);

// --- player --------------------------------------------------------------------------------
// The player runs while the show is on air, live or paused. Through a pause the WHEP session
// stays up (the picture holds its last frame under "back in a moment") and the resumed show's
// media arrives on it. A session the server closed (the seller came back with another codec) or
// that failed is replaced at once, then with backoff while the show stays on air. HLS takes
// over when WHEP is refused (node full, no common codec) or keeps failing while live; hls.js
// follows the same playlists across the pause and is restarted if it gives up.
let session = null;
let fallback = ""; // why WHEP was given up for HLS ("" while WHEP is the transport to try)
let failures = 0; // failed WHEP attempts in a row
let retryTimer = null;
const STARTING = { stop: async () => {} }; // holds the slot while a start is under way
const lifecycle = followShowStatus(showId, cfg.showStatus, statusChanged);
const onAir = () => lifecycle.status === "live" || lifecycle.status === "paused";

function playerState(state, text) {
  document.body.dataset.player = state;
  $("player-status").textContent = text;
}

function setTransport(name) {
  document.body.dataset.transport = name;
  const badge = $("transport");
  badge.hidden = !name;
  badge.textContent = name === "whep" ? "WebRTC" : name === "hls" ? "HLS" : "";
}

// Each start or stop bumps the generation, so a WHEP or HLS start that finishes after the page
// moved on (show ended, fallback begun) closes itself instead of taking over the player.
let generation = 0;

/** Try the player again later: 250 ms after a drop, doubling per failure up to 5 s (15 s while
 * paused: the resume's show.state retries at once). */
function retryLater() {
  clearTimeout(retryTimer);
  const cap = lifecycle.status === "paused" ? 15000 : 5000;
  retryTimer = setTimeout(startPlayer, Math.min(250 * 2 ** failures, cap));
}

async function startHls(reason, gen) {
  setTransport("hls");
  playerState("loading", reason ? `Low-latency video unavailable (${reason}); playing HLS…` : "Playing HLS…");
  let hls = null;
  try {
    hls = await playHls(video, cfg.hlsUrl, () => {
      if (session !== hls) return;
      session = null;
      hls.stop();
      playerState("error", "Video stopped; retrying…");
      retryLater();
    });
    if (gen !== generation) { await hls.stop(); return; }
    session = hls;
    await video.play().catch(() => {});
  } catch (err) {
    if (gen === generation) session = null;
    playerState("error", `Cannot play video: ${err.message}`);
  }
}

async function startPlayer() {
  if (session || !onAir()) return;
  clearTimeout(retryTimer);
  const gen = ++generation;
  session = STARTING;
  if (fallback) { await startHls(fallback, gen); return; }
  playerState("loading", failures ? "Reconnecting…" : "Connecting…");
  let whep = null;
  try {
    whep = await playWhep(video, cfg.whepUrl, iceServers);
  } catch (err) {
    if (gen !== generation) return;
    session = null;
    failures += 1;
    // 503: this node is full; 406: no codec in common — HLS serves both. Anything else (the
    // feed not on this node yet, a network or ICE failure) is retried; while the show is live,
    // three failures in a row mean HLS. A paused show has no media to fall back to: keep trying.
    if (err.status === 503 || err.status === 406 || (failures >= 3 && lifecycle.status === "live")) {
      fallback = err.status === 503 ? "server busy" : err.message;
      startPlayer();
    } else retryLater();
    return;
  }
  if (gen !== generation) { await whep.stop(); return; }
  session = whep;
  failures = 0;
  setTransport("whep");
  whenLost(whep.pc, () => {
    if (session !== whep) return;
    session = null;
    whep.stop();
    playerState("loading", "Reconnecting…");
    retryLater();
  });
  await video.play().catch(() => {});
}

async function stopPlayer() {
  generation += 1;
  clearTimeout(retryTimer);
  const s = session;
  session = null;
  if (s) await s.stop();
  video.srcObject = null;
  setTransport("");
}

video.addEventListener("playing", () => playerState("playing", ""));
video.addEventListener("waiting", () => playerState("buffering", lifecycle.status === "paused" ? "Waiting for the seller…" : "Buffering…"));
$("unmute").addEventListener("click", () => {
  video.muted = !video.muted;
  $("unmute").textContent = video.muted ? "🔊 Sound on" : "🔇 Mute";
  video.play().catch(() => {});
});
window.addEventListener("pagehide", () => { if (session) session.stop(); });

const BADGE = { live: "LIVE", paused: "PAUSED", ended: "ENDED", scheduled: "SCHEDULED" };

/** A new show status (from the lifecycle follower): badge, pause note and player. */
function statusChanged(status) {
  cfg.showStatus = status; // mirrored on <body data-show-status>
  const badge = $("live-badge");
  badge.textContent = BADGE[status] || String(status).toUpperCase();
  badge.className = `badge ${status === "live" ? "live" : status === "paused" ? "warn" : "off"}`;
  $("paused-note").hidden = status !== "paused";
  if (status === "live") {
    failures = 0; // resumed: a player waiting to retry tries now
    startPlayer();
  } else if (status === "paused") startPlayer();
  else {
    stopPlayer();
    idle(status);
  }
}

function idle(status) {
  playerState("idle", status === "ended" ? "The show has ended." : "The show has not started yet.");
  $("replay").hidden = status !== "ended";
}

/** An ended show stays shoppable as a replay (HLS VOD under /replays/). */
async function playReplay() {
  $("replay").hidden = true;
  const gen = ++generation;
  setTransport("hls");
  playerState("loading", "Loading the replay…");
  try {
    const replay = await playHls(video, cfg.replayUrl, () => playerState("error", "The replay is not available yet."));
    if (gen !== generation) { await replay.stop(); return; }
    session = replay;
    video.controls = true;
    await video.play().catch(() => {});
  } catch (err) {
    playerState("error", `Cannot play the replay: ${err.message}`);
  }
}
$("replay").addEventListener("click", playReplay);

// --- hub -----------------------------------------------------------------------------------
const hub = connectShow(showId, {
  token: guestToken && !me.id ? guestToken : null,
  onJoined(ack, messages, resumed) {
    if (ack.you) Object.assign(me, { id: ack.you.id, name: ack.you.name });
    if (!resumed) $("chat-list").replaceChildren();
    for (const m of messages) addChat(m);
    for (const q of ack.questions || []) upsertQuestion(q);
    if (typeof ack.viewers === "number") $("viewers-count").textContent = String(ack.viewers);
    lifecycle.joined();
    if (ack.policy?.slow_mode_seconds) notice(`Slow mode is on: one line every ${ack.policy.slow_mode_seconds} s.`);
    const pinned = ack.pinned || ack.offer;
    if (pinned) showOffer(pinned);
    else if (!offer) loadPinned();
    chatControls();
  },
  onState(state, err) {
    const refused = err?.data?.code === "unauthenticated" || err?.data?.error?.code === "unauthenticated";
    if (state === "connect_error" && guestToken && refused) {
      // A guest token that expired: forget it, watch anonymously, offer the name form again.
      guestToken = null;
      sessionStorage.removeItem(GUEST_KEY);
      hub.socket.auth = {};
      hub.socket.connect();
      chatControls();
      return;
    }
    if (state === "disconnected") notice("Reconnecting…", true);
    if (state === "connected") clearNotice();
    if (state === "error") {
      notice(err?.code === "banned" ? "A host banned you from this show's chat. You can still watch." : err?.message || "Could not join the chat.");
      if (err?.code === "banned") { $("chat-form").hidden = true; $("guest-form").hidden = true; }
    }
  },
});

function notice(text, transient = false) {
  const n = $("chat-notice");
  n.textContent = text;
  n.hidden = false;
  n.dataset.transient = transient ? "1" : "";
}
function clearNotice() {
  const n = $("chat-notice");
  if (n.dataset.transient) { n.hidden = true; n.textContent = ""; }
}

function chatControls() {
  const signedIn = Boolean(me.id) || Boolean(guestToken);
  $("chat-form").hidden = !signedIn;
  $("guest-form").hidden = signedIn;
}

// --- chat ----------------------------------------------------------------------------------
function addChat(m) {
  if (!m || !m.id || document.getElementById(`msg-${m.id}`)) return;
  const line = chatLine(m);
  if (m.user?.id && m.user.id === me.id) line.classList.add("mine");
  appendCapped($("chat-list"), line);
}

hub.on("chat.message", addChat);
hub.on("chat.batch", (p) => { for (const m of p.messages || []) { hub.noteSeq(m.seq); addChat(m); } });
hub.on("chat.deleted", (p) => document.getElementById(`msg-${p.id}`)?.remove());
hub.on("mod.applied", (p) => {
  if (p.action === "slow_mode") {
    notice(p.slow_mode_seconds ? `Slow mode is on: one line every ${p.slow_mode_seconds} s.` : "Slow mode is off.");
    return;
  }
  if (!p.user_id || p.user_id !== me.id) return;
  if (p.action === "timeout") notice(`A host timed you out until ${timeOf(p.until)}. You can still watch.`);
  else if (p.action === "ban") { notice("A host banned you from this show's chat. You can still watch."); $("chat-form").hidden = true; }
  else if (p.action === "unban") notice("You may chat again.");
});
hub.on("show.state", (p) => lifecycle.event(p));
hub.on("show.left", (p) => {
  notice(p.reason === "banned" ? "A host banned you from this show's chat. You can still watch." : "You left this show's chat.");
  $("chat-form").hidden = true;
  $("guest-form").hidden = true;
});
hub.on("viewers.count", (p) => { $("viewers-count").textContent = String(p.count ?? 0); });

$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text) return;
  const ack = await hub.emit("chat.send", { text });
  if (ack.ok) {
    input.value = "";
    if (ack.held) notice("Your line waits for a host to review it.", true);
    else if (ack.message) { hub.noteSeq(ack.message.seq); addChat(ack.message); }
  } else {
    notice(errorText(ack));
  }
});

$("guest-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("guest-name").value.trim();
  if (!name) return;
  try {
    const data = await api("POST", "/api/v1/auth/guest", { name });
    guestToken = data.token;
    sessionStorage.setItem(GUEST_KEY, guestToken);
    me.id = data.user?.id || "";
    me.name = data.user?.name || name;
    me.guest = true;
    hub.socket.auth = { token: guestToken };
    hub.socket.disconnect().connect();
    chatControls();
    $("chat-input").focus();
  } catch (err) {
    notice(err.message);
  }
});

// --- reactions -----------------------------------------------------------------------------
const EMOJI = { heart: "❤️", fire: "🔥", clap: "👏", laugh: "😂", wow: "😮", cart: "🛒" };
for (const button of document.querySelectorAll(".react")) {
  button.addEventListener("click", async () => {
    const ack = await hub.emit("reaction.send", { kind: button.dataset.kind, count: 1 });
    if (!ack.ok && ack.error?.code === "unauthenticated") notice("Join the chat to react.", true);
    else float(button.dataset.kind);
  });
}
function float(kind) {
  const burst = $("reaction-burst");
  if (burst.children.length > 20) return;
  const span = el("span", { className: "float", text: EMOJI[kind] || "❤️" });
  span.style.left = `${10 + Math.random() * 70}%`;
  burst.append(span);
  setTimeout(() => span.remove(), 2000);
}
hub.on("reaction.burst", (p) => {
  for (const [kind, n] of Object.entries(p.counts || {})) for (let i = 0; i < Math.min(n, 5); i++) setTimeout(() => float(kind), i * 120);
});

// --- Q&A -----------------------------------------------------------------------------------
const questions = new Map();
function upsertQuestion(q) {
  if (!q?.id) return;
  questions.set(q.id, q);
  const list = $("qa-list");
  const items = [...questions.values()].sort((a, b) => (a.answered - b.answered) || (b.votes - a.votes) || (a.at - b.at));
  list.replaceChildren(...items.map((item) => el("li", { id: `q-${item.id}`, className: item.answered ? "answered" : "" },
    el("button", { type: "button", className: "vote secondary", "aria-label": `Upvote (${item.votes} votes)`, onclick: () => upvote(item.id) }, "▲ ", String(item.votes)),
    el("div", {},
      el("span", { className: "who", text: item.user?.name || "someone" }), " ",
      el("span", { className: "text", text: item.text }),
      item.answered ? el("p", { className: "answer", text: item.answer ? `Answer: ${item.answer}` : "Answered on air" }) : null))));
}
async function upvote(id) {
  const ack = await hub.emit("qa.upvote", { question_id: id });
  if (ack.ok && ack.question) upsertQuestion(ack.question);
  else if (!ack.ok) notice(errorText(ack), true);
}
hub.on("qa.updated", (p) => upsertQuestion(p.question));
$("qa-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("qa-input");
  const ack = await hub.emit("qa.ask", { text: input.value.trim() });
  if (ack.ok) { input.value = ""; if (ack.question) upsertQuestion(ack.question); }
  else notice(errorText(ack));
});

// --- pinned offer and checkout -------------------------------------------------------------
let offer = null;
let product = null;
let order = null;
let payment = null;
let checkoutKey = null;
const products = new Map();

async function productOf(id) {
  if (!id) return null;
  if (!products.has(id)) products.set(id, api("GET", `/api/v1/products/${encodeURIComponent(id)}`).catch(() => null));
  return products.get(id);
}

async function showOffer(o) {
  if (!o?.id) return;
  const changed = !offer || offer.id !== o.id;
  offer = { ...(changed ? {} : offer), ...o };
  if (changed) { order = null; payment = null; checkoutKey = null; $("pay-form").hidden = true; $("checkout-status").textContent = ""; }
  product = o.product || (await productOf(o.product_id));
  renderOffer();
}

function renderOffer() {
  const card = $("offer");
  if (!offer || offer.status === "ended") { card.hidden = true; return; }
  card.hidden = false;
  card.dataset.offerId = offer.id;
  const name = product?.name || offer.name || "Product";
  $("offer-name").textContent = name;
  const img = $("offer-image");
  const src = product?.image_url || offer.image_url || "";
  if (src && /^(\/|https?:)/.test(src)) { img.src = src; img.alt = name; img.hidden = false; } else img.hidden = true;
  $("offer-price").textContent = money(offer.price);
  const regular = product && minorOf(product.price) > minorOf(offer.price) ? money(product.price, product.currency) : "";
  $("offer-was").textContent = regular;
  const left = offer.stock_left;
  $("offer-stock").textContent = typeof left === "number" ? (left > 0 ? `${left} left` : "Sold out") : "";
  const variants = (product?.variants || []).filter((v) => v.label !== "default");
  const select = $("variant");
  $("variant-label").hidden = variants.length === 0;
  if (select.dataset.product !== (product?.id || "")) {
    select.replaceChildren(...variants.map((v) => el("option", { value: v.id, text: `${v.label}${v.stock === 0 ? " (sold out)" : ""}`, disabled: v.stock === 0 })));
    select.dataset.product = product?.id || "";
  }
  if (offer.per_buyer_limit) $("quantity").max = String(offer.per_buyer_limit);
  const soldOut = typeof left === "number" && left <= 0;
  $("buy").disabled = soldOut || offer.status === "draft" || Boolean(order && order.status === "paid");
  $("buy").textContent = soldOut ? "Sold out" : offer.status === "draft" ? "Not on sale yet" : "Buy";
  tick();
}

function tick() {
  const c = $("offer-countdown");
  if (!offer) { c.textContent = ""; return; }
  const now = Date.now();
  if (offer.starts_at && now < offer.starts_at) c.textContent = `starts in ${clock((offer.starts_at - now) / 1000)}`;
  else if (offer.ends_at && now < offer.ends_at) c.textContent = `ends in ${clock((offer.ends_at - now) / 1000)}`;
  else if (offer.ends_at) { c.textContent = "sale over"; $("buy").disabled = true; }
  else c.textContent = "";
}
setInterval(tick, 1000);

/** The offer on screen for someone who joins after the pin: the pinned one when the server
 * says so, else the most recently started live offer. */
async function loadPinned() {
  try {
    const data = await api("GET", `/api/v1/shows/${encodeURIComponent(showId)}/offers`);
    const list = data.offers || [];
    const live = list.filter((o) => o.status === "live").sort((a, b) => (b.starts_at || 0) - (a.starts_at || 0));
    const pick = list.find((o) => o.pinned) || live[0];
    if (pick && !offer) showOffer(pick);
  } catch { /* no shop on this server */ }
}

hub.on("offer.pinned", (p) => showOffer(p.offer || p));
// Taken off screen: the card goes, unless this viewer is paying for it right now.
hub.on("offer.unpinned", (p) => {
  if (!offer || offer.id !== p.offer_id) return;
  if (order && ["reserved", "pending_payment"].includes(order.status)) return;
  offer = null;
  renderOffer();
});
hub.on("offer.updated", (p) => {
  const o = p.offer || p;
  if (offer && o.id === offer.id) { offer = { ...offer, ...o }; renderOffer(); }
});

function checkoutStatus(text, state) {
  const s = $("checkout-status");
  s.textContent = text;
  s.dataset.state = state || "";
}

$("buy-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!offer) return;
  if (!me.id || me.guest) {
    checkoutStatus("", "error");
    $("checkout-status").append(el("a", { href: `/login?next=${encodeURIComponent(location.pathname)}`, text: "Log in or sign up to buy" }));
    return;
  }
  checkoutKey = checkoutKey || newKey();
  $("buy").disabled = true;
  checkoutStatus("Reserving…", "pending");
  const payload = { offer_id: offer.id, quantity: Number($("quantity").value) || 1, idempotency_key: checkoutKey };
  if (!$("variant-label").hidden && $("variant").value) payload.variant_id = $("variant").value;
  const ack = await hub.emit("checkout.start", payload);
  $("buy").disabled = false;
  if (!ack.ok) {
    checkoutKey = null; // the next attempt is a new purchase
    checkoutStatus(ack.error?.code === "sold_out" ? "Sold out — nothing was charged." : errorText(ack), "error");
    return;
  }
  order = ack.order;
  payment = ack.payment || {};
  checkoutKey = null;
  upsertOrder(order);
  if (payment.provider === "demo" && payment.confirm_url) {
    $("pay-total").textContent = money(order.total);
    $("pay-form").hidden = false;
    checkoutStatus(`Reserved. Pay ${money(order.total)} to confirm.`, "reserved");
    $("card").focus();
  } else if (payment.provider === "stripe") {
    await stripePay(payment);
  } else {
    checkoutStatus(`Order ${order.status}.`, order.status);
  }
});

$("pay-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!payment?.confirm_url) return;
  $("pay").disabled = true;
  checkoutStatus("Paying…", "pending");
  try {
    const result = await api("POST", payment.confirm_url, { card: $("card").value.replace(/\s+/g, "") });
    const updated = result?.order || result;
    if (updated?.status) orderChanged({ ...order, ...updated });
    else checkoutStatus("Payment sent; waiting for confirmation…", "pending");
  } catch (err) {
    checkoutStatus(`Payment failed: ${err.message}`, "error");
  } finally {
    $("pay").disabled = false;
  }
});

async function stripePay(p) {
  // Stripe.js is allowed by the CSP; it is loaded only when the server runs with Stripe.
  checkoutStatus("Loading secure payment form…", "pending");
  try {
    if (!window.Stripe) {
      await new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = "https://js.stripe.com/v3/";
        s.onload = resolve; s.onerror = () => reject(new Error("could not load Stripe.js"));
        document.head.append(s);
      });
    }
    const stripe = window.Stripe(p.publishable_key);
    const elements = stripe.elements({ clientSecret: p.client_secret });
    const form = $("pay-form");
    form.replaceChildren(el("div", { id: "payment-element" }), el("button", { type: "submit", id: "pay" }, `Pay ${money(order.total)}`));
    elements.create("payment").mount("#payment-element");
    form.hidden = false;
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      const { error } = await stripe.confirmPayment({ elements, redirect: "if_required" });
      checkoutStatus(error ? `Payment failed: ${error.message}` : "Payment sent; waiting for confirmation…", error ? "error" : "pending");
    };
    checkoutStatus("", "");
  } catch (err) {
    checkoutStatus(err.message, "error");
  }
}

function orderChanged(o) {
  upsertOrder(o);
  if (!order || o.id !== order.id) return;
  order = { ...order, ...o };
  if (order.status === "paid") {
    $("pay-form").hidden = true;
    checkoutStatus(`Paid ✓ — order ${order.id} (${money(order.total)}). Thank you!`, "paid");
  } else if (order.status === "failed") checkoutStatus("Payment declined. Try another card.", "error");
  else if (order.status === "expired") { $("pay-form").hidden = true; checkoutStatus("The reservation expired; nothing was charged.", "error"); }
  else checkoutStatus(`Order ${order.status}.`, order.status);
}
hub.on("order.updated", (p) => orderChanged(p.order || p));

// --- my orders -----------------------------------------------------------------------------
const myOrders = new Map();
function upsertOrder(o) {
  if (!o?.id) return;
  myOrders.set(o.id, { ...(myOrders.get(o.id) || {}), ...o });
  const list = $("orders-list");
  const items = [...myOrders.values()].sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
  list.replaceChildren(...items.map((x) => el("li", { id: `order-${x.id}`, "data-status": x.status },
    el("span", { className: `badge status ${x.status}`, text: x.status }), " ",
    el("span", { text: money(x.total) }), " ",
    el("span", { className: "muted", text: timeOf(x.created_at) }))));
  $("orders-empty").hidden = items.length > 0;
}
async function loadOrders() {
  if (!me.id || me.guest) return;
  try {
    const data = await api("GET", `/api/v1/orders?show_id=${encodeURIComponent(showId)}`);
    for (const o of data.orders || []) upsertOrder(o);
  } catch { /* the shop may not be installed: my orders stays empty */ }
}

// --- start ---------------------------------------------------------------------------------
tabs(document.querySelector(".tabs"));
chatControls();
loadOrders();
if (onAir()) startPlayer();
else idle(lifecycle.status);
document.body.dataset.ready = "1";
