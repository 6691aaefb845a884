// The viewer page: WHEP first, HLS fallback; chat (with Report), reactions, Q&A; the offer on
// screen and a tray of the show's live offers; the buy sheet (guest details, shipping address,
// demo card or Stripe, Try again after a decline); my orders. An ended show plays its replay with
// the timeline on the seek bar and the offer card following the playhead; a scheduled show counts
// down to its start. State the tests look at is mirrored on <body data-transport="whep|hls"
// data-player="playing|..." data-show-status="live|paused|..." data-mode="live|replay">.
import { wireAudience } from "./audience.js";
import { $, api, appendCapped, cfg, chatLine, clock, connectShow, el, errorText, minorOf, money, newKey, tabs, timeOf, toMinor } from "./common.js";
import { countdown, localTime } from "./localtime.js";
import { playHls, playWhep, whenLost } from "./media.js";
import { viewerGiveaway } from "./giveaways.js";
import { followShowStatus } from "./showstate.js";
import { couponCode, mountDrops, showDiscount } from "./social.js";
import { sharedOffer, showGroup, tickGroup, updateGroup } from "./groupbuy.js";

wireAudience();
const showId = cfg.showId;
const video = $("player");
const iceServers = JSON.parse(cfg.iceServers || "[]");
const GUEST_KEY = "lc_guest_token";
const GUEST_BUYER_KEY = "lc_guest_buyer"; // the guest token was made with an e-mail: it may buy
const me = { id: cfg.userId || "", name: cfg.userName || "", guest: Boolean(cfg.userGuest) };
let guestToken = sessionStorage.getItem(GUEST_KEY);
const account = Boolean(me.id) && !me.guest; // signed in with the session cookie

/** Who the REST calls speak for: the guest's bearer token, else the session cookie. */
const auth = () => (guestToken && !account ? { Authorization: `Bearer ${guestToken}` } : {});
const signedIn = () => account || Boolean(guestToken);
const canBuy = () => account || (Boolean(guestToken) && sessionStorage.getItem(GUEST_BUYER_KEY) === "1");

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
  const button = $("unmute");
  button.setAttribute("aria-pressed", String(!video.muted));
  button.querySelector(".icon").className = `icon ${video.muted ? "icon-sound-on" : "icon-sound-off"}`;
  $("unmute-text").textContent = video.muted ? "Sound on" : "Mute";
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
  $("upcoming").hidden = status !== "scheduled";
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
  $("replay").hidden = status !== "ended" || replay.on;
}

// --- upcoming: the start in local time and a countdown -------------------------------------
const startsAt = Number(cfg.scheduledAt) || 0;
function upcomingTick() {
  if (lifecycle.status !== "scheduled" || !startsAt) return;
  const left = (startsAt - Date.now()) / 1000;
  $("starts-in").textContent = left > 0 ? `in ${countdown(left)}` : "Starting any moment";
}
if (startsAt && $("starts-at")) {
  $("starts-at").title = $("starts-at").textContent;
  $("starts-at").textContent = localTime(startsAt);
}

// --- replay: HLS VOD, the timeline on the seek bar, the card follows the playhead ------------
const replay = { on: false, events: [], moments: [], duration: 0, dragging: false };

/** An ended show stays shoppable as a replay (HLS VOD under /replays/). */
async function playReplay() {
  if (replay.on) return;
  replay.on = true;
  document.body.dataset.mode = "replay";
  $("replay").hidden = true;
  $("replay-bar").hidden = false;
  const gen = ++generation;
  setTransport("hls");
  playerState("loading", "Loading the replay…");
  loadTimeline();
  try {
    const player = await playHls(video, cfg.replayUrl, () => playerState("error", "The replay is not available yet."));
    if (gen !== generation) { await player.stop(); return; }
    session = player;
    await video.play().catch(() => {});
  } catch (err) {
    playerState("error", `Cannot play the replay: ${err.message}`);
  }
}
$("replay").addEventListener("click", playReplay);

async function loadTimeline() {
  try {
    const [timeline] = await Promise.all([api("GET", `/api/v1/shows/${encodeURIComponent(showId)}/timeline`), loadOffers()]);
    // media_ts is the replay's playhead; a moment before the show went on air has none (0 s).
    replay.events = (timeline.events || []).map((e) => ({ ...e, media_ts: Number(e.media_ts) || 0 }))
      .sort((a, b) => a.media_ts - b.media_ts);
  } catch {
    replay.events = [];
  }
  // The first moment each offer came on screen (pinned, else started): the list's "jump to".
  const first = new Map();
  for (const e of replay.events) {
    if (!e.offer_id || !["offer.pinned", "offer.started"].includes(e.type)) continue;
    const seen = first.get(e.offer_id);
    if (!seen || (seen.type !== "offer.pinned" && e.type === "offer.pinned")) first.set(e.offer_id, e);
  }
  replay.moments = [...first.values()].sort((a, b) => a.media_ts - b.media_ts);
  drawMarkers();
  renderTray();
  followPlayhead();
}

/** The offer on screen at `t` seconds: the latest pin up to then, unless unpinned or ended since. */
function offerAt(t) {
  let current = null;
  for (const e of replay.events) {
    if (e.media_ts > t) break;
    if (e.type === "offer.pinned") current = e.offer_id;
    else if ((e.type === "offer.unpinned" || e.type === "offer.ended") && e.offer_id === current) current = null;
  }
  return current;
}

const MARKER_TEXT = { "offer.pinned": "on screen", "offer.started": "on sale", "offer.unpinned": "off screen", "offer.ended": "sale ended", "question.answered": "question answered" };

/** How an auction sold, from its `offer.ended` moment's `auction` (docs/AUCTIONS.md), or null. */
function auctionResult(offerId) {
  return replay.events.find((e) => e.type === "offer.ended" && e.offer_id === offerId)?.auction || null;
}
function soldText(r) {
  if (r.winner) return `Sold to ${r.winner.name} for ${money({ amount: r.amount, currency: r.currency })}`;
  return r.reserve_met ? "No bids" : "No sale: reserve not met";
}

function drawMarkers() {
  const box = $("markers");
  if (!replay.duration) { box.replaceChildren(); return; }
  box.replaceChildren(...replay.events.filter((e) => MARKER_TEXT[e.type] && e.media_ts <= replay.duration).map((e) => {
    const name = e.offer_id ? offerName(offers.get(e.offer_id)) : e.question || "";
    const what = e.auction ? `auction: ${soldText(e.auction)}` : MARKER_TEXT[e.type];
    const mark = el("span", { className: `marker ${e.type.replace(".", "-")}`, title: `${clock(e.media_ts)} · ${name} ${what}`.trim(), "data-ts": e.media_ts });
    mark.style.left = `${(100 * e.media_ts) / replay.duration}%`;
    mark.addEventListener("click", () => seekTo(e.media_ts));
    return mark;
  }));
}

function seekTo(seconds) {
  video.currentTime = Math.min(seconds, replay.duration || seconds);
  video.play().catch(() => {});
  followPlayhead();
}

function replayTime() {
  const now = video.currentTime || 0;
  const text = `${clock(now)} / ${clock(replay.duration)}`;
  $("replay-time").textContent = text;
  const seek = $("seek");
  if (!replay.dragging) seek.value = String(now);
  seek.setAttribute("aria-valuetext", `${clock(now)} of ${clock(replay.duration)}`);
}

function followPlayhead() {
  if (!replay.on) return;
  replayTime();
  const id = offerAt(video.currentTime || 0);
  if (id !== pinnedId) {
    pinnedId = id;
    renderOffer();
    renderTray();
  }
}

video.addEventListener("durationchange", () => {
  if (!replay.on || !Number.isFinite(video.duration)) return;
  replay.duration = video.duration;
  $("seek").max = String(replay.duration);
  drawMarkers();
  replayTime();
});
video.addEventListener("timeupdate", followPlayhead);
video.addEventListener("seeked", followPlayhead);
video.addEventListener("play", () => playToggle(true));
video.addEventListener("pause", () => playToggle(false));
function playToggle(playing) {
  const button = $("play-toggle");
  button.setAttribute("aria-label", playing ? "Pause" : "Play");
  button.querySelector(".icon").className = `icon ${playing ? "icon-pause" : "icon-play"}`;
}
$("play-toggle").addEventListener("click", () => (video.paused ? video.play().catch(() => {}) : video.pause()));
$("seek").addEventListener("input", () => { replay.dragging = true; video.currentTime = Number($("seek").value); });
$("seek").addEventListener("change", () => { replay.dragging = false; followPlayhead(); });

// --- hub -----------------------------------------------------------------------------------
let joinWaiters = [];
let giveaway = null;
let drops = null;
const hub = connectShow(showId, {
  token: guestToken && !account ? guestToken : null,
  onJoined(ack, messages, resumed) {
    if (ack.you) Object.assign(me, { id: ack.you.id, name: ack.you.name });
    if (!resumed) $("chat-list").replaceChildren();
    for (const m of messages) addChat(m);
    for (const q of ack.questions || []) upsertQuestion(q);
    if (typeof ack.viewers === "number") $("viewers-count").textContent = String(ack.viewers);
    lifecycle.joined();
    if (ack.policy?.slow_mode_seconds) notice(`Slow mode is on: one line every ${ack.policy.slow_mode_seconds} s.`);
    if (ack.auction) setAuction(ack.auction);
    giveaway?.show(ack.giveaway);
    if (ack.group) updateGroup(ack.group);
    drops?.joined(ack.drops);
    const pinned = ack.pinned || ack.offer;
    if (pinned && !replay.on) pinOffer(pinned).then(focusShared);
    chatControls();
    for (const resolve of joinWaiters.splice(0)) resolve();
  },
  onState(state, err) {
    const refused = err?.data?.code === "unauthenticated" || err?.data?.error?.code === "unauthenticated";
    if (state === "connect_error" && guestToken && refused) {
      // A guest token that expired: forget it, watch anonymously, offer the name form again.
      forgetGuest();
      hub.socket.auth = {};
      hub.socket.connect();
      chatControls();
      return;
    }
    if (state === "disconnected") notice("Reconnecting…", true);
    if (state === "connected") clearNotice();
    if (state === "error") {
      if (err?.code === "banned") {
        restricted({ kind: "ban", ...(err.details || {}) });
        $("chat-form").hidden = true;
        $("guest-form").hidden = true;
      } else notice(err?.message || "Could not join the chat.");
    }
  },
});
giveaway = viewerGiveaway(hub, { canEnter: () => account });

function forgetGuest() {
  guestToken = null;
  sessionStorage.removeItem(GUEST_KEY);
  sessionStorage.removeItem(GUEST_BUYER_KEY);
}

/** Become a guest (`POST /api/v1/auth/guest`) and rejoin the show with the new token; resolves
 * once the hub has joined this socket as that guest. */
async function becomeGuest(name, email) {
  const data = await api("POST", "/api/v1/auth/guest", email ? { name, email } : { name });
  guestToken = data.token;
  sessionStorage.setItem(GUEST_KEY, guestToken);
  if (email) sessionStorage.setItem(GUEST_BUYER_KEY, "1");
  else sessionStorage.removeItem(GUEST_BUYER_KEY);
  me.id = data.user?.id || "";
  me.name = data.user?.name || name;
  me.guest = true;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the connection did not come back; try again")), 10000);
    joinWaiters.push(() => { clearTimeout(timer); resolve(); });
    hub.socket.auth = { token: guestToken };
    hub.socket.disconnect().connect();
  });
  chatControls();
}

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
  $("chat-form").hidden = !signedIn();
  $("guest-form").hidden = signedIn();
  document.body.dataset.signedIn = signedIn() ? "1" : "";
}

// --- chat, with Report on other people's lines ---------------------------------------------
function addChat(m) {
  if (!m || !m.id || document.getElementById(`msg-${m.id}`)) return;
  const mine = Boolean(m.user?.id) && m.user.id === me.id;
  const line = chatLine(m, mine ? null : reportButton);
  if (mine) line.classList.add("mine");
  appendCapped($("chat-list"), line);
}

function reportButton(m) {
  return el("button", { type: "button", className: "report", "aria-label": `Report ${m.user?.name || "this"}'s line`, onclick: (e) => openReport(m, e.currentTarget) }, "Report");
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
  if (p.action === "timeout") restricted({ kind: "timeout", until: p.until });
  else if (p.action === "ban") { restricted({ kind: "ban" }); $("chat-form").hidden = true; }
  else if (p.action === "unban" || p.action === "lift") { notice("You may chat again."); $("appeal-form").hidden = true; }
});
hub.on("show.state", (p) => lifecycle.event(p));
hub.on("show.left", (p) => {
  if (p.reason === "banned") restricted({ kind: "ban", ...(p.restriction || {}) });
  else notice("You left this show's chat.");
  $("chat-form").hidden = true;
  $("guest-form").hidden = true;
});

// --- why I may not chat, and my one appeal per ban or timeout ----------------------------------
/** Say why (the hosts' reason) and until when, and offer the appeal unless this action has one. */
async function restricted(r) {
  const why = r.reason ? ` Reason: “${r.reason}”.` : "";
  notice(r.kind === "ban"
    ? `A host banned you from this show's chat.${why} You can still watch.`
    : `A host timed you out until ${timeOf(r.until)}.${why} You can still watch.`);
  let mine = null;
  try {
    const data = await api("GET", `/api/v1/shows/${encodeURIComponent(showId)}/appeals`);
    const list = data.appeals || [];
    mine = (r.action_id ? list.find((a) => a.action?.id === r.action_id) : list.find((a) => a.status === "open")) || null;
  } catch { /* signed out or no server support: offer the form; the server decides */ }
  showAppeal(mine);
}

function showAppeal(appeal) {
  const status = $("appeal-status");
  $("appeal-form").hidden = Boolean(appeal);
  status.hidden = !appeal;
  if (!appeal) return;
  const note = appeal.decided?.note ? ` (“${appeal.decided.note}”)` : "";
  status.textContent = appeal.status === "open" ? "Your appeal is with the hosts."
    : appeal.status === "lifted" ? `The hosts lifted it${note}.` : `The hosts kept it${note}.`;
}

$("appeal-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("appeal-text").value.trim();
  if (!text) return;
  try {
    showAppeal(await api("POST", `/api/v1/shows/${encodeURIComponent(showId)}/appeals`, { text }));
  } catch (err) {
    notice(err?.message || "Could not send the appeal.");
    if (err?.code === "appeal_exists" || err?.code === "nothing_to_appeal") $("appeal-form").hidden = true;
  }
});
hub.on("appeal.decided", (p) => {
  showAppeal(p.appeal);
  if (p.appeal?.status === "lifted") { notice("You may chat again."); chatControls(); }
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
  } else if (ack.error?.code === "banned" || ack.error?.code === "muted") {
    restricted({ kind: ack.error.code === "banned" ? "ban" : "timeout", ...(ack.error.details || {}) });
  } else {
    notice(errorText(ack));
  }
});

$("guest-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("guest-name").value.trim();
  if (!name) return;
  try {
    await becomeGuest(name, "");
    $("chat-input").focus();
  } catch (err) {
    notice(err.message);
  }
});

// The report sheet: a reason, then `chat.report`; the hosts see it in their console.
let reporting = null;
function openReport(m, button) {
  reporting = { m, button };
  $("report-quote").textContent = `${m.user?.name || "someone"}: ${m.text || ""}`;
  $("report-status").textContent = "";
  $("report-send").disabled = false;
  $("report-sheet").showModal();
}
$("report-cancel").addEventListener("click", () => $("report-sheet").close());
$("report-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!reporting) return;
  const { m, button } = reporting;
  $("report-send").disabled = true;
  const reason = new FormData($("report-form")).get("reason") || "other";
  const ack = await hub.emit("chat.report", { message_id: m.id, reason: String(reason) });
  if (!ack.ok) {
    $("report-send").disabled = false;
    $("report-status").dataset.state = "error";
    $("report-status").textContent = errorText(ack);
    return;
  }
  $("report-sheet").close();
  button.textContent = "Reported";
  button.disabled = true;
  notice("Thanks — the hosts will look at that line.", true);
});

// --- reactions (bundled SVG icons: no emoji font needed) -----------------------------------
const reactionIcon = (kind) => document.querySelector(`.react[data-kind="${CSS.escape(kind)}"] img`)?.getAttribute("src");
for (const button of document.querySelectorAll(".react")) {
  button.addEventListener("click", async () => {
    const ack = await hub.emit("reaction.send", { kind: button.dataset.kind, count: 1 });
    if (!ack.ok && ack.error?.code === "unauthenticated") notice("Join the chat to react.", true);
    else float(button.dataset.kind);
  });
}
function float(kind) {
  const burst = $("reaction-burst");
  const src = reactionIcon(kind) || reactionIcon("heart");
  if (burst.children.length > 20 || !src) return;
  const img = el("img", { className: "float", src, alt: "" });
  img.style.left = `${10 + Math.random() * 70}%`;
  burst.append(img);
  setTimeout(() => img.remove(), 2000);
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

// --- offers: the card (pinned, chosen in the tray, or at the replay's playhead) and the tray --
const offers = new Map(); // id → the offer as the offers API and offer.* events describe it
const products = new Map(); // id → product (resolved), filled by productOf
const productLoads = new Map(); // id → pending GET
let pinnedId = null; // on screen in the show now (or at the replay's playhead)
let chosenId = null; // picked by this viewer in the tray (live shows)

function productOf(id) {
  if (!id) return Promise.resolve(null);
  if (!productLoads.has(id)) {
    productLoads.set(id, api("GET", `/api/v1/products/${encodeURIComponent(id)}`)
      .then((p) => { products.set(id, p); return p; })
      .catch(() => null));
  }
  return productLoads.get(id);
}
const productFor = (o) => (o ? o.product || products.get(o.product_id) || null : null);
const offerName = (o) => productFor(o)?.name || o?.name || "Product";
const imageOf = (o) => {
  const src = productFor(o)?.image_url || o?.image_url || "";
  return /^(\/|https?:)/.test(src) ? src : "";
};

/** Merge what an event or a list says about an offer; fetch its product once. */
async function upsertOffer(o) {
  if (!o?.id) return null;
  const merged = { ...(offers.get(o.id) || {}), ...o };
  offers.set(o.id, merged);
  await productOf(merged.product_id);
  return merged;
}

/** Read the show's offers (the tray, current prices and stock). `pick`: the page just opened, so
 * the card takes the pinned offer, else the most recently started live one. */
async function loadOffers(pick = false) {
  try {
    const data = await api("GET", `/api/v1/shows/${encodeURIComponent(showId)}/offers`);
    await Promise.all((data.offers || []).map(upsertOffer));
    if (pick && !replay.on && pinnedId === null) {
      const list = [...offers.values()];
      const live = list.filter((o) => o.status === "live").sort((a, b) => (b.starts_at || 0) - (a.starts_at || 0));
      pinnedId = (list.find((o) => o.pinned) || live[0])?.id || null;
    }
    focusShared();
  } catch { /* no shop on this server: no card, no tray */ }
  renderOffer();
  renderTray();
}
let reloadTimer = null;
const reloadOffers = () => { clearTimeout(reloadTimer); reloadTimer = setTimeout(() => loadOffers(), 300); };

async function pinOffer(o) {
  await upsertOffer(o);
  pinnedId = o.id;
  chosenId = null; // a new pin takes the card
  renderOffer();
  renderTray();
}

// A group buy's share link (?offer=) puts its offer on the card until the seller pins another.
let sharedPending = Boolean(sharedOffer);
function focusShared() {
  if (!sharedPending || replay.on || !offers.has(sharedOffer)) return;
  chosenId = sharedOffer;
  renderOffer();
  renderTray();
}

const cardOffer = () => offers.get((!replay.on && chosenId) || pinnedId) || null;

/** Why an offer cannot be bought now ("" when it can). */
function unbuyable(o) {
  if (!o) return "Not on sale";
  const left = o.stock_left;
  if (typeof left === "number" && left <= 0) return "Sold out";
  if (o.status === "draft") return "Not on sale yet";
  if (o.status === "ended") return "Sale ended";
  const now = Date.now();
  if (o.starts_at && now < o.starts_at) return "Not on sale yet";
  if (o.ends_at && now >= o.ends_at) return "Sale ended";
  return "";
}

function renderOffer() {
  const card = $("offer");
  const o = cardOffer();
  // A live show hides an ended offer (but an auction this viewer won and has to pay); a replay
  // keeps showing what was on screen then.
  if (!o || (!replay.on && o.status === "ended" && !toPay(o))) { card.hidden = true; delete card.dataset.offerId; return; }
  card.hidden = false;
  card.dataset.offerId = o.id;
  const product = productFor(o);
  const name = offerName(o);
  $("offer-name").textContent = name;
  const img = $("offer-image");
  const src = imageOf(o);
  if (src) { img.src = src; img.alt = name; img.hidden = false; } else img.hidden = true;
  $("offer-price").textContent = money(o.price);
  $("offer-was").textContent = product && minorOf(product.price) > minorOf(o.price) ? money(product.price, product.currency) : "";
  const left = o.stock_left;
  $("offer-stock").textContent = typeof left === "number" && o.status !== "ended" ? (left > 0 ? `${left} left` : "Sold out") : "";
  const moment = replay.on ? replay.moments.find((e) => e.offer_id === o.id) : null;
  $("offer-moment").hidden = !moment;
  $("offer-moment").textContent = moment ? `On screen at ${clock(moment.media_ts)} in the show` : "";
  renderRating(product?.reviews);
  renderBuyerQuestions(product?.id);
  renderAuction(o);
  showGroup(o, showId, me.id);
  tick();
}

/** Verified buyers' ratings on the card: average, count and the spread by stars. */
function renderRating(summary) {
  const box = $("offer-rating");
  box.hidden = !summary?.count;
  if (!summary?.count) return;
  const count = summary.count;
  $("offer-rating-text").textContent = `★ ${summary.average.toFixed(1)} · ${count} verified review${count === 1 ? "" : "s"}`;
  $("offer-rating-bars").replaceChildren(...[5, 4, 3, 2, 1].map((star) => {
    const n = summary.distribution?.[String(star)] || 0;
    return el("li", { "data-stars": star },
      el("span", { text: `${star}★` }),
      el("meter", { min: 0, max: count, value: n, "aria-label": `${star} stars` }),
      el("span", { text: String(n) }));
  }));
}

/** Ask someone who bought it: the count and the latest questions with verified answers. */
const buyerQuestionLoads = new Map(); // product id → pending GET
let askedAbout = null; // the product the card's ask form asks about
function badgeText(badge) {
  return `bought ${badge.variant || "it"} on ${badge.bought_at_month}`;
}
async function renderBuyerQuestions(productId, fresh = false) {
  askedAbout = productId || null;
  if (!productId) return;
  if (fresh || !buyerQuestionLoads.has(productId)) {
    buyerQuestionLoads.set(productId, api("GET", `/api/v1/products/${encodeURIComponent(productId)}/buyer-questions?limit=3`).catch(() => null));
  }
  const page = await buyerQuestionLoads.get(productId);
  if (askedAbout !== productId || !page) return;
  $("offer-questions-text").textContent = page.count ? `${page.count} question${page.count === 1 ? "" : "s"} for buyers` : "Ask someone who bought it";
  $("offer-questions-list").replaceChildren(...page.questions.map((q) => el("li", {},
    el("span", { className: "text", text: q.text }),
    ...q.answers.map((a) => el("p", { className: "answer" },
      el("span", { text: a.text }), " ",
      el("span", { className: "muted", text: `— ${a.author.name}, verified buyer, ${badgeText(a.badge)}` }))))));
}
$("ask-buyers-form")?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("ask-buyers-input");
  const out = $("ask-buyers-status");
  if (!askedAbout) return;
  try {
    const q = await api("POST", `/api/v1/products/${encodeURIComponent(askedAbout)}/buyer-questions`, { text: input.value.trim() });
    input.value = "";
    out.textContent = q.routed_to ? `Sent to ${q.routed_to} buyer${q.routed_to === 1 ? "" : "s"}.` : "Posted: buyers will see it on the product.";
    renderBuyerQuestions(askedAbout, true);
  } catch (err) {
    out.textContent = err.message;
  }
  out.hidden = false;
});
hub.on("buyer_answer.featured", (p) => {
  $("featured-question").textContent = p.question?.text || "";
  $("featured-answer").textContent = p.answer?.text || "";
  $("featured-badge").textContent = p.badge ? `${p.answer?.author?.name || "A buyer"}, verified buyer, ${badgeText(p.badge)}` : "";
  $("buyer-answer-featured").hidden = false;
});

function tick() {
  const o = cardOffer();
  const c = $("offer-countdown");
  if (o?.kind === "auction") tickAuction(o, c);
  else if (o) {
    const now = Date.now();
    if (o.status === "live" && o.starts_at && now < o.starts_at) c.textContent = `starts in ${clock((o.starts_at - now) / 1000)}`;
    else if (o.status === "live" && o.ends_at && now < o.ends_at) c.textContent = `ends in ${clock((o.ends_at - now) / 1000)}`;
    else if (o.ends_at && o.status !== "draft") c.textContent = "sale over";
    else c.textContent = "";
    const why = unbuyable(o);
    $("buy").disabled = Boolean(why);
    $("buy").textContent = why || (o.kind === "group" ? "Join the group" : "Buy");
  }
  tickGroup();
  upcomingTick();
}
setInterval(tick, 1000);

/** The tray: every live offer of a live show (tap: into the card), or every product of a replay
 * with the moment it came on screen (tap: jump there). */
function renderTray() {
  const tray = $("tray");
  const shown = cardOffer()?.id;
  let items;
  if (replay.on) {
    items = replay.moments.filter((e) => offers.has(e.offer_id)).map((e) => {
      const o = offers.get(e.offer_id);
      const sold = auctionResult(o.id);
      const price = sold ? soldText(sold) : money(o.price);
      return trayItem(o, `${price} · jump to ${clock(e.media_ts)}`, shown, () => seekTo(e.media_ts), e.media_ts);
    });
  } else {
    const live = [...offers.values()].filter((o) => o.status === "live").sort((a, b) => (a.starts_at || 0) - (b.starts_at || 0));
    items = live.map((o) => trayItem(o, `${money(o.price)}${typeof o.stock_left === "number" ? ` · ${o.stock_left > 0 ? `${o.stock_left} left` : "sold out"}` : ""}`, shown, () => {
      chosenId = o.id;
      renderOffer();
      renderTray();
      $("buy").focus();
    }));
    // One live offer already in the card needs no tray.
    if (live.length === 1 && live[0].id === shown) items = [];
  }
  $("tray-list").replaceChildren(...items);
  tray.hidden = items.length === 0;
}

function trayItem(o, meta, shown, onclick, ts) {
  const src = imageOf(o);
  return el("li", {},
    el("button", { type: "button", className: "tray-item", "data-offer-id": o.id, "data-ts": ts, "aria-current": o.id === shown ? "true" : null, onclick },
      src ? el("img", { src, alt: "", width: 44, height: 44 }) : el("span", {}),
      el("span", { className: "tray-name", text: offerName(o) }),
      el("span", { className: "tray-meta", text: meta })));
}

hub.on("offer.pinned", (p) => {
  sharedPending = false;
  if (!replay.on) pinOffer(p.offer || p);
});
hub.on("offer.unpinned", (p) => {
  if (replay.on || pinnedId !== p.offer_id) return;
  pinnedId = null;
  renderOffer();
  renderTray();
});
hub.on("offer.updated", async (p) => {
  const o = p.offer || p;
  const known = offers.get(o.id);
  await upsertOffer(o);
  if (!known || known.status !== o.status) reloadOffers(); // a new or changed sale: the tray
  renderOffer();
  renderTray();
  if (sheet.offer?.id === o.id) sheetProduct();
});

// --- auctions --------------------------------------------------------------------------------
// The card of an auction offer: the high bid, the clock (the server's `ends_at`, corrected by the
// offset between the server's clock and this one), a "Bid $X" button with the next minimum and a
// max bid the server bids with. See docs/AUCTIONS.md.
const auctions = new Map();
const closedAuctions = new Map();
let serverOffset = 0; // server clock minus this clock, in ms
const serverNow = () => Date.now() + serverOffset;

function setAuction(a) {
  if (!a?.offer_id) return;
  const known = auctions.get(a.offer_id);
  if (known && known.seq > a.seq) return; // an older update arriving late
  auctions.set(a.offer_id, a);
  const o = cardOffer();
  if (o?.id === a.offer_id) renderAuction(o);
}

async function loadAuction(offerId) {
  const started = Date.now();
  const response = await fetch(`/api/v1/offers/${encodeURIComponent(offerId)}/bids`);
  if (!response.ok) return;
  const date = Date.parse(response.headers.get("Date") || "");
  if (!Number.isNaN(date)) serverOffset = date + 500 - (started + Date.now()) / 2; // 1 s resolution
  setAuction((await response.json()).auction);
}

/** The closed auction of `o` that this viewer won and has not paid yet, or null. */
function toPay(o) {
  const closed = closedAuctions.get(o.id);
  const won = closed?.winner && closed.winner.id === me.id && closed.order_id;
  return won && myOrders.get(closed.order_id)?.status !== "paid" ? closed : null;
}

function renderAuction(o) {
  const isAuction = o?.kind === "auction";
  $("auction").hidden = !isAuction;
  $("bid").hidden = !isAuction;
  $("buy").hidden = isAuction;
  $("max-form").hidden = replay.on;
  $("max-help").hidden = replay.on;
  if (!isAuction) return;
  const sold = replay.on ? auctionResult(o.id) : null;
  if (sold) { // the replay's card: the winning bid, from the timeline
    $("offer-price").textContent = sold.winner ? money({ amount: sold.amount, currency: sold.currency }) : money(o.price);
    $("offer-was").textContent = "";
    $("auction-high").textContent = sold.winner ? money({ amount: sold.amount, currency: sold.currency }) : "none";
    $("auction-bidder").textContent = sold.winner ? `by ${sold.winner.name}` : "";
    $("auction-status").textContent = soldText(sold);
    $("pay-won").hidden = true;
    tick();
    return;
  }
  const a = auctions.get(o.id);
  if (!a && o.status === "live") { loadAuction(o.id); return; }
  const closed = closedAuctions.get(o.id);
  const high = a?.high_bid;
  $("offer-price").textContent = money({ amount: high?.amount ?? minorOf(o.price), currency: a?.currency || o.price.currency });
  $("offer-was").textContent = ""; // the bids make the price, not a discount
  $("auction-high").textContent = high ? money({ amount: high.amount, currency: a.currency }) : "none yet";
  $("auction-bidder").textContent = high ? (high.bidder.id === me.id ? "(you)" : `by ${high.bidder.name}`) : "";
  const due = toPay(o);
  if (closed) $("auction-status").textContent = closed.winner ? (closed.winner.id === me.id ? `You won at ${money({ amount: closed.amount, currency: closed.currency })}!${due ? " Pay now to get it." : ""}` : `Sold to ${closed.winner.name} for ${money({ amount: closed.amount, currency: closed.currency })}.`) : "No sale.";
  $("pay-won").hidden = !due;
  tick();
}

function tickAuction(o, c) {
  const a = auctions.get(o.id);
  const bid = $("bid");
  const open = a && a.status === "open" && o.status === "live" && !closedAuctions.has(o.id);
  const left = a ? a.ends_at - serverNow() : 0;
  if (!a) c.textContent = o.status === "draft" ? "auction not started" : "";
  else if (open && left > 0) c.textContent = `ends in ${clock(Math.max(0, left) / 1000)}`;
  else c.textContent = "auction over";
  bid.disabled = !(open && left > 0);
  bid.textContent = a && bid.disabled === false ? `Bid ${money({ amount: a.min_bid, currency: a.currency })}` : "Bidding closed";
}

async function placeBid(amount, maxAmount) {
  const o = cardOffer();
  if (!o || o.kind !== "auction") return;
  if (!me.id) { $("auction-status").textContent = "Sign in to bid."; return; }
  const payload = { offer_id: o.id, amount, idempotency_key: newKey() };
  if (maxAmount) payload.max_amount = maxAmount;
  const sent = Date.now();
  const ack = await hub.emit("auction.bid", payload);
  if (!ack.ok) {
    const code = ack.error?.code;
    if (code === "bid_too_low" && ack.error.details) {
      const known = auctions.get(o.id);
      if (known) setAuction({ ...known, min_bid: ack.error.details.min_bid });
    }
    $("auction-status").textContent = code === "payment_method_required" ? "Save a shipping address (My orders, or any purchase) before bidding." : errorText(ack);
    return;
  }
  serverOffset = ack.bid.at - (sent + Date.now()) / 2;
  setAuction(ack.auction);
  const lead = ack.auction.high_bid?.bidder.id === me.id;
  $("auction-status").textContent = lead ? `You lead at ${money({ amount: ack.auction.high_bid.amount, currency: ack.auction.currency })}.` : "Outbid by a max bid. Bid again?";
}

$("bid").addEventListener("click", () => {
  const a = auctions.get(cardOffer()?.id);
  if (a) placeBid(a.min_bid, null);
});
$("max-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const a = auctions.get(cardOffer()?.id);
  const max = $("max-bid").value === "" ? 0 : toMinor($("max-bid").value, a?.currency);
  if (!a || !max) return;
  if (max < a.min_bid) { $("auction-status").textContent = `Your max must be at least ${money({ amount: a.min_bid, currency: a.currency })}.`; return; }
  placeBid(a.min_bid, max);
});
hub.on("auction.updated", (a) => setAuction(a));
hub.on("group.updated", updateGroup);
hub.on("auction.closed", (p) => {
  closedAuctions.set(p.offer_id, p);
  const known = auctions.get(p.offer_id);
  if (known) auctions.set(p.offer_id, { ...known, status: "closed" });
  const o = cardOffer();
  if (o?.id === p.offer_id) renderAuction(o);
});

/** The winner pays from the card: the order the close made, its payment fetched (it was not
 * created by this page's checkout.start), paid in the buy sheet with the demo card or Stripe. */
$("pay-won").addEventListener("click", async () => {
  const o = cardOffer();
  const closed = o && closedAuctions.get(o.id);
  if (!closed?.order_id) return;
  try {
    const data = await api("GET", `/api/v1/orders/${encodeURIComponent(closed.order_id)}/payment`, undefined, auth());
    upsertOrder(data.order);
    await openSheet(o, data);
  } catch (err) {
    $("auction-status").textContent = err.status === 409 ? "This order no longer awaits payment (see My orders)." : errorText({ error: err });
  }
});

$("buy").addEventListener("click", () => {
  const o = cardOffer();
  if (o && !unbuyable(o)) openSheet(o);
});

// a claimed voucher's code goes into the buy sheet of the offer on screen
drops = mountDrops(hub, showId, {
  signedIn: () => account,
  apply: (code) => {
    $("coupon-code").value = code;
    const o = cardOffer();
    if (o && !unbuyable(o)) openSheet(o);
  },
});

// --- the buy sheet ---------------------------------------------------------------------------
// Buy opens the sheet with what is known filled in: a signed-in viewer with a saved address and
// the demo card sees one Pay button (Buy, Pay: two taps). A guest gives a name and an e-mail; the
// shipping address is asked once and saved (PUT /api/v1/me/shipping-address). Each Pay press
// after a decline or an expiry is a new attempt with a new idempotency key; a press after a
// network error on the confirm retries the same order.
const regionNames = (() => { try { return new Intl.DisplayNames(undefined, { type: "region" }); } catch { return null; } })();
const countryName = (code) => regionNames?.of(code) || code;
const ADDRESS_FIELDS = { name: "ship-name", line1: "ship-line1", line2: "ship-line2", city: "ship-city", region: "ship-region", postal_code: "ship-postal", country: "ship-country" };

const sheet = { offer: null, order: null, payment: null, address: undefined, shipping: true, editing: false, stripe: null, won: false };

/** The countries an address accepts (`GET /api/v1/countries`), named in the viewer's language,
 * the one of the browser's locale chosen; loaded once, when the address form first shows. */
let countriesLoaded = null;
function fillCountries() {
  countriesLoaded = countriesLoaded || api("GET", "/api/v1/countries").then((data) => {
    const select = $("ship-country");
    const chosen = select.value || (navigator.language || "").split("-")[1]?.toUpperCase() || "";
    const options = (data.countries || []).map((c) => ({ code: c.code, name: regionNames?.of(c.code) || c.name }))
      .sort((a, b) => a.name.localeCompare(b.name));
    select.replaceChildren(el("option", { value: "", text: "Choose…" }), ...options.map((c) => el("option", { value: c.code, text: c.name })));
    if (options.some((c) => c.code === chosen)) select.value = chosen;
  }).catch(() => { countriesLoaded = null; });
  return countriesLoaded;
}

/** The buyer's saved address (GET /api/v1/me/shipping-address; 404 = none yet). */
async function savedAddress() {
  if (sheet.address !== undefined || !canBuy()) return sheet.address || null;
  try {
    const data = await api("GET", "/api/v1/me/shipping-address", undefined, auth());
    sheet.address = data.shipping_address || null;
  } catch (err) {
    if (err.status === 404) sheet.address = null;
    else return null;
  }
  return sheet.address;
}

function addressText(a) {
  return [a.name, a.line1, a.line2, [a.postal_code, a.city].filter(Boolean).join(" "), a.region, countryName(a.country)].filter(Boolean).join(", ");
}

function section(id, on) {
  const node = $(id);
  node.hidden = !on;
  if (node.tagName === "FIELDSET") node.disabled = !on; // hidden fields are not validated
}

function sheetStatus(text, state = "") {
  const s = $("checkout-status");
  s.textContent = text;
  s.dataset.state = state;
}

/** The product part of the sheet: name, image, price, variants, per-buyer limit. */
function sheetProduct() {
  const o = offers.get(sheet.offer.id) || sheet.offer;
  sheet.offer = o;
  const product = productFor(o);
  const name = offerName(o);
  $("sheet-h").textContent = `Buy ${name}`;
  $("sheet-name").textContent = name;
  const src = imageOf(o);
  $("sheet-image").hidden = !src;
  if (src) $("sheet-image").src = src;
  $("sheet-price").textContent = money(sheet.won ? sheet.order.total : o.price);
  const variants = (product?.variants || []).filter((v) => v.label !== "default");
  const select = $("variant");
  $("variant-label").hidden = variants.length === 0;
  if (select.dataset.product !== (product?.id || "")) {
    select.replaceChildren(...variants.map((v) => el("option", { value: v.id, text: `${v.label}${v.stock === 0 ? " (sold out)" : ""}`, disabled: v.stock === 0 })));
    const first = variants.find((v) => v.stock !== 0);
    if (first) select.value = first.id;
    select.dataset.product = product?.id || "";
  }
  $("quantity").max = String(o.per_buyer_limit || 10);
  payLabel();
}

function payLabel() {
  if (!sheet.offer || sheet.stripe) return;
  const qty = Math.max(1, Number($("quantity").value) || 1);
  const total = sheet.won && sheet.order ? sheet.order.total : { amount: minorOf(sheet.offer.price) * qty, currency: sheet.offer.price?.currency };
  const failed = sheet.order && ["failed", "expired", "cancelled"].includes(sheet.order.status);
  $("pay").textContent = failed ? `Try again · ${money(total)}` : `Pay ${money(total)}`;
}
$("quantity").addEventListener("input", payLabel);

/** `won`: an auction's win ({order, payment} of GET /api/v1/orders/{id}/payment) to pay as it is. */
async function openSheet(o, won = null) {
  if (sheet.offer?.id !== o.id || won) Object.assign(sheet, { order: won?.order || null, payment: won?.payment || null });
  sheet.won = Boolean(won);
  sheet.offer = o;
  sheet.stripe = null;
  sheetStatus("");
  $("pay").hidden = false;
  $("pay").disabled = false;
  $("sheet-done").hidden = true;
  section("payment-element", false);
  sheetProduct();
  showDiscount(sheet.order);
  section("guest-fields", !canBuy());
  if (!canBuy() && !$("buyer-name").value && me.name) $("buyer-name").value = me.name;
  // goods that are not shipped need no address; a won auction's order has its address already
  sheet.shipping = !sheet.won && productFor(o)?.requires_shipping !== false;
  $("variant-label").hidden = $("variant-label").hidden || sheet.won;
  $("quantity").closest("label").hidden = sheet.won;
  const address = sheet.shipping ? await savedAddress() : null;
  sheet.editing = sheet.shipping && !address;
  await showAddress(address);
  section("card-fields", cfg.payments === "demo");
  $("buy-sheet").showModal();
  const firstEmpty = [...$("pay-form").querySelectorAll("fieldset:not([disabled]) input[required]")].find((i) => !i.value);
  (firstEmpty || $("pay")).focus();
}

async function showAddress(address) {
  section("address-summary", sheet.shipping && Boolean(address) && !sheet.editing);
  section("address-fields", sheet.shipping && sheet.editing);
  if (sheet.shipping && sheet.editing) await fillCountries();
  if (address) {
    $("address-text").textContent = addressText(address);
    for (const [key, id] of Object.entries(ADDRESS_FIELDS)) $(id).value = address[key] || "";
  }
  if (!$("ship-name").value && me.name && !me.guest) $("ship-name").value = me.name;
}
$("address-change").addEventListener("click", async () => {
  sheet.editing = true;
  await showAddress(sheet.address);
  $("ship-line1").focus();
});
$("sheet-close").addEventListener("click", () => $("buy-sheet").close());
$("sheet-done").addEventListener("click", () => $("buy-sheet").close());
$("buyer-name").addEventListener("input", () => { if (!$("ship-name").dataset.touched) $("ship-name").value = $("buyer-name").value; });
$("ship-name").addEventListener("input", () => { $("ship-name").dataset.touched = "1"; });

function addressFromForm() {
  const out = {};
  for (const [key, id] of Object.entries(ADDRESS_FIELDS)) {
    const value = $(id).value.trim();
    if (value) out[key] = value;
  }
  return out;
}

$("pay-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const pay = $("pay");
  pay.disabled = true;
  try {
    if (sheet.stripe) await stripeConfirm();
    else await payAttempt();
  } finally {
    pay.disabled = false;
    payLabel();
  }
});

async function payAttempt() {
  if (!canBuy()) {
    sheetStatus("Saving your details…", "pending");
    try {
      await becomeGuest($("buyer-name").value.trim(), $("buyer-email").value.trim());
    } catch (err) {
      sheetStatus(err.message, "error");
      return;
    }
    section("guest-fields", false);
  }
  if (sheet.editing) {
    sheetStatus("Saving the address…", "pending");
    try {
      const data = await api("PUT", "/api/v1/me/shipping-address", addressFromForm(), auth());
      sheet.address = data.shipping_address || addressFromForm();
      sheet.editing = false;
      await showAddress(sheet.address);
    } catch (err) {
      sheetStatus(`Check the address: ${err.message}`, "error");
      $("ship-line1").focus();
      return;
    }
  }
  const open = sheet.order && ["reserved", "pending_payment"].includes(sheet.order.status) && (sheet.payment?.confirm_url || sheet.won);
  if (!open && sheet.won) { sheetStatus("This order no longer awaits payment.", "error"); return; }
  if (!open && !(await reserve())) return;
  if (sheet.payment?.provider === "demo" && sheet.payment.confirm_url) await confirmDemo();
  else if (sheet.payment?.provider === "stripe") await stripePay(sheet.payment);
  else sheetStatus(`Order ${sheet.order.status}.`, sheet.order.status);
}

/** checkout.start with a fresh idempotency key: a new purchase attempt. */
async function reserve() {
  sheetStatus("Reserving…", "pending");
  const o = sheet.offer;
  const payload = { offer_id: o.id, quantity: Math.max(1, Number($("quantity").value) || 1), idempotency_key: newKey() };
  if (!$("variant-label").hidden && $("variant").value) payload.variant_id = $("variant").value;
  if (couponCode()) payload.coupon_code = couponCode();
  const ack = await hub.emit("checkout.start", payload);
  if (!ack.ok) {
    const code = ack.error?.code;
    if (code === "shipping_address_required") {
      sheet.address = null;
      sheet.shipping = true;
      sheet.editing = true;
      await showAddress(null);
      sheetStatus("Where should it go? Add a shipping address.", "error");
      $("ship-line1").focus();
    } else sheetStatus(code === "sold_out" ? "Sold out — nothing was charged." : errorText(ack), "error");
    return false;
  }
  sheet.order = ack.order;
  sheet.payment = ack.payment || {};
  showDiscount(sheet.order);
  upsertOrder(sheet.order);
  return true;
}

async function confirmDemo() {
  sheetStatus("Paying…", "pending");
  try {
    const result = await api("POST", sheet.payment.confirm_url, { card: $("card").value.replace(/\s+/g, "") }, auth());
    orderChanged({ ...sheet.order, ...(result?.order || result) });
  } catch (err) {
    if (err.code === "payment_declined") orderChanged({ ...sheet.order, status: "failed" });
    else sheetStatus(`Payment failed: ${err.message}`, "error");
  }
}

async function stripePay(p) {
  // Stripe.js is allowed by the CSP; it is loaded only when the server runs with Stripe.
  sheetStatus("Loading secure payment form…", "pending");
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
    const mount = $("payment-element");
    mount.replaceChildren();
    section("payment-element", true);
    elements.create("payment").mount(mount);
    sheet.stripe = { stripe, elements };
    $("pay").textContent = `Pay ${money(sheet.order.total)}`;
    sheetStatus("", "");
  } catch (err) {
    sheetStatus(err.message, "error");
  }
}
async function stripeConfirm() {
  const { error } = await sheet.stripe.stripe.confirmPayment({ elements: sheet.stripe.elements, redirect: "if_required" });
  sheetStatus(error ? `Payment failed: ${error.message}` : "Payment sent; waiting for confirmation…", error ? "error" : "pending");
}

function orderChanged(o) {
  upsertOrder(o);
  if (!sheet.order || o.id !== sheet.order.id) return;
  sheet.order = { ...sheet.order, ...o };
  const status = sheet.order.status;
  if (status === "paid") {
    sheetStatus(`Paid ✓ — order ${sheet.order.id} (${money(sheet.order.total)}). Thank you!`, "paid");
    $("pay").hidden = true;
    $("sheet-done").hidden = false;
    $("sheet-done").focus();
    sheet.order = null; // the next Buy is a new purchase
    sheet.payment = null;
    sheet.won = false;
    const o = cardOffer();
    if (o?.kind === "auction") renderAuction(o);
  } else if (status === "authorized") {
    sheetStatus(`Joined ✓ — card held for ${money(sheet.order.total)}; you pay the group's price when it closes.`, "paid");
    $("pay").hidden = true;
    $("sheet-done").hidden = false;
    $("sheet-done").focus();
    sheet.order = null;
    sheet.payment = null;
  } else if (status === "failed") {
    sheetStatus("Payment declined — nothing was charged. Check the card and try again.", "error");
    $("card").focus();
    $("card").select();
  } else if (status === "expired") sheetStatus("The reservation expired; nothing was charged. Try again.", "error");
  else sheetStatus(`Order ${status}.`, status);
  payLabel();
}
hub.on("order.updated", (p) => orderChanged(p.order || p));

// --- my orders -----------------------------------------------------------------------------
const myOrders = new Map();
function upsertOrder(o) {
  if (!o?.id) return;
  myOrders.set(o.id, { ...(myOrders.get(o.id) || {}), ...o });
  const items = [...myOrders.values()].sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
  $("orders-list").replaceChildren(...items.map(orderItem));
  $("orders-empty").hidden = items.length > 0;
}

function orderItem(x) {
  const name = x.product?.name || "Product";
  const src = /^(\/|https?:)/.test(x.product?.image_url || "") ? x.product.image_url : "";
  const shipped = x.fulfilment;
  const variant = x.variant?.label === "default" ? "" : x.variant?.label; // a product without options
  const what = [name, variant, x.quantity > 1 ? `× ${x.quantity}` : ""].filter(Boolean).join(" · ");
  return el("li", { id: `order-${x.id}`, "data-status": x.status },
    src ? el("img", { src, alt: "", width: 48, height: 48 }) : el("span", {}),
    el("p", { className: "order-what", text: what }),
    el("p", {}, el("span", { className: `badge status ${x.status}`, text: x.status }), " ", money(x.total), " ",
      el("span", { className: "muted", text: timeOf(x.created_at) })),
    el("p", { className: "order-id" }, "Order ", el("code", { text: x.id })),
    shipped ? el("p", { className: "order-tracking", text: `Shipped${shipped.carrier ? ` with ${shipped.carrier}` : ""}${shipped.tracking_number ? ` · tracking ${shipped.tracking_number}` : ""}` }) : null);
}

async function loadOrders() {
  if (!canBuy()) return;
  try {
    const data = await api("GET", `/api/v1/orders?show_id=${encodeURIComponent(showId)}`, undefined, auth());
    for (const o of data.orders || []) upsertOrder(o);
  } catch { /* the shop may not be installed: my orders stays empty */ }
}

// --- start ---------------------------------------------------------------------------------
tabs(document.querySelector(".tabs"));
chatControls();
loadOrders();
document.body.dataset.mode = "live";
if (lifecycle.status === "ended") playReplay();
else {
  loadOffers(true);
  if (onAir()) startPlayer();
  else idle(lifecycle.status);
}
upcomingTick();
document.body.dataset.ready = "1";
