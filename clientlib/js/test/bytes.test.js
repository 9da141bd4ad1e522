// The renderer-safe entry point: verify.js and what it imports use no node:
// module and no Buffer; its plain-JavaScript base64url and SHA-256 agree
// with Node's on thousands of random inputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { b64urlDecode, b64urlEncode, sha256Hex, constantTimeEqual } from "../bytes.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..");

test("verify.js and its imports need nothing of Node", () => {
  for (const f of ["verify.js", "bytes.js", "strictjson.js"]) {
    const src = readFileSync(join(dir, f), "utf8").replace(/\/\/.*$/gm, "");
    assert.doesNotMatch(src, /from "node:|require\(|\bBuffer\b|\bprocess\./, f);
  }
});

test("base64url and SHA-256 agree with Node's", () => {
  for (let i = 0; i < 3000; i++) {
    const b = randomBytes(i % 97);
    const s = b.toString("base64url");
    assert.equal(b64urlEncode(b), s);
    assert.deepEqual(Buffer.from(b64urlDecode(s)), b);
    const text = b.toString("latin1") + "ſ" + i;
    assert.equal(sha256Hex(text), createHash("sha256").update(text, "utf8").digest("hex"));
  }
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(b64urlDecode("a"), null, "an impossible length");
  assert.equal(b64urlDecode("ab+c"), null, "a character outside base64url");
  assert.equal(constantTimeEqual("abc", "abc"), true);
  assert.equal(constantTimeEqual("abc", "abd"), false);
  assert.equal(constantTimeEqual("abc", "ab"), false);
});
