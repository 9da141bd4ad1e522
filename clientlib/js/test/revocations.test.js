// importRevocations holds a hand-carried revocation list to the Go
// library's rules (license.VerifyJSON): a header of exactly alg, kid and
// typ, and snake_case, unique, ASCII member names in the payload.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompactSign, calculateJwkThumbprint } from "jose";
import { LicenseClient } from "../index.js";

const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const pub = publicKey.export({ format: "jwk" });
const kid = await calculateJwkThumbprint({ kty: "RSA", n: pub.n, e: pub.e }, "sha256");
const jwks = { keys: [{ kty: "RSA", n: pub.n, e: pub.e, kid, alg: "RS256", use: "sig" }] };

function sign(payload, header = { alg: "RS256", kid, typ: "flowlytix-revocations+jwt" }) {
  return new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader(header).sign(privateKey);
}

async function client() {
  const dir = mkdtempSync(join(tmpdir(), "flx-rev-"));
  return new LicenseClient({ jwks, statePath: join(dir, "s.json"), deviceId: "d1", fingerprint: "fp" }).open();
}

const entry = '{"seq":1,"subscription_id":"0b6f2f1c-8a55-4a4e-9a57-7c8b8b1e2f10","state":"revoked","at":"2026-01-02T00:00:00Z"}';

test("a signed revocation list is imported", async () => {
  const c = await client();
  assert.equal(await c.importRevocations(await sign(`{"revocations":[${entry}],"revocation_cursor":1}`)), 1);
  assert.equal(c.revocations().length, 1);
});

for (const [name, payload, header] of [
  ["a member name that case-folds to revocations", `{"revocations":[],"Revocations":[${entry}],"revocation_cursor":1}`],
  ["a member name that is not ASCII", `{"revocations":[${entry}],"revocation_ſursor":1}`],
  ["a duplicate member", `{"revocations":[],"revocations":[${entry}],"revocation_cursor":1}`],
  ["a header with jku", `{"revocations":[${entry}],"revocation_cursor":1}`, { alg: "RS256", kid, typ: "flowlytix-revocations+jwt", jku: "https://attacker.example/jwks.json" }],
  ["a license file's typ", `{"revocations":[${entry}],"revocation_cursor":1}`, { alg: "RS256", kid, typ: "flowlytix-license+jwt" }],
]) {
  test(`a revocation list with ${name} is refused and changes nothing`, async () => {
    const c = await client();
    await assert.rejects(c.importRevocations(await sign(payload, header)), /import revocations/);
    assert.equal(c.revocations().length, 0);
  });
}
