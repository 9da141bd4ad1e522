// recordUsage holds feature names to the server's rule, so that a bad event
// is refused when recorded instead of blocking the queue at the next sync.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LicenseClient } from "../index.js";

const jwks = { keys: [{ kty: "RSA", n: "x", e: "AQAB" }] }; // never parsed here

test("feature names follow the server's rule when recorded", async () => {
  const c = await new LicenseClient({ jwks, statePath: join(mkdtempSync(join(tmpdir(), "flx-usage-")), "s.json"), deviceId: "d1", fingerprint: "fp" }).open();
  for (const name of ["__proto__", "Export", "export pdf", "ſ", "", "x".repeat(65)]) {
    await assert.rejects(c.recordUsage(name, 1, 0), /feature name/, name);
  }
  await assert.rejects(c.recordUsage("export", -1, 0), /count/);
  assert.equal(c.pending(), 0, "nothing was queued");
  await c.recordUsage("export.pdf", 1, 0);
  assert.equal(c.pending(), 1);
});
