// The licensing part of an Electron app's main process. It uses only
// Node APIs, so it runs under plain Node too (node examples/electron/license.js
// prints the status): the Electron-specific lines are marked.
//
//   const { app } = require("electron");              // Electron
//   const statePath = join(app.getPath("userData"), "license.json");
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname, homedir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { LicenseClient, Status, unlocks } from "../../clientlib/js/index.js"; // in an app: "@flowlytix/licensing"

const here = dirname(fileURLToPath(import.meta.url));

// Ship the vendor's public keys inside the app (licensectl keys jwks).
const jwks = JSON.parse(readFileSync(process.env.LICENSE_JWKS || join(here, "jwks.json"), "utf8"));

// A fingerprint of this machine, salted for this app. A real app reads a
// stable machine id (see docs/electron.md); hostname is a stand-in here.
const fingerprint = createHash("sha256").update("com.example.app\0" + hostname()).digest("hex");

// now is the clock (a function returning ms); tests pass a fixed one.
export async function openLicense({ statePath = join(homedir(), ".example-app", "license.json"), serverURL, now } = {}) {
  const client = await new LicenseClient({ jwks, statePath, serverURL, fingerprint, deviceId: "dev-" + fingerprint.slice(0, 16), appVersion: "1.0.0", now }).open();
  return client;
}

/** The words to show the user for each outcome. */
export function describe(res) {
  switch (res.status) {
    case Status.VALID: return `Licensed (${res.claims.tier}), ${res.daysRemaining} days left.`;
    case Status.GRACE: return `Your license has expired; it keeps working for ${res.graceDaysRemaining} more days. Please renew.`;
    case Status.EXPIRED: return "Your license has expired. Renew it to continue.";
    case Status.NOT_YET_VALID: return "Your license is not valid yet.";
    case Status.CHECK_IN_REQUIRED: return "Please connect to the internet so the app can check in.";
    case Status.REVOKED: return "This license was revoked or suspended. Contact your vendor.";
    case Status.DEVICE_MISMATCH: return "This license belongs to another computer. Activate this one.";
    case Status.CLOCK_TAMPERED: return "Your computer's clock is wrong. Correct it and restart.";
    default: return "No valid license. Enter your license key or import a license file.";
  }
}

// At start-up: check offline first, then sync in the background.
export async function startUp(client, { syncEveryMs = 6 * 3600e3 } = {}) {
  const res = await client.check();
  const sync = () => client.sync().catch(() => { /* offline: the queue waits */ });
  sync();
  const timer = setInterval(sync, syncEveryMs);
  timer.unref?.();
  return { res, unlocked: unlocks(res.status), message: describe(res) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const client = await openLicense({ statePath: process.env.LICENSE_STATE, serverURL: process.env.LICENSE_SERVER });
  if (process.env.LICENSE_FILE) await client.importLicense(readFileSync(process.env.LICENSE_FILE, "utf8"));
  const { message } = await startUp(client);
  console.log(message);
}
