// recordUsage holds events to the server's rules, so that a bad event is
// refused when recorded instead of blocking the queue at the next sync;
// the shared vectors hold the Go client to the same answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { LicenseClient, checkUsage } from "../index.js";

const jwks = { keys: [{ kty: "RSA", n: "x", e: "AQAB" }] }; // never parsed here
const vectors = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../../../testdata/vectors/usage_inputs.json"), "utf8"));

test("the shared usage-input vectors: the same answers as the Go client", () => {
  assert.ok(vectors.cases.length > 20);
  for (const c of vectors.cases) {
    const why = checkUsage(c.feature, c.count, c.duration_seconds);
    assert.equal(why === null, c.valid, `${c.name}: ${why}`);
  }
});

test("feature names, counts and durations follow the server's rules when recorded", async () => {
  const c = await new LicenseClient({ jwks, statePath: join(mkdtempSync(join(tmpdir(), "flx-usage-")), "s.json"), deviceId: "d1", fingerprint: "fp" }).open();
  for (const name of ["__proto__", "Export", "export pdf", "ſ", "", "x".repeat(65), 7, null]) {
    await assert.rejects(c.recordUsage(name, 1, 0), /feature name/, String(name));
  }
  await assert.rejects(c.recordUsage("export", -1, 0), /count/);
  await assert.rejects(c.recordUsage("export", 1.5, 0), /count/, "a fractional count would jam every later sync");
  await assert.rejects(c.recordUsage("export", "3", 0), /count/);
  await assert.rejects(c.recordUsage("export", 1, Number.NaN), /duration/);
  await assert.rejects(c.recordUsage("export", 1, Infinity), /duration/);
  assert.equal(c.pending(), 0, "nothing was queued");
  assert.deepEqual(c.rejected(), []);
  await c.recordUsage("export.pdf", 1, 0);
  assert.equal(c.pending(), 1);
});
