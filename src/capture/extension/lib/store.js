// Everything the extension keeps. `chrome.storage.local` (never sync) holds the
// credential, the policy, the learner's settings, the outbox and today's items;
// `chrome.storage.session` holds the timing of open visits, so that the service
// worker can be stopped and started again without losing a second.

export const local = {
  async get(keys) {
    return chrome.storage.local.get(keys);
  },
  async set(items) {
    return chrome.storage.local.set(items);
  },
  async remove(keys) {
    return chrome.storage.local.remove(keys);
  },
};

export const session = {
  async get(key, fallback) {
    const items = await chrome.storage.session.get(key);
    return items[key] ?? fallback;
  },
  async set(key, value) {
    return chrome.storage.session.set({ [key]: value });
  },
};

/**
 * Runs the functions given to it one after another: every read-change-write of stored
 * state goes through one, so two events never interleave their writes.
 */
export function serial() {
  let tail = Promise.resolve();
  return (work) => {
    const run = tail.then(work);
    tail = run.catch(() => {});
    return run;
  };
}
