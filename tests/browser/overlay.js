#!/usr/bin/env node
// The overlay and dashboard pages in a real browser: Debian's chromium,
// headless, driven by playwright-core (installed into build/browser by
// tests/bats/70-overlay.bats). ws-broadcast (from PATH) is started here,
// fed events on its stdin, and restarted, so the page is tested against
// the real server.
//
//   node tests/browser/overlay.js SCENARIO OUTDIR
//
// Scenarios: alert, queue, escape, reconnect, replay, config, readonly,
// screenshot (the README picture: OUTDIR/overlay.png, dashboard.png).
// Prints one "ok ..." line per check; exits 0 when all passed, 1 with a
// "FAIL: ..." line otherwise.
"use strict";
const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const scenario = process.argv[2];
const outdir = process.argv[3] || ".";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sv-browser-"));
const CHROMIUM = process.env.SV_CHROMIUM || "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
  "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync",
  "--autoplay-policy=no-user-gesture-required"]; // as OBS plays sounds

let server = null, serverErr = "", addr = null, browser = null;

function ok(what) { console.log("ok " + what); }
function fail(what) { throw new Error(what); }
function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// ws-broadcast on addr (or 127.0.0.1:0 the first time); resolves once
// it listens.
async function startServer(extra) {
  const pf = path.join(tmp, "port");
  fs.rmSync(pf, { force: true });
  server = spawn("ws-broadcast", ["-v", "--listen", addr || "127.0.0.1:0",
    "--port-file", pf, "--ping-interval", "5"].concat(extra || []),
    { stdio: ["pipe", "ignore", "pipe"] });
  server.stderr.on("data", (d) => { serverErr += d; });
  for (let i = 0; i < 200 && !fs.existsSync(pf); i++) await sleep(25);
  if (!fs.existsSync(pf)) fail("ws-broadcast did not start: " + serverErr);
  addr = fs.readFileSync(pf, "utf8").trim();
}

async function stopServer() {
  if (!server) return;
  const s = server;
  server = null;
  const done = new Promise((r) => s.on("exit", r));
  s.kill("SIGTERM");
  await done;
}

// An event from twitch-trigger, changed by fn.
function trigger(type, args, fn) {
  const line = execFileSync("twitch-trigger", [type].concat(args || []),
    { encoding: "utf8" });
  const ev = JSON.parse(line);
  if (fn) fn(ev);
  return ev;
}

function feed(...evs) {
  server.stdin.write(evs.map((e) => JSON.stringify(e) + "\n").join(""));
  return Date.now();
}

// Wait until ws-broadcast has taken n events (its /healthz count).
async function eventsTaken(n) {
  for (let i = 0; i < 200; i++) {
    const h = await (await fetch("http://" + addr + "/healthz")).json();
    if (h.events >= n) return;
    await sleep(25);
  }
  fail("ws-broadcast did not take " + n + " events");
}

// Runs in every page before its own scripts: records, on the page side,
// every alert the overlay shows, so a check can say what never appeared.
// window.__shown: {id, t} per alert shown, in order; window.__hidden: {id,
// t} when it left the screen; window.__overlap: "A>B" whenever B was put
// on screen while A was still there.
function recorder() {
  window.__shown = [];
  window.__hidden = [];
  window.__overlap = [];
  document.addEventListener("DOMContentLoaded", () => {
    const a = document.getElementById("alert");
    if (!a) return;
    let cur = null; // the id on screen
    new MutationObserver(() => {
      const id = a.dataset.id || "";
      if (a.className === "show" && id && id !== cur) {
        if (cur !== null) window.__overlap.push(cur + ">" + id);
        cur = id;
        window.__shown.push({ id: id, t: performance.now() });
      } else if (a.className === "" && cur !== null) {
        window.__hidden.push({ id: cur, t: performance.now() });
        cur = null;
      }
    }).observe(a, { attributes: true, attributeFilter: ["class", "data-id"] });
  });
}

async function openPage(p, query) {
  const page = await browser.newPage({ viewport: { width: 900, height: 260 } });
  page.on("pageerror", (e) => { console.log("# page error: " + e.message); });
  await page.addInitScript(recorder);
  await page.goto("http://" + addr + p + query);
  return page;
}

// The ids of every alert the page has shown so far, in order.
function shownIds(page) {
  return page.evaluate(() => window.__shown.map((s) => s.id));
}

// Fail unless the page showed exactly the alerts want, in that order.
async function onlyShown(page, want, what) {
  const got = await shownIds(page);
  if (got.join(" ") !== want.join(" "))
    fail(what + ": shown " + JSON.stringify(got) + ", want " + JSON.stringify(want));
}

async function connected(page, ms) {
  await page.waitForFunction(() => document.body.dataset.ws === "connected",
    null, { timeout: ms || 5000 });
}

// The alert on screen: its event id and texts, or null.
function shown(page) {
  return page.evaluate(() => {
    const a = document.getElementById("alert");
    if (a.className !== "show") return null;
    const t = (s) => a.querySelector(s).textContent;
    return { id: a.dataset.id, type: a.dataset.type, title: t(".title"),
      text: t(".text"), message: t(".message") };
  });
}

async function waitShown(page, id, ms) {
  await page.waitForFunction((want) => {
    const a = document.getElementById("alert");
    return a.className === "show" && a.dataset.id === want;
  }, id, { timeout: ms, polling: 20 });
  return shown(page);
}

const scenarios = {
  // connects; an event on stdin is an alert with the right text in < 1 s
  async alert() {
    await startServer();
    const page = await openPage("/", "?duration=3");
    await connected(page);
    ok("the page connects to the server that served it");
    const bg = await page.evaluate(() => [document.documentElement, document.body]
      .map((e) => getComputedStyle(e).backgroundColor));
    if (bg.some((c) => c !== "rgba(0, 0, 0, 0)")) fail("background: " + bg);
    ok("the background is transparent (OBS)");
    const ev = trigger("cheer", ["--user", "pixelpanda", "--amount", "500",
      "--message", "Cheer500 great run"]);
    const t0 = feed(ev);
    const a = await waitShown(page, ev.id, 1000);
    const dt = Date.now() - t0;
    if (a.text !== "PixelPanda cheered 500 bits!")
      fail("alert text: " + JSON.stringify(a));
    if (a.message !== "Cheer500 great run") fail("message: " + a.message);
    ok("the cheer shows as an alert within 1 s (" + dt + " ms): " + a.text);
    await page.screenshot({ path: path.join(outdir, "overlay-alert.png"),
      omitBackground: true });
    // a raid and a gift: their own templates
    const raid = trigger("raid", ["--user", "lanternfish", "--viewers", "87"]);
    feed(raid);
    await page.waitForFunction(() => document.getElementById("alert").className === "", null, { timeout: 6000 });
    const r = await waitShown(page, raid.id, 3000);
    if (r.text !== "LanternFish is raiding with 87 viewers!" || r.title !== "Raid!")
      fail("raid alert: " + JSON.stringify(r));
    ok("a raid uses its template: " + r.text);
  },

  // two events queue: the second waits for the first to finish
  async queue() {
    await startServer();
    const page = await openPage("/", "?duration=1&gap=0.2");
    await connected(page);
    const a = trigger("follow", ["--user", "quietfox"]);
    const b = trigger("subscribe", ["--user", "bitbard", "--tier", "2000"]);
    const t0 = feed(a, b);
    await waitShown(page, a.id, 1000);
    const s = await waitShown(page, b.id, 5000);
    const dt = Date.now() - t0;
    if (dt < 1000) fail("the second alert came after " + dt + " ms, before the first ended");
    if (s.text !== "BitBard just subscribed at tier 2!") fail("text: " + s.text);
    // never on top of each other: the first had left the screen (and the
    // gap passed) before the second was put on it
    await onlyShown(page, [a.id, b.id], "two events");
    const r = await page.evaluate(() => ({ shown: window.__shown,
      hidden: window.__hidden, overlap: window.__overlap }));
    if (r.overlap.length !== 0) fail("alerts on top of each other: " + r.overlap);
    if (r.hidden.length < 1 || r.hidden[0].id !== a.id ||
        r.shown[1].t - r.hidden[0].t < 150)
      fail("the second alert was not shown after the first had gone: " + JSON.stringify(r));
    ok("two events queue: the second shows " + dt + " ms later, after the first: " + s.text);
  },

  // a display name with markup is text, never HTML
  async escape() {
    await startServer();
    const page = await openPage("/", "?duration=3");
    await connected(page);
    const evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">';
    const ev = trigger("follow", [], (e) => { e.event.user_name = evil; });
    feed(ev);
    const a = await waitShown(page, ev.id, 1000);
    if (a.text !== evil + " is now following!") fail("text: " + a.text);
    const bad = await page.evaluate(() => ({
      pwned: window.pwned,
      elements: document.querySelectorAll("#alert script, #alert img").length,
    }));
    if (bad.pwned !== undefined || bad.elements !== 0)
      fail("markup was interpreted: " + JSON.stringify(bad));
    ok("a name containing <script> is shown as text: " + a.text);
  },

  // the page reconnects after ws-broadcast restarts
  async reconnect() {
    await startServer();
    const page = await openPage("/", "?duration=2");
    await connected(page);
    await stopServer();
    await page.waitForFunction(() => document.body.dataset.ws === "disconnected",
      null, { timeout: 5000 });
    ok("the page sees ws-broadcast go away");
    await startServer();
    await connected(page, 8000);
    ok("the page reconnects to the restarted ws-broadcast");
    const ev = trigger("host", ["--user", "emberwisp", "--viewers", "12"]);
    feed(ev);
    const a = await waitShown(page, ev.id, 1000);
    if (a.text !== "emberwisp is hosting with 12 viewers!") fail("text: " + a.text);
    ok("and shows the next event: " + a.text);
  },

  // replay and test from the dashboard show on the overlay
  async replay() {
    const tf = path.join(tmp, "token");
    fs.writeFileSync(tf, "dash-Secr3t\n");
    await startServer(["--token-file", tf]);
    const q = "?token=dash-Secr3t";
    const overlay = await openPage("/", q + "&duration=1&gap=0.1");
    await connected(overlay);
    const dash = await openPage("/dashboard", q);
    await dash.setViewportSize({ width: 1000, height: 500 });
    await connected(dash);
    const ev = trigger("channel-gift", ["--user", "tea_kettle", "--amount", "5"]);
    feed(ev);
    await waitShown(overlay, ev.id, 1000);
    const row = 'tr[data-id="' + ev.id + '"]';
    await dash.waitForSelector(row, { timeout: 2000 });
    const cells = await dash.$$eval(row + " td", (tds) => tds.map((t) => t.textContent));
    if (cells[1] !== "gift" || cells[2] !== "Tea_Kettle" || cells[3] !== "5 gifts")
      fail("dashboard row: " + JSON.stringify(cells));
    ok("the dashboard lists the event: " + cells.slice(0, 4).join(" | "));
    // newest first
    const later = trigger("follow", ["--user", "nightowl42"]);
    feed(later);
    await dash.waitForSelector('tr[data-id="' + later.id + '"]', { timeout: 2000 });
    const order = await dash.$$eval("#events tr", (t) => t.map((r) => r.dataset.id));
    if (order.join(" ") !== later.id + " " + ev.id) fail("order: " + order);
    ok("the dashboard lists the newest event first");
    // wait until the alerts are gone, then replay the first
    await waitShown(overlay, later.id, 4000);
    await overlay.waitForFunction(() => document.getElementById("alert").className === "",
      null, { timeout: 4000 });
    await dash.click(row + " button.replay");
    const a = await waitShown(overlay, ev.id, 1500);
    if (a.text !== "Tea_Kettle gifted 5 tier " + Number(ev.event.tier) / 1000 + " subs!")
      fail("replayed alert: " + a.text);
    ok("replay on the dashboard shows the alert again: " + a.text);
    await dash.waitForFunction(() => document.getElementById("log").textContent.startsWith("replay: done"),
      null, { timeout: 2000 });
    ok("the dashboard gets the server's answer");
    const rows = await dash.$$eval("#events tr", (t) => t.length);
    if (rows !== 2) fail("the replay was listed as a new event: " + rows + " rows");
    // a test alert per type: a cheer
    await overlay.waitForFunction(() => document.getElementById("alert").className === "",
      null, { timeout: 4000 });
    await dash.click('#tests button[data-type="channel.cheer"]');
    await overlay.waitForFunction(() => {
      const a = document.getElementById("alert");
      return a.className === "show" && a.dataset.type === "channel.cheer";
    }, null, { timeout: 1500 });
    const t = await shown(overlay);
    if (!/ cheered \d+ bits!$/.test(t.text)) fail("test alert: " + t.text);
    ok("a test button shows a test alert: " + t.text);
    await dash.screenshot({ path: path.join(outdir, "dashboard.png") });
    if (serverErr.includes("dash-Secr3t")) fail("the token was logged");
  },

  // overlay.json from --static DIR: templates, image and sound per type,
  // minimum amounts; ?types= filters
  async config() {
    const dir = path.join(tmp, "www");
    fs.mkdirSync(path.join(dir, "media"), { recursive: true });
    fs.writeFileSync(path.join(dir, "media", "coin.wav"), Buffer.alloc(64));
    fs.writeFileSync(path.join(dir, "media", "coin.png"), Buffer.alloc(64));
    fs.writeFileSync(path.join(dir, "overlay.json"), JSON.stringify({
      duration: 1, gap: 0.1, min_bits: 100, types: ["cheer", "bits-use"],
      alerts: { "channel.cheer": { image: "media/coin.png", sound: "media/coin.wav",
        title: "Bits!", text: "{bits} from {user}" } } }));
    await startServer(["--static", dir]);
    const page = await openPage("/", "");
    const urls = [];
    page.on("request", (r) => urls.push(new URL(r.url()).pathname));
    await connected(page);
    // a channel.bits.use event (the synthetic ones do not cover it)
    const bitsUse = (amount) => trigger("cheer", ["--user", "bitbard",
      "--amount", String(amount)], (e) => { e.type = "channel.bits.use"; });
    const small = trigger("cheer", ["--user", "bitbard", "--amount", "50"]);
    const raid = trigger("raid", ["--viewers", "40"]);
    const big = trigger("cheer", ["--user", "bitbard", "--amount", "250"]);
    const bu = bitsUse(300);
    feed(small, raid, big, bu);
    // alerts show in order: had the 50-bit cheer or the raid passed, it
    // would have been on screen before this one
    const a = await waitShown(page, big.id, 1000);
    if (a.text !== "250 from BitBard" || a.title !== "Bits!") fail("custom template: " + JSON.stringify(a));
    const img = await page.evaluate(() => {
      const i = document.querySelector("#alert .icon img");
      return i ? new URL(i.src).pathname : null;
    });
    if (img !== "/media/coin.png") fail("image: " + img);
    for (let i = 0; i < 40 && !urls.includes("/media/coin.wav"); i++) await sleep(25);
    if (!urls.includes("/media/coin.wav")) fail("the sound was not loaded: " + urls.join(" "));
    ok("overlay.json: the cheer template, image and sound; 50 bits under min_bits 100 not shown: " + a.text);
    // overlay.json's types go to the server, which knows "bits-use"
    await waitShown(page, bu.id, 3000);
    await onlyShown(page, [big.id, bu.id], "types cheer,bits-use and min_bits 100");
    if (!serverErr.includes("types channel.cheer,channel.bits.use"))
      fail("the server was not asked for overlay.json's types: " + serverErr);
    ok("overlay.json's types reach ws-broadcast as ?types=: a bits-use event shows, the raid does not");
    // ?min_bits= and ?types= in the URL win over the file
    const p2 = await openPage("/", "?types=raid,bits-use&min_bits=10&duration=1");
    await connected(p2);
    const c = trigger("cheer", ["--amount", "50"]);
    const r = trigger("raid", ["--user", "lanternfish", "--viewers", "3"]);
    const bu2 = bitsUse(20);
    feed(c, r, bu2);
    await waitShown(p2, r.id, 1000);
    await waitShown(p2, bu2.id, 3000);
    await onlyShown(p2, [r.id, bu2.id], "?types=raid,bits-use with a cheer before the raid");
    ok("?types=raid,bits-use shows the raid and the bits-use event and skips the cheer");
  },

  // without --token-file the dashboard is read-only
  async readonly() {
    await startServer();
    const dash = await openPage("/dashboard", "");
    await connected(dash);
    await dash.waitForFunction(() => document.getElementById("mode").textContent === "read-only",
      null, { timeout: 2000 });
    const h = await (await fetch("http://" + addr + "/healthz")).json();
    const buttons = await dash.$$eval("#tests button", (b) => b.map((x) =>
      ({ type: x.dataset.type, label: x.textContent, disabled: x.disabled })));
    if (buttons.map((b) => b.type).join(" ") !== h.test_types.join(" ") ||
        h.test_types.length < 10)
      fail("test buttons " + JSON.stringify(buttons) + " for " + h.test_types);
    const enabled = buttons.filter((b) => !b.disabled).length;
    if (enabled !== 0) fail(enabled + " test buttons enabled");
    ok("without a token the dashboard is read-only (buttons disabled)");
    if (buttons[3].label !== "gift") fail("labels: " + JSON.stringify(buttons));
    ok("a test button for each of the server's " + buttons.length + " test types");
  },

  // the README picture: an alert over a stand-in game scene, and the dashboard
  async screenshot() {
    const tf = path.join(tmp, "token");
    fs.writeFileSync(tf, "readme\n");
    await startServer(["--token-file", tf, "--replay", "20"]);
    const evs = [
      trigger("follow", ["--user", "nightowl42"]),
      trigger("raid", ["--user", "lanternfish", "--viewers", "87"]),
      trigger("subscribe-message", ["--user", "zoe_renders", "--message", "two years already!"]),
      trigger("add-redemption", ["--user", "quietfox", "--reward", "Hydrate!"]),
      trigger("cheer", ["--user", "pixelpanda", "--amount", "500", "--message", "Cheer500 what a clutch"]),
    ];
    feed(...evs.slice(0, 4));
    await eventsTaken(4);
    const page = await openPage("/", "?token=readme&duration=30");
    await page.setViewportSize({ width: 820, height: 230 });
    await page.addStyleTag({ content: "html { background: radial-gradient(circle at 30% 20%, #3b5a7a, #16202c 70%) !important; }" });
    await connected(page);
    feed(evs[4]);
    await waitShown(page, evs[4].id, 2000);
    // the pop-in animation finished
    await page.waitForFunction(() => {
      const pop = document.getAnimations().filter((a) => a.animationName === "pop-in");
      return pop.length > 0 && pop.every((a) => a.playState === "finished");
    }, null, { timeout: 3000, polling: 20 });
    await page.screenshot({ path: path.join(outdir, "overlay.png") });
    const dash = await openPage("/dashboard", "?token=readme");
    await dash.setViewportSize({ width: 1000, height: 420 });
    await dash.waitForSelector("#events tr:nth-child(5)", { timeout: 3000 });
    await dash.screenshot({ path: path.join(outdir, "dashboard.png") });
    ok("screenshots in " + outdir);
  },
};

async function main() {
  if (!scenarios[scenario]) fail("no scenario " + scenario);
  fs.mkdirSync(outdir, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS,
    headless: true, timeout: 30000 });
  await scenarios[scenario]();
}

main().then(() => 0, (e) => {
  console.log("FAIL: " + (e && e.message ? e.message.split("\n")[0] : e));
  if (serverErr) console.log("# ws-broadcast: " + serverErr.trim().split("\n").slice(-5).join("\n# "));
  return 1;
}).then(async (rc) => {
  if (browser) await browser.close().catch(() => {});
  await stopServer().catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(rc);
});
