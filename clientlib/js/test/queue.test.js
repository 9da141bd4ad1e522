// The usage queue's journal: durable appends, a torn last write dropped,
// damage reported, an old state file's queue moved in, a bound with a clear
// error, and compaction that keeps the file proportional to the queue.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LicenseClient } from "../index.js";
import { serve, licensed, vector } from "../fixtures/fakeserver.mjs";

const fresh = () => join(mkdtempSync(join(tmpdir(), "flx-queue-")), "s.json");
const client = (statePath, o = {}) => new LicenseClient({ jwks: vector.jwks, statePath, deviceId: "d1", fingerprint: "fp", now: () => vector.now, ...o }).open();

test("events survive a restart, in order, in a 0600 journal", async () => {
  const path = fresh();
  licensed(path);
  const c = await client(path);
  for (let i = 0; i < 5; i++) await c.recordUsage("export", i, 0);
  await c.heartbeat();
  await c.close();
  const s = await serve();
  try {
    const again = await client(path, { serverURL: s.url });
    assert.equal(again.pending(), 5);
    assert.equal(again.pendingHeartbeats(), 1);
    assert.equal(statSync(path + ".queue").mode & 0o777, 0o600);
    assert.equal((await again.sync()).accepted, 5);
    assert.deepEqual(s.bodies[0].body.usage.map((e) => e.count), [0, 1, 2, 3, 4], "sent in the order recorded");
    assert.equal(s.bodies[0].body.heartbeats.length, 1);
    assert.ok(!("queue" in JSON.parse(readFileSync(path, "utf8"))), "the state file the sync wrote holds no queue");
  } finally {
    await s.close();
  }
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
  licensed(path);
  const s = await serve();
  try {
    const c = await client(path, { serverURL: s.url });
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 600; i++) await c.recordUsage("export", 1, 0);
      assert.equal((await c.sync()).accepted, 600); // each acknowledgement a removal line
    }
    for (let i = 0; i < 40; i++) await c.recordUsage("export", 1, 0);
    const lines = readFileSync(path + ".queue", "utf8").split("\n").filter(Boolean).length;
    assert.ok(lines < 2 * c.pending() + 1100, `${lines} lines for ${c.pending()} queued`);
    assert.ok(lines >= 40, "the queued events are in it");
    await c.close();
    assert.equal((await client(path)).pending(), 40);
  } finally {
    await s.close();
  }
});
