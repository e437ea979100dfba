// Loads dashboard views in headless Chromium at a desktop and a phone width and says
// what a reader would get from each (tests/api/dashboard_insight.rs).
//
// Environment:
//   VIEWS      JSON list of {"name", "url"}: the views to load (absolute URLs)
//   LRS_USER, LRS_PASSWORD  the Basic credentials the pages ask for
//   OUT_DIR    where the full-page screenshots go, as NAME-desktop.png and NAME-phone.png
//   MARKS      CSS selector of the chart marks (default ".mark, .bar")
//
// Prints one JSON line: {"views": [...]}, for each view and width: the HTTP status,
// the viewport width and the page's scroll width (so whether it is wider than the
// screen, and which elements reach past the screen's right edge), each mark's data- attributes
// with the section it is in, each link (href resolved, its class and section), the
// page's text and HTML as rendered, errors the page's scripts threw, and the path of
// its screenshot.

const fs = require("node:fs");
const path = require("node:path");
const { freshProfile, launchChromium } = require("./chromium");

const WIDTHS = [
  { width: "desktop", viewport: { width: 1280, height: 900 } },
  // A phone as the browser emulates one: the page's viewport meta tag decides its layout
  // width, as on a real phone.
  {
    width: "phone",
    viewport: { width: 375, height: 812, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  },
];

/** What one loaded page shows, read in the page. */
function readPage(marksSelector, deviceWidth) {
  const section = (element) => {
    const found = element.closest("section[id]");
    return found ? found.id : null;
  };
  const data = (element) => Object.fromEntries(Object.entries(element.dataset));
  const root = document.documentElement;
  const innerWidth = window.innerWidth;
  // An emulated phone widens its layout viewport to content wider than the screen, so
  // the page is measured against the screen's width.
  const overflows = Math.max(root.scrollWidth, innerWidth) > deviceWidth;
  const reachingPast = [];
  if (overflows) {
    for (const element of document.body.querySelectorAll("*")) {
      const box = element.getBoundingClientRect();
      if (box.right > deviceWidth + 1 && reachingPast.length < 10) {
        const classes = element.getAttribute("class");
        reachingPast.push(
          `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ""}` +
            `${classes ? `.${classes.split(/\s+/).join(".")}` : ""} right=${Math.round(box.right)}`,
        );
      }
    }
  }
  return {
    innerWidth,
    scrollWidth: root.scrollWidth,
    overflows,
    reachingPast,
    marks: [...document.querySelectorAll(marksSelector)].map((element) => ({
      tag: element.tagName.toLowerCase(),
      class: element.getAttribute("class"),
      section: section(element),
      data: data(element),
    })),
    // An SVG link's `href` is not a string: resolve its attribute as the browser does.
    links: [...document.querySelectorAll("a[href]")].map((element) => ({
      href: new URL(element.getAttribute("href"), document.baseURI).href,
      class: element.getAttribute("class"),
      section: section(element),
      text: element.textContent.trim(),
    })),
    text: document.body.innerText,
    html: root.outerHTML,
  };
}

async function load(browser, view, width, options) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  try {
    await page.authenticate({ username: options.user, password: options.password });
    await page.setViewport(width.viewport);
    const response = await page.goto(view.url, { waitUntil: "load" });
    const shown = await page.evaluate(readPage, options.marks, width.viewport.width);
    const screenshot = path.join(options.outDir, `${view.name}-${width.width}.png`);
    fs.rmSync(screenshot, { force: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    return {
      name: view.name,
      width: width.width,
      url: view.url,
      status: response.status(),
      ...shown,
      errors,
      screenshot,
    };
  } finally {
    await page.close();
  }
}

async function main() {
  const views = JSON.parse(process.env.VIEWS);
  const options = {
    user: process.env.LRS_USER,
    password: process.env.LRS_PASSWORD,
    outDir: process.env.OUT_DIR,
    marks: process.env.MARKS || ".mark, .bar",
  };
  fs.mkdirSync(options.outDir, { recursive: true });
  const profile = freshProfile("commonplace-dashboard-");
  const browser = await launchChromium(profile);
  try {
    const results = [];
    for (const view of views) {
      for (const width of WIDTHS) {
        results.push(await load(browser, view, width, options));
      }
    }
    process.stdout.write(`${JSON.stringify({ views: results })}\n`);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
