// The seller's order book: every order with its buyer, items (product · variant × quantity),
// shipping address, total and status, filtered by status and show on the server and by a search
// box in the page; Mark as shipped (carrier + tracking number), full or partial refunds (with
// "put the items back in stock"), and the CSV of what the filters select.
import { $, addressLines, api, buyerName, cfg, el, itemText, localTime, majorText, minorOf, money, newKey, parseMoney } from "./common.js";

const orders = new Map();
const catalog = new Map(); // product id → product, naming items on servers whose orders carry ids
const STATUS_TEXT = {
  paid: "Paid · to ship",
  fulfilled: "Shipped",
  partially_refunded: "Partly refunded",
  refunded: "Refunded",
  pending_payment: "Waiting for payment",
  reserved: "Reserved",
  failed: "Failed",
  expired: "Expired",
  cancelled: "Cancelled",
};
const SHIPPABLE = new Set(["paid", "partially_refunded"]);
const REFUNDABLE = new Set(["paid", "partially_refunded", "fulfilled"]);

function status(text, state = "") {
  $("orders-status").textContent = text;
  $("orders-status").dataset.state = state;
}

function query() {
  const params = new URLSearchParams({ scope: "seller" });
  if ($("f-status").value) params.set("status", $("f-status").value);
  if ($("f-show").value) params.set("show_id", $("f-show").value);
  return params;
}

async function loadCatalog() {
  const data = await api("GET", `/api/v1/products?seller_id=${encodeURIComponent(cfg.userId)}&include_archived=1`);
  for (const p of data.products || []) catalog.set(p.id, p);
}

async function load() {
  const params = query();
  $("orders-csv").href = `/api/v1/orders/export.csv?${params}`;
  params.set("limit", "1000");
  try {
    const data = await api("GET", `/api/v1/orders?${params}`);
    orders.clear();
    for (const o of data.orders || []) orders.set(o.id, o);
    render();
  } catch (err) {
    status(`Could not load orders: ${err.message}`, "error");
  }
}

function searchable(o) {
  return [o.id, buyerName(o), itemText(o, catalog), ...addressLines(o.shipping_address), o.fulfilment?.tracking_number]
    .filter(Boolean).join(" ").toLowerCase();
}

function render() {
  const needle = $("f-search").value.trim().toLowerCase();
  const list = [...orders.values()]
    .filter((o) => !needle || searchable(o).includes(needle))
    .sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
  $("order-rows").replaceChildren(...list.map(row));
  $("orders-empty").hidden = list.length > 0;
}

function row(o) {
  const refunded = minorOf(o.refunded);
  const image = o.product?.image_url || catalog.get(o.product_id)?.image_url;
  const shipped = o.fulfilment;
  const actions = el("td", { className: "actions" });
  if (SHIPPABLE.has(o.status)) actions.append(el("button", { type: "button", className: "small", "data-action": "fulfil", onclick: () => openFulfil(o) }, "Mark as shipped"));
  if (REFUNDABLE.has(o.status) && refunded < minorOf(o.total)) actions.append(el("button", { type: "button", className: "secondary small", "data-action": "refund", onclick: () => openRefund(o) }, "Refund"));
  return el("tr", { id: `order-${o.id}`, "data-order-id": o.id, "data-status": o.status },
    el("td", {}, el("time", { datetime: new Date(o.created_at).toISOString(), text: localTime(o.created_at) }),
      el("div", { className: "muted small order-id", text: `#${o.id}` })),
    el("td", { className: "buyer", text: buyerName(o) }),
    el("td", { className: "items" }, el("div", { className: "item-line" },
      image ? el("img", { className: "thumb", src: image, alt: "" }) : null, el("span", { text: itemText(o, catalog) }))),
    el("td", { className: "address" }, ...(addressLines(o.shipping_address).length
      ? addressLines(o.shipping_address).map((line) => el("div", { text: line }))
      : [el("span", { className: "muted", text: "No address" })])),
    el("td", {}, money(o.total), refunded ? el("div", { className: "muted small", text: `${money(o.refunded)} refunded` }) : null),
    el("td", {}, el("span", { className: `badge status ${o.status}`, text: STATUS_TEXT[o.status] || o.status }),
      shipped ? el("div", { className: "small tracking", text: [shipped.carrier, shipped.tracking_number].filter(Boolean).join(" · ") }) : null),
    actions);
}

for (const id of ["f-status", "f-show"]) $(id).addEventListener("change", load);
$("f-search").addEventListener("input", render);
$("order-filters").addEventListener("submit", (e) => e.preventDefault());

// --- dialogs -------------------------------------------------------------------------------
for (const dialog of document.querySelectorAll("dialog")) {
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
}
let current = null;
let refundKey = null;

function say(id, text, state = "") {
  $(id).textContent = text;
  $(id).dataset.state = state;
}

function openFulfil(o) {
  current = o;
  $("fulfil-what").textContent = `${itemText(o, catalog)} for ${buyerName(o)}`;
  $("fulfil-carrier").value = "";
  $("fulfil-tracking").value = "";
  say("fulfil-status", "");
  $("fulfil-dialog").showModal();
}

$("fulfil-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {};
  if ($("fulfil-carrier").value.trim()) body.carrier = $("fulfil-carrier").value.trim();
  if ($("fulfil-tracking").value.trim()) body.tracking_number = $("fulfil-tracking").value.trim();
  $("fulfil-save").disabled = true;
  try {
    const updated = await api("POST", `/api/v1/orders/${encodeURIComponent(current.id)}/fulfil`, body);
    orders.set(updated.id, { ...current, ...updated });
    $("fulfil-dialog").close();
    render();
    status(`Order #${current.id} marked as shipped.`, "ok");
  } catch (err) {
    say("fulfil-status", err.message, "error");
  } finally {
    $("fulfil-save").disabled = false;
  }
});

function openRefund(o) {
  current = o;
  refundKey = newKey(); // one key per refund attempt: a double press refunds once
  const left = minorOf(o.total) - minorOf(o.refunded);
  $("refund-what").textContent = `${itemText(o, catalog)} for ${buyerName(o)}: ${money({ amount: left, currency: o.total.currency })} can be refunded.`;
  $("refund-currency").textContent = o.total.currency;
  $("refund-amount").value = "";
  $("refund-amount").placeholder = majorText(left, o.total.currency);
  $("refund-restock").checked = false;
  say("refund-status", "");
  $("refund-dialog").showModal();
}

$("refund-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { idempotency_key: refundKey };
  if ($("refund-restock").checked) body.restock = true;
  const typed = $("refund-amount").value.trim();
  if (typed) {
    const amount = parseMoney(typed, current.total.currency);
    if (amount === null) { say("refund-status", "Write the amount like 12.50, or leave it empty.", "error"); return; }
    body.amount = amount;
  }
  $("refund-save").disabled = true;
  try {
    const updated = await api("POST", `/api/v1/orders/${encodeURIComponent(current.id)}/refund`, body);
    orders.set(updated.id, { ...current, ...updated });
    $("refund-dialog").close();
    render();
    status(`Refunded ${money(updated.refunded)} of order #${current.id}.`, "ok");
  } catch (err) {
    say("refund-status", err.message, "error");
  } finally {
    $("refund-save").disabled = false;
  }
});

const wanted = new URLSearchParams(location.search).get("show");
if (wanted && [...$("f-show").options].some((o) => o.value === wanted)) $("f-show").value = wanted;
loadCatalog().catch(() => {}).then(load).then(() => { document.body.dataset.ready = "1"; });
