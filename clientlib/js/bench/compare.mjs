// Measures the JavaScript package beside the Go client, in one run on one
// machine (figures go to docs/benchmarks.md):
//   - durable recordUsage with 100,000 events already queued, against Go's
//     BenchmarkRecordUsage (an fsync each on both sides);
//   - a sync of 1,000 queued events to a local licensed, against Go's
//     BenchmarkSync1000.
// Run from the repository root: node clientlib/js/bench/compare.mjs
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { LicenseClient } from "../index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const dir = mkdtempSync(join(tmpdir(), "flx-bench-"));
const bin = join(dir, "licensed");
const db = join(dir, "licensed.db");
const jwksDummy = { keys: [{ kty: "RSA", n: "x", e: "AQAB" }] };

const port = await new Promise((resolve) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const base = `http://127.0.0.1:${port}`;

// A journal of n queued events, written directly (recording 100,000 events
// one fsync at a time would take minutes).
function prefill(statePath, n) {
  const now = Date.now();
  const lines = [];
  for (let i = 1; i <= n; i++) {
    lines.push(JSON.stringify({ a: { kind: "usage", event_id: randomUUID(), feature: "export", count: 1, duration_seconds: 0, at: now - (n - i), n: i } }));
  }
  writeFileSync(`${statePath}.queue`, lines.join("\n") + "\n", { mode: 0o600 });
}

async function timeRecordUsage() {
  const statePath = join(dir, "record.json");
  prefill(statePath, 100_000);
  const c = await new LicenseClient({ jwks: jwksDummy, statePath, deviceId: "bench", fingerprint: "fp", maxQueue: 200_000 }).open();
  const n = 2000;
  for (let i = 0; i < 100; i++) await c.recordUsage("export", 1, 1); // warm
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await c.recordUsage("export", 1, 1);
  const us = Number(process.hrtime.bigint() - t0) / n / 1e3; // µs per event
  await c.close();
  return us;
}

async function timeSync1000() {
  execFileSync("go", ["build", "-o", bin, "./cmd/licensed"], { cwd: root, stdio: "inherit" });
  const out = execFileSync(bin, ["token", "create", "--name", "bench", "--db", db]).toString().trim().split("\n");
  const token = out[out.length - 1];
  const server = spawn(bin, ["serve", "--addr", `127.0.0.1:${port}`, "--db", db, "--keys", join(dir, "keys"), "--jobs=false", "--log-level", "error"]);
  await new Promise((resolve) => server.stdout.on("data", (d) => { if (String(d).includes("listening")) resolve(); }));
  try {
    const admin = async (path, body) => (await fetch(base + path, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) })).json();
    const jwks = await (await fetch(base + "/.well-known/jwks.json")).json();
    const cust = await admin("/api/v1/customers", { email: "bench@example.com" });
    const sub = await admin("/api/v1/subscriptions", { customer_id: cust.id, tier: "professional", features: ["export"], max_devices: 50,
      expires_at: new Date(Date.now() + 365 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z") });
    const times = [];
    for (let run = 0; run < 7; run++) {
      const statePath = join(dir, `sync-${run}.json`);
      const c = await new LicenseClient({ jwks, serverURL: base, statePath, deviceId: `bench-${run}`, fingerprint: `fp-${run}` }).open();
      await c.activate(sub.license_key);
      await c.close();
      prefill(statePath, 1000);
      const q = await new LicenseClient({ jwks, serverURL: base, statePath, deviceId: `bench-${run}`, fingerprint: `fp-${run}` }).open();
      const t0 = process.hrtime.bigint();
      const rep = await q.sync();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (rep.accepted !== 1000) throw new Error(`accepted ${rep.accepted}`);
      await q.close();
    }
    times.sort((a, b) => a - b);
    return times[times.length >> 1]; // median ms
  } finally {
    server.kill("SIGTERM");
  }
}

function goBench() {
  const out = execFileSync("go", ["test", "./clientlib", "-run", "^$", "-bench", "^(BenchmarkRecordUsage|BenchmarkSync1000)$", "-benchtime", "2s", "-count", "1"], { cwd: root }).toString();
  const ns = (name) => Number(new RegExp(`${name}-\\d+\\s+\\d+\\s+([\\d.]+) ns/op`).exec(out)[1]);
  return { recordUs: ns("BenchmarkRecordUsage") / 1e3, syncMs: ns("BenchmarkSync1000") / 1e6 };
}

const jsRecord = await timeRecordUsage();
const jsSync = await timeSync1000();
const go = goBench();
console.log(`recordUsage, 100,000 queued: JS ${jsRecord.toFixed(0)} µs, Go ${go.recordUs.toFixed(0)} µs: JS runs at ${(go.recordUs / jsRecord).toFixed(2)}x Go's rate (goal at least 0.5x)`);
console.log(`sync of 1,000 queued events: JS ${jsSync.toFixed(1)} ms, Go ${go.syncMs.toFixed(1)} ms: JS takes ${(jsSync / go.syncMs).toFixed(2)}x Go's time (goal under 2x)`);
