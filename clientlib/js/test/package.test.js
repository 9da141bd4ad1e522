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
