// The host console: chat with inline delete / timeout / ban, slow mode and filters, the
// held-for-review and reports queues, who is banned or timed out (with Unban and Lift), appeals
// (Lift / Uphold), the seller's reported reviews (Hide / Keep), the Q&A queue and the audit log
// in words with its chain head. Actions go through the hub's mod.* events; the lists and the
// audit log come from the REST endpoints under /api/v1/shows/{id}/moderation/.
import { $, api, appendCapped, cfg, chatLine, confirmFirst, connectShow, el, errorText, localTime, startCountdowns, timeOf, untilText } from "./common.js";

const showId = cfg.showId;

function status(text, state = "") {
  $("console-status").textContent = text;
  $("console-status").dataset.state = state;
}

async function mod(event, payload, done) {
  const ack = await hub.emit(event, payload);
  status(ack.ok ? done : errorText(ack), ack.ok ? "ok" : "error");
  if (ack.ok) loadAudit();
  return ack;
}

function actions(m) {
  const uid = m.user?.id;
  const box = el("span", { className: "actions" },
    el("button", { type: "button", className: "secondary small", "data-action": "delete", "aria-label": `Delete message from ${m.user?.name || "someone"}`, onclick: () => mod("mod.delete", { message_id: m.id }, "Message deleted.") }, "Delete"));
  if (uid && uid !== cfg.userId) {
    box.append(
      el("button", { type: "button", className: "secondary small", "data-action": "timeout", "aria-label": `Time out ${m.user?.name || "user"} for 5 minutes`, onclick: () => mod("mod.timeout", { user_id: uid, seconds: 300 }, `${m.user?.name} timed out for 5 minutes.`) }, "Timeout"),
      banButton(m, uid));
  }
  return box;
}

function banButton(m, uid) {
  const button = el("button", { type: "button", className: "secondary small danger", "data-action": "ban", "aria-label": `Ban ${m.user?.name || "user"}` }, "Ban");
  button.addEventListener("click", confirmFirst(button, () => mod("mod.ban", { user_id: uid }, `${m.user?.name} banned.`), "Confirm ban"));
  return button;
}

function addChat(m) {
  if (!m?.id || document.getElementById(`msg-${m.id}`)) return;
  appendCapped($("chat-list"), chatLine(m, actions));
}

const hub = connectShow(showId, {
  onJoined(ack, messages, resumed) {
    if (!resumed) $("chat-list").replaceChildren();
    for (const m of messages) addChat(m);
    for (const q of ack.questions || []) upsertQuestion(q);
    if (typeof ack.viewers === "number") $("viewers-count").textContent = String(ack.viewers);
    loadQueue();
    loadAudit();
    loadRestrictions();
  },
  onState(state, err) {
    if (state === "disconnected") status("Reconnecting…", "pending");
    if (state === "error") status(err?.message || "could not join", "error");
  },
});

hub.on("chat.message", addChat);
hub.on("chat.batch", (p) => { for (const m of p.messages || []) addChat(m); });
hub.on("chat.deleted", (p) => { document.getElementById(`msg-${p.id}`)?.remove(); document.getElementById(`held-${p.id}`)?.remove(); });
hub.on("viewers.count", (p) => { $("viewers-count").textContent = String(p.count ?? 0); });
hub.on("mod.applied", (p) => {
  if (p.slow_mode_seconds !== undefined) $("slowmode").value = String(p.slow_mode_seconds);
  if (["ban", "unban", "timeout", "lift"].includes(p.action)) loadRestrictions();
  loadAudit();
});
hub.on("chat.held", (p) => addHeld(p.message));
hub.on("chat.reported", (p) => addReport(p.report));

$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const ack = await hub.emit("chat.send", { text: $("chat-input").value.trim() });
  if (ack.ok) { $("chat-input").value = ""; if (ack.message) addChat(ack.message); }
  else status(errorText(ack), "error");
});

// --- rules ---------------------------------------------------------------------------------
function showPolicy(policy) {
  if (!policy) return;
  $("slowmode").value = String(policy.slow_mode_seconds || 0);
  $("block-links").checked = Boolean(policy.block_links);
  $("hold-for-review").checked = Boolean(policy.hold_for_review);
  $("banned-words").value = (policy.banned_words || []).join(", ");
}
$("slowmode").addEventListener("change", () => mod("mod.slowmode", { seconds: Number($("slowmode").value) }, "Slow mode updated."));
$("rules-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const words = $("banned-words").value.split(",").map((w) => w.trim()).filter(Boolean);
  const ack = await mod("mod.policy", { block_links: $("block-links").checked, hold_for_review: $("hold-for-review").checked, banned_words: words }, "Rules saved.");
  if (ack.ok) showPolicy(ack.policy);
});

// --- queues --------------------------------------------------------------------------------
function addHeld(m) {
  if (!m?.id || document.getElementById(`held-${m.id}`)) return;
  const li = el("li", { id: `held-${m.id}` },
    el("span", { className: "who", text: m.user?.name || "someone" }), " ", el("span", { className: "text", text: m.text }), " ",
    el("button", { type: "button", className: "small", onclick: async () => { const a = await mod("mod.approve", { message_id: m.id }, "Approved."); if (a.ok) li.remove(); } }, "Approve"),
    el("button", { type: "button", className: "secondary small", onclick: async () => { const a = await mod("mod.reject", { message_id: m.id }, "Rejected."); if (a.ok) li.remove(); } }, "Reject"));
  $("held-list").append(li);
}
function addReport(r) {
  if (!r?.id || document.getElementById(`report-${r.id}`)) return;
  const li = el("li", { id: `report-${r.id}` },
    el("span", { text: `${r.reporter?.name || "someone"} reported ${r.message?.user?.name || "a line"}` }), ": ",
    el("span", { className: "text", text: r.message?.text || r.reason || "" }), " ",
    r.message_id ? el("button", { type: "button", className: "secondary small", onclick: () => mod("mod.delete", { message_id: r.message_id }, "Message deleted.") }, "Delete line") : null,
    el("button", { type: "button", className: "small", onclick: async () => { const a = await mod("mod.resolve_report", { report_id: r.id }, "Report resolved."); if (a.ok) li.remove(); } }, "Resolve"));
  $("report-list").append(li);
}
async function loadQueue() {
  const ack = await hub.emit("mod.queue", {});
  if (!ack.ok) { status(errorText(ack), "error"); return; }
  $("held-list").replaceChildren();
  $("report-list").replaceChildren();
  for (const m of ack.held || []) addHeld(m);
  for (const r of ack.reports || []) addReport(r);
  showPolicy(ack.policy);
}

// --- Q&A -----------------------------------------------------------------------------------
const questions = new Map();
function upsertQuestion(q) {
  if (!q?.id) return;
  questions.set(q.id, q);
  const items = [...questions.values()].sort((a, b) => (a.answered - b.answered) || (b.votes - a.votes));
  $("qa-list").replaceChildren(...items.map((item) => el("li", { className: item.answered ? "answered" : "" },
    el("span", { className: "badge tag", text: `▲ ${item.votes}` }), " ",
    el("span", { className: "who", text: item.user?.name || "someone" }), " ",
    el("span", { className: "text", text: item.text }), " ",
    item.answered ? el("span", { className: "muted", text: "answered" })
      : el("button", { type: "button", className: "secondary small", onclick: async () => { const a = await hub.emit("qa.answer", { question_id: item.id }); if (a.ok && a.question) upsertQuestion(a.question); else if (!a.ok) status(errorText(a), "error"); } }, "Mark answered"))));
}
hub.on("qa.updated", (p) => upsertQuestion(p.question));

// --- buyers' answers (ask someone who bought it) ------------------------------------------
/** The answers to buyer questions about the products of this show's offers, to put on air. */
async function loadBuyerAnswers() {
  try {
    const { offers } = await api("GET", `/api/v1/shows/${encodeURIComponent(showId)}/offers`);
    const productIds = [...new Set((offers || []).map((o) => o.product_id))];
    const rows = [];
    for (const pid of productIds) {
      const page = await api("GET", `/api/v1/products/${encodeURIComponent(pid)}/buyer-questions?limit=10`);
      for (const q of page.questions || []) for (const a of q.answers || []) rows.push({ q, a });
    }
    $("buyer-answers-list").replaceChildren(...rows.map(({ q, a }) => el("li", {},
      el("span", { className: "text", text: `Q: ${q.text}` }), " ",
      el("span", { className: "answer", text: `A: ${a.text}` }), " ",
      el("span", { className: "muted", text: `bought ${a.badge.variant} on ${a.badge.bought_at_month}` }), " ",
      el("button", { type: "button", className: "secondary small", onclick: async () => {
        const ack = await hub.emit("qa.feature_answer", { answer_id: a.id });
        status(ack.ok ? "On air." : errorText(ack), ack.ok ? "ok" : "error");
      } }, "Put on air"))));
  } catch (err) {
    status(err.message, "error");
  }
}
$("buyer-answers-load").addEventListener("click", loadBuyerAnswers);
loadBuyerAnswers();

// --- banned and timed out ----------------------------------------------------------------
let restrictionsTimer = null;
function loadRestrictions() {
  clearTimeout(restrictionsTimer);
  restrictionsTimer = setTimeout(async () => {
    try {
      const data = await api("GET", `/api/v1/shows/${encodeURIComponent(showId)}/moderation/restrictions`);
      $("banned-list").replaceChildren(...(data.banned || []).map(bannedItem));
      $("timeout-list").replaceChildren(...(data.timed_out || []).map(timedOutItem));
      if (!data.banned?.length) $("banned-list").append(el("li", { className: "muted", text: "Nobody is banned." }));
      if (!data.timed_out?.length) $("timeout-list").append(el("li", { className: "muted", text: "Nobody is timed out." }));
    } catch (err) {
      $("banned-list").replaceChildren(el("li", { className: "muted", text: err.message }));
    }
  }, 200);
}

function bannedItem(b) {
  const name = b.user?.name || "someone";
  const unban = el("button", { type: "button", className: "secondary small", "data-action": "unban", "aria-label": `Unban ${name}` }, "Unban");
  unban.addEventListener("click", confirmFirst(unban, () => mod("mod.unban", { user_id: b.user.id }, `${name} may chat again.`), "Confirm unban"));
  return el("li", { "data-user-id": b.user?.id || "" },
    el("span", { className: "who", text: name }),
    el("span", { className: "muted", text: ` ${b.reason ? `“${b.reason}” · ` : ""}by ${b.by?.name || "a host"} · ${localTime(b.at)} ` }),
    unban);
}

function timedOutItem(t) {
  const name = t.user?.name || "someone";
  return el("li", { "data-user-id": t.user?.id || "" },
    el("span", { className: "who", text: name }),
    el("span", { className: "muted", text: ` until ${localTime(t.until, { weekday: undefined, day: undefined, month: undefined })} · ` }),
    el("span", { className: "countdown", "data-countdown": String(t.until), text: untilText(t.until) }), " ",
    el("button", { type: "button", className: "secondary small", "data-action": "lift", "aria-label": `Lift ${name}'s timeout`, onclick: () => mod("mod.lift", { user_id: t.user.id }, `${name} may chat again.`) }, "Lift"));
}
// a timeout that runs out leaves the list by itself
startCountdowns($("timeout-list"), () => loadRestrictions());

// --- audit log -----------------------------------------------------------------------------
let auditTimer = null;
function loadAudit() {
  clearTimeout(auditTimer);
  auditTimer = setTimeout(async () => {
    try {
      const data = await api("GET", `/api/v1/shows/${encodeURIComponent(showId)}/moderation/audit?limit=100`);
      const entries = data.entries || [];
      $("audit-head").textContent = data.head || "";
      $("audit-list").replaceChildren(...entries.slice(0, 100).map((a) => el("li", {},
        el("time", { className: "muted", datetime: new Date(a.at).toISOString(), title: localTime(a.at), text: timeOf(a.at) }), " ",
        el("span", { text: a.summary || `${a.actor?.name || ""} ${a.action}` }))));
    } catch (err) {
      $("audit-list").replaceChildren(el("li", { className: "muted", text: err.status === 404 ? "The audit log is not available on this server." : err.message }));
    }
  }, 300);
}

// --- appeals -------------------------------------------------------------------------------
function appealItem(a) {
  const name = a.user?.name || "someone";
  const decide = (outcome) => async () => {
    try {
      await api("POST", `/api/v1/shows/${encodeURIComponent(showId)}/appeals/${encodeURIComponent(a.id)}/decide`, { outcome });
      status(outcome === "lifted" ? `${name}'s ${a.action?.kind} lifted.` : `${name}'s ${a.action?.kind} upheld.`, "ok");
      loadAppeals();
      loadRestrictions();
      loadAudit();
    } catch (err) { status(err.message, "error"); }
  };
  const why = a.action?.reason ? ` (“${a.action.reason}”)` : "";
  return el("li", { id: `appeal-${a.id}`, "data-status": a.status },
    el("span", { className: "who", text: name }),
    el("span", { className: "muted", text: ` appeals their ${a.action?.kind || "restriction"}${why}: ` }),
    el("span", { className: "text", text: a.text }), " ",
    a.status === "open"
      ? el("span", {},
        el("button", { type: "button", className: "small", "data-action": "lift-appeal", onclick: decide("lifted") }, "Lift"), " ",
        el("button", { type: "button", className: "secondary small", "data-action": "uphold-appeal", onclick: decide("upheld") }, "Uphold"))
      : el("span", { className: "muted", text: ` · ${a.status}` }));
}
async function loadAppeals() {
  try {
    const data = await api("GET", `/api/v1/shows/${encodeURIComponent(showId)}/appeals?status=open`);
    const list = data.appeals || [];
    $("appeal-list").replaceChildren(...(list.length ? list.map(appealItem) : [el("li", { className: "muted", text: "No open appeals." })]));
  } catch (err) { $("appeal-list").replaceChildren(el("li", { className: "muted", text: err.message })); }
}
hub.on("appeal.new", () => loadAppeals());
hub.on("appeal.decided", () => loadAppeals());

// --- the seller's reported reviews ----------------------------------------------------------
function reviewItem(r) {
  const act = (what) => async () => {
    try {
      await api("POST", `/api/v1/reviews/${encodeURIComponent(r.id)}/${what}`, { show_id: showId });
      status(what === "hide" ? "Review hidden." : "Review kept.", "ok");
      loadReviews();
    } catch (err) { status(err.message, "error"); }
  };
  return el("li", { id: `review-${r.id}` },
    el("span", { className: "who", text: `${"★".repeat(r.rating)} ${r.author?.name || ""}` }), " ",
    el("span", { className: "text", text: r.text }),
    el("span", { className: "muted", text: ` · ${r.reports} report${r.reports === 1 ? "" : "s"} ` }),
    el("button", { type: "button", className: "small", "data-action": "hide-review", onclick: act("hide") }, "Hide"), " ",
    el("button", { type: "button", className: "secondary small", "data-action": "keep-review", onclick: act("restore") }, "Keep"));
}
async function loadReviews() {
  try {
    const data = await api("GET", `/api/v1/reviews?status=reported&show_id=${encodeURIComponent(showId)}`);
    const list = data.reviews || [];
    $("review-list").replaceChildren(...(list.length ? list.map(reviewItem) : [el("li", { className: "muted", text: "No reported reviews." })]));
  } catch (err) { $("review-list").replaceChildren(el("li", { className: "muted", text: err.message })); }
}
loadAppeals();
loadReviews();

document.body.dataset.ready = "1";
