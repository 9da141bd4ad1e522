// Against a real licensed, built from this repository and started by the
// test on a free port on this machine.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, copyFileSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { LicenseClient, Status, parse, entitlement } from "../index.js";
import { freePort } from "../fixtures/licensed.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const dir = mkdtempSync(join(tmpdir(), "flowlytix-js-"));
const bin = join(dir, "licensed");
const db = join(dir, "licensed.db");
let port, server, token, jwks;

function start(extra = []) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ["serve", "--addr", `127.0.0.1:${port}`, "--db", db, "--keys", join(dir, "keys"), "--jobs=false", "--log-level", "error", ...extra]);
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
      if (out.includes("listening")) resolve(p);
    });
    p.on("exit", (code) => reject(new Error(`licensed exited with ${code}`)));
  });
}

function stop(p) {
  return new Promise((resolve) => {
    p.removeAllListeners("exit");
    p.on("exit", resolve);
    p.kill("SIGTERM");
  });
}

const base = () => `http://127.0.0.1:${port}`;

async function admin(path, body) {
  const r = await fetch(base() + path, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body ?? {}) });
  const json = await r.json();
  assert.ok(r.ok, JSON.stringify(json));
  return json;
}

async function subscription() {
  const c = await admin("/api/v1/customers", { email: `js-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com` });
  return admin("/api/v1/subscriptions", { customer_id: c.id, tier: "professional", features: ["export"], max_devices: 3,
    expires_at: new Date(Date.now() + 365 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z") });
}

before(async () => {
  execFileSync("go", ["build", "-o", bin, "./cmd/licensed"], { cwd: root, stdio: "inherit" });
  const out = execFileSync(bin, ["token", "create", "--name", "js", "--db", db]).toString().trim().split("\n");
  token = out[out.length - 1];
  port = await freePort();
  server = await start();
  jwks = await (await fetch(base() + "/.well-known/jwks.json")).json();
});

after(async () => {
  if (server) await stop(server);
});

function client(name, now) {
  return new LicenseClient({ jwks, serverURL: base(), statePath: join(dir, `${name}.json`), deviceId: name, fingerprint: `fp-${name}`, appVersion: "1.0.0", now });
}

test("usage recorded offline reaches the server exactly once", async () => {
  const sub = await subscription();
  const c = await client("laptop").open();
  const res = await c.activate(sub.license_key);
  assert.equal(res.status, Status.VALID);

  await stop(server);
  server = null;
  for (let i = 0; i < 5; i++) await c.recordUsage("export", 1, 2);
  await assert.rejects(c.sync(), "no server");
  const reopened = await client("laptop").open();
  assert.equal(reopened.pending(), 5, "the queue survived on disk");
  assert.equal((await reopened.check()).status, Status.VALID, "offline, the license still works");

  server = await start();
  const before = join(dir, "laptop-before.json");
  copyFileSync(join(dir, "laptop.json"), before);
  copyFileSync(join(dir, "laptop.json.queue"), before + ".queue");
  let rep = await reopened.sync();
  assert.equal(rep.accepted, 5);
  assert.equal(reopened.pending(), 0);

  // A crash after the server stored the batch but before the app wrote
  // down the acknowledgement: the same events go again, and count once.
  copyFileSync(before, join(dir, "laptop.json"));
  copyFileSync(before + ".queue", join(dir, "laptop.json.queue"));
  const crashed = await client("laptop").open();
  assert.equal(crashed.pending(), 5);
  rep = await crashed.sync();
  assert.equal(rep.accepted, 0);
  assert.equal(rep.duplicates, 5);
  assert.equal(crashed.pending(), 0);
});

test("nothing jams: refused rows are set aside with the server's reason, the rest of their batch goes through", async () => {
  const sub = await subscription();
  let now = Date.now();
  let c = await client("jam", () => now).open();
  await c.activate(sub.license_key);
  for (let i = 0; i < 20; i++) await c.recordUsage("export", 1, 0);
  // A dead battery: the clock reads 1990 while an event is recorded.
  const real = now;
  now = Date.UTC(1990, 0, 1);
  await c.recordUsage("export", 1, 0);
  now = real;
  // More heartbeats than one sync may carry.
  for (let i = 0; i < 1500; i++) await c.heartbeat();
  // Two rows an older version of the app let into its journal, among the
  // good ones: a feature name and a fractional count the server refuses.
  await c.close();
  const row = (n, feature, count) => JSON.stringify({ a: { kind: "usage", event_id: randomUUID(), feature, count, duration_seconds: 0, at: now, n } });
  appendFileSync(join(dir, "jam.json.queue"), `${row(90001, "Not A Feature", 1)}\n${row(90002, "export", 1.5)}\n`);
  c = await client("jam", () => now).open();
  for (let i = 0; i < 5; i++) await c.recordUsage("export", 1, 0);
  assert.equal(c.pending(), 28);

  const rep = await c.sync();
  assert.equal(rep.accepted, 25, "every good row of the batches went through");
  assert.equal(rep.rejected, 3);
  assert.equal(c.pending(), 0, "refused rows are not pending");
  assert.equal(c.pendingHeartbeats(), 0, "the 1,500 heartbeats went, in two syncs");
  const rejected = c.rejected();
  assert.equal(rejected.length, 3);
  const reasons = rejected.map((r) => r.reason).join(" | ");
  assert.match(reasons, /clock far off/);
  assert.match(reasons, /refused by the server: .*is not a feature name/);
  assert.match(reasons, /refused by the server: /);
  assert.ok(rejected.every((r) => r.kind === "usage" && r.eventId && typeof r.at === "number"));

  const reopened = await client("jam", () => now).open();
  assert.equal(reopened.rejected().length, 3, "kept across restarts");
  const again = await reopened.sync();
  assert.equal(again.accepted + again.rejected, 0, "nothing left to send or set aside");
  const r = await fetch(base() + "/api/v1/analytics/overview", { headers: { authorization: `Bearer ${token}` } });
  const overview = await r.json();
  assert.ok(overview.usage_per_feature_per_day.length > 0);
});

// next resolves with the next event of that name. The loop's timers never
// keep a process alive (an app's own work does), so the wait holds a timer
// of its own.
const next = (emitter, name) => new Promise((resolve) => {
  const alive = setInterval(() => {}, 1000);
  emitter.once(name, (v) => { clearInterval(alive); resolve(v); });
});

test("the background loop syncs, backs off with jitter while the server is away, and comes back when online", async () => {
  const sub = await subscription();
  const c = await client("looper").open();
  await c.activate(sub.license_key);
  await c.recordUsage("export", 1, 0);
  const status = next(c, "status");
  c.start({ firstWithinMs: 1, intervalMs: 60_000, backoffBaseMs: 40, backoffMaxMs: 160 });
  const rep = await next(c, "sync");
  assert.equal(rep.accepted, 1, "the first sync sends the queue");
  assert.equal((await status).status, Status.VALID, "and the status is told");

  await stop(server);
  server = null;
  await c.recordUsage("export", 1, 0);
  c.online();
  const waits = [];
  for (let i = 0; i < 5; i++) {
    const { error, retryInMs } = await next(c, "syncError");
    assert.ok(error instanceof Error);
    waits.push(retryInMs);
  }
  const caps = [40, 80, 160, 160, 160];
  waits.forEach((w, i) => assert.ok(w >= 0 && w < caps[i], `wait ${i} (${w} ms) is drawn below ${caps[i]} ms`));
  assert.equal(c.pending(), 1, "nothing is lost while the server is away");

  server = await start();
  c.online();
  const back = await next(c, "sync");
  assert.equal(back.accepted, 1);
  assert.equal(c.pending(), 0);
  await c.stop();
  await c.stop(); // a second stop is harmless
});

test("the loop waits at least what Retry-After asks", async () => {
  const { createServer: createHTTP } = await import("node:http");
  const busy = createHTTP((req, res) => {
    res.writeHead(503, { "content-type": "application/json", "retry-after": "7" });
    res.end('{"error":{"code":"unavailable","message":"busy"}}');
  });
  await new Promise((r) => busy.listen(0, "127.0.0.1", r));
  const sub = await subscription();
  let c = await client("busy").open();
  await c.activate(sub.license_key);
  await c.close();
  c = await new LicenseClient({ jwks, serverURL: `http://127.0.0.1:${busy.address().port}`, statePath: join(dir, "busy.json"), deviceId: "busy", fingerprint: "fp-busy" }).open();
  c.start({ firstWithinMs: 1, backoffBaseMs: 10, backoffMaxMs: 20 });
  const { error, retryInMs } = await next(c, "syncError");
  await c.stop();
  busy.close();
  assert.equal(error.status, 503);
  assert.equal(error.retryAfterMs, 7000);
  assert.ok(retryInMs >= 7000, `waits ${retryInMs} ms, not less than the 7 s asked`);
});

test("killed again and again while recording and while syncing, every acknowledged event reaches the server exactly once", async (t) => {
  const sub = await subscription();
  const statePath = join(dir, "crashy.json");
  const first = await new LicenseClient({ jwks, serverURL: base(), statePath, deviceId: "crashy", fingerprint: "fp-crashy" }).open();
  await first.activate(sub.license_key);
  const fixture = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "recorder.mjs");
  let intents = 0, acks = 0;
  const runAndKill = (mode, ms) => new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fixture, mode, statePath, base(), JSON.stringify(jwks)]);
    let buf = "";
    p.stdout.on("data", (d) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop();
      for (const l of lines) {
        if (l === "ready") setTimeout(() => p.kill("SIGKILL"), ms);
        if (l === "intent") intents++;
        if (l === "ack") acks++;
      }
    });
    p.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`recorder exited with ${code}`))));
  });
  for (let round = 0; round < 6; round++) {
    await runAndKill("record", 150 + 40 * round);
    await runAndKill("sync", 20 + 30 * round);
  }
  const last = await new LicenseClient({ jwks, serverURL: base(), statePath, deviceId: "crashy", fingerprint: "fp-crashy" }).open();
  await last.sync();
  assert.equal(last.pending(), 0);
  assert.ok(acks > 50, `the recorder acknowledged ${acks} events`);
  const r = await fetch(base() + "/api/v1/analytics/overview", { headers: { authorization: `Bearer ${token}` } });
  const stored = (await r.json()).usage_per_feature_per_day.filter((u) => u.feature === "crashtest").reduce((n, u) => n + u.events, 0);
  t.diagnostic(`acknowledged ${acks}, attempted ${intents}, stored ${stored}`);
  // Every acknowledged event was stored, none twice; an event whose
  // recordUsage the kill interrupted may or may not have been.
  assert.ok(stored >= acks && stored <= intents, `the server stored ${stored} events; the app acknowledged ${acks} and attempted ${intents}`);
});

test("a suspension arrives by sync and the next offline check says revoked", async () => {
  const sub = await subscription();
  const c = await client("desk").open();
  await c.activate(sub.license_key);
  await admin(`/api/v1/subscriptions/${sub.id}/suspend`);
  const rep = await c.sync();
  assert.equal(rep.status, "suspended");
  assert.equal((await c.check()).status, Status.REVOKED);
});

test("the clock set back is noticed", async () => {
  const sub = await subscription();
  let now = Date.now();
  const c = await client("pc", () => now).open();
  await c.activate(sub.license_key);
  now += 2 * 86400e3;
  assert.equal((await c.check()).status, Status.VALID);
  now -= 86400e3;
  assert.equal((await c.check()).status, Status.CLOCK_TAMPERED);
});

test("the state file is written with the owner's permissions only", async () => {
  const { statSync } = await import("node:fs");
  if (process.platform === "win32") return;
  assert.equal(statSync(join(dir, "laptop.json")).mode & 0o777, 0o600);
  assert.ok(JSON.parse(readFileSync(join(dir, "laptop.json"), "utf8")).license_file.includes("BEGIN FLOWLYTIX LICENSE"));
});

test("validate online, then deactivate frees the seat", async () => {
  const sub = await subscription();
  const c = await client("tablet").open();
  await c.activate(sub.license_key);
  const v = await c.validate();
  assert.deepEqual({ ...v, expiresAt: typeof v.expiresAt }, { valid: true, reason: "", subscriptionTier: "professional", expiresAt: "string",
    features: ["export"], daysRemaining: v.daysRemaining, inGracePeriod: false }, "camelCase, as the rest of the package");
  assert.ok(v.daysRemaining >= 364);
  await c.deactivate();
  assert.equal((await c.check()).status, Status.INVALID, "no license on this machine any more");
  const r = await fetch(`${base()}/api/v1/subscriptions/${sub.id}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await r.json()).active_devices, 0);
});

test("an activation request the vendor turns into this device's file", async () => {
  const sub = await subscription();
  const c = await client("plant", undefined).open();
  const req = c.activationRequest(sub.license_key);
  assert.match(req, /^-----BEGIN FLOWLYTIX ACTIVATION REQUEST-----\n/);
  assert.ok(!req.includes("fp-plant"), "only the fingerprint's hash leaves the machine");
  const r = await fetch(`${base()}/api/v1/offline/activate`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: req });
  assert.equal(r.status, 200, await r.clone().text());
  const res = await c.importLicense(await r.text());
  assert.equal(res.status, Status.VALID);
  assert.equal(res.claims.device_id, "plant");
  assert.equal(res.claims.cnf.jkt, c.deviceKeyThumbprint(), "the request carried the device key, and the file is bound to it");
});

async function get(path) {
  const r = await fetch(base() + path, { headers: { authorization: `Bearer ${token}` } });
  assert.ok(r.ok);
  return r.json();
}

test("the file is bound to the device key, and a copy without the key drives nothing", async () => {
  const sub = await subscription();
  const c = await client("keyed").open();
  const res = await c.activate(sub.license_key);
  assert.match(c.deviceKeyThumbprint(), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(res.claims.cnf.jkt, c.deviceKeyThumbprint());
  const dev = (await get(`/api/v1/subscriptions/${sub.id}/devices`)).items[0];
  assert.equal(dev.key_thumbprint, c.deviceKeyThumbprint());
  assert.equal(dev.fingerprint_sha256, (await import("../index.js")).fingerprintHash("fp-keyed"), "only the hash was sent");
  await c.sync();
  const body = JSON.stringify({ token: parse(c.licenseFile()).compact, device_id: "keyed" });
  for (const path of ["/api/v1/licensing/sync", "/api/v1/licensing/validate", "/api/v1/licensing/deactivate"]) {
    const r = await fetch(base() + path, { method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal(r.status, 401, path);
    assert.equal((await r.json()).error.code, "invalid_proof");
  }
  assert.equal((await get(`/api/v1/subscriptions/${sub.id}`)).active_devices, 1, "the copy freed nothing");
});

test("an admin's deactivation reaches the device: revoked, with a reason to show", async () => {
  const sub = await subscription();
  const c = await client("reclaimed").open();
  await c.activate(sub.license_key);
  await c.recordUsage("export", 2);
  const dev = (await get(`/api/v1/subscriptions/${sub.id}/devices`)).items[0];
  await admin(`/api/v1/devices/${dev.id}/deactivate`);
  const report = await c.sync();
  assert.equal(report.status, "revoked");
  assert.equal(report.accepted, 1, "what it recorded while it held the seat reached the server");
  const res = await c.check();
  assert.equal(res.status, Status.REVOKED);
  assert.equal(res.reason, "this device was deactivated; activate it again");
  assert.ok(c.revocations().some((r) => r.deviceId === "reclaimed" && r.state === "deactivated"));
  assert.equal((await get(`/api/v1/subscriptions/${sub.id}`)).active_devices, 0);
  // Activating again (a second later: a file signed after the entry), then
  // syncing, brings it back.
  await new Promise((r) => setTimeout(r, 1100));
  await c.activate(sub.license_key);
  await c.sync();
  assert.equal((await c.check()).status, Status.VALID);
});

test("a state from before device keys enrols on its next sync, and the key can live in the keychain", async () => {
  const sub = await subscription();
  // What an older app did: the raw fingerprint, no key; its state held the file.
  const r = await fetch(base() + "/api/v1/licensing/activate", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ license_key: sub.license_key, device_fingerprint: "fp-legacy", device_info: { device_id: "legacy", platform: "linux/x64", app_version: "0.9" } }) });
  const act = await r.json();
  assert.equal(r.status, 200, JSON.stringify(act));
  writeFileSync(join(dir, "legacy.json"), JSON.stringify({ license_file: act.license_file, latest_trusted_ms: 0, last_sync_ms: 0, revocations: [] }), { mode: 0o600 });
  const kept = [];
  const protector = { protect: async (text) => { kept.push(text); return "sealed:" + Buffer.from(text).toString("base64"); },
    unprotect: async (s) => Buffer.from(s.replace(/^sealed:/, ""), "base64").toString() };
  const c = await new LicenseClient({ jwks, serverURL: base(), statePath: join(dir, "legacy.json"), deviceId: "legacy", fingerprint: "fp-legacy",
    deviceKeyProtector: protector }).open();
  assert.equal(kept.length, 1, "a key was made and handed to the protector");
  assert.ok(!readFileSync(join(dir, "legacy.json"), "utf8").includes('"d":'), "the state file holds only what the protector returned");
  const report = await c.sync();
  assert.ok(report.newLicense, "enrolment answers a file naming the key");
  assert.equal((await c.check()).claims.cnf.jkt, c.deviceKeyThumbprint());
  await c.close();
  // Opened again, the key comes back through the protector.
  const again = await new LicenseClient({ jwks, serverURL: base(), statePath: join(dir, "legacy.json"), deviceId: "legacy", fingerprint: "fp-legacy",
    deviceKeyProtector: protector }).open();
  assert.equal(again.deviceKeyThumbprint(), c.deviceKeyThumbprint());
  await again.sync();
  await again.close();
});

// Last: it rotates the server's signing key. An app that embeds only the old
// key set keeps syncing: its queue drains, a revocation issued after the
// rotation reaches it, it stays valid on its old file, and the report says
// to update; a new activation it cannot verify gives its seat back.
test("an app of its own product reads its entitlements, hears of a passed quota, and refuses another product's file", async () => {
  await admin("/api/v1/products", { code: "com.acme.js", name: "Acme JS", key_prefix: "AJS" });
  const c0 = await admin("/api/v1/customers", { email: `js-product-${Date.now()}@example.com` });
  const sub = await admin("/api/v1/subscriptions", { customer_id: c0.id, product: "com.acme.js", tier: "Studio", features: ["export"], max_devices: 2,
    entitlements: { projects: 5, "quota.export": 1 }, expires_at: new Date(Date.now() + 365 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z") });
  assert.match(sub.license_key, /^AJS-/);
  const c = await new LicenseClient({ jwks, product: "com.acme.js", serverURL: base(), statePath: join(dir, "product.json"), deviceId: "studio", fingerprint: "fp-studio" }).open();
  const res = await c.activate(sub.license_key);
  assert.equal(res.status, Status.VALID, res.reason);
  assert.equal(entitlement(res.claims, "projects"), 5);
  assert.equal(entitlement(res.claims, "seats"), undefined);
  await c.recordUsage("export", 1, 0);
  await c.recordUsage("export", 1, 0);
  const rep = await c.sync();
  assert.deepEqual(rep.overQuota, [{ feature: "export", quota: 1, used: 2 }]);
  // An app of the default product refuses the file, and gives the seat back.
  const other = await client("default-app").open();
  await assert.rejects(other.activate(sub.license_key), (e) => e.code === "license_file_invalid" && /seat was given back/.test(e.message));
});

test("an app with the old keys syncs through a rotation", async () => {
  const sub = await subscription();
  const c = await client("old-build").open();
  await c.activate(sub.license_key);
  await c.sync();

  // Rotate: licensectl adds a key and makes it the signer; the server
  // restarts with it, and a renewal makes it send every device a new file.
  await stop(server);
  server = null;
  execFileSync("go", ["run", "./cmd/licensectl", "keys", "generate", "--out", join(dir, "keys"), "--bits", "2048"], { cwd: root });
  server = await start();
  const rotated = await (await fetch(base() + "/.well-known/jwks.json")).json();
  assert.equal(rotated.keys.length, jwks.keys.length + 1, "the old key still verifies on the server");
  await admin(`/api/v1/subscriptions/${sub.id}/renew`, { expires_at: new Date(Date.now() + 2 * 365 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z") });

  // A revocation after the rotation: another device of the subscription is
  // blocked.
  const otherBuild = new LicenseClient({ jwks: rotated, serverURL: base(), statePath: join(dir, "other-device.json"), deviceId: "other-device", fingerprint: "fp-other-device" });
  await (await otherBuild.open()).activate(sub.license_key);
  const devices = await (await fetch(`${base()}/api/v1/subscriptions/${sub.id}/devices`, { headers: { authorization: `Bearer ${token}` } })).json();
  const row = devices.items.find((d) => d.device_id === "other-device");
  await admin(`/api/v1/devices/${row.id}/block`);

  for (let i = 0; i < 3; i++) await c.recordUsage("export");
  const rep = await c.sync();
  assert.equal(rep.accepted, 3, "the queue was sent");
  assert.equal(c.pending(), 0, "and drained");
  assert.equal(rep.updateRequired, true, "the app is told to update");
  assert.equal(rep.refusedFile.code, "update_required");
  assert.equal(rep.newLicense, false);
  assert.ok(c.revocations().some((r) => r.deviceId === "other-device" && r.state === "blocked"), "the revocation after the rotation arrived");
  assert.equal((await c.check()).status, Status.VALID, "the app keeps working on its old file");

  // A new device with the old build: the seat it took is given back.
  const b = await client("old-build-b").open();
  await assert.rejects(b.activate(sub.license_key), (e) => e.code === "update_required" && /seat was given back/.test(e.message));
  const s = await (await fetch(`${base()}/api/v1/subscriptions/${sub.id}`, { headers: { authorization: `Bearer ${token}` } })).json();
  assert.equal(s.active_devices, 1, "old-build only: other-device is blocked and old-build-b gave its seat back");
});

// After the rotation test: an app that embeds nothing but the vendor's root
// key set goes through a staged rotation and the root's revocation of the
// key it holds a file of, and stays valid, with no update.
test("an app that pins only the root survives a rotation and a key revocation", async () => {
  const ctl = join(dir, "licensectl");
  execFileSync("go", ["build", "-o", ctl, "./cmd/licensectl"], { cwd: root, stdio: "inherit" });
  const run = (...args) => execFileSync(ctl, args, { cwd: dir }).toString();
  await stop(server);
  server = null;
  run("root", "generate", "--out", "root");
  const rootJwksPath = join(dir, "root.jwks");
  writeFileSync(rootJwksPath, run("root", "jwks", "--root", "root"));
  server = await start(["--root-jwks", rootJwksPath]);
  const rootJwks = JSON.parse(readFileSync(rootJwksPath, "utf8"));
  const authed = { authorization: `Bearer ${token}` };
  const key = async (kid) => (await fetch(`${base()}/api/v1/keys/${kid}`, { headers: authed })).json();
  const endorse = async (kid) => {
    writeFileSync(join(dir, `${kid}.jwk`), JSON.stringify((await key(kid)).public_jwk));
    run("keys", "endorse", "--root", "root", "--key", `${kid}.jwk`, "--out", `${kid}.endorsement`);
    const r = await fetch(`${base()}/api/v1/keys/${kid}/endorsement`, { method: "PUT", headers: authed, body: readFileSync(join(dir, `${kid}.endorsement`)) });
    assert.equal(r.status, 200, await r.text());
  };
  const rotate = async () => {
    const r = await fetch(`${base()}/api/v1/keys`, { method: "POST", headers: authed });
    assert.equal(r.status, 201);
    const { kid } = await r.json();
    await endorse(kid);
    await admin(`/api/v1/keys/${kid}/promote`);
    return kid;
  };
  const list = await (await fetch(`${base()}/api/v1/keys`, { headers: authed })).json();
  await endorse(list.items.find((k) => k.state === "active").kid);

  const sub = await subscription();
  const c = await new LicenseClient({ rootJwks, serverURL: base(), statePath: join(dir, "pinned.json"), deviceId: "pinned", fingerprint: "fp-pinned", appVersion: "1.0.0" }).open();
  assert.equal((await c.activate(sub.license_key)).status, Status.VALID);
  const renew = (months) => admin(`/api/v1/subscriptions/${sub.id}/renew`, { expires_at: new Date(Date.now() + months * 30 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z") });

  const second = await rotate();
  await renew(14);
  let rep = await c.sync();
  assert.equal(rep.newLicense, true, "the new key's file is installed");
  assert.equal(rep.updateRequired, false);
  assert.equal((await c.check()).status, Status.VALID);
  assert.equal(parse(c.licenseFile()).header.kid, second);
  const secondFile = c.licenseFile();

  // The second key leaks: a third is promoted, and the root revokes the
  // second. The next sync brings a replacement and the statement.
  const third = await rotate();
  run("root", "revoke-key", "--root", "root", "--kid", second, "--out", "revoke.jws");
  const r = await fetch(`${base()}/api/v1/keys/${second}/revocation`, { method: "PUT", headers: authed, body: readFileSync(join(dir, "revoke.jws")) });
  assert.equal(r.status, 200, await r.text());
  rep = await c.sync();
  assert.equal(rep.newLicense, true, "the revoked key's file is replaced");
  assert.equal(parse(c.licenseFile()).header.kid, third);
  assert.equal((await c.check()).status, Status.VALID);
  // The statement is kept: after a restart, the revoked key's file is refused.
  await c.close();
  const again = await new LicenseClient({ rootJwks, statePath: join(dir, "pinned.json"), deviceId: "pinned", fingerprint: "fp-pinned" }).open();
  await assert.rejects(again.importLicense(secondFile), /revoked/);
  assert.equal(parse(again.licenseFile()).header.kid, third, "and the installed file stays");
});
