// Service worker for Web Push: shows the notification the server pushed ({id, kind, title,
// body, url}) and opens its page when clicked.
self.addEventListener("push", (event) => {
  let n = {};
  try { n = event.data ? event.data.json() : {}; } catch { n = { title: event.data?.text() }; }
  event.waitUntil(self.registration.showNotification(n.title || "LiveCommerce", {
    body: n.body || "",
    tag: n.id,
    data: { url: n.url || "/" },
    icon: "/static/icons/favicon.svg",
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/", self.location.origin).href;
  event.waitUntil(self.clients.openWindow(url));
});
