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

// The shared vectors (testdata/vectors/components.json), which the Go
// library runs too: salted values, fingerprints, and the matching rule.
test("components follow the shared vectors", async () => {
  const { componentValue, componentsFingerprint, matchComponents, machineComponents } = await import("../index.js");
  const v = JSON.parse(readFileSync(new URL("../../../testdata/vectors/components.json", import.meta.url), "utf8"));
  assert.ok(v.matches.length > 10);
  for (const x of v.values) assert.equal(componentValue(x.app_id, x.name, x.raw), x.value, `${x.name} ${JSON.stringify(x.raw)}`);
  for (const x of v.fingerprints) assert.equal(componentsFingerprint(x.components), x.fingerprint);
  for (const x of v.matches) {
    const m = matchComponents(x.stored, x.presented, x.need);
    const e = x.expect;
    assert.deepEqual({ matched: m.matched, clone: m.clone, need: m.need, same: m.same.length, changed: m.changed, added: m.added, removed: m.removed },
      { matched: e.matched, clone: e.clone, need: e.need, same: e.same, changed: e.changed, added: e.added, removed: e.removed }, x.name);
  }
  const here = await machineComponents("com.acme.editor");
  assert.match(here.machine_id, /^[0-9a-f]{64}$/);
  assert.equal(here.machine_id, await machineFingerprint("com.acme.editor"), "machine_id is the fingerprint of older versions");
});
