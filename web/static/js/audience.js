// Follow and Remind me toggles, for any page that has them: a button with data-follow="<seller
// id>" or data-rsvp="<show id>" and aria-pressed; counts live in [data-followers-of] and
// [data-rsvps-of]. The buttons call the public REST API (POST to follow / RSVP, DELETE to undo)
// with the session cookie and the CSRF token, and show what the server answered.
import { $, api } from "./common.js";

function setCount(selector, value) {
  for (const node of document.querySelectorAll(selector)) node.textContent = String(value);
}

function say(text) {
  const status = $("audience-status");
  if (status) status.textContent = text;
}

function toggle(button, url, labels, onDone) {
  button.addEventListener("click", async () => {
    const on = button.getAttribute("aria-pressed") === "true";
    button.disabled = true;
    try {
      const answer = await api(on ? "DELETE" : "POST", url);
      button.setAttribute("aria-pressed", String(!on));
      button.textContent = on ? labels[0] : labels[1];
      onDone(answer);
      say("");
    } catch (err) {
      say(err.message);
    } finally {
      button.disabled = false;
    }
  });
}

/** Wire every Follow and Remind me button of the page. */
export function wireAudience() {
  for (const button of document.querySelectorAll("button[data-follow]")) {
    const seller = button.dataset.follow;
    toggle(button, `/api/v1/sellers/${encodeURIComponent(seller)}/follow`, ["Follow", "Following"], (answer) => {
      setCount(`[data-followers-of="${CSS.escape(seller)}"]`, answer.followers);
      const word = $("followers-word");
      if (word) word.textContent = answer.followers === 1 ? "follower" : "followers";
    });
  }
  for (const button of document.querySelectorAll("button[data-rsvp]")) {
    const show = button.dataset.rsvp;
    toggle(button, `/api/v1/shows/${encodeURIComponent(show)}/rsvp`, ["Remind me", "Reminder set"], (answer) => {
      setCount(`[data-rsvps-of="${CSS.escape(show)}"]`, answer.rsvps);
    });
  }
}
