// Type declarations for @flowlytix/licensing.

export type Status =
  | "valid" | "grace" | "expired" | "not_yet_valid" | "check_in_required"
  | "revoked" | "device_mismatch" | "clock_tampered" | "invalid";

export declare const Status: {
  readonly INVALID: "invalid"; readonly CLOCK_TAMPERED: "clock_tampered"; readonly DEVICE_MISMATCH: "device_mismatch";
  readonly REVOKED: "revoked"; readonly NOT_YET_VALID: "not_yet_valid"; readonly EXPIRED: "expired";
  readonly CHECK_IN_REQUIRED: "check_in_required"; readonly GRACE: "grace"; readonly VALID: "valid";
};

export interface Claims {
  iss: string; aud: string; sub: string; jti: string; iat: number; nbf: number; exp: number; license_version: 1;
  customer_id: string; tenant_id: string; tier: "basic" | "professional" | "enterprise" | string;
  features: string[]; max_devices: number; starts_at: string; expires_at: string;
  grace_period_days: number; check_in_days: number; max_offline_days: number;
  device_id?: string; device_fingerprint_sha256?: string;
  /** In a device-bound file: the device key it is bound to (RFC 7800), its RFC 7638 thumbprint. */
  cnf?: { jkt: string };
  /** Named values beside the features (projects: 10, sso: true); absent when the license has none. */
  entitlements?: Record<string, number | boolean | string>;
  /** In a floating seat's lease: its id; expires_at is the lease's end, without grace. */
  lease_id?: string;
  /** In a lease: the seat was borrowed to go offline (no renewal). */
  lease_borrowed?: boolean;
}

export interface Revocation { seq: number; subscription_id: string; device_id?: string; state: "revoked" | "suspended" | "blocked" | "active" | "deactivated"; at: string; }

export type Time = Date | number | string;

export interface VerifyOptions {
  /** The app's public key set (the JWKS object or its JSON text). */
  jwks?: object | string;
  /** The vendor's root key set: files whose signing key the root endorsed are accepted (docs/license-format.md 4.1). */
  rootJwks?: object | string;
  /** The root's statements revoking signing keys; one the root did not sign revokes nothing. */
  keyRevocations?: string[];
  now?: Time;
  deviceId?: string;
  /** The raw device fingerprint; only its SHA-256 is compared. */
  fingerprint?: string;
  state?: { latestTrustedTime?: Time; lastSync?: Time; revocations?: Revocation[] };
  /** The code of the product this app is (e.g. "com.acme.editor"); a file for another is invalid. Default DEFAULT_PRODUCT. */
  product?: string;
}

export interface Result {
  status: Status;
  reason: string;
  claims: Claims | null;
  daysRemaining: number;
  inGrace: boolean;
  graceDaysRemaining: number;
  token?: string;
}

/** Verifies a license file offline; resolves to exactly one status, never rejects for a bad file. */
export function verifyLicense(text: string | Uint8Array, opts: VerifyOptions): Promise<Result>;
export function evaluate(claims: Claims, opts?: Omit<VerifyOptions, "jwks">): Result;
export function unlocks(status: Status): boolean;
export function fingerprintHash(fingerprint: string): string;
export function unarmor(text: string | Uint8Array): string;
export function parse(text: string | Uint8Array): { header: { alg: "RS256"; kid: string; typ: string }; claims: Claims; compact: string };
export function parseJWKS(jwks: object | string): Promise<Map<string, unknown>>;
export class InvalidLicenseError extends Error {}
export function parseKeyRevocation(statement: string, rootJwks: object | string): Promise<{ iss: string; kid: string; iat: number }>;
export const ENDORSEMENT_TYPE: "flowlytix-key-endorsement+jwt";
export const KEY_REVOCATION_TYPE: "flowlytix-key-revocation+jwt";
export const MAX_FILE_SIZE: number;
/** The default product's code and audience, "flowlytix-app": what every file made before products carries. */
export const DEFAULT_PRODUCT: "flowlytix-app";
/** The named entitlement of verified claims, or undefined when the license has none by that name. */
export function entitlement(claims: Claims | null, name: string): number | boolean | string | undefined;
export const CLOCK_TOLERANCE_MS: number;
/** The reason of a revoked result whose device was deactivated on the server: words an app can show. */
export const REASON_DEACTIVATED: "this device was deactivated; activate it again";

export interface ClientOptions {
  /** The signing keys the app embeds; give jwks, rootJwks or both. */
  jwks?: object | string;
  /** The vendor's root key set: the app then survives key rotations with no update. */
  rootJwks?: object | string;
  /** The code of the product this app is (as in the web admin): files for another product are refused. Default "flowlytix-app". */
  product?: string;
  /** Where the state (license, trusted time, revocations, queue) is kept, e.g. in app.getPath("userData"). */
  statePath: string;
  serverURL?: string;
  /** Required unless components are given (then it comes from the machine id). */
  deviceId?: string;
  /** Required unless components are given (then it is the one they make). */
  fingerprint?: string;
  /** This machine's fingerprint components (machineComponents(appId)): a machine that changed keeps its seat. */
  components?: Components;
  appVersion?: string;
  platform?: string;
  /** The most usage events queued before recordUsage rejects with code "queue_full" (default 100,000). */
  maxQueue?: number;
  now?: () => number;
  /**
   * How the device's private key is kept: protect turns its JWK text into what the state file holds,
   * unprotect turns that back (e.g. Electron's safeStorage.encryptString / decryptString, in base64).
   * Without it the key is kept in the state file, which only its owner can read (0600).
   */
  deviceKeyProtector?: { protect(text: string): string | Promise<string>; unprotect(stored: string): string | Promise<string> };
}

export interface SyncReport {
  accepted: number;
  duplicates: number;
  /** Queued rows this sync set aside (refused by the server, or sure to be); see rejected(). */
  rejected: number;
  /** The monthly quotas (entitlements quota.FEATURE) the subscription has passed this month, all its devices together. */
  overQuota: { feature: string; quota: number; used: number }[];
  status: string;
  newLicense: boolean;
  /** Why a newer license file the server sent was not installed (the current file stays); null when none was refused. */
  refusedFile: (Error & { code: "update_required" | "license_file_invalid" }) | null;
  /** The server signs with a key this build does not embed: ship the app with the new JWKS. */
  updateRequired: boolean;
}

export class APIError extends Error { status: number; code: string; /** Retry-After in ms (429, 503); 0 when not sent. */ retryAfterMs: number; }

export interface LoopOptions {
  /** The first sync comes at a random moment within this many ms of start() (default 30,000). */
  firstWithinMs?: number;
  /** Between syncs; default a quarter of the license's check_in_days, from 1 minute to 6 hours. */
  intervalMs?: number;
  /** After a failure the wait doubles from this (default 30,000) ... */
  backoffBaseMs?: number;
  /** ... up to this (default 3,600,000), drawn at random below it; never less than the server's Retry-After. */
  backoffMaxMs?: number;
}

/** What importing a sync response did (the air-gapped exchange). */
export interface ExchangeReport {
  /** The server's word: active, grace, expired, suspended, revoked. */
  status: string;
  /** When the server answered (RFC 3339): the trusted time now. */
  serverTime: string;
  /** Queued usage events dropped: the server holds them. */
  acknowledged: number;
  heartbeats: number;
  /** Queued rows the server refused, set aside with its reason (see rejected()). */
  rejected: number;
  revocations: number;
  newLicense: boolean;
  /** A response the server made later was imported before: only this one's acknowledgements applied. */
  stale: boolean;
  refusedFile: (Error & { code: "update_required" | "license_file_invalid" }) | null;
  updateRequired: boolean;
}

/** A queued row set aside: refused by the server (or sure to be), kept, never retried, never pending. */
export interface RejectedRow {
  kind: "usage" | "heartbeat";
  /** When the app recorded it, in ms since the epoch, by its clock. */
  at: number;
  /** The server's words, or why it was never sent. */
  reason: string;
  eventId?: string;
  feature?: string;
  count?: number;
  durationSeconds?: number;
  appVersion?: string;
}

/** A revocation this app has learned (by sync or importRevocations). */
export interface KnownRevocation {
  seq: number;
  subscriptionId: string;
  /** The device it names, or "" when it is the whole subscription's. */
  deviceId: string;
  state: "revoked" | "suspended" | "blocked" | "active" | "deactivated";
  /** RFC 3339. */
  at: string;
}

/** Why a usage event would be refused (the server's rules, as the Go client holds them), or null. */
export function checkUsage(feature: string, count: number, durationSeconds: number): string | null;

export class LicenseClient {
  /** Background syncs: see LoopOptions. Emits "sync" (SyncReport), "syncError" ({ error, retryInMs }) and "status" (Result, when it changes). */
  start(opts?: LoopOptions): this;
  /** The network is back: the loop syncs now. */
  online(): void;
  /** Ends the loop, after a sync under way. */
  stop(): Promise<void>;
  /** Stops the loop and closes the usage queue's journal. */
  close(): Promise<void>;
  on(event: "sync", listener: (report: SyncReport) => void): this;
  on(event: "syncError", listener: (e: { error: Error; retryInMs: number }) => void): this;
  on(event: "status", listener: (result: Result) => void): this;
  once(event: "sync", listener: (report: SyncReport) => void): this;
  once(event: "syncError", listener: (e: { error: Error; retryInMs: number }) => void): this;
  once(event: "status", listener: (result: Result) => void): this;
  off(event: string, listener: (...args: any[]) => void): this;
  constructor(opts: ClientOptions);
  open(): Promise<this>;
  check(): Promise<Result>;
  activate(licenseKey: string): Promise<Result>;
  /**
   * Starts this device's trial of the app's product (or gets it back while it runs) and installs its license file;
   * check() then shows the days left offline. email when the product's trial asks for one.
   * One trial per device: APIError code "trial_used" once it ended or a paid key replaced it; "trial_unavailable" without trials.
   */
  /** Check out a floating seat (a lease renewed by syncs), or borrow it for borrowDays to go offline. Throws APIError "no_free_seat" (retryAfterMs) when every seat is in use. */
  checkout(licenseKey: string, borrowDays?: number): Promise<Result>;
  /** Return this device's floating seat at once (on close, or a borrowed seat brought back early). */
  checkin(): Promise<void>;
  startTrial(email?: string): Promise<Result>;
  importLicense(text: string): Promise<Result>;
  importRevocations(jws: string): Promise<number>;
  recordUsage(feature: string, count?: number, durationSeconds?: number): Promise<void>;
  heartbeat(): Promise<void>;
  sync(): Promise<SyncReport>;
  /** Asks the server whether this device's license is valid now (online). reason is "" when valid. */
  validate(): Promise<{ valid: boolean; reason: string; subscriptionTier: string; expiresAt: string | null; features: string[]; daysRemaining: number; inGracePeriod: boolean }>;
  activationRequest(licenseKey: string): string;
  /** A sync request file for an air-gapped machine: the queue as an online sync sends it, signed with the device key. Nothing leaves the queue until a response acknowledges it. */
  syncRequest(): Promise<string>;
  /**
   * Applies the vendor's sync response. Throws (nothing changed) with code "exchange_not_ours" for another device's
   * response or one for a request not made here, "exchange_imported" when a response to the same request was imported,
   * "invalid_exchange" for a forged or damaged file.
   */
  importSyncResponse(text: string): Promise<ExchangeReport>;
  /**
   * Removes the license and returns a deactivation receipt carrying what is still queued; uploading it frees the seat once.
   * Refused (nothing changed) when more is queued than one receipt carries: write a sync request first.
   */
  deactivateOffline(): Promise<string>;
  /** The receipt deactivateOffline wrote last ("" when none), kept beside the state: the only copy of the usage it carries. */
  lastDeactivationReceipt(): Promise<string>;
  deactivate(): Promise<void>;
  /** Queued usage events. */
  pending(): number;
  /** Queued heartbeats (at most 10,000 wait). */
  pendingHeartbeats(): number;
  rejected(): RejectedRow[];
  /** The installed license file, "" when there is none (not a secret: an app may offer it for backup). */
  licenseFile(): string;
  revocations(): KnownRevocation[];
  /** The RFC 7638 thumbprint of this installation's device key (made by open()): what cnf.jkt in its license file says. */
  deviceKeyThumbprint(): string;
}

/**
 * This machine's fingerprint for one app: Windows MachineGuid, macOS IOPlatformUUID or Linux machine-id
 * (a random id kept in the user's config directory where there is none), salted with appId and hashed:
 * the same value as the Go client's MachineFingerprint.
 */
export function machineFingerprint(appId: string): Promise<string>;

/** A device's fingerprint components: name (machine_id, os_install, disk, board, mac) to salted SHA-256. */
export type Components = Record<string, string>;
/** This machine's components for one app: the Go client's MachineComponents. */
export function machineComponents(appId: string, options?: { root?: string }): Promise<Components>;
/** The salted hash of one component's raw value. */
export function componentValue(appId: string, name: string, raw: string): string;
/** The fingerprint a component set makes. */
export function componentsFingerprint(components: Components): string;
export interface ComponentMatch { matched: boolean; clone: boolean; need: number; same: string[]; changed: string[]; added: string[]; removed: string[]; }
/** The matching rule: at least `need` components the same (3 by default). */
export function matchComponents(stored: Components, presented: Components, need?: number): ComponentMatch;
export const COMPONENT_NAMES: readonly string[];
export const DEFAULT_COMPONENT_MATCH: number;
