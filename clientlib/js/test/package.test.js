// The package ships what it imports: every module a shipped file imports is
// in package.json's "files", and the package stays private until published.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));

test("every module a shipped file imports is shipped", () => {
  for (const f of pkg.files.filter((f) => f.endsWith(".js"))) {
    const src = readFileSync(join(dir, f), "utf8");
    for (const [, mod] of src.matchAll(/from "\.\/([^"]+)"/g)) {
      assert.ok(pkg.files.includes(mod), `${f} imports ./${mod}, which package.json's files leaves out`);
    }
  }
});

test("private until it is published", () => {
  assert.equal(pkg.private, true);
});

// The client's internals are #private: an app reaches only what index.d.ts
// declares, so the package can change its state file, queue and transport
// without breaking one.
test("a LicenseClient exposes exactly the methods index.d.ts declares", async () => {
  const { LicenseClient } = await import("../index.js");
  const dts = readFileSync(join(dir, "index.d.ts"), "utf8");
  const body = dts.slice(dts.indexOf("export class LicenseClient"));
  const declared = new Set([...body.slice(0, body.indexOf("\n}\n")).matchAll(/^  (\w+)\(/gm)].map((m) => m[1]));
  declared.delete("constructor");
  for (const m of ["on", "once", "off"]) declared.delete(m); // EventEmitter's, typed for its events
  const own = Object.getOwnPropertyNames(LicenseClient.prototype).filter((n) => n !== "constructor");
  assert.deepEqual(own.sort(), [...declared].sort());
  const c = new LicenseClient({ jwks: { keys: [] }, statePath: "/nonexistent/s.json", deviceId: "d", fingerprint: "f" });
  const fields = Object.keys(c).filter((k) => !k.startsWith("_")); // EventEmitter's own bookkeeping
  assert.deepEqual(fields, [], "no state, options or queue on the instance");
});
