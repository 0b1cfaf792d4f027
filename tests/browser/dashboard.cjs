// Drive the dashboard of a running host in headless Chromium, as a trader on a phone would:
// open it with the token, watch positions and P&L update, refuse then confirm the kill
// button, and save a screenshot. Prints what it saw as JSON for the Rust test to check.
//
// node tests/browser/dashboard.cjs URL TOKEN SCREENSHOT.png
// (NODE_PATH must reach playwright-core; $CHROMIUM names the browser, default /usr/bin/chromium.)
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const [url, token, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // The network is closed: no background connections, updates, sync or QUIC probing.
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
    const text = id => page.locator("#" + id).textContent();
    await page.goto(url + "/?token=" + token);
    const address = page.url();
    await page.waitForSelector("#conn.ok", { timeout: 15000 });
    const first = { pnl: await text("pnl-total"), positions: await text("positions-count"), events: await text("events") };
    // Live updates: the P&L moves and positions appear as the replay trades.
    await page.waitForFunction(
      first => {
        const t = id => document.getElementById(id).textContent;
        return t("pnl-total") !== first.pnl && Number(t("positions-count")) > 0 && t("events") !== first.events;
      },
      first,
      { timeout: 30000, polling: 200 },
    );
    const later = { pnl: await text("pnl-total"), positions: await text("positions-count"), events: await text("events") };
    const rows = await page.locator("#positions tr").count();
    const chartPoints = await page.locator("#equity polyline").getAttribute("points");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    // The kill button asks first: dismissed, nothing happens.
    page.once("dialog", d => d.dismiss());
    await page.click("#kill");
    await page.waitForTimeout(1500);
    const afterDismiss = await text("killstate");
    page.once("dialog", d => d.accept());
    await page.click("#kill");
    await page.waitForFunction(() => document.getElementById("killstate").textContent.startsWith("KILLED"), null, { timeout: 10000 });
    const killed = await text("killstate");
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({ address, first, later, rows, chartPoints, overflow, afterDismiss, killed }));
  } finally {
    await browser.close();
  }
}

main().catch(e => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
