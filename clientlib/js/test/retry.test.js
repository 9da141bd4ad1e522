// A kept-alive connection the server closed (it restarted, say) fails the
// next request on it. Requests the contract makes harmless to repeat
// (activate, sync, validate) are sent once more; the others are not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LicenseClient } from "../index.js";
import { serve, licensed, vector } from "../fixtures/fakeserver.mjs";

async function client(url) {
  const statePath = join(mkdtempSync(join(tmpdir(), "flx-retry-")), "s.json");
  licensed(statePath);
  return new LicenseClient({ jwks: vector.jwks, statePath, serverURL: url, deviceId: "pc", fingerprint: "fp", now: () => vector.now }).open();
}

test("a replayable request is sent again after the connection died", async () => {
  const s = await serve((n) => n === 2);
  try {
    const c = await client(s.url);
    assert.equal((await c.validate()).valid, true);
    assert.equal((await c.validate()).valid, true, "the second was dropped and sent again");
    assert.equal(s.count(), 3);
    assert.deepEqual(s.bodies.map((b) => b.path), ["/api/v1/licensing/validate", "/api/v1/licensing/validate"]);
  } finally {
    await s.close();
  }
});

test("any other request fails instead", async () => {
  const s = await serve((n) => n === 2);
  try {
    const c = await client(s.url);
    await assert.rejects(c.deactivate(), TypeError); // its sync went; the deactivation was dropped
    assert.equal(s.count(), 2, "not sent again");
    assert.notEqual(c.licenseFile(), "", "the license stays until the server has freed the seat");
  } finally {
    await s.close();
  }
});
