// The show's status as a page should believe it: scheduled → live ⇄ paused → ended. Statuses go
// back and forth now, so a newer one cannot be told from an older one by its name. `show.state`
// events are the truth, taken in the order of their `at` (server ms); ended is final. Events sent
// before the page joined the show's room (or while its socket was down) never arrive, and the
// `show.join` ack carries the hub node's copy of the show, which may be a few seconds old; so
// after every join the show is read again over REST, and that answer counts unless a
// `show.state` arrived meanwhile (which is at least as new).
import { api } from "./common.js";

/** Follow a show's status, calling `apply(status)` on every change (not for `initial`). */
export function followShowStatus(showId, initial, apply) {
  let status = initial || "scheduled";
  let newest = 0; // `at` of the newest show.state applied
  let events = 0; // show.state events received so far
  const set = (next) => {
    if (!next || next === status || status === "ended") return;
    status = next;
    apply(next);
  };
  return {
    get status() { return status; },
    /** A `show.state {show_id, state, status, at}` event. */
    event(payload) {
      events += 1;
      const at = Number(payload.at) || 0;
      if (at && at < newest) return;
      newest = Math.max(newest, at);
      set(payload.state || payload.status);
    },
    /** A status the page learned from an answer of its own (ending the show, a WHIP 409). */
    learned(next) { set(next); },
    /** After every `show.join`: the ack's copy of the show may be stale, read it again. */
    async joined() {
      const before = events;
      try {
        const fresh = await api("GET", `/api/v1/shows/${encodeURIComponent(showId)}`);
        if (events === before) set(fresh.status);
      } catch { /* the page keeps what it has; the next show.state corrects it */ }
    },
  };
}
