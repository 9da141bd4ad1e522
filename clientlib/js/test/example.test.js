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
  const client = await openLicense({ statePath: join(mkdtempSync(join(tmpdir(), "ex-")), "license.json") });
  const none = await client.check();
  assert.equal(none.status, "invalid");
  assert.match(describe(none), /license key/);
  // An unbound vector file whose term has passed: the example says expired.
  await assert.rejects(client.importLicense("garbage"));
  const file = readFileSync(join(root, "testdata/vectors/files/standard.lic"), "utf8");
  const res = await client.importLicense(file);
  assert.ok(["expired", "check_in_required", "valid", "grace"].includes(res.status), res.status);
  assert.ok(describe(res).length > 10);
});
