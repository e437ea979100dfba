import { ask } from "./lib/ask.js";
import { parseEnrolmentInput } from "./lib/url.js";

const $ = (id) => document.getElementById(id);

function say(text, warn = false) {
  $("status").textContent = text;
  $("status").className = warn ? "status warn" : "status";
}

async function show() {
  const status = await ask("status");
  $("connect").hidden = status.enrolled && !status.rejected;
  $("connected").hidden = !status.enrolled;
  $("pausing").hidden = !status.enrolled;
  if (status.enrolled) {
    $("who").textContent = status.policy?.name ?? status.actor?.name ?? JSON.stringify(status.actor);
    $("where").textContent = status.lrs;
    const p = status.policy;
    $("policy").textContent = p
      ? `Pages count after ${p.minimumDwellSeconds} s of active reading` +
        (p.siteOnly ? "; only sites are recorded, never page addresses." : ".") +
        (status.rejected ? " The store no longer accepts this connection: connect again." : "")
      : "";
    $("resume").disabled = !status.pausedUntil;
    $("paused").textContent = status.pausedUntil
      ? `Paused until ${new Date(status.pausedUntil).toLocaleString()}.`
      : "Recording.";
  }
  $("blocked").value = status.blockedHosts.join("\n");
}

$("enrol").addEventListener("click", async () => {
  let base;
  let code = $("code").value.trim();
  try {
    const parsed = parseEnrolmentInput($("lrs").value);
    base = parsed.base;
    code = code || parsed.code || "";
  } catch {
    say("Enter the address of the learning record store.", true);
    return;
  }
  if (!code) {
    say("Enter the enrolment code you were given.", true);
    return;
  }
  $("enrol").disabled = true;
  try {
    const { name } = await ask("enrol", { base, code });
    say(`Connected as ${name ?? "you"}.`);
    $("code").value = "";
    await show();
  } catch (error) {
    say(`Not connected: ${error.message}`, true);
  } finally {
    $("enrol").disabled = false;
  }
});

$("disconnect").addEventListener("click", async () => {
  try {
    await ask("disconnect");
    say("Disconnected: the store no longer accepts this browser's key.");
  } catch (error) {
    say(`Could not reach the store to revoke the key: ${error.message}`, true);
  }
  await show();
});

for (const [id, until] of [["pause-hour", "hour"], ["pause-tomorrow", "tomorrow"]]) {
  $(id).addEventListener("click", async () => {
    await ask("pause", { until });
    say("Paused: nothing is recorded until you resume or the pause ends.");
    await show();
  });
}

$("resume").addEventListener("click", async () => {
  await ask("resume");
  say("Recording again.");
  await show();
});

$("save-blocked").addEventListener("click", async () => {
  const { blockedHosts } = await ask("blockHosts", { hosts: $("blocked").value.split(/\s+/) });
  say(`Never recorded: ${blockedHosts.length ? blockedHosts.join(", ") : "no sites of your own"}.`);
  await show();
});

// Opened from an enrolment page: the address and code come pre-filled.
const params = new URLSearchParams(location.search);
if (params.get("lrs")) $("lrs").value = params.get("lrs");
if (params.get("code")) $("code").value = params.get("code");
// Any web page can look like an enrolment page: the learner connects, or not, knowing where.
try {
  $("asked").textContent = `A page asked to connect this browser to ${new URL(params.get("lrs")).host}. ` +
    "Connect only if that is your organisation's learning record store: it will receive what you read.";
  $("asked").hidden = false;
} catch {
  // Opened by the learner, not from an enrolment page.
}
// The policy may have changed since it was last fetched: fetch it as the page opens.
ask("refreshPolicy")
  .catch(() => {})
  .then(show)
  .catch((error) => say(error.message, true));
