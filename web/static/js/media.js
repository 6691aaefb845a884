// WebRTC and HLS for the pages: WHEP playback (RFC 9725's sibling), WHIP publishing, and the
// hls.js fallback. Every RTCPeerConnection gets the server-provided iceServers (empty by default)
// so a browser never quietly adds a public STUN server. Offers are sent once ICE gathering has
// finished (no trickle), which every WHIP/WHEP server accepts. Leaving sends the DELETE first
// and closes the peer connection after, so the server learns of it from the request (and answers
// 200) rather than from a dropped connection.

/** Wait until ICE gathering completes, or `ms` passes (host candidates arrive at once). */
export function gathered(pc, ms = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/** Resolve when the peer connection is connected; reject on failure or after `ms`. */
export function connected(pc, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error("connection timed out")); }, ms);
    const check = () => {
      const s = pc.connectionState;
      if (s === "connected") { cleanup(); resolve(); }
      else if (s === "failed" || s === "closed") { cleanup(); reject(new Error(`connection ${s}`)); }
    };
    const cleanup = () => { clearTimeout(timer); pc.removeEventListener("connectionstatechange", check); };
    pc.addEventListener("connectionstatechange", check);
    check();
  });
}

/**
 * Call `onLost(reason)` once when an established connection is gone for good: "closed" when the
 * server closed it (its DTLS transport closed: the session was replaced, stalled or ended),
 * "failed" when the network failed (ICE failed, or `disconnected` for longer than `graceMs`; a
 * brief disconnect usually heals by itself). Closing `pc` here reports "closed" too.
 */
export function whenLost(pc, onLost, graceMs = 3000) {
  let timer = null;
  let done = false;
  const lost = (reason) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    onLost(reason);
  };
  const check = () => {
    const s = pc.connectionState;
    if (s === "failed") lost("failed");
    else if (s === "closed") lost("closed");
    else if (s === "disconnected") timer = timer || setTimeout(() => lost("failed"), graceMs);
    else { clearTimeout(timer); timer = null; }
  };
  pc.addEventListener("connectionstatechange", check);
  const transports = new Set([...pc.getSenders(), ...pc.getReceivers()].map((x) => x.transport).filter(Boolean));
  for (const dtls of transports) {
    dtls.addEventListener("statechange", () => {
      if (dtls.state === "closed") lost("closed");
      else if (dtls.state === "failed") lost("failed");
    });
  }
  check();
}

class HttpError extends Error {
  constructor(status, message, code) { super(message); this.status = status; this.code = code; }
}

async function signal(url, sdp, headers = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", Accept: "application/sdp", ...headers },
    body: sdp,
    credentials: "same-origin",
  });
  if (res.status !== 201) {
    let message = `${res.status} ${res.statusText}`;
    let code = "";
    try {
      const data = await res.json();
      message = data?.error?.message || message;
      code = data?.error?.code || "";
    } catch { /* not JSON */ }
    throw new HttpError(res.status, message, code);
  }
  const location = res.headers.get("Location");
  return { answer: await res.text(), resource: location ? new URL(location, new URL(url, window.location.href)).toString() : null };
}

/** DELETE the session (keepalive, so it is sent even while the page unloads), waiting at most
 * `ms` for the answer; then close the peer connection. */
async function leave(pc, resource, headers = {}, ms = 3000) {
  if (resource) {
    const signal = AbortSignal.timeout(ms);
    await fetch(resource, { method: "DELETE", headers, credentials: "same-origin", keepalive: true, signal }).catch(() => {});
  }
  pc.close();
}

/** A WHEP viewer session: recvonly video+audio into `video`. `stop()` leaves (DELETE). */
export async function playWhep(video, url, iceServers, { connectMs = 10000 } = {}) {
  const pc = new RTCPeerConnection({ iceServers });
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.addEventListener("track", (event) => {
    stream.addTrack(event.track);
    if (video.srcObject !== stream) video.srcObject = stream;
  });
  let resource = null;
  const stop = async () => { const r = resource; resource = null; await leave(pc, r); };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const signalled = await signal(url, pc.localDescription.sdp);
    resource = signalled.resource;
    await pc.setRemoteDescription({ type: "answer", sdp: signalled.answer });
    await connected(pc, connectMs);
  } catch (err) {
    await stop();
    throw err;
  }
  return { pc, stop, get resource() { return resource; } };
}

/** A WHIP publisher session from a MediaStream; `stop()` leaves (DELETE): the show pauses. */
export async function publishWhip(stream, url, key, iceServers) {
  const pc = new RTCPeerConnection({ iceServers });
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  const auth = { Authorization: `Bearer ${key}` };
  let resource = null;
  const stop = async () => { const r = resource; resource = null; await leave(pc, r, auth); };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const signalled = await signal(url, pc.localDescription.sdp, auth);
    resource = signalled.resource;
    await pc.setRemoteDescription({ type: "answer", sdp: signalled.answer });
    await connected(pc);
  } catch (err) {
    await stop();
    throw err;
  }
  return { pc, stop };
}

let hlsLoading = null;

/** Load the vendored hls.js (a classic script: the CSP allows same-origin scripts) once. */
function loadHls() {
  if (window.Hls) return Promise.resolve(window.Hls);
  if (!hlsLoading) {
    const src = new URL("../vendor/hls.js-1.6.15/hls.min.js", import.meta.url).toString();
    hlsLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => resolve(window.Hls);
      script.onerror = () => reject(new Error("could not load the HLS player"));
      document.head.append(script);
    });
  }
  return hlsLoading;
}

// hls.js for a live show. The server says how far behind the edge to play (LL-HLS:
// PART-HOLD-BACK, 3 parts = 1 s; plain HLS: 3 target durations), so no liveSyncDuration* here:
// setting one would override PART-HOLD-BACK. A player that fell behind (a stall, a slow tab)
// catches up by playing up to 1.5x instead of staying late for the rest of the show.
const HLS_CONFIG = {
  lowLatencyMode: true,
  maxLiveSyncPlaybackRate: 1.5,
  backBufferLength: 30,
  manifestLoadingMaxRetry: 30,
  manifestLoadingRetryDelay: 1000,
};

/** Play an HLS playlist: hls.js where MSE exists, the native player (Safari) otherwise. */
export async function playHls(video, url, onFatal) {
  const Hls = await loadHls().catch(() => null);
  if (Hls && Hls.isSupported()) {
    const hls = new Hls(HLS_CONFIG);
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else onFatal?.(data);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    return { stop: async () => hls.destroy() };
  }
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
    return { stop: async () => { video.removeAttribute("src"); video.load(); } };
  }
  throw new Error("this browser cannot play HLS");
}

/** Outgoing (publisher) or incoming (viewer) video bitrate in kbit/s since the previous call. */
export function bitrateMeter(pc, direction = "outbound") {
  let prev = null;
  return async () => {
    const stats = await pc.getStats();
    let bytes = 0, ts = 0, rtt = null, frames = null;
    stats.forEach((r) => {
      if (r.type === `${direction}-rtp` && r.kind === "video") {
        bytes += direction === "outbound" ? r.bytesSent : r.bytesReceived;
        ts = r.timestamp;
        frames = direction === "outbound" ? r.framesEncoded ?? r.framesSent : r.framesDecoded;
      }
      if (r.type === "candidate-pair" && r.nominated && r.currentRoundTripTime !== undefined) rtt = r.currentRoundTripTime;
    });
    let kbps = null;
    if (prev && ts > prev.ts) kbps = ((bytes - prev.bytes) * 8) / (ts - prev.ts);
    prev = { bytes, ts };
    return { kbps, rtt, frames };
  };
}
