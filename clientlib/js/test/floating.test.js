// Floating seats against a real licensed: one seat, two machines; the
// second is told when to try again, gets the seat once the first checks
// in, and a borrowed seat lasts offline.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { LicenseClient, Status, APIError } from "../index.js";
import { startLicensed } from "../fixtures/licensed.mjs";

let srv;
before(async () => { srv = await startLicensed(); });
after(async () => { if (srv) await srv.stop(); });

test("a floating seat: checked out, refused to another machine, returned, borrowed", async () => {
  const cust = await srv.call("POST", "/api/v1/customers", { email: "js-floating@example.com" });
  const sub = await srv.call("POST", "/api/v1/subscriptions", { customer_id: cust.json.id, tier: "professional", features: [], max_devices: 1,
    expires_at: new Date(Date.now() + 365 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z"), floating: true, lease_minutes: 10, max_borrow_days: 3 });
  assert.equal(sub.status, 201, sub.text);
  const open = (id, now) => new LicenseClient({ jwks: srv.jwks, serverURL: srv.base, statePath: join(srv.dir, `${id}.json`),
    deviceId: id, fingerprint: `fp-${id}`, appVersion: "1.0.0", now }).open();
  let offset = 0;
  const a = await open("js-seat-a", () => Date.now() + offset);
  const b = await open("js-seat-b");

  const res = await a.checkout(sub.json.license_key);
  assert.equal(res.status, Status.VALID);
  assert.match(res.claims.lease_id, /^[0-9a-f-]{36}$/);
  assert.equal(res.claims.lease_borrowed, false);
  await assert.rejects(b.checkout(sub.json.license_key), (e) => e instanceof APIError && e.code === "no_free_seat" && Math.abs(e.retryAfterMs - 600e3) < 5e3);

  offset = 11 * 60e3; // offline past the lease's end
  assert.equal((await a.check()).status, Status.EXPIRED);
  offset = 0;

  await a.checkin();
  await assert.rejects(a.checkin(), /holds no floating seat/, "nothing to return twice");
  const borrowed = await b.checkout(sub.json.license_key, 3);
  assert.equal(borrowed.claims.lease_borrowed, true);
  assert.ok(Math.abs(borrowed.claims.exp * 1000 - (Date.now() + 3 * 86400e3)) < 5e3, "borrowed for three days");
  await assert.rejects(a.checkout(sub.json.license_key), (e) => e instanceof APIError && e.code === "no_free_seat");
  await b.checkin();
  assert.equal((await a.checkout(sub.json.license_key)).status, Status.VALID, "returned early: the seat is free at once");
  await a.close();
  await b.close();
});

test("the background loop checks a seat out again when its lease ended", async () => {
  const cust = await srv.call("POST", "/api/v1/customers", { email: "js-floating-loop@example.com" });
  const sub = await srv.call("POST", "/api/v1/subscriptions", { customer_id: cust.json.id, tier: "professional", features: [], max_devices: 1,
    expires_at: new Date(Date.now() + 365 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z"), floating: true, lease_minutes: 5 });
  assert.equal(sub.status, 201, sub.text);
  let offset = 0;
  const c = await new LicenseClient({ jwks: srv.jwks, serverURL: srv.base, statePath: join(srv.dir, "js-loop.json"),
    deviceId: "js-loop", fingerprint: "fp-js-loop", appVersion: "1.0.0", now: () => Date.now() + offset }).open();
  const first = (await c.checkout(sub.json.license_key)).claims.lease_id;
  // An admin ends the lease (a machine thought lost); the app, its file
  // near its end, syncs (nothing to renew) and checks a seat out again.
  const leases = await srv.call("GET", `/api/v1/subscriptions/${sub.json.id}/leases`);
  assert.equal(leases.json.items.length, 1);
  const ret = await srv.call("POST", `/api/v1/devices/${leases.json.items[0].device}/return-lease`);
  assert.equal(ret.status, 200, ret.text);
  offset = 280e3;
  c.start({ firstWithinMs: 0 });
  let now = "";
  for (let i = 0; i < 100 && (now === "" || now === first); i++) {
    await new Promise((r) => setTimeout(r, 50));
    now = (await c.check()).claims?.lease_id ?? "";
  }
  assert.ok(now && now !== first, "a new lease");
  await c.close();
});

test("a machine that changed is rebound on its next sync", async () => {
  const { componentValue } = await import("../index.js");
  const comps = (disk) => Object.fromEntries(Object.entries({ machine_id: "m-js", board: "b-js", disk, mac: "02:00:00:00:00:77" })
    .map(([n, v]) => [n, componentValue("com.example.js", n, v)]));
  const cust = await srv.call("POST", "/api/v1/customers", { email: "js-rebind@example.com" });
  const sub = await srv.call("POST", "/api/v1/subscriptions", { customer_id: cust.json.id, tier: "professional", features: [], max_devices: 1,
    expires_at: new Date(Date.now() + 365 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z") });
  const statePath = join(srv.dir, "js-rebind.json");
  let c = await new LicenseClient({ jwks: srv.jwks, serverURL: srv.base, statePath, components: comps("disk-1") }).open();
  assert.equal((await c.activate(sub.json.license_key)).status, Status.VALID);
  await c.close();
  c = await new LicenseClient({ jwks: srv.jwks, serverURL: srv.base, statePath, components: comps("disk-2") }).open();
  assert.equal((await c.check()).status, Status.DEVICE_MISMATCH, "a new disk: the file is the old machine's");
  const report = await c.sync();
  assert.equal(report.newLicense, true);
  assert.equal((await c.check()).status, Status.VALID, "rebound, on the same seat");
  const devs = await srv.call("GET", `/api/v1/subscriptions/${sub.json.id}/devices`);
  assert.equal(devs.json.items.length, 1);
  await c.close();
});
