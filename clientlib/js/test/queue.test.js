// The usage queue's journal: durable appends, a torn last write dropped,
// damage reported, an old state file's queue moved in, a bound with a clear
// error, and compaction that keeps the file proportional to the queue.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LicenseClient } from "../index.js";

const jwks = { keys: [{ kty: "RSA", n: "x", e: "AQAB" }] }; // never parsed here
const fresh = () => join(mkdtempSync(join(tmpdir(), "flx-queue-")), "s.json");
const client = (statePath, o = {}) => new LicenseClient({ jwks, statePath, deviceId: "d1", fingerprint: "fp", ...o }).open();

test("events survive a restart, in order, in a 0600 journal", async () => {
  const path = fresh();
  const c = await client(path);
  for (let i = 0; i < 5; i++) await c.recordUsage("export", i, 0);
  await c.heartbeat();
  const again = await client(path);
  assert.equal(again.pending(), 5);
  assert.deepEqual(again.state.queue.filter((e) => e.kind === "usage").map((e) => e.count), [0, 1, 2, 3, 4]);
  assert.equal(statSync(path + ".queue").mode & 0o777, 0o600);
  await again.update(() => {}); // a state write: it holds no queue
  assert.ok(!("queue" in JSON.parse(readFileSync(path, "utf8"))), "the state file no longer holds the queue");
});

test("a write the crash cut short is dropped and the journal repaired; damage elsewhere is an error", async () => {
  const path = fresh();
  const c = await client(path);
  await c.recordUsage("export", 1, 0);
  appendFileSync(path + ".queue", '{"a":{"n":2,"kind":"usage","event_id":"x","feat'); // no newline: torn
  const again = await client(path);
  assert.equal(again.pending(), 1, "the torn event was never acknowledged to the app");
  await again.recordUsage("export", 2, 0);
  assert.equal((await client(path)).pending(), 2, "appends after the repair read back");

  writeFileSync(path + ".queue", 'not json\n{"a":{"n":1,"kind":"usage"}}\n');
  await assert.rejects(client(path), /usage queue .* is damaged at line 1/);
});

test("a state file of an earlier version has its queue moved into the journal", async () => {
  const path = fresh();
  writeFileSync(path, JSON.stringify({ license_file: "", queue: [{ kind: "usage", event_id: "e1", feature: "export", count: 1, duration_seconds: 0, at: Date.now() }] }));
  const c = await client(path);
  assert.equal(c.pending(), 1);
  assert.ok(!("queue" in JSON.parse(readFileSync(path, "utf8"))));
  assert.equal((await client(path)).pending(), 1, "and it stays there");
});

test("a full queue refuses the next event, clearly, and loses none", async () => {
  const path = fresh();
  const c = await client(path, { maxQueue: 3 });
  for (let i = 0; i < 3; i++) await c.recordUsage("export", 1, 0);
  await assert.rejects(c.recordUsage("export", 1, 0), (e) => e.code === "queue_full" && /usage queue is full \(3 events not yet sent\)/.test(e.message));
  assert.equal((await client(path, { maxQueue: 3 })).pending(), 3);
});

test("compaction keeps the journal proportional to what is queued", async () => {
  const path = fresh();
  const c = await client(path);
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 600; i++) await c.recordUsage("export", 1, 0);
    await c.dequeue(c.state.queue.slice(0, 590)); // as a sync's acknowledgement does
  }
  const lines = readFileSync(path + ".queue", "utf8").split("\n").filter(Boolean).length;
  assert.ok(lines < 2 * c.state.queue.length + 1100, `${lines} lines for ${c.state.queue.length} queued`);
  assert.equal((await client(path)).pending(), 40);
});
