// machineFingerprint: salted per app, stable, and (where the system has no
// machine id) a random id made once, kept 0600 where the Go client keeps it.
// The Go suite compares the two packages' values on this machine
// (clientlib/fingerprint_node_test.go).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, statSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { machineFingerprint } from "../index.js";

test("a fingerprint is per app and stable", async () => {
  const a = await machineFingerprint("com.acme.editor");
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(await machineFingerprint("com.acme.editor"), a);
  assert.notEqual(await machineFingerprint("com.acme.viewer"), a, "two apps see different values");
  await assert.rejects(machineFingerprint(""), /appId is required/);
});

test("without a system id, a random one is made once and kept", async () => {
  const home = mkdtempSync(join(tmpdir(), "flx-fp-"));
  // A platform whose id cannot be read here (no reg command on this machine).
  const opts = { platform: "win32", env: { AppData: home } };
  if (process.platform === "win32") return;
  const a = await machineFingerprint("com.acme.editor", opts);
  assert.equal(await machineFingerprint("com.acme.editor", opts), a, "the same id the next time");
  const path = join(home, "flowlytix", "machine-id");
  assert.match(readFileSync(path, "utf8"), /^[0-9a-f]{32}\n$/);
  assert.equal(statSync(path).mode & 0o777, 0o600);
});
