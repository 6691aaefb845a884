// Group buys on the pages (docs/SOCIAL.md). The viewer's card shows a group offer's progress:
// members so far, the price now, the next tier and how far to it, the countdown to the deadline
// and a share link (/shows/{id}?offer={offer_id}&ref={sharer}). The state comes from
// `group.updated`, the show.join ack's `group` and GET …/offers/{id}/group. The studio reads a
// ladder typed as "2:40.00, 5:35.00" (members:price) into tiers.
import { $, api, clock, money, toMinor } from "./common.js";

const params = new URLSearchParams(location.search);
/** The offer a share link opened the page on ("" when none). */
export const sharedOffer = params.get("offer") || "";
const REF_KEY = "lc_group_ref";
// The referrer who shared the link, kept for the session (the referral feature reads it later).
if (params.get("ref")) sessionStorage.setItem(REF_KEY, params.get("ref").slice(0, 100));

const groups = new Map(); // offer id -> the latest view
let shown = null; // the group offer on the card, {id, showId, me}

/** A `group.updated` (or join ack / REST read): keep it, redraw when it is on the card. */
export function updateGroup(view) {
  if (!view?.offer_id) return;
  groups.set(view.offer_id, view);
  if (shown?.id === view.offer_id) render();
}

/** Put the card's offer under the group bar (or hide the bar when it is not a group buy);
 * `me` is the viewer's account id, the `ref` of the link they share. */
export async function showGroup(offer, showId, me) {
  if (!offer || offer.kind !== "group") {
    shown = null;
    $("group").hidden = true;
    return;
  }
  shown = { id: offer.id, showId, me };
  if (!groups.has(offer.id)) {
    try {
      updateGroup(await api("GET", `/api/v1/shows/${encodeURIComponent(showId)}/offers/${encodeURIComponent(offer.id)}/group`));
    } catch { /* not readable now: the next group.updated draws it */ }
  }
  render();
}

function render() {
  const g = shown && groups.get(shown.id);
  const box = $("group");
  box.hidden = !g;
  if (!g) return;
  const price = (amount) => money({ amount, currency: g.currency });
  $("group-buyers").textContent = String(g.buyers);
  $("group-price").textContent = price(g.price_now);
  const next = g.next_tier;
  const bar = $("group-progress");
  bar.max = next ? next.min_buyers : 1;
  bar.value = next ? Math.min(g.buyers, next.min_buyers) : 1;
  box.dataset.status = g.status;
  box.dataset.buyers = String(g.buyers);
  if (g.status === "captured") $("group-next").textContent = `Closed: everyone pays ${price(g.final_price)}.`;
  else if (g.status === "void") $("group-next").textContent = "Closed below the first tier: nobody was charged.";
  else if (next) {
    const more = next.min_buyers - g.buyers;
    $("group-next").textContent = `${more} more ${more === 1 ? "person" : "people"} and everyone pays ${price(next.price)}.`;
  } else $("group-next").textContent = "Best price reached.";
  tickGroup();
}

/** The countdown to the deadline (the viewer page calls it every second). */
export function tickGroup() {
  const g = shown && groups.get(shown.id);
  if (!g) return;
  const left = g.ends_at ? (g.ends_at - Date.now()) / 1000 : null;
  $("group-countdown").textContent = g.status !== "open" || left === null ? "" : left > 0 ? `closes in ${clock(left)}` : "closing…";
}

/** The link a viewer shares to bring friends into the group. */
export function shareLink() {
  const url = new URL(`/shows/${encodeURIComponent(shown.showId)}`, location.origin);
  url.searchParams.set("offer", shown.id);
  if (shown.me) url.searchParams.set("ref", shown.me);
  return url.toString();
}

async function share() {
  if (!shown) return;
  const link = shareLink();
  $("group-share").dataset.link = link;
  try {
    if (navigator.share) await navigator.share({ url: link, title: document.title });
    else await navigator.clipboard.writeText(link);
    $("group-status").textContent = "Link ready to share.";
  } catch {
    $("group-status").textContent = link; // no share sheet or clipboard: show it to copy
  }
}

if ($("group-share")) $("group-share").addEventListener("click", share);

/** The studio's ladder text ("2:40.00, 5:35.00") as tiers [{min_buyers, price}] in minor units. */
export function parseTiers(text, currency) {
  return String(text).split(",").map((s) => s.trim()).filter(Boolean).map((step) => {
    const [count, amount] = step.split(":").map((s) => s.trim());
    return { min_buyers: Number.parseInt(count, 10), price: toMinor(amount, currency) };
  });
}
