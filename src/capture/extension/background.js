// The service worker: follows which page has the learner's attention, measures each
// visit's active time, turns visits past the minimum dwell into Statements and answers
// the popup and options pages. All timing lives in session storage (see lib/store.js),
// so nothing depends on this worker staying alive between events.

import * as lrs from "./lib/lrs.js";
import { deliver, enqueue, rewrite, status as deliveryStatus } from "./lib/outbox.js";
import {
  TYPE, EXTENSION, goalSetting, pageActivity, platformName, relinked, sharing, visitStatement, voiding,
} from "./lib/statements.js";
import { local, serial, session } from "./lib/store.js";
import { canonicalUrl, hostMatches, hostOfEntry, isWebUrl, withoutTracking } from "./lib/url.js";

const locked = serial();
const platform = platformName();
const POLICY_REFRESH_MINUTES = 30;
const DEFAULT_DWELL_SECONDS = 30;
const DEFAULT_IDLE_SECONDS = 60;
const KEEP_ITEMS_MS = 2 * 86400000;
// A playing video is reported every second (content.js); a longer silence means it stopped.
const VIDEO_REPORT_GAP_MS = 2000;

// ---- What may be recorded -------------------------------------------------------------

function settings() {
  return local.get(["credential", "policy", "blockedHosts", "pausedUntil"]);
}

function paused(s) {
  return (s.pausedUntil ?? 0) > Date.now();
}

/** Why `url` is not recorded now, or null when it may be. */
function refusal(url, s) {
  if (!s.credential || s.credential.rejected) return "not enrolled";
  if (!isWebUrl(url)) return "not a web page";
  if (paused(s)) return "paused";
  const { origin, hostname } = new URL(url);
  if (origin === new URL(s.credential.endpoint).origin || origin === new URL(s.credential.base).origin) {
    return "the LRS itself";
  }
  if ((s.policy?.deniedHosts ?? []).some((entry) => hostMatches(hostname, entry))) return "denied by the policy";
  if ((s.blockedHosts ?? []).some((entry) => hostMatches(hostname, entry))) return "blocked by the learner";
  return null;
}

// ---- Timing ---------------------------------------------------------------------------
// tracking = { idle: "active" | "idle" | "locked", tabs: { [tabId]: { windowId, focused, visit } } }
// visit = { url, canonical, title, startedAt, activeMs, activeSince, videos: { [key]: {...} } }
// A visit's clock runs (activeSince set) while its tab has the focus of a visible page and
// the person is not idle.

/** Changes the timing state; the caller holds the lock. */
async function changeTracking(work) {
  const state = await session.get("tracking", { idle: "active", tabs: {} });
  const result = await work(state, Date.now());
  await session.set("tracking", state);
  return result;
}

function tracking(work) {
  return locked(() => changeTracking(work));
}

function newVisit(url, title, now) {
  return { url, canonical: canonicalUrl(url), title, startedAt: now, activeMs: 0, activeSince: null, videos: {} };
}

/** Folds the running time (up to `until`) into the visit, then starts or stops its clock. */
function settle(state, tab, now, until = now) {
  const visit = tab.visit;
  if (!visit) return;
  if (visit.activeSince != null) visit.activeMs += Math.max(0, until - visit.activeSince);
  visit.activeSince = tab.focused && state.idle === "active" ? now : null;
}

/** Closes the tab's visit and returns the Statements it earned. */
function endVisit(state, tabId, now, s) {
  const tab = state.tabs[tabId];
  if (!tab?.visit) return [];
  const visit = tab.visit;
  tab.visit = null;
  if (visit.activeSince != null) visit.activeMs += Math.max(0, now - visit.activeSince);
  for (const video of Object.values(visit.videos)) {
    // Playing at its last report, a second or so ago: it played on until the page went.
    const since = now - video.reportedAt;
    if (video.playing && since <= VIDEO_REPORT_GAP_MS) video.watchedMs += since;
  }
  return statementsOf(visit, s);
}

function statementsOf(visit, s) {
  if (refusal(visit.url, s) || refusal(visit.canonical, s)) return [];
  const dwellMs = (s.policy?.minimumDwellSeconds ?? DEFAULT_DWELL_SECONDS) * 1000;
  const siteOnly = Boolean(s.policy?.siteOnly);
  const actor = s.credential.actor;
  const out = [];
  if (visit.activeMs >= dwellMs) {
    out.push(visitStatement({
      actor, platform, verb: "read",
      object: pageActivity({ url: visit.canonical, title: visit.title, siteOnly }),
      host: new URL(visit.canonical).hostname,
      startedAt: visit.startedAt, activeMs: visit.activeMs,
    }));
  }
  for (const video of Object.values(visit.videos)) {
    if (video.watchedMs < dwellMs || refusal(video.frameUrl, s)) continue;
    const id = isWebUrl(video.src) ? withoutTracking(video.src) : `${canonicalUrl(video.frameUrl, video.frameCanonical)}#${video.anchor}`;
    if (refusal(id, s)) continue;
    out.push(visitStatement({
      actor, platform, verb: "watched",
      object: pageActivity({ url: id, title: video.title || visit.title, siteOnly, type: TYPE.video }),
      host: new URL(id).hostname,
      startedAt: video.startedAt, activeMs: video.watchedMs,
    }));
  }
  return out;
}

/** Queues Statements for the LRS and lists them among the learner's items of the day. */
async function record(statements) {
  if (statements.length === 0) return;
  await enqueue(statements);
  const { recorded = [] } = await local.get("recorded");
  const now = Date.now();
  await local.set({
    recorded: [
      ...recorded.filter((item) => item.at > now - KEEP_ITEMS_MS),
      ...statements.map((statement) => ({ id: statement.id, at: now, statement })),
    ],
  });
}

async function navigated(tabId, tab) {
  const s = await settings();
  await tracking(async (state, now) => {
    const entry = (state.tabs[tabId] ??= { windowId: tab.windowId, focused: tab.active });
    entry.windowId = tab.windowId;
    if (entry.visit && withoutTracking(entry.visit.url) === withoutTracking(tab.url)) {
      entry.visit.url = tab.url; // Only the fragment changed: the same visit goes on.
      return;
    }
    await record(endVisit(state, tabId, now, s));
    if (!refusal(tab.url, s)) {
      entry.visit = newVisit(tab.url, tab.title, now);
      settle(state, entry, now);
    }
  });
  // The page left may have sent its last report before this, and a page without the
  // content script (about:blank, the browser's own) sends none: nothing else would
  // send the visit before the delivery alarm.
  deliver();
}

chrome.tabs.onUpdated.addListener((tabId, change, tab) => {
  if (tab.incognito) return;
  if (change.url) {
    navigated(tabId, tab);
  } else if (change.title) {
    tracking((state) => {
      const visit = state.tabs[tabId]?.visit;
      if (visit && visit.url === tab.url) visit.title = change.title;
    });
  }
});

chrome.tabs.onActivated.addListener(({ tabId, windowId }) => {
  tracking((state, now) => {
    for (const [id, entry] of Object.entries(state.tabs)) {
      if (entry.windowId === windowId && Number(id) !== tabId && entry.focused) {
        entry.focused = false;
        settle(state, entry, now);
      }
    }
    const entry = state.tabs[tabId];
    if (entry) {
      entry.focused = true; // The page's own report follows and corrects this.
      settle(state, entry, now);
    }
  });
});

chrome.tabs.onRemoved.addListener(async (tabId) => {
  const s = await settings();
  await tracking(async (state, now) => {
    await record(endVisit(state, tabId, now, s));
    delete state.tabs[tabId];
  });
  deliver();
});

chrome.idle.onStateChanged.addListener(async (idle) => {
  const { policy } = await local.get("policy");
  const idleMs = (policy?.idleSeconds ?? DEFAULT_IDLE_SECONDS) * 1000;
  await tracking((state, now) => {
    const wasActive = state.idle === "active";
    state.idle = idle;
    // Idle is reported once no input came for the threshold: the person left back then.
    const until = wasActive && idle === "idle" ? now - idleMs : now;
    for (const entry of Object.values(state.tabs)) settle(state, entry, now, until);
  });
});

// ---- What pages report (content.js) ---------------------------------------------------

async function pageReported(reported, sender) {
  const tab = sender.tab;
  if (!tab || tab.incognito || !isWebUrl(sender.url)) return;
  // Where a report comes from is the browser's word, never the page's: a page (or a
  // renderer it took over) cannot have another address recorded or enrolled.
  const message = { ...reported, url: sender.url, frameUrl: sender.url };
  if (message.type === "video") {
    await tracking((state) => {
      const visit = state.tabs[tab.id]?.visit;
      if (!visit) return;
      const key = `${message.frameUrl} ${message.anchor}`;
      const now = Date.now();
      visit.videos[key] = {
        src: message.src,
        frameUrl: message.frameUrl,
        frameCanonical: message.frameCanonical,
        anchor: message.anchor,
        title: message.title,
        watchedMs: message.watchedMs,
        playing: message.playing,
        reportedAt: now,
        startedAt: visit.videos[key]?.startedAt ?? now - message.watchedMs,
      };
    });
    return;
  }
  if (sender.frameId !== 0) return;
  if (message.type === "enrolPage") {
    if (!(await isEnrolmentPage(message))) return;
    const seen = await session.get("enrolCodesSeen", []);
    if (seen.includes(message.code)) return;
    await session.set("enrolCodesSeen", [...seen, message.code]);
    const query = new URLSearchParams({ lrs: message.endpoint, code: message.code });
    await chrome.tabs.create({ url: chrome.runtime.getURL(`options.html?${query}`) });
    return;
  }
  const s = message.type === "page" ? await settings() : null;
  await tracking((state, now) => {
    const entry = (state.tabs[tab.id] ??= { windowId: tab.windowId, focused: false });
    if (message.type === "page") {
      // The worker may have started after the navigation: the page's report starts the visit.
      if (!entry.visit && !refusal(message.url, s)) entry.visit = newVisit(message.url, message.title, now);
      if (entry.visit && withoutTracking(entry.visit.url) === withoutTracking(message.url)) {
        entry.visit.canonical = canonicalUrl(message.url, message.canonical);
        entry.visit.title = message.title || entry.visit.title;
      }
    }
    entry.focused = message.visible && message.focused;
    settle(state, entry, now);
  });
}

/**
 * Whether the page is an LRS's own enrolment page (`{base}/capture/enrol?code=CODE`, its
 * meta naming that base and code) while the extension is not connected. Any page can
 * carry the meta elements, so this only opens the options page pre-filled: connecting
 * takes the learner's click there, under the store's address.
 */
async function isEnrolmentPage({ url, endpoint, code }) {
  if (typeof endpoint !== "string" || typeof code !== "string" || !code || !isWebUrl(endpoint)) return false;
  const { credential } = await local.get("credential");
  if (credential && !credential.rejected) return false;
  const page = new URL(url);
  const expected = new URL("capture/enrol", endpoint);
  return page.origin === expected.origin && page.pathname === expected.pathname
    && page.searchParams.get("code") === code;
}

// ---- What the popup and options pages ask (extension pages) ---------------------------

async function refreshPolicy() {
  const { credential } = await local.get("credential");
  if (!credential || credential.rejected) return null;
  try {
    const policy = await lrs.policy(credential);
    await local.set({ policy, policyAt: Date.now() });
    chrome.idle.setDetectionInterval(Math.max(15, policy.idleSeconds ?? DEFAULT_IDLE_SECONDS));
    return policy;
  } catch (error) {
    if (error.status === 401) await local.set({ credential: { ...credential, rejected: true } });
    throw error;
  }
}

function localDate(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function tomorrowMorning() {
  const d = new Date();
  d.setHours(24, 0, 0, 0);
  return d.getTime();
}

/**
 * Drops every open visit: time while paused is never recorded, not even later. Called
 * by requests, which hold the lock already.
 */
function dropVisits() {
  return changeTracking((state) => {
    for (const entry of Object.values(state.tabs)) entry.visit = null;
  });
}

async function item(id) {
  const { recorded = [] } = await local.get("recorded");
  const found = recorded.find((entry) => entry.id === id && !entry.forgotten);
  if (!found) throw new Error("That item is no longer listed.");
  return { recorded, found };
}

const requests = {
  async status() {
    const s = await local.get(["credential", "policy", "blockedHosts", "pausedUntil", "refusedStatements"]);
    return {
      enrolled: Boolean(s.credential),
      rejected: Boolean(s.credential?.rejected),
      lrs: s.credential?.base ?? null,
      actor: s.credential?.actor ?? null,
      policy: s.policy ?? null,
      blockedHosts: s.blockedHosts ?? [],
      pausedUntil: paused(s) ? s.pausedUntil : null,
      delivery: await deliveryStatus(),
      refused: s.refusedStatements ?? [],
    };
  },

  async enrol({ base, code }) {
    const answer = await lrs.enrol(base, code);
    await local.set({
      credential: { base, endpoint: answer.endpoint, key: answer.key, secret: answer.secret, actor: answer.actor },
      delivery: {},
    });
    const policy = await refreshPolicy();
    return { actor: answer.actor, name: policy?.name ?? answer.actor?.name ?? null };
  },

  async disconnect() {
    const { credential } = await local.get("credential");
    if (credential) await lrs.disconnect(credential);
    await dropVisits();
    await local.remove([
      "credential", "policy", "outbox", "unsettled", "delivery", "recorded", "goals", "refusedStatements",
    ]);
    return {};
  },

  async pause({ until }) {
    const pausedUntil = until === "tomorrow" ? tomorrowMorning() : Date.now() + 3600000;
    await local.set({ pausedUntil });
    await dropVisits();
    return { pausedUntil };
  },

  async resume() {
    await local.set({ pausedUntil: 0 });
    return {};
  },

  async blockHosts({ hosts }) {
    const blockedHosts = [...new Set(hosts.map(hostOfEntry).filter(Boolean))].sort();
    await local.set({ blockedHosts });
    return { blockedHosts };
  },

  refreshPolicy,

  async today() {
    const { recorded = [], goals = [] } = await local.get(["recorded", "goals"]);
    const today = localDate(Date.now());
    return {
      items: recorded.filter((entry) => !entry.forgotten && localDate(entry.at) === today),
      goals,
    };
  },

  async me() {
    const { credential } = await local.get("credential");
    const monday = new Date();
    monday.setDate(monday.getDate() - ((monday.getDay() + 6) % 7));
    return lrs.me(credential, localDate(monday.getTime()));
  },

  async forget({ id }) {
    const { credential } = await local.get("credential");
    const { recorded, found } = await item(id);
    // Still waiting in the outbox: it never reaches the LRS. Otherwise it is voided.
    if (!(await rewrite(id, () => null))) await enqueue([voiding(credential.actor, id)]);
    found.forgotten = true;
    await local.set({ recorded });
    return {};
  },

  async share({ id, note }) {
    const s = await settings();
    const { recorded, found } = await item(id);
    const object = found.statement.object;
    if (refusal(object.id, s)) throw new Error(`Not shared: ${refusal(object.id, s)}.`);
    await enqueue([sharing({
      actor: s.credential.actor, platform, object,
      host: found.statement.context.extensions[EXTENSION.host],
      team: s.policy?.team ?? null, note: note?.trim() || null,
    })]);
    found.shared = true;
    await local.set({ recorded });
    return {};
  },

  async link({ id, goal }) {
    const { credential } = await local.get("credential");
    const { recorded, found } = await item(id);
    const linked = relinked(found.statement, goal);
    const unsent = await rewrite(id, (waiting) => ({ ...waiting, context: linked.context }));
    if (unsent) {
      found.statement = { ...found.statement, context: linked.context };
    } else {
      // Sent already: void it and record the visit again, linked, so the visit itself
      // counts as self-planned.
      await enqueue([voiding(credential.actor, id), linked]);
      found.id = linked.id;
      found.statement = linked;
    }
    found.goal = goal;
    await local.set({ recorded });
    return { id: found.id };
  },

  async setGoal({ name }) {
    const { credential, goals = [] } = await local.get(["credential", "goals"]);
    if (!name?.trim()) throw new Error("A goal needs a name.");
    const statement = goalSetting({ actor: credential.actor, platform, name: name.trim() });
    await enqueue([statement]);
    const goal = { id: statement.object.id, name: name.trim() };
    await local.set({ goals: [...goals, goal] });
    return goal;
  },
};

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id) return false;
  const fromExtensionPage = sender.url?.startsWith(chrome.runtime.getURL(""));
  if (!fromExtensionPage) {
    pageReported(message, sender).finally(() => deliver());
    return false;
  }
  const handler = requests[message.request];
  if (!handler) return false;
  // Everything that changes state waits its turn behind the timing work.
  const run = message.request === "me" || message.request === "status" ? handler(message) : locked(() => handler(message));
  run.then(
    (value) => sendResponse({ ok: true, value }),
    (error) => sendResponse({ ok: false, error: String(error?.message ?? error) }),
  ).finally(() => deliver());
  return true;
});

// ---- Waking up ------------------------------------------------------------------------

chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === "policy") refreshPolicy().catch(() => {});
  if (alarm.name === "delivery") deliver();
});

async function start() {
  // The credential is for extension pages and this worker only: where the browser can
  // (Chromium), content scripts in web pages are kept out of local storage too.
  try {
    await chrome.storage.local.setAccessLevel?.({ accessLevel: "TRUSTED_CONTEXTS" });
  } catch {
    // Firefox sets it for session storage only.
  }
  if (!(await chrome.alarms.get("policy"))) {
    chrome.alarms.create("policy", { periodInMinutes: POLICY_REFRESH_MINUTES });
  }
  if (!(await chrome.alarms.get("delivery"))) chrome.alarms.create("delivery", { periodInMinutes: 1 });
  const { policy } = await local.get("policy");
  chrome.idle.setDetectionInterval(Math.max(15, policy?.idleSeconds ?? DEFAULT_IDLE_SECONDS));
  deliver();
}

chrome.runtime.onStartup.addListener(() => refreshPolicy().catch(() => {}));
start();
