// Runs the shared vectors (testdata/vectors) against the renderer-safe
// entry point in a browser: the Go test internal/jsbrowser serves the
// repository and reads window.result from headless Chromium.
import { verifyLicense, parseJWKS, Status } from "/clientlib/js/verify.js";

const base = "/testdata/vectors/";
const get = async (p) => (await fetch(base + p)).text();

// canonical is JSON with its keys sorted, for deep comparison.
const canonical = (v) => JSON.stringify(v, (k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));

async function run() {
  const manifest = JSON.parse(await get("manifest.json"));
  const jwks = JSON.parse(await get(manifest.jwks));
  const rootJwks = JSON.parse(await get(manifest.root_jwks));
  const failures = [];
  let ran = 0;
  for (const v of manifest.vectors) {
    ran++;
    const trust = v.trust === "root" ? { rootJwks, keyRevocations: v.state.key_revocations || [] } : { jwks };
    const res = await verifyLicense(await get(v.file), {
      ...trust, now: v.now, deviceId: v.device_id, fingerprint: v.fingerprint, product: v.product,
      state: { latestTrustedTime: v.state.latest_trusted_time, lastSync: v.state.last_sync, revocations: v.state.revocations },
    });
    const want = v.expect;
    const got = res.status === Status.INVALID
      ? { status: res.status, claims: res.claims }
      : { status: res.status, days: res.daysRemaining, grace: res.inGrace, graceDays: res.graceDaysRemaining, claims: res.claims };
    const expected = want.status === Status.INVALID
      ? { status: want.status, claims: null }
      : { status: want.status, days: want.days_remaining, grace: want.in_grace, graceDays: want.grace_days_remaining, claims: want.claims };
    if (canonical(got) !== canonical(expected)) failures.push(`${v.name}: got ${canonical(got).slice(0, 200)} (${res.reason})`);
  }
  for (const v of manifest.key_sets) {
    ran++;
    let accepted = false;
    try {
      accepted = (await parseJWKS(await get(v.file))).size === 1;
    } catch { /* refused */ }
    if (accepted !== v.accept) failures.push(`key set ${v.name}: accepted ${accepted}`);
  }
  return { ran, failures, hasBuffer: typeof globalThis.Buffer !== "undefined", hasProcess: typeof globalThis.process !== "undefined" };
}

run().then((r) => { window.result = r; }, (e) => { window.result = { ran: 0, failures: [String(e && e.stack || e)] }; })
  .finally(() => { document.getElementById("out").textContent = "done"; });
