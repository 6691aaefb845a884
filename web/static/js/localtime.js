// Times for people: in the viewer's own time zone and language (the server renders UTC, as it
// cannot know the viewer's zone), and countdowns to a moment.

/** A moment (epoch ms) as the viewer reads it: "Sat 5 Dec, 19:00 CET" (the year when not this one). */
export function localTime(ms) {
  const when = new Date(Number(ms));
  const options = { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  if (when.getFullYear() !== new Date().getFullYear()) options.year = "numeric";
  return when.toLocaleString(undefined, options);
}

/** Seconds left → "2 d 03:04:05", "1:02:03" or "4:05". */
export function countdown(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const rest = `${String(Math.floor((s % 3600) / 60)).padStart(hours || days ? 2 : 1, "0")}:${String(s % 60).padStart(2, "0")}`;
  if (days) return `${days} d ${String(hours).padStart(2, "0")}:${rest}`;
  return hours ? `${hours}:${rest}` : rest;
}

/** Rewrite every <time datetime data-local> below `root` in local time (the UTC text stays as
 * its title). */
export function localizeTimes(root = document) {
  for (const node of root.querySelectorAll("time[datetime][data-local]")) {
    const ms = Date.parse(node.getAttribute("datetime"));
    if (Number.isNaN(ms)) continue;
    node.title = node.textContent;
    node.textContent = localTime(ms);
  }
}
