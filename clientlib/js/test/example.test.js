// examples/electron/license.js runs under plain Node: import a file, check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { once } from "node:events";
import { machineFingerprint } from "../index.js";
import { serve } from "../fixtures/fakeserver.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");

test("the Electron example's logic runs under Node", async () => {
  process.env.LICENSE_JWKS = join(root, "testdata/vectors/jwks.json");
  const { openLicense, describe, startUp, shutDown } = await import(join(root, "examples/electron/license.js"));
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

  // In the background: the loop syncs, the app hears the outcome.
  const s = await serve();
  try {
    const online = await openLicense({ statePath: join(mkdtempSync(join(tmpdir(), "ex-")), "license.json"), serverURL: s.url, now });
    await online.importLicense(file);
    await online.recordUsage("export", 2, 0);
    const shown = [];
    const started = await startUp(online, { onStatus: (words) => shown.push(words), log: () => {}, loop: { firstWithinMs: 1 } });
    assert.equal(started.unlocked, true);
    const status = once(online, "status"); // after the example's own listener
    const [report] = await once(online, "sync");
    await status;
    assert.equal(report.accepted, 1);
    assert.deepEqual(shown, ["Licensed (professional), 355 days left."]);
    const fp = await machineFingerprint("com.example.app");
    assert.equal(s.bodies[0].body.device_id, "dev-" + fp.slice(0, 16), "the device is this machine, salted for the app");
    await shutDown(online);
  } finally {
    await s.close();
  }
});
