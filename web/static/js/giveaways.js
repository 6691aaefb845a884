// Giveaways (docs/GIVEAWAYS.md) on the viewer page and in the studio. The viewer sees the show's
// giveaway in a card: the prize, how to enter (button, or the chat keyword), the close's
// countdown, the commitment (the hash of the secret seed), the entry count, Enter; after the draw
// the winners and a Verify link to the public record. The studio creates a giveaway and draws it.
// State the tests look at: <article id="giveaway" data-status="open|closed|drawn">.
import { $, api, el, errorText } from "./common.js";

const recordUrl = (id) => `/api/v1/giveaways/${encodeURIComponent(id)}`;

function secondsLeft(closesAt) {
  return Math.max(0, Math.round((closesAt - Date.now()) / 1000));
}

/** Fill the card shared by both pages from a giveaway's public state. */
function render(g) {
  const card = $("giveaway");
  card.hidden = !g;
  if (!g) return;
  card.dataset.status = g.status;
  $("giveaway-prize").textContent = g.prize?.name || "a prize";
  const count = g.winners_count ?? g.winners;
  $("giveaway-rule").textContent =
    (g.entry === "chat_keyword" ? `Say “${g.keyword}” in chat or tap Enter` : "Tap Enter") +
    ` · ${count} winner${count === 1 ? "" : "s"}` + (g.requires_follow ? " · followers only" : "");
  $("giveaway-entries").textContent = String(g.entries ?? 0);
  $("giveaway-commitment").textContent = g.commitment || "";
  $("giveaway-countdown").textContent =
    g.status === "open" ? `closes in ${secondsLeft(g.closes_at)} s` : g.status === "closed" ? "closed · awaiting the draw" : "drawn";
  const winners = g.drawn?.winners || [];
  $("giveaway-winners").hidden = g.status !== "drawn";
  $("giveaway-winners").replaceChildren(...winners.map((w) => el("li", {}, w.name || w.id)));
  $("giveaway-verify").hidden = g.status !== "drawn";
  $("giveaway-record").href = recordUrl(g.id);
}

/** Follow a show's giveaway events on `hub`; returns {show(ack.giveaway), current()}. */
function follow(hub, changed) {
  let current = null;
  const update = (patch) => {
    if (!current || current.id !== patch.giveaway_id) return;
    current = { ...current, ...patch };
    render(current);
    changed(current);
  };
  hub.on("giveaway.started", (g) => { current = { ...g, entries: 0 }; render(current); changed(current); });
  hub.on("giveaway.updated", (p) => update({ giveaway_id: p.giveaway_id, entries: p.entries }));
  hub.on("giveaway.closed", (p) => update({ ...p, status: "closed" }));
  hub.on("giveaway.drawn", (p) => update({ giveaway_id: p.giveaway_id, status: "drawn", drawn: { winners: p.winners, seed: p.seed } }));
  setInterval(() => { if (current?.status === "open") render(current); }, 1000);
  return {
    show(g) { current = g || null; render(current); changed(current); },
    current: () => current,
  };
}

/** The viewer page: Enter sends `giveaway.enter`; the ack's entry id lets the viewer find
 * themselves in the published record. */
export function viewerGiveaway(hub, { canEnter }) {
  const status = (text) => { $("giveaway-status").textContent = text; };
  const state = follow(hub, (g) => {
    $("giveaway-enter").hidden = !g || g.status !== "open";
    $("giveaway-enter").disabled = !canEnter();
    if (g && !canEnter()) status("Sign in (not as a guest) to enter.");
  });
  $("giveaway-enter").addEventListener("click", async () => {
    const g = state.current();
    if (!g) return;
    $("giveaway-enter").disabled = true;
    const ack = await hub.emit("giveaway.enter", { giveaway_id: g.id });
    if (ack.ok) {
      document.body.dataset.giveawayEntry = ack.entry.id;
      status(`You're in. Your entry: ${ack.entry.id}`);
    } else {
      $("giveaway-enter").disabled = false;
      status(errorText(ack));
    }
  });
  return state;
}

/** The studio: the create form (the seller's products) and Draw. */
export function studioGiveaway(hub, { showId, products }) {
  const status = (text) => { $("giveaway-status").textContent = text; };
  const state = follow(hub, (g) => {
    $("giveaway-draw").hidden = !g || g.status === "drawn";
    $("giveaway-draw").disabled = !g || g.status === "drawn";
  });
  $("giveaway-entry").addEventListener("change", () => {
    $("giveaway-keyword").disabled = $("giveaway-entry").value !== "chat_keyword";
  });
  $("giveaway-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      prize: { product_id: $("giveaway-product").value },
      winners: Number($("giveaway-winners-count").value),
      entry: $("giveaway-entry").value,
      duration_seconds: Number($("giveaway-seconds").value),
      requires_follow: $("giveaway-follow").checked,
    };
    if (body.entry === "chat_keyword") body.keyword = $("giveaway-keyword").value.trim();
    try {
      await api("POST", `/api/v1/shows/${encodeURIComponent(showId)}/giveaways`, body);
      status("Giveaway started.");
    } catch (err) {
      status(err.message);
    }
  });
  $("giveaway-draw").addEventListener("click", async () => {
    const g = state.current();
    if (!g) return;
    try {
      const record = await api("POST", `/api/v1/shows/${encodeURIComponent(showId)}/giveaways/${encodeURIComponent(g.id)}/draw`);
      status(`Drawn: ${record.winners.map((w) => w.name).join(", ") || "nobody entered"}.`);
    } catch (err) {
      status(err.message);
    }
  });
  products().then((list) => {
    $("giveaway-product").replaceChildren(...list.map((p) => el("option", { value: p.id }, p.name)));
  });
  return state;
}
