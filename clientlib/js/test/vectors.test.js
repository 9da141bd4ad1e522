// The shared vectors: the Go library runs the same manifest
// (clientlib/vectors_test.go), so the two verifiers cannot disagree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { verifyLicense, parseJWKS, Status } from "../index.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "../../../testdata/vectors");
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
const jwks = JSON.parse(readFileSync(join(dir, manifest.jwks), "utf8"));
const rootJwks = JSON.parse(readFileSync(join(dir, manifest.root_jwks), "utf8"));

test("the manifest covers every outcome", () => {
  const seen = new Set(manifest.vectors.map((v) => v.expect.status));
  for (const s of Object.values(Status)) assert.ok(seen.has(s), `no vector for ${s}`);
  assert.ok(manifest.vectors.length > 90);
});

for (const v of manifest.vectors) {
  test(v.name + ": " + v.description, async () => {
    const file = readFileSync(join(dir, v.file), "utf8");
    const trust = v.trust === "root" ? { rootJwks, keyRevocations: v.state.key_revocations || [] } : { jwks };
    const res = await verifyLicense(file, {
      ...trust, now: v.now, deviceId: v.device_id, fingerprint: v.fingerprint, product: v.product,
      state: { latestTrustedTime: v.state.latest_trusted_time, lastSync: v.state.last_sync, revocations: v.state.revocations },
    });
    assert.equal(res.status, v.expect.status, res.reason);
    if (res.status === Status.INVALID) {
      assert.equal(res.claims, null);
      return;
    }
    assert.equal(res.daysRemaining, v.expect.days_remaining, "days_remaining");
    assert.equal(res.inGrace, v.expect.in_grace, "in_grace");
    assert.equal(res.graceDaysRemaining, v.expect.grace_days_remaining, "grace_days_remaining");
    assert.deepEqual(res.claims, v.expect.claims);
  });
}

// The key set vectors: the Go library runs them too
// (TestEveryKeySetVectorIsAcceptedOrRefusedAsWritten).
test("the manifest has key set vectors", () => {
  assert.ok(manifest.key_sets.length > 20);
});

for (const v of manifest.key_sets) {
  test(v.name + ": " + v.description, async () => {
    const text = readFileSync(join(dir, v.file), "utf8");
    if (v.accept) {
      const keys = await parseJWKS(text);
      assert.equal(keys.size, 1);
    } else {
      await assert.rejects(parseJWKS(text), /parse jwks/);
    }
  });
}

// The revocation-list vectors: the Go client runs them too
// (TestEveryRevocationListVectorIsImportedOrRefusedAsWritten).
test("the manifest has revocation-list vectors", () => {
  assert.ok(manifest.revocation_lists.length > 10);
});

for (const v of manifest.revocation_lists) {
  test(`revocation list ${v.name}: ${v.description}`, async () => {
    const { LicenseClient } = await import("../index.js");
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const c = await new LicenseClient({ jwks, statePath: join(mkdtempSync(join(tmpdir(), "flx-revvec-")), "s.json"), deviceId: "d1", fingerprint: "fp" }).open();
    const jws = readFileSync(join(dir, v.file), "utf8");
    if (v.accept) {
      assert.equal(await c.importRevocations(jws), v.entries);
      assert.equal(c.revocations().length, v.entries);
    } else {
      await assert.rejects(c.importRevocations(jws), /import revocations|signature|JWS/i);
      assert.equal(c.revocations().length, 0, "a refused list changes nothing");
    }
  });
}
