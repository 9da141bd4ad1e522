// A kept-alive connection the server closed (it restarted, say) fails the
// next request on it. Requests the contract makes harmless to repeat are
// sent once more; the others are not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LicenseClient } from "../index.js";

// serve answers every request but those whose number drop names: those it
// reads, then closes the connection unanswered.
async function serve(drop) {
  let n = 0;
  const srv = createServer((req, res) => {
    n++;
    req.resume();
    req.on("end", () => {
      if (drop(n)) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ n }));
    });
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${srv.address().port}`, count: () => n, close: () => new Promise((r) => srv.close(r)) };
}

function client(url) {
  return new LicenseClient({ jwks: { keys: [{ kty: "RSA", n: "x", e: "AQAB", kid: "k" }] }, statePath: join(mkdtempSync(join(tmpdir(), "flx-retry-")), "s.json"),
    serverURL: url, deviceId: "pc", fingerprint: "fp" });
}

test("a replayable request is sent again after the connection died", async () => {
  const s = await serve((n) => n === 2);
  try {
    const c = client(s.url);
    assert.deepEqual(await c.post("/x", {}, { replayable: true }), { n: 1 });
    assert.deepEqual(await c.post("/x", {}, { replayable: true }), { n: 3 }, "the second was dropped and sent again");
    assert.equal(s.count(), 3);
  } finally {
    await s.close();
  }
});

test("any other request fails instead", async () => {
  const s = await serve((n) => n === 2);
  try {
    const c = client(s.url);
    await c.post("/x", {});
    await assert.rejects(c.post("/x", {}), TypeError);
    assert.equal(s.count(), 2, "not sent again");
  } finally {
    await s.close();
  }
});
