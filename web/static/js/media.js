// WebRTC and HLS for the pages: WHEP playback (RFC 9725's sibling), WHIP publishing, and the
// hls.js fallback. Every RTCPeerConnection gets the server-provided iceServers (empty by default)
// so a browser never quietly adds a public STUN server. Offers are sent once ICE gathering has
// finished (no trickle), which every WHIP/WHEP server accepts.

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

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
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
    try { const data = await res.json(); message = data?.error?.message || message; } catch { /* not JSON */ }
    throw new HttpError(res.status, message);
  }
  const location = res.headers.get("Location");
  return { answer: await res.text(), resource: location ? new URL(location, new URL(url, window.location.href)).toString() : null };
}

function end(resource, headers = {}) {
  if (!resource) return Promise.resolve();
  return fetch(resource, { method: "DELETE", headers, credentials: "same-origin", keepalive: true }).catch(() => {});
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
  const stop = async () => { pc.close(); await end(resource); resource = null; };
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

/** A WHIP publisher session from a MediaStream; `stop()` ends the broadcast (DELETE). */
export async function publishWhip(stream, url, key, iceServers) {
  const pc = new RTCPeerConnection({ iceServers });
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  const auth = { Authorization: `Bearer ${key}` };
  let resource = null;
  const stop = async () => { pc.close(); await end(resource, auth); resource = null; };
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

/** Play an HLS playlist: hls.js where MSE exists, the native player (Safari) otherwise. */
export async function playHls(video, url, onFatal) {
  const Hls = await loadHls().catch(() => null);
  if (Hls && Hls.isSupported()) {
    const hls = new Hls({ lowLatencyMode: true, liveSyncDurationCount: 2, manifestLoadingMaxRetry: 30, manifestLoadingRetryDelay: 1000 });
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
