// Trials against a real licensed: the app starts one, shows its days
// offline, and a paid key replaces it; one trial per device.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { LicenseClient, Status, APIError } from "../index.js";
import { startLicensed } from "../fixtures/licensed.mjs";

let srv;
before(async () => { srv = await startLicensed(); });
after(async () => { if (srv) await srv.stop(); });

test("a trial: started once per device, shown offline, replaced by a paid key", async () => {
  const p = await srv.call("POST", "/api/v1/products", { code: "com.example.js", name: "JS app", key_prefix: "JSA", trial_days: 7, trial_tier: "professional" });
  assert.equal(p.status, 201, p.text);
  const c = await new LicenseClient({ jwks: srv.jwks, serverURL: srv.base, product: "com.example.js", statePath: join(srv.dir, "trial-js.json"),
    deviceId: "trial-js", fingerprint: "fp-trial-js", appVersion: "1.0.0" }).open();
  const res = await c.startTrial();
  assert.equal(res.status, Status.VALID);
  assert.ok(res.daysRemaining >= 6 && res.daysRemaining <= 7, `${res.daysRemaining} days left`);
  const again = await c.startTrial();
  assert.equal(again.claims.sub, res.claims.sub, "the same trial back");

  const cust = await srv.call("POST", "/api/v1/customers", { email: "js-trial-buyer@example.com" });
  const paid = await srv.call("POST", "/api/v1/subscriptions", { customer_id: cust.json.id, product: p.json.id, tier: "professional", features: [],
    max_devices: 1, expires_at: new Date(Date.now() + 365 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z") });
  assert.equal(paid.status, 201, paid.text);
  const bought = await c.activate(paid.json.license_key);
  assert.equal(bought.status, Status.VALID);
  assert.equal(bought.claims.sub, paid.json.id);
  await assert.rejects(c.startTrial(), (e) => e instanceof APIError && e.code === "trial_used");
  await c.close();
});
