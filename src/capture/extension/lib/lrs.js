// The LRS's capture resources and its Statement resource, as the enrolled learner.

export class LrsError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function failure(response) {
  let code = "http_" + response.status;
  let message = `The LRS answered ${response.status}`;
  try {
    const body = await response.json();
    code = body?.error?.code ?? code;
    message = body?.error?.message ?? message;
  } catch {
    // Not JSON: the status says enough.
  }
  return new LrsError(response.status, code, message);
}

function authorization(credential) {
  return "Basic " + btoa(`${credential.key}:${credential.secret}`);
}

/** Where the capture resources live: the server's base, next to its `/xapi/`. */
export function captureUrl(credential, path) {
  return new URL(`../capture/${path}`, credential.endpoint).href;
}

/** Exchanges a one-time code for a credential bound to the learner. */
export async function enrol(base, code) {
  const response = await fetch(new URL("capture/enrol", base), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code }),
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

async function getJson(credential, url) {
  const response = await fetch(url, { headers: { Authorization: authorization(credential) } });
  if (!response.ok) throw await failure(response);
  return response.json();
}

export function policy(credential) {
  return getJson(credential, captureUrl(credential, "policy"));
}

/** The learner's own figures since `since` (YYYY-MM-DD). */
export function me(credential, since) {
  return getJson(credential, captureUrl(credential, `me?since=${since}`));
}

export async function disconnect(credential) {
  const response = await fetch(captureUrl(credential, "credential"), {
    method: "DELETE",
    headers: { Authorization: authorization(credential) },
  });
  if (!response.ok && response.status !== 401) throw await failure(response);
}

/** POSTs a batch of Statements; resolves to the Response (network failures throw). */
export function postStatements(credential, statements) {
  return fetch(new URL("statements", credential.endpoint), {
    method: "POST",
    headers: {
      Authorization: authorization(credential),
      "Content-Type": "application/json",
      "X-Experience-API-Version": "1.0.3",
    },
    body: JSON.stringify(statements),
  });
}
