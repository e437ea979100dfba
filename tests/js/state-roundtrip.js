// Saves, reads and deletes a State document with @xapi/xapi the way course content
// does (suspend data kept between sessions). Exits non-zero on any failure.
//
// Environment: XAPI_ENDPOINT (…/xapi/), XAPI_KEY, XAPI_SECRET.
"use strict";

const assert = require("node:assert/strict");
const XAPI = require("@xapi/xapi");

const endpoint = process.env.XAPI_ENDPOINT;
const auth = XAPI.toBasicAuth(process.env.XAPI_KEY, process.env.XAPI_SECRET);
const agent = { objectType: "Agent", mbox: "mailto:js-client@example.org", name: "JS Client" };
const activityId = "http://example.org/course/js-client";
const registration = "0f2b6f6c-2a5e-4d67-9f1f-3c0d6b7e8a91";

async function notFound(promise) {
  await assert.rejects(promise, (error) => error.response && error.response.status === 404);
}

async function courseSession(version) {
  const xapi = new XAPI({ endpoint, auth, version });
  const stateId = `suspend-data-${version}`;
  const address = { agent, activityId, registration, stateId };

  // First launch: nothing saved yet.
  await notFound(xapi.getState(address));

  // Save progress, then resume it.
  await xapi.setState({ ...address, state: { page: 3, answers: { q1: "b" } } });
  const saved = await xapi.getState(address);
  assert.deepEqual(saved.data, { page: 3, answers: { q1: "b" } });
  assert.match(saved.headers.etag, /^"[0-9a-f]{40}"$/);

  // Save again: 1.0.3 content overwrites freely; 2.0 content sends the ETag it read.
  const again = { ...address, state: { page: 4, answers: { q1: "b", q2: "a" } } };
  if (version === "2.0.0") {
    Object.assign(again, { etag: saved.headers.etag, matchHeader: "If-Match" });
  }
  await xapi.setState(again);
  assert.deepEqual((await xapi.getState(address)).data, again.state);

  // Merge a variable with POST, list the ids, then clean up.
  await xapi.createState({ ...address, state: { bookmark: "intro" } });
  assert.equal((await xapi.getState(address)).data.bookmark, "intro");
  const ids = await xapi.getStates({ agent, activityId, registration });
  assert.ok(ids.data.includes(stateId), JSON.stringify(ids.data));
  await xapi.deleteState(address);
  await notFound(xapi.getState(address));
}

(async () => {
  for (const version of ["1.0.3", "2.0.0"]) {
    await courseSession(version);
  }
  console.log("state round trip ok");
})().catch((error) => {
  const response = error.response ? ` (${error.response.status} ${JSON.stringify(error.response.data)})` : "";
  console.error(`state round trip failed: ${error.message}${response}`);
  process.exit(1);
});
