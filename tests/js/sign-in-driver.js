// Signs in to the Commonplace dashboard in headless Chromium through the provider's
// own login and consent pages (tests/oidc_sign_in.rs). Opens START_URL, and on every
// page of the provider (ISSUER) enters LOGIN with any password and continues, until
// the browser is back at the LRS; with SIGN_OUT=1 it then presses "Sign out".
// Prints one JSON line: the final status, URL and text, and the LRS's cookies (with
// their flags) as Chromium keeps them, before and after signing out.

const fs = require("node:fs");
const { freshProfile, launchChromium } = require("./chromium");

async function main() {
  const { START_URL, ISSUER, LOGIN } = process.env;
  const profile = freshProfile("commonplace-sign-in-");
  const browser = await launchChromium(profile);
  try {
    const page = await browser.newPage();
    // The provider's redirects back to the LRS, code and state included.
    const callbacks = [];
    page.on("request", (request) => {
      if (request.url().includes("/sign-in/callback")) callbacks.push(request.url());
    });
    // The status of the page last shown: the last navigation's final response.
    let shown = null;
    page.on("response", (response) => {
      const request = response.request();
      if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
        shown = response;
      }
    });
    await page.goto(START_URL, { waitUntil: "load" });
    const visited = [page.url()];
    for (let step = 0; step < 5 && page.url().startsWith(ISSUER); step += 1) {
      if (await page.$('input[name="login"]')) {
        await page.type('input[name="login"]', LOGIN);
        await page.type('input[name="password"]', "any password");
      }
      await Promise.all([
        page.waitForNavigation({ waitUntil: "load" }),
        page.click('button[type="submit"]'),
      ]);
      visited.push(page.url());
    }
    const lrs = new URL(START_URL).origin;
    const result = {
      visited,
      callbacks,
      status: shown.status(),
      url: page.url(),
      text: await page.evaluate(() => document.body.innerText),
      cookies: await page.cookies(lrs),
    };
    if (process.env.SIGN_OUT === "1") {
      await Promise.all([
        page.waitForNavigation({ waitUntil: "load" }),
        page.click('form[action="/sign-out"] button'),
      ]);
      result.signedOut = {
        status: shown.status(),
        text: await page.evaluate(() => document.body.innerText),
        cookies: await page.cookies(lrs),
      };
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
