import { ask } from "./lib/ask.js";

const $ = (id) => document.getElementById(id);
const MODES = [
  ["directed", "Directed"],
  ["guided", "Guided"],
  ["self_planned", "Self-planned"],
  ["self_directed", "Self-directed"],
];

function say(text, warn = false) {
  $("status").textContent = text;
  $("status").className = warn ? "status warn" : "status";
}

function minutes(seconds) {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.round(seconds / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function durationSeconds(iso) {
  const m = /PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?/.exec(iso ?? "");
  return m ? (+m[1] || 0) * 3600 + (+m[2] || 0) * 60 + (+m[3] || 0) : 0;
}

async function act(request, details, done) {
  try {
    await ask(request, details);
    say(done);
  } catch (error) {
    say(error.message, true);
  }
  await showToday();
}

let goals = [];

async function showToday() {
  const today = await ask("today");
  const known = new Map(goals.map((g) => [g.id, g]));
  for (const g of today.goals) known.set(g.id, g);
  const list = $("items");
  list.replaceChildren();
  $("none").hidden = today.items.length > 0;
  for (const entry of [...today.items].reverse()) {
    const card = $("item").content.firstElementChild.cloneNode(true);
    const { statement } = entry;
    card.dataset.id = entry.id;
    card.dataset.object = statement.object.id;
    card.querySelector(".title").textContent = statement.object.definition?.name?.en ?? statement.object.id;
    const parts = [
      statement.verb.display.en,
      minutes(durationSeconds(statement.result?.duration)),
      new Date(entry.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    ];
    if (entry.shared) parts.push("shared");
    if (entry.goal) parts.push(`for “${known.get(entry.goal)?.name ?? "a goal"}”`);
    card.querySelector(".meta").textContent = parts.join(" · ");
    const select = card.querySelector(".goal");
    for (const g of known.values()) select.add(new Option(g.name, g.id, false, g.id === entry.goal));
    card.querySelector(".open-share").addEventListener("click", () => {
      card.querySelector(".sharing").hidden = false;
      card.querySelector(".note").focus();
    });
    card.querySelector(".open-link").addEventListener("click", () => {
      card.querySelector(".linking").hidden = false;
    });
    card.querySelector(".forget").addEventListener("click", () =>
      act("forget", { id: entry.id }, "Forgotten: it is voided in the record store."));
    card.querySelector(".share").addEventListener("click", () =>
      act("share", { id: entry.id, note: card.querySelector(".note").value }, "Shared with your team."));
    card.querySelector(".link").addEventListener("click", () => {
      if (!select.value) return say("Choose a goal first.", true);
      return act("link", { id: entry.id, goal: select.value }, "Linked: it now counts toward your goal.");
    });
    list.append(card);
  }
}

async function showWeek() {
  try {
    const me = await ask("me");
    goals = me.goals ?? [];
    const rows = new Map((me.mix ?? []).map((row) => [row.mode, row]));
    const time = (row) => (row ? row.reportedSeconds + row.estimatedSeconds : 0);
    const total = MODES.reduce((sum, [mode]) => sum + time(rows.get(mode)), 0);
    const bar = document.createElement("div");
    bar.className = "bar";
    const legend = document.createElement("div");
    legend.className = "legend";
    for (const [mode, label] of MODES) {
      const row = rows.get(mode);
      if (total > 0 && time(row) > 0) {
        const span = document.createElement("span");
        span.style.width = `${(100 * time(row)) / total}%`;
        span.style.background = `var(--${mode})`;
        span.title = label;
        bar.append(span);
      }
      const swatch = document.createElement("i");
      swatch.style.background = `var(--${mode})`;
      const name = document.createElement("span");
      name.textContent = label;
      const figure = document.createElement("span");
      figure.dataset.mode = mode;
      figure.textContent = `${row?.statements ?? 0} · ${minutes(time(row))}`;
      legend.append(swatch, name, figure);
    }
    $("mix").replaceChildren(bar, legend);
    $("mix").className = "";
  } catch (error) {
    $("mix").textContent = `Not available: ${error.message}`;
  }
}

$("set-goal").addEventListener("click", async () => {
  try {
    const goal = await ask("setGoal", { name: $("goal-name").value });
    goals.push(goal);
    $("goal-name").value = "";
    say(`Goal set: ${goal.name}.`);
  } catch (error) {
    say(error.message, true);
  }
  await showToday();
});

async function start() {
  const status = await ask("status");
  $("enrolled").hidden = !status.enrolled;
  if (!status.enrolled) {
    $("state").textContent = "Not connected: open the settings to enrol with your code.";
    return;
  }
  const waiting = status.delivery.waiting ? ` ${status.delivery.waiting} waiting to be sent.` : "";
  $("state").textContent = status.rejected
    ? "The record store no longer accepts this browser: connect again in the settings."
    : status.pausedUntil
      ? `Paused until ${new Date(status.pausedUntil).toLocaleString()}.${waiting}`
      : `Recording as ${status.policy?.name ?? status.actor?.name ?? "you"}.${waiting}`;
  await Promise.all([showWeek(), showToday()]);
  await showToday();
}

start().catch((error) => say(error.message, true));
