// The air-gapped exchange against a real licensed: an app that never
// reaches the server syncs by files, exactly once, in any order.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { LicenseClient, Status } from "../index.js";
import { startLicensed } from "../fixtures/licensed.mjs";

let srv;
before(async () => { srv = await startLicensed(); });
after(async () => { if (srv) await srv.stop(); });

// An air-gapped app: no server URL.
async function airGapped(name) {
  const c = await new LicenseClient({ jwks: srv.jwks, statePath: join(srv.dir, `${name}.json`), deviceId: name, fingerprint: `fp-${name}`, appVersion: "3.1.0" }).open();
  return c;
}

async function activateByFile(c, sub) {
  const r = await srv.call("POST", "/api/v1/offline/activate", c.activationRequest(sub.license_key), "text/plain");
  assert.equal(r.status, 200, r.text);
  assert.equal((await c.importLicense(r.text)).status, Status.VALID);
}

async function upload(file) {
  const r = await srv.call("POST", "/api/v1/offline/sync", file, "text/plain");
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test("requests out, responses in: every event once, the queue ends empty, repeats and strangers change nothing", async () => {
  const sub = await srv.subscription();
  const c = await airGapped("plant-js");
  await activateByFile(c, sub);
  for (let i = 0; i < 2000; i++) await c.recordUsage("export", 1, 0);
  for (let i = 0; i < 3; i++) await c.heartbeat();
  const first = await c.syncRequest();
  assert.ok(first.startsWith("-----BEGIN FLOWLYTIX SYNC REQUEST-----\n"));
  for (let i = 0; i < 500; i++) await c.recordUsage("export", 2, 0);
  const second = await c.syncRequest();

  // The second reaches the vendor first, then the first, then the second again.
  const a = await upload(second);
  assert.equal(a.accepted, 2500);
  assert.equal(a.heartbeats, 3);
  const b = await upload(first);
  assert.equal(b.accepted, 0);
  assert.equal(b.duplicates, 2000);
  const c2 = await upload(second);
  assert.equal(c2.accepted, 0, "nothing stored twice");

  const rep = await c.importSyncResponse(c2.response_file);
  assert.equal(rep.acknowledged, 2500);
  assert.equal(rep.heartbeats, 3);
  assert.equal(rep.stale, false);
  assert.equal(c.pending(), 0);
  assert.equal(c.pendingHeartbeats(), 0);
  await assert.rejects(c.importSyncResponse(c2.response_file), (e) => e.code === "exchange_imported");
  await assert.rejects(c.importSyncResponse(a.response_file), (e) => e.code === "exchange_imported", "the other answer to the same request");
  const old = await c.importSyncResponse(b.response_file);
  assert.equal(old.stale, true, "made before the one imported");
  assert.equal(old.acknowledged, 0);

  // Another machine's response, and a damaged one.
  const other = await airGapped("plant-js-2");
  await activateByFile(other, sub);
  await other.recordUsage("export", 1, 0);
  const theirs = await upload(await other.syncRequest());
  await assert.rejects(c.importSyncResponse(theirs.response_file), (e) => e.code === "exchange_not_ours");
  const lines = theirs.response_file.split("\n");
  lines[3] = lines[3].slice(0, 10) + (lines[3][10] === "A" ? "B" : "A") + lines[3].slice(11);
  await assert.rejects(other.importSyncResponse(lines.join("\n")), (e) => e.code === "invalid_exchange");
  assert.equal(other.pending(), 1, "a damaged response changed nothing");
  assert.equal((await other.importSyncResponse(theirs.response_file)).acknowledged, 1);
  assert.equal((await c.check()).status, Status.VALID);
});

test("a machine retired offline gives its seat back by a receipt, once", async () => {
  const sub = await srv.subscription(1);
  const c = await airGapped("retired-js");
  await activateByFile(c, sub);
  await c.recordUsage("export", 4, 0);
  const receipt = await c.deactivateOffline();
  assert.ok(receipt.startsWith("-----BEGIN FLOWLYTIX DEACTIVATION RECEIPT-----\n"));
  assert.equal(c.licenseFile(), "");
  assert.equal(c.pending(), 0, "the queue went into the receipt");
  const r = await upload(receipt);
  assert.equal(r.deactivated, true);
  assert.equal(r.accepted, 1);
  const again = await upload(receipt);
  assert.equal(again.deactivated, false);
  assert.equal(again.already_deactivated, true);
  const s = await srv.call("GET", `/api/v1/subscriptions/${sub.id}`);
  assert.equal(s.json.active_devices, 0);
});

test("after a restart, rows recorded later are never taken for an old request's", async () => {
  const sub = await srv.subscription();
  let c = await airGapped("restart-js");
  await activateByFile(c, sub);
  await c.heartbeat();
  const r1 = await c.syncRequest();
  const r2 = await c.syncRequest();
  const a1 = await upload(r1);
  const a2 = await upload(r2);
  await c.importSyncResponse(a2.response_file); // the queue is empty now
  await c.close();
  c = await airGapped("restart-js"); // the journal starts over
  for (let i = 0; i < 3; i++) await c.heartbeat();
  const old = await c.importSyncResponse(a1.response_file);
  assert.equal(old.stale, true);
  assert.equal(old.heartbeats, 0, "the heartbeats recorded after the restart were never sent");
  assert.equal(c.pendingHeartbeats(), 3);
});

test("a response refusing every row sets them aside in one pass, each with the server's reason", async () => {
  const sub = await srv.subscription();
  let now = Date.now();
  const c = await new LicenseClient({ jwks: srv.jwks, statePath: join(srv.dir, "fast-clock-js.json"), deviceId: "fast-clock-js", fingerprint: "fp-fast", now: () => now }).open();
  await activateByFile(c, sub);
  now += 48 * 3600e3; // the machine's clock two days ahead
  for (let i = 0; i < 2000; i++) await c.recordUsage("export", 1, 0);
  const r = await upload(await c.syncRequest());
  assert.equal(r.rejected.length, 2000);
  const start = Date.now();
  const rep = await c.importSyncResponse(r.response_file);
  assert.equal(rep.rejected, 2000);
  assert.ok(Date.now() - start < 30_000, "one pass, not one write a row");
  assert.equal(c.pending(), 0);
  assert.match(c.rejected()[0].reason, /^refused by the server: .*plausible time/);
});

test("a license given back by a receipt is not imported again, and the receipt can be had again", async () => {
  const sub = await srv.subscription();
  const c = await airGapped("given-back-js");
  const r = await srv.call("POST", "/api/v1/offline/activate", c.activationRequest(sub.license_key), "text/plain");
  await c.importLicense(r.text);
  assert.equal(await c.lastDeactivationReceipt(), "");
  const receipt = await c.deactivateOffline();
  assert.equal(await c.lastDeactivationReceipt(), receipt);
  await assert.rejects(c.importLicense(r.text), /gave this license back/);
});
