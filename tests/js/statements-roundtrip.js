// Sends, queries, pages and voids Statements with @xapi/xapi the way an LMS, a course
// and a dashboard do, and reads the Activities and Agents resources. Exits non-zero
// on any failure.
//
// Environment: XAPI_ENDPOINT (…/xapi/), XAPI_KEY, XAPI_SECRET.
"use strict";

const assert = require("node:assert/strict");
const XAPI = require("@xapi/xapi");

const endpoint = process.env.XAPI_ENDPOINT;
const auth = XAPI.toBasicAuth(process.env.XAPI_KEY, process.env.XAPI_SECRET);

async function notFound(promise) {
  await assert.rejects(promise, (error) => error.response && error.response.status === 404);
}

async function session(version) {
  const xapi = new XAPI({ endpoint, auth, version });
  const learner = { objectType: "Agent", mbox: `mailto:learner-${version}@example.org`, name: "Lee" };
  const course = {
    objectType: "Activity",
    id: `http://example.org/courses/onboarding-${version}`,
    definition: { name: { "en-US": "Onboarding" }, type: "http://adlnet.gov/expapi/activities/course" },
  };
  const registration = version === "2.0.0" ? "5a0c1d7e-64a2-4e43-9d0b-0d8c9e0f4a11" : "6b1d2e8f-75b3-4f54-8e1c-1e9daf105b22";
  const verb = (name) => ({ id: `http://adlnet.gov/expapi/verbs/${name}`, display: { "en-US": name } });
  const statement = (name) => ({ actor: learner, verb: verb(name), object: course, context: { registration } });

  const sent = await xapi.sendStatements({
    statements: [statement("launched"), statement("progressed"), statement("completed")],
  });
  assert.equal(sent.data.length, 3);

  const one = await xapi.getStatement({ statementId: sent.data[2] });
  assert.equal(one.data.id, sent.data[2]);
  assert.equal(one.data.verb.id, "http://adlnet.gov/expapi/verbs/completed");
  assert.ok(one.data.stored && one.data.authority && one.data.timestamp, JSON.stringify(one.data));

  // A dashboard pages through the learner's statements two at a time.
  const first = await xapi.getStatements({ agent: learner, registration, limit: 2 });
  assert.equal(first.data.statements.length, 2);
  assert.ok(first.data.more, "a more link for the third statement");
  const second = await xapi.getMoreStatements({ more: first.data.more });
  assert.equal(second.data.statements.length, 1);
  assert.equal(second.data.more, "");
  const seen = [...first.data.statements, ...second.data.statements].map((s) => s.id).sort();
  assert.deepEqual(seen, [...sent.data].sort());

  // Newest first: the completion comes back first when filtered by verb.
  const completed = await xapi.getStatements({ verb: "http://adlnet.gov/expapi/verbs/completed", agent: learner });
  assert.deepEqual(completed.data.statements.map((s) => s.id), [sent.data[2]]);

  // The LMS voids the launch; it disappears from queries but stays readable as voided.
  await xapi.voidStatement({ actor: learner, statementId: sent.data[0] });
  await notFound(xapi.getStatement({ statementId: sent.data[0] }));
  const voided = await xapi.getVoidedStatement({ voidedStatementId: sent.data[0] });
  assert.equal(voided.data.id, sent.data[0]);

  const activity = await xapi.getActivity({ activityId: course.id });
  assert.equal(activity.data.definition.name["en-US"], "Onboarding");
  const person = await xapi.getAgent({ agent: learner });
  assert.deepEqual(person.data.mbox, [learner.mbox]);
}

(async () => {
  for (const version of ["1.0.3", "2.0.0"]) {
    await session(version);
  }
  console.log("statements round trip ok");
})().catch((error) => {
  const response = error.response ? ` (${error.response.status} ${JSON.stringify(error.response.data)})` : "";
  console.error(`statements round trip failed: ${error.message}${response}`);
  process.exit(1);
});
