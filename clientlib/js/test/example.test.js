// examples/electron/license.js runs under plain Node: import a file, check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");

test("the Electron example's logic runs under Node", async () => {
  process.env.LICENSE_JWKS = join(root, "testdata/vectors/jwks.json");
  const { openLicense, describe } = await import(join(root, "examples/electron/license.js"));
  // The vector file's "valid" case is at 2026-01-11 (testdata/vectors/manifest.json).
  const now = () => Date.parse("2026-01-11T00:00:00Z");
  const client = await openLicense({ statePath: join(mkdtempSync(join(tmpdir(), "ex-")), "license.json"), now });
  const none = await client.check();
  assert.equal(none.status, "invalid");
  assert.match(describe(none), /license key/);
  await assert.rejects(client.importLicense("garbage"));
  const file = readFileSync(join(root, "testdata/vectors/files/standard.lic"), "utf8");
  const res = await client.importLicense(file);
  assert.equal(res.status, "valid");
  assert.equal(describe(res), "Licensed (professional), 355 days left.");
});
