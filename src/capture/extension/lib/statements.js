// The Statements the extension sends, built from what it measured. Ids are made here, in
// the browser, so that sending one again after an unknown outcome stores nothing twice.

export const VERB = {
  read: { id: "https://w3id.org/xapi/dod-isd/verbs/read", display: { en: "read" } },
  watched: { id: "https://w3id.org/xapi/acrossx/verbs/watched", display: { en: "watched" } },
  shared: { id: "http://adlnet.gov/expapi/verbs/shared", display: { en: "shared" } },
  voided: { id: "http://adlnet.gov/expapi/verbs/voided", display: { en: "voided" } },
  set: { id: "https://commonplace.dev/xapi/verbs/set", display: { en: "set" } },
};

export const TYPE = {
  webpage: "https://w3id.org/xapi/acrossx/activities/webpage",
  video: "https://w3id.org/xapi/video/activity-type/video",
  goal: "https://commonplace.dev/xapi/activity-types/goal",
};

export const EXTENSION = {
  host: "https://commonplace.dev/xapi/extensions/host",
  goal: "https://commonplace.dev/xapi/extensions/goal",
};

/** ISO 8601 duration with at most two decimals of seconds (xAPI keeps 0.01 s). */
export function isoDuration(ms) {
  const hundredths = Math.max(0, Math.round(ms / 10));
  const hours = Math.floor(hundredths / 360000);
  const minutes = Math.floor((hundredths % 360000) / 6000);
  const seconds = (hundredths % 6000) / 100;
  return `PT${hours ? hours + "H" : ""}${minutes ? minutes + "M" : ""}${seconds}S`;
}

/** The instant in the learner's own offset, so the day reports place it on is theirs. */
export function localTimestamp(ms) {
  const date = new Date(ms);
  const offset = -date.getTimezoneOffset();
  const local = new Date(ms + offset * 60000).toISOString().slice(0, 23);
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  const pad = (n) => String(n).padStart(2, "0");
  return `${local}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** The browser's name and version, e.g. "Chromium 148" or "Firefox 128.0". */
export function platformName() {
  const brands = globalThis.navigator?.userAgentData?.brands ?? [];
  const preferred = ["Microsoft Edge", "Google Chrome", "Opera", "Brave", "Chromium"];
  for (const name of preferred) {
    const brand = brands.find((b) => b.brand === name);
    if (brand) return `${brand.brand} ${brand.version}`;
  }
  const agent = globalThis.navigator?.userAgent ?? "";
  const match = agent.match(/(Firefox|Chrome|Safari)\/([\d.]+)/);
  return match ? `${match[1]} ${match[2]}` : "Web browser";
}

/** The Activity a visit is about: the page, or only its site in site-only mode. */
export function pageActivity({ url, title, siteOnly, type = TYPE.webpage }) {
  const parsed = new URL(url);
  const id = siteOnly ? `${parsed.origin}/` : url;
  const name = siteOnly ? parsed.hostname : title || parsed.hostname;
  return { objectType: "Activity", id, definition: { type, name: { en: name } } };
}

function context(platform, host, extra = {}) {
  return { platform, extensions: { [EXTENSION.host]: host, ...extra } };
}

/** One visit or one video: `read` or `watched` with the active time as the duration. */
export function visitStatement({ actor, platform, verb, object, host, startedAt, activeMs, goal }) {
  return {
    id: crypto.randomUUID(),
    actor,
    verb: VERB[verb],
    object,
    result: { duration: isoDuration(activeMs) },
    context: context(platform, host, goal ? { [EXTENSION.goal]: goal } : {}),
    timestamp: localTimestamp(startedAt),
  };
}

/** The same visit again under a new id, now linked to `goal` (the old one is voided). */
export function relinked(statement, goal) {
  return {
    ...statement,
    id: crypto.randomUUID(),
    context: {
      ...statement.context,
      extensions: { ...statement.context.extensions, [EXTENSION.goal]: goal },
    },
  };
}

export function voiding(actor, statementId) {
  return {
    id: crypto.randomUUID(),
    actor,
    verb: VERB.voided,
    object: { objectType: "StatementRef", id: statementId },
    timestamp: localTimestamp(Date.now()),
  };
}

/** A find shared with the learner's team (the Group the policy names), with a note. */
export function sharing({ actor, platform, object, host, team, note }) {
  const statement = {
    id: crypto.randomUUID(),
    actor,
    verb: VERB.shared,
    object,
    context: context(platform, host),
    timestamp: localTimestamp(Date.now()),
  };
  if (team) statement.context.team = team;
  if (note) statement.result = { response: note };
  return statement;
}

/** A goal of the learner's self-development plan; its id stays the goal's for good. */
export function goalSetting({ actor, platform, name }) {
  const goal = `urn:uuid:${crypto.randomUUID()}`;
  return {
    id: crypto.randomUUID(),
    actor,
    verb: VERB.set,
    object: {
      objectType: "Activity",
      id: goal,
      definition: { type: TYPE.goal, name: { en: name } },
    },
    context: { platform },
    timestamp: localTimestamp(Date.now()),
  };
}
