// The notification bell in the page header: the unread count, the recent notifications (REST
// on load), new ones as they arrive (`notification.new` on the hub, through the page's own
// connection or one of its own), marking read when opened, and turning on Web Push.
import { api, connectHub, el, hubShared } from "./common.js";

const root = document.querySelector("[data-bell]");
const button = root?.querySelector("[data-bell-button]");
const count = root?.querySelector("[data-bell-count]");
const list = root?.querySelector("[data-bell-list]");
const seen = new Set();
let unread = 0;

function showCount() {
  count.textContent = String(unread);
  count.hidden = unread === 0;
  button.setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
}

function item(n) {
  const link = el("a", { href: n.url }, el("strong", { text: n.title }), el("span", { text: n.body }));
  return el("li", { className: n.read ? "read" : "unread", "data-notification": n.id }, link);
}

function add(n, atTop) {
  if (seen.has(n.id)) return false;
  seen.add(n.id);
  list.querySelector("[data-bell-empty]")?.remove();
  if (atTop) list.prepend(item(n));
  else list.append(item(n));
  return true;
}

async function load() {
  const page = await api("GET", "/api/v1/me/notifications?limit=10");
  for (const n of page.notifications) add(n, false);
  unread = page.unread;
  showCount();
}

async function open() {
  const opening = list.hidden;
  list.hidden = !opening;
  button.setAttribute("aria-expanded", String(opening));
  if (opening && unread) {
    const answer = await api("POST", "/api/v1/me/notifications/read", { all: true });
    unread = answer.unread;
    showCount();
  }
}

async function enablePush() {
  const registration = await navigator.serviceWorker.register(root.dataset.sw);
  if ((await Notification.requestPermission()) !== "granted") return;
  const { public_key: key } = await api("GET", "/api/v1/push/vapid-public-key");
  const sub = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await api("POST", "/api/v1/me/push-subscriptions", sub.toJSON());
}

if (root) {
  button.addEventListener("click", open);
  window.addEventListener("lc:notification", (event) => {
    if (add(event.detail, true)) {
      unread += 1;
      showCount();
    }
  });
  const push = root.querySelector("[data-bell-push]");
  if (push && "serviceWorker" in navigator && "PushManager" in window) {
    push.hidden = false;
    push.addEventListener("click", () => enablePush().catch(() => { push.textContent = "Push unavailable"; }));
  }
  load().catch(() => {});
  // pages with a show connection share it; the others get one of their own for the bell
  window.addEventListener("DOMContentLoaded", () => {
    if (hubShared) return;
    const socket = connectHub();
    socket.on("connect", () => { root.dataset.live = "1"; });
    socket.on("disconnect", () => { delete root.dataset.live; });
  });
}
