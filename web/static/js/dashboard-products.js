// The seller's catalog page: the product list (photo, price, variants with SKU and stock,
// archived or not), a dialog to create or edit a product with its option, variants and photo,
// archive / unarchive, and a CSV import that is checked (dry run) before it writes.
// Prices are typed in currency units ("12.50") and sent in minor units; the photo goes up as
// multipart/form-data and comes back resized by the server.
import { $, api, apiBody, cfg, confirmFirst, el, majorText, money, parseMoney } from "./common.js";

const currency = cfg.currency || "USD";
const products = new Map();
let editing = null; // the product open in the editor (null: a new one)

function status(text, state = "") {
  $("products-status").textContent = text;
  $("products-status").dataset.state = state;
}
function editorStatus(text, state = "") {
  $("editor-status").textContent = text;
  $("editor-status").dataset.state = state;
}

// --- list ----------------------------------------------------------------------------------
async function load() {
  const data = await api("GET", `/api/v1/products?seller_id=${encodeURIComponent(cfg.userId)}&include_archived=1`);
  products.clear();
  for (const p of data.products || []) products.set(p.id, p);
  render();
}

function photo(p, sizes) {
  const images = p.images || [];
  if (!images.length && !p.image_url) return el("span", { className: "thumb empty-thumb", "aria-hidden": "true" });
  const img = el("img", { className: "thumb", alt: "", loading: "lazy", src: images[0]?.url || p.image_url, sizes });
  if (images.length) img.srcset = images.map((i) => `${i.url} ${i.width}w`).join(", ");
  return img;
}

function render() {
  const showArchived = $("show-archived").checked;
  const list = [...products.values()].filter((p) => showArchived || !p.archived);
  $("product-rows").replaceChildren(...list.map((p) => {
    const variants = el("ul", { className: "list small" }, ...p.variants.map((v) => el("li", {},
      el("strong", { text: v.label }),
      v.sku ? el("span", { className: "muted", text: ` · ${v.sku}` }) : null,
      ` · ${v.stock} in stock`,
      v.price.amount !== p.price.amount ? ` · ${money(v.price)}` : null)));
    const archive = el("button", { type: "button", className: "secondary small", "data-action": p.archived ? "unarchive" : "archive" }, p.archived ? "Unarchive" : "Archive");
    archive.addEventListener("click", p.archived ? () => setArchived(p, false) : confirmFirst(archive, () => setArchived(p, true), "Archive?"));
    return el("tr", { id: `product-${p.id}`, "data-product-id": p.id, className: p.archived ? "archived" : "" },
      el("td", {}, photo(p, "48px")),
      el("td", {}, el("strong", { text: p.name }), p.archived ? el("span", { className: "badge off", text: "archived" }) : null,
        p.requires_shipping === false ? el("span", { className: "badge tag", text: "not shipped" }) : null,
        p.option_name ? el("div", { className: "muted small", text: p.option_name }) : null),
      el("td", { text: money(p.price) }),
      el("td", {}, variants),
      el("td", { className: "reviews" }, ratingText(p.reviews)),
      el("td", { className: "actions" },
        el("button", { type: "button", className: "secondary small", "data-action": "edit", onclick: () => openEditor(p) }, "Edit"),
        archive));
  }));
  $("products-empty").hidden = list.length > 0;
}

/** Verified buyers' ratings: average and count, the spread by stars below. */
function ratingText(summary) {
  if (!summary?.count) return el("span", { className: "muted", text: "none yet" });
  const spread = [5, 4, 3, 2, 1].map((s) => `${s}★ ${summary.distribution?.[String(s)] || 0}`).join(" · ");
  return el("span", {},
    el("strong", { text: `★ ${summary.average.toFixed(1)}` }), ` (${summary.count})`,
    el("div", { className: "muted small", text: spread }));
}

async function setArchived(p, archived) {
  try {
    const updated = await api("PATCH", `/api/v1/products/${encodeURIComponent(p.id)}`, { archived });
    products.set(updated.id, updated);
    render();
    status(archived ? `${p.name} is archived: it keeps its orders and cannot be offered.` : `${p.name} can be offered again.`, "ok");
  } catch (err) {
    status(err.message, "error");
  }
}

$("show-archived").addEventListener("change", render);

// --- editor --------------------------------------------------------------------------------
function variantRow(v = null) {
  const n = $("variant-rows").children.length + 1;
  const input = (cls, label, attrs) => el("input", { className: cls, "aria-label": `${label} of variant ${n}`, autocomplete: "off", ...attrs });
  const row = el("tr", { "data-variant-id": v?.id || "" },
    el("td", {}, input("v-label", "Value", { maxlength: 60, value: v?.label ?? "", placeholder: "M" })),
    el("td", {}, input("v-sku", "SKU", { maxlength: 64, value: v?.sku ?? "", placeholder: "TEE-M" })),
    el("td", {}, input("v-price", "Own price", { inputmode: "decimal", value: v && v.price.amount !== editing?.price.amount ? majorText(v.price.amount, currency) : "", placeholder: "—" })),
    el("td", {}, input("v-stock", "Stock", { type: "number", min: 0, max: 1000000, step: 1, value: v?.stock ?? 0 })),
    el("td", {}, v ? null : el("button", { type: "button", className: "secondary small danger", "aria-label": `Remove variant ${n}`, onclick: () => row.remove() }, "Remove")));
  row.dataset.stock = String(v?.stock ?? 0);
  row.dataset.price = String(v?.price.amount ?? "");
  row.dataset.label = v?.label ?? "";
  row.dataset.sku = v?.sku ?? "";
  $("variant-rows").append(row);
  return row;
}

function fillVariants(p) {
  $("variant-rows").replaceChildren();
  for (const v of p?.variants || []) variantRow(v);
  if (!p) variantRow();
}

function openEditor(p = null) {
  editing = p;
  $("editor-h").textContent = p ? `Edit ${p.name}` : "New product";
  $("p-name").value = p?.name ?? "";
  $("p-description").value = p?.description ?? "";
  $("p-price").value = p ? majorText(p.price.amount, p.price.currency) : "";
  $("p-currency").textContent = p?.price.currency || currency;
  $("p-option").value = p?.option_name ?? "";
  $("p-ships").checked = p?.requires_shipping ?? true;
  $("p-photo").value = "";
  const preview = $("p-photo-preview");
  const images = p?.images || [];
  preview.hidden = !(images.length || p?.image_url);
  if (!preview.hidden) preview.src = images[images.length > 1 ? 1 : 0]?.url || p.image_url;
  fillVariants(p);
  editorStatus("");
  $("editor").showModal();
  $("p-name").focus();
}

$("new-product").addEventListener("click", () => openEditor(null));
$("add-variant").addEventListener("click", () => variantRow().querySelector(".v-label").focus());
$("editor-cancel").addEventListener("click", () => $("editor").close());

/** The editor's fields checked; throws Error(message) on the first problem, focusing it. */
function readForm() {
  const fail = (node, message) => { node.focus(); throw new Error(message); };
  const name = $("p-name").value.trim();
  if (!name) fail($("p-name"), "Give the product a name.");
  const productCurrency = editing?.price.currency || currency;
  const price = parseMoney($("p-price").value, productCurrency);
  if (price === null) fail($("p-price"), "Write the price like 12.50.");
  const rows = [...$("variant-rows").children];
  const variants = rows.map((row, i) => {
    const get = (cls) => row.querySelector(cls);
    let label = get(".v-label").value.trim();
    if (!label && rows.length === 1) label = "default";
    if (!label) fail(get(".v-label"), `Variant ${i + 1} needs a value (such as M or Blue).`);
    const ownText = get(".v-price").value.trim();
    const own = ownText ? parseMoney(ownText, productCurrency) : null;
    if (ownText && own === null) fail(get(".v-price"), `Write the price of ${label} like 12.50, or leave it empty.`);
    const stock = Number(get(".v-stock").value);
    if (!Number.isInteger(stock) || stock < 0) fail(get(".v-stock"), `The stock of ${label} is a whole number.`);
    return { row, id: row.dataset.variantId, label, sku: get(".v-sku").value.trim(), price: own, stock };
  });
  const photo = $("p-photo").files[0];
  const limit = Number(cfg.imageMaxBytes || 0);
  if (photo && limit && photo.size > limit) {
    fail($("p-photo"), `The photo is ${(photo.size / 1048576).toFixed(1)} MB; photos up to ${(limit / 1048576).toFixed(1)} MB are accepted.`);
  }
  return { name, description: $("p-description").value, price, option_name: $("p-option").value.trim(), requires_shipping: $("p-ships").checked, variants };
}

async function uploadPhoto(productId) {
  const file = $("p-photo").files[0];
  if (!file) return null;
  const form = new FormData();
  form.append("image", file);
  return apiBody("POST", `/api/v1/products/${encodeURIComponent(productId)}/images`, form);
}

/** A stock change is an adjustment movement of the difference (the variant's movements log
 * says who changed it from the catalog page, and when). */
async function changeStock(productId, variantId, before, after) {
  if (before === after) return;
  const base = `/api/v1/products/${encodeURIComponent(productId)}/variants/${encodeURIComponent(variantId)}`;
  await api("POST", `${base}/stock`, { delta: after - before, note: "catalog page" });
}

async function saveNew(form) {
  const created = await api("POST", "/api/v1/products", {
    name: form.name,
    description: form.description,
    price: form.price,
    currency,
    option_name: form.option_name,
    requires_shipping: form.requires_shipping,
    variants: form.variants.map((v) => ({ label: v.label, stock: v.stock, ...(v.sku ? { sku: v.sku } : {}), ...(v.price ? { price: v.price } : {}) })),
  });
  editing = created; // a failed photo upload is retried as an edit, never a second product
  products.set(created.id, created);
  return created;
}

async function saveEdit(p, form) {
  const id = encodeURIComponent(p.id);
  await api("PATCH", `/api/v1/products/${id}`, { name: form.name, description: form.description, price: form.price, option_name: form.option_name, requires_shipping: form.requires_shipping });
  for (const v of form.variants) {
    if (!v.id) {
      const updated = await api("POST", `/api/v1/products/${id}/variants`, { label: v.label, stock: v.stock, ...(v.sku ? { sku: v.sku } : {}), ...(v.price ? { price: v.price } : {}) });
      const added = updated.variants.find((x) => x.label === v.label);
      // a retry after a later failure edits this variant instead of adding it twice
      Object.assign(v.row.dataset, { variantId: added.id, label: added.label, sku: added.sku || "", stock: String(added.stock), price: String(added.price.amount) });
      continue;
    }
    const patch = {};
    if (v.label !== v.row.dataset.label) patch.label = v.label;
    if (v.sku !== v.row.dataset.sku) patch.sku = v.sku;
    if (v.price && v.price !== Number(v.row.dataset.price)) patch.price = v.price;
    if (Object.keys(patch).length) {
      await api("PATCH", `/api/v1/products/${id}/variants/${encodeURIComponent(v.id)}`, patch);
      Object.assign(v.row.dataset, { label: v.label, sku: v.sku, ...(patch.price ? { price: String(v.price) } : {}) });
    }
    await changeStock(p.id, v.id, Number(v.row.dataset.stock), v.stock);
    v.row.dataset.stock = String(v.stock);
  }
}

$("product-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  let form;
  try { form = readForm(); } catch (err) { editorStatus(err.message, "error"); return; }
  $("editor-save").disabled = true;
  editorStatus("Saving…", "pending");
  const wasNew = editing === null;
  try {
    const product = editing ? (await saveEdit(editing, form), editing) : await saveNew(form);
    editorStatus($("p-photo").files[0] ? "Uploading the photo…" : "Saving…", "pending");
    await uploadPhoto(product.id);
    $("editor").close();
    await load();
    status(`Saved ${form.name}.`, "ok");
  } catch (err) {
    editorStatus(err.message, "error");
    if (wasNew && editing) {
      // the product was created (its photo failed): pressing Save again edits it
      await load().catch(() => {});
      editing = products.get(editing.id) || editing;
      $("editor-h").textContent = `Edit ${editing.name}`;
      fillVariants(editing);
    }
  } finally {
    $("editor-save").disabled = false;
  }
});

// --- CSV import ----------------------------------------------------------------------------
let checkedText = null;

function showReport(report, done) {
  const parts = [];
  const { products: p, variants: v } = report;
  if (p.create || v.create) parts.push(`${p.create} new product${p.create === 1 ? "" : "s"} with ${v.create} new variant${v.create === 1 ? "" : "s"}`);
  if (p.update || v.update) parts.push(`${v.update} variant${v.update === 1 ? "" : "s"} of ${p.update} product${p.update === 1 ? "" : "s"} updated`);
  const what = parts.join(", ") || "nothing to change";
  $("import-summary").textContent = done ? `Imported ${report.rows} rows: ${what}.` : `${report.rows} rows checked: ${what}.`;
}

function showErrors(errors) {
  $("import-errors").hidden = !errors.length;
  $("import-error-rows").replaceChildren(...errors.map((e) => el("tr", {},
    el("td", { text: String(e.line) }), el("td", { text: e.column || "" }), el("td", { text: e.message }))));
  if (errors.length) $("import-summary").textContent = `${errors.length} problem${errors.length === 1 ? "" : "s"} to fix in the file; nothing was imported.`;
}

$("import-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = $("import-file").files[0];
  if (!file) return;
  checkedText = null;
  $("import-run").hidden = true;
  $("import-result").hidden = false;
  $("import-summary").textContent = "Checking…";
  try {
    const text = await file.text();
    const report = await apiBody("POST", "/api/v1/products/import?dry_run=1", text, { "Content-Type": "text/csv" });
    showReport(report, false);
    showErrors(report.errors);
    if (!report.errors.length) {
      checkedText = text;
      $("import-run").hidden = false;
      $("import-run").textContent = `Import ${report.rows} rows`;
    }
  } catch (err) {
    showErrors([]);
    $("import-summary").textContent = err.message;
  }
});

$("import-run").addEventListener("click", async () => {
  if (checkedText === null) return;
  $("import-run").disabled = true;
  try {
    const report = await apiBody("POST", "/api/v1/products/import", checkedText, { "Content-Type": "text/csv" });
    showReport(report, true);
    showErrors([]);
    $("import-run").hidden = true;
    checkedText = null;
    await load();
  } catch (err) {
    showErrors(err.details?.errors || []);
    if (!err.details?.errors) $("import-summary").textContent = err.message;
  } finally {
    $("import-run").disabled = false;
  }
});

load().then(() => { document.body.dataset.ready = "1"; }, (err) => {
  status(`Could not load your products: ${err.message}`, "error");
  document.body.dataset.ready = "1";
});
