// Headless Chromium as the drivers launch it (capture-driver.js, sign-in-driver.js): a
// throwaway profile, and none of the background traffic or first-run pages that would
// make a run depend on the network or on the machine it runs on.
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const puppeteer = require("puppeteer-core");

/** A fresh, empty profile directory under the system's temporary directory. */
function freshProfile(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Chromium (CHROMIUM, default /usr/bin/chromium) in the new headless mode on `profile`;
 * `args` are added to the common flags, `options` to puppeteer's launch options.
 */
function launchChromium(profile, { args = [], ...options } = {}) {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    userDataDir: profile,
    ...options,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      ...args,
    ],
  });
}

module.exports = { freshProfile, launchChromium };
