#!/usr/bin/env node
// Plays a page in headless Chromium and reports how its video played, as one JSON object.
//
//   node crates/weir/tests/js/play.mjs PAGE_URL SECONDS SCREENSHOT.png [READY_TIMEOUT_S]
//
// Loads PAGE_URL, waits (at most READY_TIMEOUT_S, default 30) until `window.weirPlayer.ready`
// (the /play/ page) or, on any other page, until a <video> plays; samples the video's
// currentTime and `weirPlayer.latency` / `weirPlayer.bitrateKbps` every 500 ms for SECONDS;
// takes a screenshot; prints
//
//   { ok, url, ready, ready_after_s, mode, engine, status, src, first_time, last_time,
//     advanced_s, samples, latency_samples, latency_median, bitrate_kbps, buffer_s, width,
//     height, errors, warnings, fatal, console_errors, screenshot, error }
//
// and exits 0 when ok (ready, the video advanced, no player error), 1 otherwise. `error` is the
// driver's own failure (never ready, timeout, no browser) or null.
//
// playwright-core comes from web/node_modules (`npm ci` in web/; `./weir.sh setup`); the browser
// is the system Chromium (/usr/bin/chromium, or $WEIR_CHROMIUM): Playwright never downloads one.
// Everything is bounded in time, and the browser is always closed.

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = "1";

const [url, secondsArg, screenshotArg, readyArg] = process.argv.slice(2);
if (!url || !secondsArg || !screenshotArg) {
  console.error("usage: node play.mjs PAGE_URL SECONDS SCREENSHOT.png [READY_TIMEOUT_S]");
  process.exit(2);
}
const seconds = Number(secondsArg);
const readyTimeoutS = Number(readyArg || 30);
const screenshot = path.resolve(screenshotArg);
// The whole run, launch to close; the caller should allow a little more.
const overallMs = (readyTimeoutS + seconds + 40) * 1000;
const started = Date.now();

const report = {
  ok: false, url, ready: false, ready_after_s: null, mode: null, engine: null, status: null, src: null,
  first_time: null, last_time: null, advanced_s: 0, samples: 0, latency_samples: [], latency_median: null,
  bitrate_kbps: null, buffer_s: null, width: 0, height: 0, errors: [], warnings: [], fatal: false,
  console_errors: [], screenshot: null, error: null,
};

let printed = false;
function finish(code) {
  if (printed) return;
  printed = true;
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exitCode = code;
}

let browser = null;
let profile = null;

async function closeBrowser() {
  const b = browser;
  browser = null;
  if (b) await Promise.race([b.close().catch(() => {}), new Promise(r => setTimeout(r, 5000))]);
  if (profile) { try { fs.rmSync(profile, { recursive: true, force: true }); } catch (_) {} profile = null; }
}

const overall = setTimeout(async () => {
  report.error = report.error || `overall timeout after ${overallMs / 1000} s`;
  finish(1);
  await closeBrowser();
  process.exit(1);
}, overallMs);

const sleep = ms => new Promise(r => setTimeout(r, ms));
const median = xs => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Reads the player's state in the page (the first <video>, and window.weirPlayer when present).
function probe() {
  const v = document.querySelector("video");
  const w = window.weirPlayer || null;
  return {
    hasVideo: !!v,
    time: v ? v.currentTime : null,
    paused: v ? v.paused : true,
    readyState: v ? v.readyState : 0,
    width: v ? v.videoWidth : 0,
    height: v ? v.videoHeight : 0,
    player: w && {
      mode: w.mode, engine: w.engine, status: w.status, src: w.src, ready: !!w.ready,
      latency: typeof w.latency === "number" && isFinite(w.latency) ? w.latency : null,
      bitrateKbps: typeof w.bitrateKbps === "number" && isFinite(w.bitrateKbps) ? w.bitrateKbps : null,
      bufferS: typeof w.bufferS === "number" ? w.bufferS : null,
      errors: Array.isArray(w.errors) ? w.errors.map(String) : [],
      warnings: Array.isArray(w.warnings) ? w.warnings.map(String) : [],
      fatal: !!w.fatal,
    },
  };
}

function absorb(p) {
  report.width = p.width;
  report.height = p.height;
  if (p.player) {
    for (const k of ["mode", "engine", "status", "src", "errors", "warnings", "fatal"]) report[k] = p.player[k];
    report.buffer_s = p.player.bufferS;
  }
}

async function main() {
  let chromium;
  try {
    const webDir = process.env.WEIR_WEB_DIR || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../web");
    const require = createRequire(path.join(webDir, "package.json"));
    ({ chromium } = require("playwright-core"));
  } catch (e) {
    report.error = `playwright-core is not installed in web/node_modules (run ./weir.sh setup): ${e.message}`;
    return finish(1);
  }
  profile = fs.mkdtempSync(path.join(os.tmpdir(), "weir-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.WEIR_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30000,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  browser = ctx;
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on("console", m => { if (m.type() === "error") report.console_errors.push(m.text()); });
  page.on("pageerror", e => report.console_errors.push(`uncaught: ${e.message}`));

  await page.goto(url, { waitUntil: "load", timeout: 20000 });

  // Ready: the player page says so, or (any other page) a video is playing.
  const readyEnd = Date.now() + readyTimeoutS * 1000;
  let p = null;
  for (;;) {
    p = await page.evaluate(probe);
    absorb(p);
    const playing = p.hasVideo && !p.paused && p.time > 0 && p.readyState >= 3;
    if (p.player ? p.player.ready && playing : playing) break;
    if (Date.now() > readyEnd) {
      report.error = `the video did not start playing within ${readyTimeoutS} s` + (p.player ? ` (status ${p.player.status})` : "");
      break;
    }
    await sleep(200);
  }
  if (!report.error) {
    report.ready = true;
    report.ready_after_s = (Date.now() - started) / 1000;
    const bitrates = [];
    const n = Math.max(1, Math.round(seconds * 2));
    const t0 = Date.now();
    for (let i = 0; i <= n; i++) {
      // Sample on a fixed 500 ms grid, whatever an evaluate costs.
      const due = t0 + i * 500 - Date.now();
      if (due > 0) await sleep(due);
      p = await page.evaluate(probe);
      absorb(p);
      report.samples++;
      if (report.first_time === null) report.first_time = p.time;
      report.last_time = p.time;
      if (p.player && p.player.latency !== null) report.latency_samples.push(Math.round(p.player.latency * 1000) / 1000);
      if (p.player && p.player.bitrateKbps !== null) bitrates.push(p.player.bitrateKbps);
    }
    report.advanced_s = Math.round((report.last_time - report.first_time) * 1000) / 1000;
    report.latency_median = median(report.latency_samples);
    report.bitrate_kbps = median(bitrates);
  }
  try {
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true, timeout: 15000 });
    report.screenshot = screenshot;
  } catch (e) {
    report.console_errors.push(`screenshot failed: ${e.message}`);
  }
  report.ok = report.ready && !report.error && report.advanced_s > 0 && report.errors.length === 0 && !report.fatal;
  finish(report.ok ? 0 : 1);
}

try {
  await main();
} catch (e) {
  report.error = report.error || `driver: ${e && e.message ? e.message.split("\n")[0] : e}`;
  console.error(e && e.stack ? e.stack : e);
  finish(1);
} finally {
  await closeBrowser();
  clearTimeout(overall);
}
