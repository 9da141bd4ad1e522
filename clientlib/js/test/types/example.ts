// A typed example of the public API: `tsc --noEmit` must accept it
// against index.d.ts (test/types.test.js), so the declarations and the
// code cannot drift apart unnoticed.
import {
  LicenseClient, APIError, Status, checkUsage, machineFingerprint, verifyLicense, entitlement, DEFAULT_PRODUCT,
  type Result, type SyncReport, type RejectedRow, type LoopOptions, type KnownRevocation, type ExchangeReport,
} from "../../index.js";

declare const log: (...args: unknown[]) => void;

async function main(jwks: object): Promise<void> {
  const fingerprint: string = await machineFingerprint("com.acme.editor");
  const client = await new LicenseClient({ jwks, statePath: "/tmp/state.json", deviceId: "d1", fingerprint, maxQueue: 1000, product: "com.acme.editor" }).open();
  const result: Result = await client.check();
  if (result.status === Status.VALID && result.claims) log(result.claims.features.join(","));
  const why: string | null = checkUsage("export", 1, 0);
  if (!why) await client.recordUsage("export", 1, 2.5);
  const loop: LoopOptions = { firstWithinMs: 1000, backoffMaxMs: 60_000 };
  client.on("sync", (r: SyncReport) => log(r.accepted, r.rejected, r.updateRequired));
  client.on("syncError", ({ error, retryInMs }) => log(error.message, retryInMs));
  client.on("status", (r: Result) => log(r.status));
  client.start(loop);
  client.online();
  const rows: RejectedRow[] = client.rejected();
  for (const r of rows) log(r.kind, r.reason, r.at);
  const n: number = client.pending() + client.pendingHeartbeats();
  const known: KnownRevocation[] = client.revocations();
  for (const r of known) log(r.seq, r.subscriptionId, r.deviceId || "whole subscription", r.state, r.at);
  const file: string = client.licenseFile();
  if (file) log(file.length);
  try {
    await client.sync();
  } catch (e) {
    if (e instanceof APIError) log(e.status, e.code, e.retryAfterMs);
  }
  const trial: Result = await client.startTrial("ada@example.com");
  log(trial.daysRemaining);
  // Air-gapped: a request out, the vendor's response in.
  const request: string = await client.syncRequest();
  log(request.length);
  try {
    const ex: ExchangeReport = await client.importSyncResponse("-----BEGIN FLOWLYTIX SYNC RESPONSE-----");
    if (!ex.stale) log(ex.acknowledged, ex.heartbeats, ex.rejected, ex.revocations, ex.newLicense, ex.status, ex.serverTime, ex.updateRequired);
  } catch (e) {
    if ((e as { code?: string }).code === "exchange_imported") log("imported already");
  }
  const receipt: string = await client.deactivateOffline();
  log(receipt.length, (await client.lastDeactivationReceipt()) === receipt);
  const online = await client.validate();
  if (online.valid && !online.inGracePeriod) log(online.subscriptionTier, online.daysRemaining, online.expiresAt);
  await client.stop();
  await client.close();
  const v = await verifyLicense("-----BEGIN FLOWLYTIX LICENSE-----", { jwks, deviceId: "d1", fingerprint, product: "com.acme.editor" });
  const projects = entitlement(v.claims, "projects");
  if (typeof projects === "number" && projects > 10) log("more than ten projects", DEFAULT_PRODUCT);
  log(v.daysRemaining, n);
}

void main;
