// Drives headless Chromium (or, with FIREFOX set, headless Firefox over WebDriver BiDi)
// with the Commonplace Capture extension loaded, one command at a time, for tests/capture_extension.rs: the Rust test holds the story and checks the
// server; this script only does what a person does in the browser and says what it saw.
//
// Protocol: one JSON command per line on stdin, `{"id": 1, "cmd": "read", ...}`; one JSON
// answer per line on stdout, `{"id": 1, "ok": true, "value": ...}` or `{"ok": false,
// "error": "..."}`. Diagnostics go to stderr.
//
// Environment: EXTENSION_DIR (the unpacked extension), CHROMIUM (default
// /usr/bin/chromium), HOST_RULES (Chromium --host-resolver-rules, so the test site can
// have several host names on loopback); FIREFOX (the Firefox executable) to drive
// Firefox instead, where every host name resolves to loopback.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");
const puppeteer = require("puppeteer-core");
const { freshProfile, launchChromium } = require("./chromium");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let browser;
let extensionId;
let control; // an extension page kept in the background, to stop the worker from
const tabs = new Map(); // name -> Page
// Every options page the extension opened from an enrolment page ({ target, url }), in
// order (Chromium); and the last one, until the learner connects there.
const optionsOpened = [];
let invited = null;
const firefox = process.env.FIREFOX;
// Firefox gives an extension a random UUID per profile unless its preferences name one.
const FIREFOX_UUID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";

async function launch() {
  const profile = freshProfile("commonplace-capture-");
  process.on("exit", () => fs.rmSync(profile, { recursive: true, force: true }));
  const extension = process.env.EXTENSION_DIR;
  if (firefox) return launchFirefox(profile, extension);
  // The new headless mode, which runs extensions.
  browser = await launchChromium(profile, {
    enableExtensions: true,
    args: [
      "--autoplay-policy=no-user-gesture-required",
      `--disable-extensions-except=${extension}`,
      `--load-extension=${extension}`,
      `--host-resolver-rules=${process.env.HOST_RULES || ""}`,
    ],
  });
  const worker = await browser.waitForTarget(
    (t) => t.type() === "service_worker" && t.url().startsWith("chrome-extension://"),
    { timeout: 30000 },
  );
  extensionId = new URL(worker.url()).host;
  const noteOptions = (target) => {
    if (target.url().startsWith(extensionUrl("options.html?")) && !optionsOpened.some((o) => o.target === target)) {
      optionsOpened.push({ target, url: target.url() });
    }
  };
  browser.on("targetcreated", noteOptions);
  browser.on("targetchanged", noteOptions);
  control = await browser.newPage();
  await control.goto(extensionUrl("popup.html"));
}

/**
 * Firefox with the extension installed temporarily (unpacked, unsigned), as `web-ext run`
 * and about:debugging do. WebDriver BiDi may not navigate a tab to an extension page, so
 * the control page is the options page the extension opens itself at enrolment.
 */
async function launchFirefox(profile, extension) {
  const manifest = JSON.parse(fs.readFileSync(path.join(extension, "manifest.json"), "utf8"));
  browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: firefox,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: {
      "extensions.webextensions.uuids": JSON.stringify({
        [manifest.browser_specific_settings.gecko.id]: FIREFOX_UUID,
      }),
      // Every host name is the loopback address, where the test site and the LRS listen.
      "network.dns.forceResolve": "127.0.0.1",
      "network.trr.mode": 5,
    },
  });
  await browser.installExtension(extension);
  extensionId = FIREFOX_UUID;
}

/** The open tab showing extension page `page` (in Firefox, whose tabs hide their URL). */
async function extensionTab(page) {
  return until(`the extension's ${page}`, async () => {
    for (const candidate of await browser.pages()) {
      const href = await candidate.evaluate(() => location.href).catch(() => "");
      if (href.startsWith(extensionUrl(page))) return candidate;
    }
    return null;
  });
}

/**
 * Evaluates `fn(arg)` in the control page, an extension page that sees the extension's
 * storage as the service worker does (and stays reachable while the worker is stopped).
 */
function inExtension(fn, arg) {
  return control.evaluate(fn, arg);
}

function storage() {
  return inExtension(async () => ({
    local: await chrome.storage.local.get(null),
    session: await chrome.storage.session.get(null),
  }));
}

async function until(what, check, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function tab(name) {
  if (!tabs.has(name)) tabs.set(name, await browser.newPage());
  return tabs.get(name);
}

function extensionUrl(page) {
  return `${firefox ? "moz-extension" : "chrome-extension"}://${extensionId}/${page}`;
}

/** Whether the worker has an open visit of `url`. */
async function visiting(url) {
  const { session } = await storage();
  const open = Object.values(session.tracking?.tabs ?? {}).map((t) => t.visit?.url);
  return open.includes(new URL(url).href);
}

async function clickAndWaitForStatus(page, selector, previous) {
  await page.click(selector);
  await page.waitForFunction(
    (before) => {
      const text = document.getElementById("status").textContent;
      return text && text !== before;
    },
    { timeout: 15000 },
    previous,
  );
  return page.$eval("#status", (e) => e.textContent);
}

/**
 * Waits until the extension's content script has run in `page`'s top frame (its isolated
 * world has set its flag), so whatever it reports there has been sent (Chromium).
 */
async function contentScriptRan(page) {
  const cdp = await page.createCDPSession();
  const worlds = [];
  cdp.on("Runtime.executionContextCreated", ({ context }) => {
    if (context.auxData?.type === "isolated" && context.origin === `chrome-extension://${extensionId}`) {
      worlds.push(context.id);
    }
  });
  await cdp.send("Runtime.enable");
  try {
    await until(`the content script in ${page.url()}`, async () => {
      for (const contextId of worlds) {
        const ran = await cdp
          .send("Runtime.evaluate", { expression: "globalThis.__commonplaceCapture === true", contextId })
          .catch(() => null);
        if (ran?.result?.value === true) return true;
      }
      return false;
    });
  } finally {
    await cdp.detach();
  }
}

async function statusText(page) {
  return page.$eval("#status", (e) => e.textContent);
}

const commands = {
  /**
   * Opens the LRS's enrolment page; the extension opens its options page pre-filled, and
   * unless `connect` is false the learner clicks Connect there. Answers what was filled
   * in and every options page the extension opened so far (Chromium).
   */
  async enrolFromPage({ url, connect = true }) {
    const page = await tab("enrol");
    const before = optionsOpened.length;
    await page.goto(url);
    invited = firefox
      ? await extensionTab("options.html")
      : await (await until("the options page the invitation opens", () => optionsOpened[before]?.target)).page();
    await invited.bringToFront();
    await invited.waitForSelector("#lrs");
    await invited.waitForFunction(() => document.getElementById("code").value !== "");
    const answer = {
      prefilled: {
        lrs: await invited.$eval("#lrs", (e) => e.value),
        code: await invited.$eval("#code", (e) => e.value),
      },
      opened: optionsOpened.map((o) => o.url),
    };
    if (connect) Object.assign(answer, await commands.connect());
    await page.goto("about:blank");
    return answer;
  },

  /** The learner clicks Connect on the options page the enrolment page opened. */
  async connect() {
    const settings = invited;
    invited = null;
    await settings.bringToFront();
    const status = await clickAndWaitForStatus(settings, "#enrol", "");
    const who = await settings.$eval("#who", (e) => e.textContent);
    if (firefox) control = settings;
    else await settings.close();
    return { status, who };
  },

  /** Opens `url` in the enrolment tab and waits until the content script ran there. */
  async visit({ url }) {
    const page = await tab("enrol");
    await page.goto(url);
    await contentScriptRan(page);
    return {};
  },

  /**
   * Reads `url` in tab `tab` (brought to the front) for `seconds`, then, with `leave`,
   * navigates the tab away and waits until the extension has closed the visit.
   * Answers the seconds the page was in front.
   */
  async read({ tab: name, url, seconds, leave = true }) {
    const page = await tab(name);
    await page.bringToFront();
    const started = Date.now();
    await page.goto(url);
    await sleep(seconds * 1000 - (Date.now() - started));
    const active = (Date.now() - started) / 1000;
    if (leave) await commands.leave({ tab: name, url });
    return { activeSeconds: active };
  },

  async leave({ tab: name, url }) {
    const page = await tab(name);
    await page.goto("about:blank");
    await until(`the visit of ${url} to close`, async () => !(await visiting(url)));
    return {};
  },

  /** Brings a tab to the front for `seconds`; answers the seconds it was in front. */
  async front({ tab: name, seconds }) {
    const page = await tab(name);
    const started = Date.now();
    await page.bringToFront();
    await sleep(seconds * 1000);
    return { activeSeconds: (Date.now() - started) / 1000 };
  },

  /** Reads `url` in a private (incognito) window, then closes it. */
  async readPrivately({ url, seconds }) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.goto(url);
    await sleep(seconds * 1000);
    await page.goto("about:blank");
    await context.close();
    return {};
  },

  /**
   * Stops the extension's service worker, as the browser does when it has been idle; it
   * starts again at the next event. Sent from an extension page in a background tab
   * (the worker shares its storage partition), which the tab in front does not notice.
   */
  async stopWorker() {
    const session = await control.createCDPSession();
    const stopped = new Promise((resolve) => {
      session.on("ServiceWorker.workerVersionUpdated", ({ versions }) => {
        if (versions.some((v) => v.scriptURL.startsWith(`chrome-extension://${extensionId}/`) && v.runningStatus === "stopped")) {
          resolve();
        }
      });
    });
    await session.send("ServiceWorker.enable");
    await session.send("ServiceWorker.stopAllWorkers");
    await Promise.race([stopped, sleep(10000).then(() => Promise.reject(new Error("the worker did not stop")))]);
    await session.detach();
    return {};
  },

  /** What the extension stored: the outbox, delivery and the open visits. */
  async state() {
    const { local, session } = await storage();
    return {
      waiting: (local.outbox ?? []).length,
      delivery: local.delivery ?? {},
      openVisits: Object.values(session.tracking?.tabs ?? {}).filter((t) => t.visit).map((t) => t.visit.url),
      recorded: (local.recorded ?? []).length,
      enrolled: Boolean(local.credential),
      key: local.credential?.key ?? null,
      secret: local.credential?.secret ?? null,
      optionsOpened: optionsOpened.map((o) => o.url),
    };
  },

  async outboxEmpty({ timeoutSeconds = 60 }) {
    await until("the outbox to empty", async () => {
      const { local } = await storage();
      return (local.outbox ?? []).length === 0;
    }, timeoutSeconds * 1000);
    return {};
  },

  /**
   * Options page actions: `pause` (hour|tomorrow), `resume`, `block` (hosts),
   * `disconnect`; without one, the page is only opened (it fetches the policy).
   */
  async options({ action, until: pauseUntil, hosts }) {
    const page = await tab("options");
    await page.bringToFront();
    await page.goto(extensionUrl("options.html"));
    await page.waitForFunction(() => !document.getElementById("connected").hidden);
    let status;
    if (action === "pause") {
      status = await clickAndWaitForStatus(page, pauseUntil === "tomorrow" ? "#pause-tomorrow" : "#pause-hour", "");
    } else if (action === "resume") {
      status = await clickAndWaitForStatus(page, "#resume", "");
    } else if (action === "disconnect") {
      status = await clickAndWaitForStatus(page, "#disconnect", "");
    } else if (action === "block") {
      await page.$eval("#blocked", (e, text) => { e.value = text; }, hosts.join("\n"));
      status = await clickAndWaitForStatus(page, "#save-blocked", "");
    }
    const paused = await page.$eval("#paused", (e) => e.textContent);
    await page.goto("about:blank");
    return { status, paused };
  },

  /**
   * Popup actions on today's item about `object`: `forget`, `share` (with `note`),
   * `link` (to the goal named `goal`); or `setGoal` (`name`). Answers the status line and
   * this week's figures per mode as the popup shows them.
   */
  async popup({ action, object, note, goal, name }) {
    const page = await tab("popup");
    await page.bringToFront();
    await page.goto(extensionUrl("popup.html"));
    await page.waitForFunction(() => document.getElementById("mix").textContent !== "…", { timeout: 15000 });
    const card = object ? `.card[data-object="${object}"]` : null;
    if (card) await page.waitForSelector(card, { timeout: 15000 });
    let status = null;
    if (action === "forget") {
      status = await clickAndWaitForStatus(page, `${card} .forget`, "");
    } else if (action === "share") {
      await page.click(`${card} .open-share`);
      await page.type(`${card} .note`, note ?? "");
      status = await clickAndWaitForStatus(page, `${card} .share`, "");
    } else if (action === "link") {
      const value = await page.$eval(`${card} .goal`, (select, wanted) => {
        const option = [...select.options].find((o) => o.textContent === wanted);
        return option ? option.value : null;
      }, goal);
      if (!value) throw new Error(`the popup offers no goal named ${goal}`);
      await page.click(`${card} .open-link`);
      await page.select(`${card} .goal`, value);
      status = await clickAndWaitForStatus(page, `${card} .link`, "");
    } else if (action === "setGoal") {
      await page.type("#goal-name", name);
      status = await clickAndWaitForStatus(page, "#set-goal", "");
    }
    const items = await page.$$eval(".card", (cards) => cards.map((c) => c.dataset.object));
    const mix = await page.$$eval("[data-mode]", (spans) =>
      Object.fromEntries(spans.map((s) => [s.dataset.mode, s.textContent])));
    await page.goto("about:blank");
    return { status, items, mix };
  },

  /** Screenshots of the popup and the options page, as a learner sees them. */
  async screenshots({ dir }) {
    fs.mkdirSync(dir, { recursive: true });
    const page = await tab("screenshots");
    await page.bringToFront();
    await page.setViewport({ width: 380, height: 560, deviceScaleFactor: 1 });
    await page.goto(extensionUrl("popup.html"));
    await page.waitForFunction(() => document.getElementById("mix").textContent !== "…" && document.querySelector(".card"));
    await page.screenshot({ path: path.join(dir, "popup.png"), fullPage: true });
    await page.setViewport({ width: 720, height: 760, deviceScaleFactor: 1 });
    await page.goto(extensionUrl("options.html"));
    await page.waitForFunction(() => !document.getElementById("connected").hidden);
    await page.screenshot({ path: path.join(dir, "options.png"), fullPage: true });
    await page.goto("about:blank");
    return {};
  },

  async close() {
    await browser.close();
    return {};
  },
};

async function main() {
  await launch();
  const lines = readline.createInterface({ input: process.stdin });
  process.stdout.write(JSON.stringify({ id: 0, ok: true, value: { extensionId } }) + "\n");
  for await (const line of lines) {
    if (!line.trim()) continue;
    const { id, cmd, ...args } = JSON.parse(line);
    let answer;
    try {
      if (!commands[cmd]) throw new Error(`unknown command ${cmd}`);
      answer = { id, ok: true, value: await commands[cmd](args) };
    } catch (error) {
      answer = { id, ok: false, error: String(error?.stack ?? error) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
    if (cmd === "close") break;
  }
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
