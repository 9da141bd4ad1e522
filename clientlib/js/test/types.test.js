// index.d.ts matches the code: a typed example of the public API
// type-checks (tsc --noEmit), and every name it declares is exported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as pkg from "../index.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..");

test("the typed example type-checks against index.d.ts", () => {
  const tsc = join(dir, "node_modules", "typescript", "bin", "tsc");
  try {
    execFileSync(process.execPath, [tsc, "--noEmit", "-p", join(dir, "test", "types", "tsconfig.json")], { stdio: "pipe" });
  } catch (e) {
    assert.fail(`tsc: ${e.stdout}${e.stderr}`);
  }
});

test("every function, class and constant index.d.ts declares is exported, and nothing else", () => {
  const dts = readFileSync(join(dir, "index.d.ts"), "utf8");
  const declared = new Set([...dts.matchAll(/^export (?:declare )?(?:function|class|const) (\w+)/gm)].map((m) => m[1]));
  const exported = new Set(Object.keys(pkg));
  assert.deepEqual([...declared].sort(), [...exported].sort());
});
