// Which URLs may be recorded, and the canonical form a page is recorded under.

// Query parameters that identify a campaign or a click, never the content.
const TRACKING = [
  /^utm_/i, /^fbclid$/i, /^gclid$/i, /^dclid$/i, /^gbraid$/i, /^wbraid$/i, /^msclkid$/i,
  /^yclid$/i, /^twclid$/i, /^igshid$/i, /^mc_cid$/i, /^mc_eid$/i, /^mkt_tok$/i, /^_ga$/i,
  /^_gl$/i, /^_hsenc$/i, /^_hsmi$/i, /^oly_enc_id$/i, /^oly_anon_id$/i, /^vero_id$/i,
  /^ref_src$/i, /^s_cid$/i, /^ttclid$/i, /^li_fat_id$/i, /^srsltid$/i,
];

export function isWebUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * The URL without its fragment and tracking parameters; other parameters keep their order
 * and their spelling (re-encoding them would record one page under two addresses).
 */
export function withoutTracking(text) {
  const url = new URL(text);
  url.hash = "";
  const kept = url.search
    .slice(1)
    .split("&")
    .filter((pair) => pair && !isTracking(pair.split("=")[0]));
  url.search = kept.join("&");
  return url.href;
}

function isTracking(rawKey) {
  let key = rawKey;
  try {
    key = decodeURIComponent(rawKey.replace(/\+/g, " "));
  } catch {
    // Not percent-encoded properly: compared as written.
  }
  return TRACKING.some((p) => p.test(key));
}

/**
 * What a page is recorded as: its `<link rel=canonical>` when that is a web URL on the
 * same host, else the address it was read at; either way without fragment and tracking
 * parameters.
 */
export function canonicalUrl(pageUrl, canonicalHref) {
  if (canonicalHref) {
    try {
      const canonical = new URL(canonicalHref, pageUrl);
      // A canonical link on another host is the page's claim to be another site: the
      // deny-lists, site-only mode and the host recorded all speak of the host read.
      if (isWebUrl(canonical.href) && canonical.hostname === new URL(pageUrl).hostname) {
        return withoutTracking(canonical.href);
      }
    } catch {
      // A malformed canonical link: the page's own address stands.
    }
  }
  return withoutTracking(pageUrl);
}

/** A host name as the deny-lists compare it: lower case, no trailing dot. */
export function normaliseHost(host) {
  return host.trim().toLowerCase().replace(/\.$/, "");
}

/** Whether `host` is `entry` or one of its subdomains (never a name merely ending alike). */
export function hostMatches(host, entry) {
  const h = normaliseHost(host);
  const e = normaliseHost(entry);
  return e !== "" && (h === e || h.endsWith("." + e));
}

/**
 * A learner's entry for their own blocked list: a host name, or a URL whose host is taken.
 * Null when it names no host.
 */
export function hostOfEntry(text) {
  const trimmed = text.trim();
  if (!trimmed) return null;
  try {
    const url = new URL(trimmed.includes("://") ? trimmed : `https://${trimmed}`);
    return url.hostname ? normaliseHost(url.hostname) : null;
  } catch {
    return null;
  }
}

/**
 * The LRS base URL and code from what a learner pasted: an enrolment URL
 * (`https://lrs.example.org/capture/enrol?code=…`) or just the LRS address.
 */
export function parseEnrolmentInput(text) {
  const url = new URL(text.trim());
  const code = url.searchParams.get("code");
  const marker = url.pathname.indexOf("/capture/enrol");
  const path = marker >= 0 ? url.pathname.slice(0, marker + 1) : url.pathname;
  const base = `${url.origin}${path.endsWith("/") ? path : path + "/"}`;
  return { base, code: marker >= 0 ? code : null };
}
