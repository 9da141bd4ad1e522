// The licensing part of an Electron app's main process. It uses only
// Node APIs, so it runs under plain Node too (node examples/electron/license.js
// prints the status): the Electron-specific lines are marked.
//
//   const { app } = require("electron");              // Electron
//   const statePath = join(app.getPath("userData"), "license.json");
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { LicenseClient, Status, unlocks, machineFingerprint } from "../../clientlib/js/index.js"; // in an app: "@flowlytix/licensing"

const here = dirname(fileURLToPath(import.meta.url));

// Ship the vendor's public keys inside the app (licensectl keys jwks).
const jwks = JSON.parse(readFileSync(process.env.LICENSE_JWKS || join(here, "jwks.json"), "utf8"));

// now is the clock (a function returning ms); tests pass a fixed one.
export async function openLicense({ statePath = join(homedir(), ".example-app", "license.json"), serverURL, now } = {}) {
  // This machine's id (MachineGuid, IOPlatformUUID, machine-id), salted
  // for this app and hashed: the same value as the Go client's.
  const fingerprint = await machineFingerprint("com.example.app");
  return new LicenseClient({ jwks, statePath, serverURL, fingerprint, deviceId: "dev-" + fingerprint.slice(0, 16), appVersion: "1.0.0", now }).open();
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

// At start-up: check offline first, then sync in the background: soon,
// then on the license's check-in period, at once when the network comes
// back (Electron: powerMonitor "resume", or the renderer's "online"
// event, calls client.online()), backing off after failures.
// onStatus gets the words to show whenever the outcome changes.
// loop tunes the background loop (LoopOptions); the defaults suit an app.
export async function startUp(client, { onStatus = () => {}, log = console.warn, loop = {} } = {}) {
  const res = await client.check();
  client.on("status", (r) => onStatus(describe(r), unlocks(r.status)));
  client.on("sync", (report) => {
    // Rows the server refused are kept for support, never retried.
    if (report.rejected) log(`licensing: ${report.rejected} usage rows set aside:`, client.rejected().slice(-report.rejected).map((r) => r.reason));
    if (report.updateRequired) onStatus("A newer version of the app is needed to install your renewed license.", unlocks(res.status));
  });
  client.on("syncError", ({ error, retryInMs }) => log(`licensing: sync failed (${error.message}); trying again in ${Math.round(retryInMs / 1000)} s`));
  client.start(loop);
  return { res, unlocked: unlocks(res.status), message: describe(res) };
}

// On quit (Electron: app "will-quit"): finish a sync under way, close the queue.
export function shutDown(client) {
  return client.close();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const client = await openLicense({ statePath: process.env.LICENSE_STATE, serverURL: process.env.LICENSE_SERVER });
  if (process.env.LICENSE_FILE) await client.importLicense(readFileSync(process.env.LICENSE_FILE, "utf8"));
  const { message } = await startUp(client);
  console.log(message);
  await shutDown(client);
}
