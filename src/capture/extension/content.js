// Runs in every frame of http(s) pages. The top frame reports the page (its address,
// canonical link and title) and whether it has the person's attention (visible and
// focused); every frame reports how long its HTML5 videos played while visible. Nothing
// is recorded from here: the service worker decides, so nothing reaches the LRS from
// pages it must not record. On the LRS's own enrolment page it hands the code to the
// options page.
(() => {
  if (globalThis.__commonplaceCapture) return;
  globalThis.__commonplaceCapture = true;

  const isTop = window === window.top;
  const REPORT_EVERY_MS = 1000;

  function send(message) {
    try {
      chrome.runtime.sendMessage(message).catch(() => {});
    } catch {
      // The extension was reloaded or removed: this page's script is orphaned.
    }
  }

  function canonicalLink() {
    const link = document.querySelector('link[rel~="canonical" i][href]');
    return link ? link.href : null;
  }

  // ---- Attention (top frame) ---------------------------------------------------------
  function attention(type) {
    send({
      type,
      url: location.href,
      canonical: canonicalLink(),
      title: document.title,
      visible: document.visibilityState === "visible",
      focused: document.hasFocus(),
    });
  }

  function watchAttention() {
    attention("page");
    document.addEventListener("visibilitychange", () => attention("attention"));
    window.addEventListener("focus", () => attention("attention"));
    // Focus moving into an embedded frame blurs this window but the page keeps the
    // person's attention: hasFocus() says so once the move is done.
    window.addEventListener("blur", () => setTimeout(() => attention("attention"), 0));

    const endpoint = document.querySelector('meta[name="commonplace-enrol-endpoint"]')?.content;
    const code = document.querySelector('meta[name="commonplace-enrol-code"]')?.content;
    if (endpoint && code) send({ type: "enrolPage", endpoint, code });
  }

  if (isTop) {
    // A page prerendered in case it is opened is not read yet: it reports once shown.
    if (document.prerendering) {
      document.addEventListener("prerenderingchange", watchAttention, { once: true });
    } else {
      watchAttention();
    }
  }

  // ---- Video watched (every frame) ---------------------------------------------------
  const videos = new Map(); // <video> -> { anchor, watchedMs, since }
  let ticker = null;

  function anchorOf(video) {
    const index = [...document.querySelectorAll("video")].indexOf(video);
    return index > 0 ? `video-${index + 1}` : "video";
  }

  function stateOf(video) {
    if (!videos.has(video)) videos.set(video, { anchor: anchorOf(video), watchedMs: 0, since: null });
    return videos.get(video);
  }

  function playingVisibly(video) {
    return !video.paused && !video.ended && video.readyState > 2 && document.visibilityState === "visible";
  }

  function fold(video) {
    const state = stateOf(video);
    const now = Date.now();
    if (state.since != null) state.watchedMs += now - state.since;
    state.since = playingVisibly(video) ? now : null;
    return state;
  }

  function report(video) {
    const state = fold(video);
    if (state.watchedMs === 0) return;
    const src = video.currentSrc || video.src || "";
    send({
      type: "video",
      anchor: state.anchor,
      src: /^https?:/.test(src) ? src : "",
      frameUrl: location.href,
      frameCanonical: canonicalLink(),
      title: video.title || video.getAttribute("aria-label") || document.title,
      watchedMs: state.watchedMs,
      playing: state.since != null,
    });
  }

  function reportAll() {
    for (const video of videos.keys()) report(video);
    const anyPlaying = [...videos.keys()].some(playingVisibly);
    if (anyPlaying && !ticker) ticker = setInterval(reportAll, REPORT_EVERY_MS);
    if (!anyPlaying && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  // Media events do not bubble; listening in the capture phase sees every <video>,
  // including those added later.
  for (const type of ["playing", "pause", "ended", "waiting", "seeking", "emptied"]) {
    document.addEventListener(type, (event) => {
      if (event.target instanceof HTMLVideoElement) {
        fold(event.target);
        reportAll();
      }
    }, true);
  }
  document.addEventListener("visibilitychange", reportAll);
  window.addEventListener("pagehide", reportAll);
  // Videos already playing when this script ran (it runs once the page is idle): the
  // time they played so far, bounded by the page's age.
  for (const video of document.querySelectorAll("video")) {
    const state = fold(video);
    if (state.since != null) state.watchedMs = Math.min(video.currentTime * 1000, performance.now());
  }
  reportAll();
})();
