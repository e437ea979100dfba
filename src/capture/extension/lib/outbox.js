// Statements wait here, in local storage, until the LRS has them. They are sent in
// batches in the order they were made; while the LRS cannot be reached the wait between
// attempts doubles up to half a minute. Each carries the id made in the browser, so a
// batch sent again after an unknown outcome is stored once.

import { postStatements } from "./lrs.js";
import { local, serial } from "./store.js";

const BATCH = 50;
const BACKOFF_SECONDS = [1, 2, 4, 8, 15, 30];

// Every change of the stored outbox goes through this, so none is lost to another.
const changing = serial();
let running = null;
// Asked for while a pass was running: what was queued after that pass last looked
// would otherwise wait for the next alarm, up to a minute.
let again = false;
let timer = null;
// `unsettled` (stored, so it outlives the worker) lists the ids sent without a definite
// answer yet: the LRS may have them, so changing them now could contradict what it
// stored. They are sent again as they are, and voided rather than rewritten.

async function change(edit) {
  return changing(async () => {
    const { outbox = [], unsettled = [] } = await local.get(["outbox", "unsettled"]);
    const [next, answer, nextUnsettled = unsettled] = edit(outbox, new Set(unsettled));
    await local.set({ outbox: next, unsettled: [...nextUnsettled] });
    return answer;
  });
}

/** Appends Statements to the outbox and starts delivery. */
export async function enqueue(statements) {
  await change((outbox) => [[...outbox, ...statements]]);
  queueMicrotask(() => deliver());
}

/**
 * Replaces (or with null removes) a Statement still waiting and not on its way; returns
 * whether it did. Otherwise the LRS has it or will, and the caller voids it instead.
 */
export function rewrite(id, replace) {
  return change((outbox, unsettled) => {
    const index = outbox.findIndex((s) => s.id === id);
    if (index < 0 || unsettled.has(id)) return [outbox, false];
    const next = [...outbox];
    const replacement = replace(outbox[index]);
    if (replacement) next[index] = replacement;
    else next.splice(index, 1);
    return [next, true];
  });
}

/** Sends what waits, unless a wait after a failure is not over (`force` skips it). */
export function deliver({ force = false } = {}) {
  if (running) {
    again = true;
    return running;
  }
  running = send(force).finally(() => {
    running = null;
    if (again) {
      again = false;
      deliver();
    }
  });
  return running;
}

function retryLater(delivery, lastError) {
  const attempts = (delivery.attempts ?? 0) + 1;
  const seconds = BACKOFF_SECONDS[Math.min(attempts, BACKOFF_SECONDS.length) - 1];
  return { attempts, nextAttemptAt: Date.now() + seconds * 1000, lastError };
}

function wakeAt(when) {
  clearTimeout(timer);
  timer = setTimeout(() => deliver(), Math.max(0, when - Date.now()));
}

async function refusal(response) {
  try {
    const body = await response.json();
    return body?.error?.message ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

async function send(force) {
  for (;;) {
    const stored = await local.get(["outbox", "credential", "delivery"]);
    const outbox = stored.outbox ?? [];
    const delivery = stored.delivery ?? {};
    if (!stored.credential || stored.credential.rejected || outbox.length === 0) return;
    if (!force && delivery.nextAttemptAt > Date.now()) {
      wakeAt(delivery.nextAttemptAt);
      return;
    }
    force = false;
    // Taken and marked in one change, so what is sent is what a rewrite would see.
    const batch = await change((all, unsettled) => {
      const taken = all.slice(0, delivery.oneByOne ? 1 : BATCH);
      return [all, taken, new Set([...unsettled, ...taken.map((s) => s.id)])];
    });
    if (batch.length === 0) return;
    const ids = batch.map((s) => s.id);
    let response;
    try {
      response = await postStatements(stored.credential, batch);
    } catch (error) {
      const next = retryLater(delivery, String(error?.message ?? error));
      await local.set({ delivery: next });
      wakeAt(next.nextAttemptAt);
      return;
    }
    if (response.status === 401) {
      // Revoked by the learner elsewhere or by the operator: keep the Statements, stop.
      await local.set({ credential: { ...stored.credential, rejected: true } });
      return;
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      const next = retryLater(delivery, `HTTP ${response.status}`);
      await local.set({ delivery: next });
      wakeAt(next.nextAttemptAt);
      return;
    }
    if (!response.ok && batch.length > 1) {
      // One Statement of the batch is refused (e.g. its host was denied after it was
      // read): send one by one so that only that one is left out.
      await local.set({ delivery: { oneByOne: true } });
      continue;
    }
    let refused = null;
    if (!response.ok) refused = { id: ids[0], status: response.status, message: await refusal(response) };
    const sent = new Set(ids);
    const left = await change((all, unsettled) => {
      const rest = all.filter((s) => !sent.has(s.id));
      return [rest, rest.length, [...unsettled].filter((id) => !sent.has(id))];
    });
    const { refusedStatements = [] } = refused ? await local.get("refusedStatements") : {};
    await local.set({
      delivery: { oneByOne: delivery.oneByOne && left > 0, lastSentAt: Date.now() },
      ...(refused ? { refusedStatements: [...refusedStatements.slice(-19), refused] } : {}),
    });
  }
}

/** How many Statements wait, and how delivery is going (for the popup and options). */
export async function status() {
  const { outbox = [], delivery = {} } = await local.get(["outbox", "delivery"]);
  return { waiting: outbox.length, ...delivery };
}
