// The dashboard's shows page: times in the browser's zone, countdowns to scheduled shows, the
// schedule form sending its local date and time as ISO 8601 with the zone's offset, and the
// selected show's hosts (added by e-mail, removed with two presses).
import { $, api, confirmFirst, isoWithOffset, localizeTimes, startCountdowns, timeZoneName } from "./common.js";

localizeTimes();
startCountdowns();
const zone = timeZoneName();
if (zone) $("tz-name").textContent = ` (${zone})`;

$("create-show").addEventListener("submit", () => {
  $("scheduled-at").value = isoWithOffset($("scheduled-local").value);
});

const hosts = document.querySelector(".hosts");
if (hosts) {
  const showId = hosts.dataset.showId;
  const say = (text, state) => {
    $("host-status").textContent = text;
    $("host-status").dataset.state = state;
  };
  $("host-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", `/api/v1/shows/${encodeURIComponent(showId)}/hosts`, { email: $("host-email").value.trim() });
      location.reload();
    } catch (err) {
      say(err.message, "error");
    }
  });
  for (const button of hosts.querySelectorAll("[data-action=remove-host]")) {
    button.addEventListener("click", confirmFirst(button, async () => {
      try {
        await api("DELETE", `/api/v1/shows/${encodeURIComponent(showId)}/hosts/${encodeURIComponent(button.dataset.userId)}`);
        location.reload();
      } catch (err) {
        say(err.message, "error");
      }
    }, "Remove?"));
  }
}
document.body.dataset.ready = "1";
