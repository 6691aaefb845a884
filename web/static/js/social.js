// Coupons and voucher drops on the pages (docs/SOCIAL.md). The viewer page gets a coupon field
// in the buy sheet (the discount and new total come from the server's checkout answer, never
// computed here) and a voucher drop as a tappable envelope: a claim shows the code and offers to
// apply it. The studio gets a panel that creates a coupon and fires a drop. Everything a user
// typed or a server sent is put in the page as text, never as markup.
import { $, api, errorText, money } from "./common.js";

/** The code typed in the buy sheet, for checkout.start (undefined when empty). */
export function couponCode() {
  const input = $("coupon-code");
  const code = input ? input.value.trim() : "";
  return code || undefined;
}

/** Show what the server's order says the coupon took off (or nothing without one). */
export function showDiscount(order) {
  const line = $("sheet-discount");
  if (!line) return;
  const off = order?.discount?.amount || 0;
  line.hidden = off === 0;
  line.textContent = off ? `Coupon ${order.coupon_code}: −${money(order.discount)} · total ${money(order.total)}` : "";
}

/** The drop envelope on the viewer page: `hub` is the page's connection, `signedIn()` whether
 * a claim can be made, `apply(code)` opens the buy sheet with the code filled in. Returns
 * `{joined(drops)}` for the `show.join` ack's running drops (null without an envelope). */
export function mountDrops(hub, showId, { signedIn, apply }) {
  const box = $("drop");
  if (!box) return null;
  const envelope = $("drop-envelope");
  const status = $("drop-status");
  const applyButton = $("drop-apply");
  const drop = { id: "", code: "", timer: null };

  function left(n) { $("drop-left").textContent = `${n} left`; }
  function finish() {
    clearTimeout(drop.timer);
    envelope.disabled = true;
    if (!drop.code) status.textContent = "This drop has ended.";
    box.dataset.state = "ended";
    drop.timer = setTimeout(() => { if (!drop.code) box.hidden = true; }, 5000);
  }

  function appear(p) {
    clearTimeout(drop.timer);
    Object.assign(drop, { id: p.drop_id, code: "" });
    box.hidden = false;
    box.dataset.state = "open";
    envelope.disabled = false;
    applyButton.hidden = true;
    status.textContent = "Tap the envelope for a voucher!";
    left(p.claims_left);
  }
  hub.on("drop.started", appear);
  // a viewer who joined after the start learns of the drop from the join ack or its next update
  hub.on("drop.updated", (p) => { if (p.drop_id === drop.id) left(p.claims_left); else if (p.claims_left > 0) appear(p); });
  hub.on("drop.ended", (p) => { if (p.drop_id === drop.id) finish(); });

  envelope.addEventListener("click", async () => {
    if (!signedIn()) { status.textContent = "Sign in to claim a voucher."; return; }
    envelope.disabled = true;
    const ack = await hub.emit("drop.claim", { show_id: showId, drop_id: drop.id });
    if (!ack.ok) {
      const code = ack.error?.code;
      status.textContent = code === "drop_exhausted" ? "Every voucher is taken." : code === "drop_ended" ? "This drop has ended." : errorText(ack);
      envelope.disabled = code !== "rate_limited"; // a moment later it may work; nothing else will
      return;
    }
    drop.code = ack.coupon_code;
    box.dataset.state = "claimed";
    const c = ack.coupon || {};
    const worth = c.kind === "percent" ? `${c.value}% off` : `${money({ amount: c.value, currency: c.currency })} off`;
    status.textContent = `Your code: ${drop.code} (${worth})`;
    applyButton.hidden = false;
  });
  applyButton.addEventListener("click", () => apply(drop.code));
  return {
    joined(drops) {
      const latest = (drops || []).at(-1);
      if (latest && latest.id !== drop.id) appear({ drop_id: latest.id, claims_left: latest.claims_left });
      else if (latest) left(latest.claims_left);
    },
  };
}

/** The studio's panel: create a coupon, fire a drop in this show. */
export function mountStudioSocial(showId) {
  const form = $("coupon-form");
  if (!form) return;
  const status = $("social-status");
  function fields() {
    const kind = $("coupon-kind").value;
    const value = Number($("coupon-value").value);
    const out = { kind, value: kind === "amount" ? Math.round(value * 100) : Math.round(value) };
    if (kind === "amount") out.currency = document.body.dataset.currency || "USD";
    if ($("coupon-this-show").checked) out.scope = { show_id: showId };
    return out;
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = fields();
    const code = $("coupon-code-new").value.trim();
    if (code) body.code = code;
    const limit = Number($("coupon-limit").value);
    if (limit > 0) body.max_redemptions = limit;
    try {
      const c = await api("POST", "/api/v1/coupons", body);
      status.textContent = `Coupon ${c.code} created.`;
    } catch (err) {
      status.textContent = `Could not create the coupon: ${err.message}`;
    }
  });
  $("drop-fire").addEventListener("click", async () => {
    const claims = Math.max(1, Number($("drop-claims").value) || 1);
    const duration = Math.max(5, Number($("drop-seconds").value) || 60);
    try {
      const d = await api("POST", `/api/v1/shows/${encodeURIComponent(showId)}/drops`, { coupon: fields(), claims, duration_seconds: duration });
      status.textContent = `Drop fired: ${d.claims} vouchers for ${duration} s.`;
    } catch (err) {
      status.textContent = `Could not fire the drop: ${err.message}`;
    }
  });
}
