// The online helper: activation, sync of a durable usage queue, clock
// tampering detection, with the same exactly-once rules as the Go client.
// State lives in one JSON file written atomically (temp file, fsync,
// rename), so a crash leaves the old state or the new one, never half; the
// usage queue lives in an append-only journal beside it (queue.js), so
// recording an event costs one small durable write however long the queue.
import { randomBytes, randomUUID } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { open, readFile, rename, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { verifyLicense, parse, parseJWKS, evaluate, fingerprintHash, Status, parseKeyRevocation, endorsedKey, revokedByRoot } from "./verify.js";
import { compactVerify } from "jose";
import { checkObject } from "./strictjson.js";
import { EventEmitter } from "node:events";
import { QueueJournal } from "./queue.js";
import { DeviceKey } from "./devicekey.js";
import { componentsFingerprint } from "./fingerprint.js";

/** The default bound on queued usage events (o.maxQueue overrides it). */
export const MAX_QUEUE = 100_000;
/** At most this many heartbeats wait: one more replaces none (presence is presence). */
const MAX_QUEUED_HEARTBEATS = 10_000;

// The server's limits on one sync (syncserver.MaxUsagePerSync,
// MaxHeartbeatsPerSync) and on one usage event (MaxUsageCount,
// MaxUsageDuration).
const MAX_BATCH = 1000;
const MAX_HEARTBEATS = 1000;
const MAX_COUNT = 1_000_000_000;
const MAX_DURATION = 1_000_000_000;
const FEATURE = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;

/**
 * checkUsage holds a usage event to the server's rules (the Go client's
 * checkUsage; testdata/vectors/usage_inputs.json holds both to the same
 * answers): it returns why the event would be refused, or null.
 */
export function checkUsage(feature, count, durationSeconds) {
  if (typeof feature !== "string" || !FEATURE.test(feature)) {
    return `feature name ${JSON.stringify(feature)}: use 1 to 64 lowercase letters, digits, and _ . : - (starting with a letter or digit), as in the license's features`;
  }
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_COUNT) return `count must be a whole number from 0 to ${MAX_COUNT}`;
  if (typeof durationSeconds !== "number" || !Number.isFinite(durationSeconds) || durationSeconds < 0 || durationSeconds > MAX_DURATION) {
    return `duration must be from 0 to ${MAX_DURATION} seconds`;
  }
  return null;
}

export class APIError extends Error {
  constructor(status, code, message, retryAfterMs = 0) {
    super(`license server: ${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
    /** How long the server asked to wait (Retry-After on 429 and 503), in ms; 0 when it did not say. */
    this.retryAfterMs = retryAfterMs;
  }
}

/** retryAfterMs reads a Retry-After header: seconds, or an HTTP date. */
function retryAfterMs(v, now) {
  if (!v) return 0;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? 0 : Math.max(0, t - now);
}

// The background loop's timing: a sync every quarter of the license's
// check-in period (at most 6 hours, at least a minute), and after a failure
// a wait that doubles from 30 s to an hour, drawn at random below it (full
// jitter), so a fleet that lost its server does not come back in step.
const LOOP_MAX_INTERVAL = 6 * 3600e3;
const LOOP_MIN_INTERVAL = 60e3;
const BACKOFF_BASE = 30e3;
const BACKOFF_MAX = 3600e3;

const emptyState = () => ({ license_file: "", latest_trusted_ms: 0, last_sync_ms: 0, revocations: [], key_revocations: [], queue: [], rejected: [], device_key: null, exchanges: [], lease_key: "" });

// The air-gapped exchange (docs/license-format.md, section 6.1): the same
// files as the Go client's, byte for byte in their rules.
const SYNC_REQUEST = ["-----BEGIN FLOWLYTIX SYNC REQUEST-----", "-----END FLOWLYTIX SYNC REQUEST-----", "flowlytix-sync-request+jwt"];
const DEACTIVATION_RECEIPT = ["-----BEGIN FLOWLYTIX DEACTIVATION RECEIPT-----", "-----END FLOWLYTIX DEACTIVATION RECEIPT-----", "flowlytix-deactivation-receipt+jwt"];
const SYNC_RESPONSE = ["-----BEGIN FLOWLYTIX SYNC RESPONSE-----", "-----END FLOWLYTIX SYNC RESPONSE-----", "flowlytix-sync-response+jwt"];
const MAX_EXCHANGE_USAGE = 100_000;
const MAX_EXCHANGE_HEARTBEATS = 10_000;
const MAX_EXCHANGE_FILE = 32 << 20;
const MAX_EXCHANGE_PAYLOAD = 20 << 20;
const RESPONSE_MEMBERS = { iss: "string", iat: "number", nonce: "string", request_sha256: "string", device_id: "string", subscription_id: "string",
  status: "string", server_time: "string", acknowledged: "array", heartbeats: "number", rejected: "array", revocations: "array", revocation_cursor: "number" };
const RESPONSE_OPTIONAL = { license_file: "string", key_endorsement: "string", key_revocations: "array" };

function exchangeError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

function armor([begin, end], compact) {
  return begin + "\n" + compact.match(/.{1,64}/g).join("\n") + "\n" + end + "\n";
}

/**
 * refusedFile is the error for a license file from the server that this app
 * cannot install. Its code is "update_required" when the file is signed by a
 * key the app's embedded JWKS does not hold (the vendor rotated keys: a newer
 * build of the app knows the new key), else "license_file_invalid".
 */
function refusedFile(reason, context) {
  const unknownKey = /unknown key/.test(reason);
  const e = new Error(unknownKey
    ? `${context}: the license server signs with a key this version of the app does not know: update the app (${reason})`
    : `${context}: the server's license file does not verify (${reason})`);
  e.code = unknownKey ? "update_required" : "license_file_invalid";
  return e;
}

export class LicenseClient extends EventEmitter {
  #o; // the options, with defaults
  #state; // the state file's contents, and the queue
  #chain; // serialises state writes
  #journal; // the usage queue's journal
  #qchain; // serialises journal writes
  #nextN; // the next queue entry's number
  #usageQueued; // queued usage events, counted
  #loop = null; // the background loop, when started
  #checkedIn = false; // checkin() ran: the loop checks no seat out again
  #parsed = null; // the verified current file, cached by check()
  #key = null; // the device key (devicekey.js), loaded or made by open()
  #clockOffsetMs = 0; // the server's clock minus this one, when far apart
  /**
   * @param {object} o jwks and/or rootJwks (the vendor's root key set: the
   *   app then accepts every file whose key the root endorsed, through key
   *   rotations, with no update), statePath, serverURL (optional),
   *   deviceId, fingerprint, appVersion, platform, now (a function
   *   returning ms), deviceKeyProtector ({ protect(text), unprotect(stored) },
   *   sync or async: how the device's private key is kept, e.g. with
   *   Electron's safeStorage; without it the key is kept in the state
   *   file, which only its owner can read), components (optional: what
   *   machineComponents(appId) gives; the fingerprint is then the one they
   *   make, the device id by default comes from the machine id, and they
   *   go with activations, checkouts and syncs, so that a machine that
   *   changed keeps its seat)
   */
  constructor(o) {
    super();
    if (o.components) {
      if (typeof o.components.machine_id !== "string") throw new Error("LicenseClient: components must hold machine_id (machineComponents gives it)");
      o = { ...o, fingerprint: componentsFingerprint(o.components), deviceId: o.deviceId || "dev-" + fingerprintHash(o.components.machine_id).slice(0, 16) };
    }
    for (const k of ["statePath", "deviceId", "fingerprint"]) if (!o[k]) throw new Error(`LicenseClient: ${k} is required`);
    if (!o.jwks && !o.rootJwks) throw new Error("LicenseClient: jwks or rootJwks is required");
    this.#o = { ...o };
    this.#o.appVersion ||= "unknown";
    this.#o.platform ||= `${process.platform}/${process.arch}`;
    this.#o.now ||= () => Date.now();
    this.#o.serverURL = (o.serverURL || "").replace(/\/+$/, "");
    this.#o.maxQueue ||= MAX_QUEUE;
    this.#state = emptyState();
    this.#chain = Promise.resolve(); // serialises state writes
    this.#journal = new QueueJournal(`${this.#o.statePath}.queue`);
    this.#qchain = Promise.resolve(); // serialises journal writes
    this.#nextN = 1;
    this.#usageQueued = 0;
  }

  /** open loads the state file (a missing file is a fresh state). */
  async open() {
    let legacy = [];
    try {
      const s = JSON.parse(await readFile(this.#o.statePath, "utf8"));
      legacy = Array.isArray(s.queue) ? s.queue : [];
      this.#state = { ...emptyState(), ...s, queue: [] };
    } catch (e) {
      if (e.code !== "ENOENT") throw new Error(`license state ${this.#o.statePath} is damaged (${e.message}): delete it, then import the license file or activate again`);
    }
    const { entries, next, torn } = await this.#journal.load();
    this.#state.queue = entries;
    // Numbers are never given twice: a sync request remembers the last it
    // carried, and an entry made after it must not fall under it.
    this.#nextN = Math.max(next, ...(this.#state.exchanges || []).map((x) => x.max_n + 1));
    this.#usageQueued = entries.filter((e) => e.kind === "usage").length;
    if (legacy.length) {
      // A state file of an earlier version kept the queue itself: move it
      // into the journal, then drop it from the state file.
      for (const e of legacy) this.#state.queue.push({ ...e, n: this.#nextN++ });
      this.#usageQueued = this.#state.queue.filter((e) => e.kind === "usage").length;
      await this.#journal.compact(this.#state.queue);
      await this.#save();
    } else if (torn) {
      await this.#journal.compact(this.#state.queue); // no append after a torn line
    }
    await this.#loadKey();
    return this;
  }

  /**
   * loadKey reads the device key, or makes and keeps one: at first open,
   * and for a state from before device keys, whose device then enrols on
   * its next sync (the server binds the key its first proof shows).
   */
  async #loadKey() {
    const p = this.#o.deviceKeyProtector;
    const kept = this.#state.device_key;
    if (kept) {
      try {
        const text = typeof kept === "string" ? (p ? await p.unprotect(kept) : kept) : JSON.stringify(kept);
        this.#key = new DeviceKey(JSON.parse(text));
        return;
      } catch (e) {
        throw new Error(`license state ${this.#o.statePath}: the device key cannot be read (${e.message}): delete the state and activate again`);
      }
    }
    const key = DeviceKey.generate();
    const text = JSON.stringify(key.toJSON());
    const stored = p ? await p.protect(text) : key.toJSON();
    if (p && typeof stored !== "string") throw new Error("deviceKeyProtector.protect must return a string (or a promise of one)");
    await this.#update((s) => { s.device_key = stored; });
    this.#key = key;
  }

  /** deviceKeyThumbprint is the RFC 7638 thumbprint of this installation's device key: what cnf.jkt in its license file says. */
  deviceKeyThumbprint() {
    return this.#key ? this.#key.thumbprint() : "";
  }

  /** enqueue adds an entry to the journal, durably, then to the queue. */
  #enqueue(entry) {
    const next = this.#qchain.then(async () => {
      const e = { ...entry, n: this.#nextN++ };
      await this.#journal.append([{ a: e }]);
      this.#state.queue.push(e);
      if (e.kind === "usage") this.#usageQueued++;
    });
    this.#qchain = next.catch(() => {});
    return next;
  }

  /** dequeue removes entries from the journal, durably, then from the queue. */
  #dequeue(rows) {
    const next = this.#qchain.then(async () => {
      const gone = new Set(rows);
      await this.#journal.append([{ d: rows.map((e) => e.n) }]);
      const kept = this.#state.queue.filter((e) => !gone.has(e));
      for (const e of this.#state.queue) if (gone.has(e) && e.kind === "usage") this.#usageQueued--;
      this.#state.queue = kept;
      // Amortised O(1): rewrite once removed lines outnumber live ones.
      if (this.#journal.lines > 2 * this.#state.queue.length + 1000) await this.#journal.compact(this.#state.queue);
    });
    this.#qchain = next.catch(() => {});
    return next;
  }

  async #save() {
    const path = this.#o.statePath;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    const f = await open(tmp, "w", 0o600);
    try {
      await f.writeFile(JSON.stringify({ ...this.#state, queue: undefined }));
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
    try {
      const d = await open(dirname(path), "r");
      await d.sync();
      await d.close();
    } catch { /* some platforms cannot fsync a directory */ }
  }

  #update(fn) {
    const next = this.#chain.then(async () => {
      fn(this.#state);
      await this.#save();
    });
    this.#chain = next.catch(() => {});
    return next;
  }

  #opts(now) {
    const s = this.#state;
    return { ...this.#trust(), now, deviceId: this.#o.deviceId, fingerprint: this.#o.fingerprint,
      state: { latestTrustedTime: s.latest_trusted_ms, lastSync: s.last_sync_ms, revocations: s.revocations } };
  }

  /** trust is what files are verified with: the embedded keys, the root. */
  #trust() {
    return { jwks: this.#o.jwks, rootJwks: this.#o.rootJwks, keyRevocations: this.#state.key_revocations, product: this.#o.product };
  }

  /**
   * check answers offline what the license allows now. The clock reading
   * becomes trusted time, kept at most once a minute, so that setting the
   * clock back later answers clock_tampered.
   */
  async check() {
    const now = this.#o.now();
    if (!this.#state.license_file) return { status: Status.INVALID, reason: "no license: activate or import one", claims: null };
    let res;
    if (this.#parsed && this.#parsed.file === this.#state.license_file) {
      res = evaluate(this.#parsed.claims, this.#opts(now)); // verified already
      res.token = this.#parsed.token;
    } else {
      res = await verifyLicense(this.#state.license_file, this.#opts(now));
      if (res.status !== Status.INVALID) this.#parsed = { file: this.#state.license_file, claims: res.claims, token: res.token };
    }
    if (res.status !== Status.CLOCK_TAMPERED && now > this.#state.latest_trusted_ms + 60_000) {
      await this.#update((s) => { s.latest_trusted_ms = Math.max(s.latest_trusted_ms, now); });
    }
    return res;
  }

  /** importLicense installs a license file (air-gapped customers). */
  async importLicense(text) {
    const res = await verifyLicense(text, { ...this.#trust(), now: this.#o.now(), deviceId: this.#o.deviceId, fingerprint: this.#o.fingerprint });
    if (res.status === Status.INVALID) throw new Error(res.reason);
    if (res.status === Status.DEVICE_MISMATCH) throw new Error(`import license: the file is bound to device ${res.claims.device_id}`);
    const gone = this.#state.offline_deactivated;
    if (gone && gone.subscription_id === res.claims.sub && res.claims.iat * 1000 <= gone.at) {
      throw new Error(`import license: this machine gave this license back on ${new Date(gone.at).toISOString()} (a deactivation receipt); activate it again for a new file`);
    }
    await this.#update((s) => {
      s.license_file = text;
      s.latest_trusted_ms = Math.max(s.latest_trusted_ms, res.claims.iat * 1000);
    });
    return this.check();
  }

  /**
   * post sends JSON and returns the decoded answer. replayable says the
   * contract makes sending it twice harmless (activate, sync, validate):
   * a request that fails on the network, as on a kept-alive connection the
   * server closed when it restarted, is then sent once more.
   */
  async #post(path, body, { replayable = false } = {}) {
    if (!this.#o.serverURL) throw new Error("no server configured");
    const url = this.#o.serverURL + path;
    // Activations are proved too: a device whose machine changed is
    // rebound only by a call made with its key.
    const prove = true;
    try {
      return await this.#postOnce(url, body, replayable, prove);
    } catch (e) {
      // A proof refused may have been made by a clock minutes off (the
      // answer's Date corrected it) or replayed after a lost answer: one
      // more, freshly made.
      if (!(prove && e instanceof APIError && e.code === "invalid_proof")) throw e;
      return this.#postOnce(url, body, replayable, prove);
    }
  }

  async #postOnce(url, body, replayable, prove) {
    const send = () => {
      const headers = { "content-type": "application/json" };
      if (prove) {
        if (!this.#key) throw new Error("open() the client first: it loads the device key");
        headers.dpop = this.#key.proof("POST", url, this.#o.now() + this.#clockOffsetMs);
      }
      return fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
    };
    let r;
    try {
      r = await send();
    } catch (err) {
      // fetch rejects with a TypeError for network failures only; an HTTP
      // error status is an answer, and is never retried.
      if (!replayable || !(err instanceof TypeError)) throw err;
      r = await send();
    }
    const date = Date.parse(r.headers.get("date") || "");
    if (!Number.isNaN(date)) {
      const offset = date - this.#o.now();
      this.#clockOffsetMs = Math.abs(offset) > 60e3 ? offset : 0;
    }
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not ours */ }
    if (!r.ok) throw new APIError(r.status, json?.error?.code || `http_${r.status}`, json?.error?.message || text.slice(0, 200), retryAfterMs(r.headers.get("retry-after"), Date.now()));
    return json;
  }

  /** activate activates this device with a license key. */
  async activate(licenseKey) {
    if (!this.#key) throw new Error("open() the client first: it loads the device key");
    // Only the fingerprint's SHA-256 leaves the machine; the device's public
    // key goes with it, and the file comes back bound to it (cnf.jkt).
    const out = await this.#post("/api/v1/licensing/activate", { license_key: licenseKey, ...this.#components(),
      device_fingerprint_sha256: fingerprintHash(this.#o.fingerprint), device_public_key: this.#key.publicJWK(),
      device_info: { device_id: this.#o.deviceId, platform: this.#o.platform, app_version: this.#o.appVersion } }, { replayable: true });
    const v = await verifyLicense(out.license_file, { ...this.#trust(), now: this.#o.now(), deviceId: this.#o.deviceId, fingerprint: this.#o.fingerprint });
    if (v.status === Status.INVALID) {
      // The seat was taken for a file this app cannot use: give it back.
      let given = "the seat was given back";
      try {
        await this.#post("/api/v1/licensing/deactivate", { token: out.signed_token, device_id: this.#o.deviceId });
      } catch (e) {
        given = `giving the seat back failed too (${e.message}): deactivate this device in the web admin`;
      }
      throw refusedFile(v.reason, `activate: ${given}`);
    }
    return this.importLicense(out.license_file);
  }

  /**
   * startTrial starts this device's trial of the app's product (or gets it
   * back while it runs) and installs its file: an ordinary device-bound
   * license whose expiry is the trial's end, so check() shows the days
   * left offline. email when the product's trial asks for one. One trial
   * per device: after it ended, or once a paid key replaced it, the server
   * answers APIError code "trial_used".
   */
  async startTrial(email = "") {
    if (!this.#key) throw new Error("open() the client first: it loads the device key");
    const out = await this.#post("/api/v1/licensing/trial", { product: this.#o.product || "", email,
      device_fingerprint_sha256: fingerprintHash(this.#o.fingerprint), device_public_key: this.#key.publicJWK(),
      device_info: { device_id: this.#o.deviceId, platform: this.#o.platform, app_version: this.#o.appVersion } }, { replayable: true });
    const v = await verifyLicense(out.license_file, { ...this.#trust(), now: this.#o.now(), deviceId: this.#o.deviceId, fingerprint: this.#o.fingerprint });
    if (v.status === Status.INVALID) throw refusedFile(v.reason, "startTrial");
    return this.importLicense(out.license_file);
  }

  /**
   * checkout checks out one of a floating license's seats for this device
   * and installs its lease file (a device-bound file that ends with the
   * lease: past it, check() says expired, and the app says there is no
   * free seat). Syncs renew the lease while the app runs; checkin()
   * returns it. borrowDays (up to the plan's max_borrow_days) borrows the
   * seat to go offline: the file lasts that long and is not renewed. When
   * every seat is in use it throws APIError code "no_free_seat", whose
   * retryAfterMs says when the first comes free.
   */
  async checkout(licenseKey, borrowDays = 0) {
    if (!this.#key) throw new Error("open() the client first: it loads the device key");
    this.#checkedIn = false;
    const out = await this.#post("/api/v1/licensing/checkout", { license_key: licenseKey, borrow_days: borrowDays, ...this.#components(),
      device_fingerprint_sha256: fingerprintHash(this.#o.fingerprint), device_public_key: this.#key.publicJWK(),
      device_info: { device_id: this.#o.deviceId, platform: this.#o.platform, app_version: this.#o.appVersion } }, { replayable: true });
    const v = await verifyLicense(out.license_file, { ...this.#trust(), now: this.#o.now(), deviceId: this.#o.deviceId, fingerprint: this.#o.fingerprint });
    if (v.status === Status.INVALID) throw refusedFile(v.reason, "checkout");
    const res = await this.importLicense(out.license_file);
    // Kept so that the loop can check a seat out again when a lease ended.
    await this.#update((st) => { st.lease_key = licenseKey; });
    return res;
  }

  /** The machine's components, for a request body, when the app gave them. */
  #components() {
    return this.#o.components ? { device_components: this.#o.components } : {};
  }

  /** #recheckout checks a seat out again when this device's lease ended (or nearly), with the key checkout kept. */
  async #recheckout() {
    const c = this.#state.license_file ? parse(this.#state.license_file)?.claims : null;
    if (c && (!c.lease_id || c.lease_borrowed || c.exp * 1000 - this.#o.now() > 30e3)) return;
    if (!this.#state.lease_key || this.#checkedIn) return;
    await this.checkout(this.#state.lease_key);
  }

  /** #leaseWaitMs: while a lease (not borrowed) is held, the loop syncs at half what is left of it, so a sync renews it in time. */
  #leaseWaitMs() {
    const c = this.#state.license_file ? parse(this.#state.license_file)?.claims : null;
    if (!c?.lease_id || c.lease_borrowed) return 0;
    return Math.min(86400e3, Math.max(15e3, (c.exp * 1000 - this.#o.now()) / 2));
  }

  /** checkin sends the queue and returns this device's floating seat at once; the lease file is forgotten. */
  async checkin() {
    // A loop run under way (a sync, a re-checkout) finishes first, and no
    // re-checkout follows until checkout() is called again.
    this.#checkedIn = true;
    if (this.#loop?.running) await this.#loop.running;
    const parsed = this.#state.license_file ? parse(this.#state.license_file) : null;
    if (!parsed?.claims?.lease_id) throw new Error("checkin: this device holds no floating seat's lease");
    try { await this.sync(); } catch (e) { if (!(e instanceof APIError)) throw e; }
    await this.#post("/api/v1/licensing/checkin", { token: parsed.compact, device_id: this.#o.deviceId });
    await this.#update((s) => { s.license_file = ""; s.lease_key = ""; });
    this.#parsed = null;
  }

  /** recordUsage queues an event durably; its id is made once, here. */
  async recordUsage(feature, count = 1, durationSeconds = 0) {
    // The server's rules, checked here so that a bad event is refused when
    // recorded instead of being set aside at the next sync.
    const why = checkUsage(feature, count, durationSeconds);
    if (why) throw new Error(`recordUsage: ${why}`);
    if (this.pending() >= this.#o.maxQueue) {
      const e = new Error(`recordUsage: the usage queue is full (${this.#o.maxQueue} events not yet sent): the event was not recorded; sync when online to make room`);
      e.code = "queue_full";
      throw e;
    }
    await this.#enqueue({ kind: "usage", event_id: randomUUID(), feature, count, duration_seconds: durationSeconds, at: this.#o.now() });
  }

  /** heartbeat queues a heartbeat. */
  async heartbeat() {
    if (this.#state.queue.length - this.pending() >= MAX_QUEUED_HEARTBEATS) return;
    await this.#enqueue({ kind: "heartbeat", at: this.#o.now(), app_version: this.#o.appVersion });
  }

  /**
   * sync sends the queue in batches and removes only what the server
   * acknowledged; a failed sync leaves the queue as it was, and a replay
   * of the same events is counted by the server as duplicates.
   */
  async sync() {
    const report = { accepted: 0, duplicates: 0, rejected: 0, status: "", newLicense: false, refusedFile: null, overQuota: [], rebindRefused: null };
    for (;;) {
      const parsed = this.#state.license_file ? parse(this.#state.license_file) : null;
      if (!parsed) throw new Error("no license: activate or import one");
      // Rows the server refuses whatever happens (a clock far off when
      // they were recorded) are set aside before sending, never retried.
      const now = this.#o.now();
      const far = (e) => !(e.at >= Date.UTC(2000, 0, 1) && e.at <= now + 23 * 3600e3);
      if (this.#state.queue.some(far)) report.rejected += await this.#setAside(this.#state.queue.filter(far), "recorded with the clock far off");
      const batch = [];
      let usage = 0, beats = 0;
      for (const e of this.#state.queue) {
        if (e.kind === "usage") {
          if (usage === MAX_BATCH) continue;
          usage++;
        } else {
          if (beats === MAX_HEARTBEATS) continue;
          beats++;
        }
        batch.push(e);
      }
      await this.#send(parsed, batch, report);
      report.updateRequired = report.refusedFile?.code === "update_required";
      if (usage < MAX_BATCH && beats < MAX_HEARTBEATS) return report;
    }
  }

  /**
   * send posts rows and applies the answer. When the server refuses the
   * request as invalid, a row of it is at fault: the rows go again in
   * halves, so the good ones get through and only a row refused on its
   * own is set aside, with the server's reason (about log2(n) more
   * requests per bad row).
   */
  async #send(parsed, rows, report) {
    const cursor = this.#state.revocations.reduce((m, r) => Math.max(m, r.seq), 0);
    const body = (rs) => ({
      token: parsed.compact, device_id: this.#o.deviceId, revocation_cursor: cursor,
      ...(this.#o.components ? { device_fingerprint_sha256: fingerprintHash(this.#o.fingerprint), device_components: this.#o.components } : {}),
      heartbeats: rs.filter((e) => e.kind === "heartbeat").map((e) => ({ at: new Date(e.at).toISOString(), app_version: e.app_version })),
      usage: rs.filter((e) => e.kind === "usage").map((e) => ({ event_id: e.event_id, feature: e.feature, count: e.count,
        duration_seconds: e.duration_seconds, at: new Date(e.at).toISOString() })),
    });
    const req = body(rows);
    let out;
    try {
      out = await this.#post("/api/v1/licensing/sync", req, { replayable: true });
    } catch (e) {
      if (!(e instanceof APIError && e.status === 400 && e.code === "invalid_request" && rows.length > 0)) throw e;
      if (rows.length > 1) {
        const half = rows.length >> 1;
        await this.#send(parsed, rows.slice(0, half), report);
        return this.#send(parsed, rows.slice(half), report);
      }
      // The request without the row, sent and applied as any sync (its
      // answer may carry a file the server signed for this device): if the
      // server refuses that too, the fault is the request's, and the row
      // stays queued.
      await this.#send(parsed, [], report);
      report.rejected += await this.#setAside(rows, `refused by the server: ${e.message.replace(/^license server: 400 invalid_request: /, "")}`);
      return;
    }
    const usage = req.usage.length;
    if (out.accepted + out.duplicates !== usage) throw new Error(`sync: the server acknowledged ${out.accepted + out.duplicates} of ${usage} events; keeping them queued`);
    let newFile = null;
    if (out.license_file) {
      // A file this app cannot verify (a key it does not embed yet) never
      // jams it: the rest of the answer applies, the current file stays,
      // and the report says why (updateRequired: update the app).
      const v = await verifyLicense(out.license_file, { ...this.#trust(), now: Date.parse(out.server_time), deviceId: this.#o.deviceId, fingerprint: this.#o.fingerprint });
      if (v.status === Status.INVALID) report.refusedFile = refusedFile(v.reason, "sync: everything was sent and acknowledged, but the newer license file was not installed");
      else if (v.claims.sub === parsed.claims.sub && v.claims.jti !== parsed.claims.jti) newFile = out.license_file;
    }
    const serverMs = Date.parse(out.server_time);
    await this.#dequeue(rows);
    await this.#update((s) => {
      const known = new Set(s.revocations.map((r) => r.seq));
      for (const r of out.revocations) if (!known.has(r.seq)) s.revocations.push(r);
      s.latest_trusted_ms = serverMs; // the server's clock is the trusted one
      s.last_sync_ms = Math.min(serverMs, this.#o.now());
      if (newFile) s.license_file = newFile;
    });
    await this.#takeKeyRevocations(out.key_revocations);
    report.accepted += out.accepted;
    report.duplicates += out.duplicates;
    report.status = out.status;
    if (out.rebind_refused) report.rebindRefused = { code: String(out.rebind_refused.code), message: String(out.rebind_refused.message) };
    // The monthly quotas (entitlements quota.FEATURE) passed, as the
    // latest answer said: the app decides what to do.
    report.overQuota = (out.over_quota || []).map((q) => ({ feature: q.feature, quota: q.quota, used: q.used }));
    report.newLicense ||= !!newFile;
  }

  /** setAsideEach is setAside with a reason for each row: [{ row, reason }]. */
  async #setAsideEach(pairs) {
    if (!pairs.length) return 0;
    await this.#update((s) => {
      s.rejected ||= [];
      for (const { row, reason } of pairs) s.rejected.push({ ...row, reason });
    });
    await this.#dequeue(pairs.map((p) => p.row));
    return pairs.length;
  }

  /** setAside moves rows from the queue to the rejected list, with why. */
  async #setAside(rows, reason) {
    // Kept first, then dropped from the queue: a crash between the two
    // lists a row twice, never loses it.
    await this.#update((s) => {
      s.rejected ||= [];
      for (const e of rows) s.rejected.push({ ...e, reason });
    });
    await this.#dequeue(rows);
    return rows.length;
  }

  /**
   * rejected lists the queued rows set aside, oldest first: the server
   * refused them (or surely would), so they are kept, never retried, and
   * never counted as pending. Each has kind, at (ms), reason, and for
   * usage eventId, feature, count and durationSeconds (a heartbeat
   * appVersion).
   */
  rejected() {
    return (this.#state.rejected || []).map((e) => ({
      kind: e.kind, at: e.at, reason: e.reason, eventId: e.event_id, feature: e.feature, count: e.count,
      durationSeconds: e.duration_seconds, appVersion: e.app_version,
    }));
  }

  /** validate asks the server whether this device's license is valid now. */
  async validate() {
    if (!this.#state.license_file) throw new Error("no license: activate or import one");
    const v = await this.#post("/api/v1/licensing/validate", { token: parse(this.#state.license_file).compact, device_id: this.#o.deviceId }, { replayable: true });
    // The server's answer in the package's camelCase.
    return { valid: v.valid, reason: v.reason || "", subscriptionTier: v.subscription_tier, expiresAt: v.expires_at ?? null,
      features: v.features || [], daysRemaining: v.days_remaining, inGracePeriod: v.is_in_grace_period };
  }

  /**
   * activationRequest writes the file an air-gapped machine sends to the
   * vendor: armored base64url JSON, with only the fingerprint's SHA-256,
   * and the device's public key, which the file made from it is bound to.
   */
  activationRequest(licenseKey) {
    if (!this.#key) throw new Error("open() the client first: it loads the device key");
    const body = Buffer.from(JSON.stringify({
      license_key: licenseKey.trim().toUpperCase(), device_id: this.#o.deviceId,
      device_fingerprint_sha256: fingerprintHash(this.#o.fingerprint), platform: this.#o.platform,
      app_version: this.#o.appVersion, created_at: new Date(this.#o.now()).toISOString().replace(/\.\d+Z$/, "Z"),
      nonce: randomBytes(16).toString("base64url"), device_public_key: this.#key.publicJWK(),
    })).toString("base64url");
    return "-----BEGIN FLOWLYTIX ACTIVATION REQUEST-----\n" + body.match(/.{1,64}/g).join("\n") + "\n-----END FLOWLYTIX ACTIVATION REQUEST-----\n";
  }

  /** deactivate sends the queue, frees the seat and forgets the license. */
  async deactivate() {
    await this.sync();
    const parsed = parse(this.#state.license_file);
    await this.#post("/api/v1/licensing/deactivate", { token: parsed.compact, device_id: this.#o.deviceId });
    await this.#update((s) => { s.license_file = ""; });
    this.#parsed = null;
  }

  /**
   * syncRequest writes a sync request for an air-gapped machine: what an
   * online sync sends (the license file, the device, the revocation
   * cursor, the queued heartbeats and usage, this machine's clock) and a
   * nonce, signed with the device key. Nothing leaves the queue until the
   * vendor's sync response acknowledges it: a lost file costs nothing.
   */
  async syncRequest() {
    return this.#exclusive(async () => (await this.#exchangeFile(SYNC_REQUEST, "sync")).text);
  }

  /** exclusive runs the exchange's steps one at a time. */
  #exclusive(fn) {
    const next = (this.#xchain || Promise.resolve()).then(fn);
    this.#xchain = next.catch(() => {});
    return next;
  }
  #xchain;

  /**
   * lastDeactivationReceipt is the receipt deactivateOffline wrote last
   * ("" when none), for when the text it returned went missing: it
   * carries the usage that was queued.
   */
  async lastDeactivationReceipt() {
    try {
      return await readFile(`${this.#o.statePath}.receipt`, "utf8");
    } catch (e) {
      if (e.code === "ENOENT") return "";
      throw e;
    }
  }

  /**
   * deactivateOffline removes the license from this machine and returns a
   * deactivation receipt carrying what is still queued: uploading it frees
   * the seat, once. Keep it until it is uploaded: it is the only record
   * of the queued usage.
   */
  async deactivateOffline() {
    return this.#exclusive(async () => {
      if (this.pending() > MAX_EXCHANGE_USAGE || this.pendingHeartbeats() > MAX_EXCHANGE_HEARTBEATS) {
        throw new Error(`deactivateOffline: more is queued than one receipt carries (${MAX_EXCHANGE_USAGE} usage events): write a sync request and import its response first; nothing changed`);
      }
      const { text, rows, parsed } = await this.#exchangeFile(DEACTIVATION_RECEIPT, "deactivate");
      // The receipt is kept beside the state first: once the queue lets
      // go of its rows, it is their only copy.
      const path = `${this.#o.statePath}.receipt`;
      const f = await open(`${path}.${process.pid}.tmp`, "w", 0o600);
      try {
        await f.writeFile(text);
        await f.sync();
      } finally {
        await f.close();
      }
      await rename(`${path}.${process.pid}.tmp`, path);
      await this.#update((s) => {
        s.license_file = "";
        // The license given back is not imported again; a new
        // activation's file, signed later, is.
        s.offline_deactivated = { subscription_id: parsed.claims.sub, device_id: this.#o.deviceId, at: this.#o.now() };
      });
      await this.#dequeue(rows);
      this.#parsed = null;
      return text;
    });
  }

  async #exchangeFile(kind, name) {
    if (!this.#key) throw new Error("open() the client first: it loads the device key");
    const parsed = this.#state.license_file ? parse(this.#state.license_file) : null;
    if (!parsed) throw new Error("no license: activate or import one");
    if (parsed.claims.device_id && parsed.claims.device_id !== this.#o.deviceId) {
      throw new Error(`the license file is bound to device "${parsed.claims.device_id}", and this client was made with deviceId "${this.#o.deviceId}": use that device id`);
    }
    const now = this.#o.now();
    const far = (e) => !(e.at >= Date.UTC(2000, 0, 1) && e.at <= now + 23 * 3600e3);
    if (this.#state.queue.some(far)) await this.#setAside(this.#state.queue.filter(far), "recorded with the clock far off");
    const rows = [];
    let usage = 0, beats = 0, maxN = -1;
    for (const e of this.#state.queue) {
      if (e.kind === "usage" ? usage === MAX_EXCHANGE_USAGE : beats === MAX_EXCHANGE_HEARTBEATS) break;
      if (e.kind === "usage") usage++;
      else beats++;
      rows.push(e);
      maxN = e.n;
    }
    const nonce = randomBytes(16).toString("base64url");
    const cursor = this.#state.revocations.reduce((m, r) => Math.max(m, r.seq), 0);
    const payload = {
      license: parsed.compact, device_id: this.#o.deviceId, subscription_id: parsed.claims.sub, nonce,
      created_at: new Date(now).toISOString(), revocation_cursor: cursor,
      heartbeats: rows.filter((e) => e.kind === "heartbeat").map((e) => ({ at: new Date(e.at).toISOString(), app_version: e.app_version || undefined })),
      usage: rows.filter((e) => e.kind === "usage").map((e) => ({ event_id: e.event_id, feature: e.feature, count: e.count,
        duration_seconds: e.duration_seconds || undefined, at: new Date(e.at).toISOString() })),
    };
    const header = { alg: "ES256", jwk: this.#key.publicJWK(), typ: kind[2] };
    const input = Buffer.from(JSON.stringify(header)).toString("base64url") + "." + deflateRawSync(Buffer.from(JSON.stringify(payload)), { level: 9 }).toString("base64url");
    const text = armor(kind, input + "." + this.#key.sign(input));
    await this.#update((s) => {
      s.exchanges ||= [];
      s.exchanges.push({ nonce, kind: name, created_at: now, max_n: maxN, imported_at: null, server_time: null });
    });
    return { text, rows, parsed };
  }

  /**
   * importSyncResponse applies the vendor's sync response: acknowledged
   * events leave the queue, refused rows are set aside with the reason,
   * revocations apply, the server's time becomes the trusted time and a
   * newer license file is installed. A response for another device or for
   * a request not made here (code "exchange_not_ours"), or one imported
   * before ("exchange_imported"), changes nothing; one older than a
   * response imported before applies only its acknowledgements (stale).
   */
  async importSyncResponse(text) {
    return this.#exclusive(() => this.#importSyncResponse(String(text)));
  }

  async #importSyncResponse(text) {
    const resp = await this.#verifySyncResponse(text);
    if (resp.device_id !== this.#o.deviceId) {
      throw exchangeError("exchange_not_ours", `import sync response: it was made for device "${resp.device_id}", and this machine is "${this.#o.deviceId}"; nothing changed`);
    }
    const ex = (this.#state.exchanges || []).find((x) => x.nonce === resp.nonce && x.kind === "sync");
    if (!ex) throw exchangeError("exchange_not_ours", "import sync response: no sync request made here has its nonce; nothing changed");
    if (ex.imported_at) throw exchangeError("exchange_imported", `import sync response: a response to this sync request was imported already (on ${new Date(ex.imported_at).toISOString()}); nothing changed`);
    const serverMs = Date.parse(resp.server_time);
    const latest = Math.max(0, ...(this.#state.exchanges || []).filter((x) => x.imported_at).map((x) => x.server_time));
    const report = { status: resp.status, serverTime: resp.server_time, acknowledged: 0, heartbeats: 0, rejected: 0, revocations: 0,
      newLicense: false, stale: latest > serverMs, refusedFile: null };
    const inRequest = (e) => e.n <= ex.max_n;
    // One pass over the queue, one write: a response may refuse every row.
    const why = new Map();
    for (const r of resp.rejected) {
      if (r.heartbeat_at) why.set(`h:${Date.parse(r.heartbeat_at)}`, r.reason);
      else if (r.event_id) why.set(`u:${r.event_id}`, r.reason);
    }
    if (why.size) {
      const refused = [];
      for (const e of this.#state.queue) {
        const reason = inRequest(e) && why.get(e.kind === "usage" ? `u:${e.event_id}` : `h:${e.at}`);
        if (reason) refused.push({ row: e, reason: `refused by the server: ${reason}` });
      }
      report.rejected = await this.#setAsideEach(refused);
    }
    const acked = new Set(resp.acknowledged);
    const gone = this.#state.queue.filter((e) => (e.kind === "usage" ? acked.has(e.event_id) : inRequest(e)));
    report.acknowledged = gone.filter((e) => e.kind === "usage").length;
    report.heartbeats = gone.length - report.acknowledged;
    await this.#dequeue(gone);
    let newFile = null;
    if (!report.stale && resp.license_file && this.#state.license_file) {
      const current = parse(this.#state.license_file);
      const v = await verifyLicense(resp.license_file, { ...this.#trust(), now: serverMs, deviceId: this.#o.deviceId, fingerprint: this.#o.fingerprint });
      if (v.status === Status.INVALID) report.refusedFile = refusedFile(v.reason, "import sync response: the newer license file was not installed");
      else if (v.status !== Status.DEVICE_MISMATCH && v.claims.sub === current.claims.sub && v.claims.device_id === current.claims.device_id &&
        v.claims.jti !== current.claims.jti && v.claims.iat >= current.claims.iat) newFile = armor(["-----BEGIN FLOWLYTIX LICENSE-----", "-----END FLOWLYTIX LICENSE-----"], resp.license_file);
    }
    await this.#update((s) => {
      const x = s.exchanges.find((y) => y.nonce === resp.nonce);
      x.imported_at = this.#o.now();
      x.server_time = serverMs;
      if (report.stale) return;
      const known = new Set(s.revocations.map((r) => r.seq));
      for (const r of resp.revocations) {
        if (!known.has(r.seq)) {
          s.revocations.push(r);
          report.revocations++;
        }
      }
      s.latest_trusted_ms = Math.max(s.latest_trusted_ms, serverMs);
      s.last_sync_ms = Math.max(s.last_sync_ms, Math.min(serverMs, this.#o.now()));
      if (newFile) s.license_file = newFile;
    });
    if (!report.stale) await this.#takeKeyRevocations(resp.key_revocations);
    report.newLicense = !!newFile;
    report.updateRequired = report.refusedFile?.code === "update_required";
    return report;
  }

  /** verifySyncResponse checks a sync response's armor, header, signature and members, and decodes it. */
  async #verifySyncResponse(text) {
    const bad = (why) => exchangeError("invalid_exchange", `import sync response: ${why}`);
    if (text.length > MAX_EXCHANGE_FILE) throw bad("the file is too large");
    const t = text.replace(/^\uFEFF/, "").trim();
    if (!t.startsWith(SYNC_RESPONSE[0]) || !t.endsWith(SYNC_RESPONSE[1])) throw bad(`not a sync response: its first line must be ${SYNC_RESPONSE[0]}`);
    const compact = t.slice(SYNC_RESPONSE[0].length, t.length - SYNC_RESPONSE[1].length).replace(/[\r\n \t]+/g, "");
    const parts = compact.split(".");
    if (parts.length !== 3) throw bad("not a JWS compact serialization");
    let header;
    try {
      const headerText = Buffer.from(parts[0], "base64url").toString("utf8");
      for (const [name, m] of checkObject(headerText)) {
        if (!["alg", "kid", "typ"].includes(name) || m.kind !== "string") throw new Error(`header carries "${name}"`);
      }
      header = JSON.parse(headerText);
    } catch (e) {
      throw bad(e.message);
    }
    if (header.alg !== "RS256" || header.typ !== SYNC_RESPONSE[2]) throw bad("not a sync response");
    const inflate = (b64) => {
      try {
        return inflateRawSync(Buffer.from(b64, "base64url"), { maxOutputLength: MAX_EXCHANGE_PAYLOAD }).toString("utf8");
      } catch (e) {
        throw bad(`the payload does not inflate: ${e.message}`);
      }
    };
    const keys = this.#o.jwks ? await parseJWKS(this.#o.jwks) : new Map();
    let key = keys.get(header.kid);
    if (!key && this.#o.rootJwks) {
      let unverified;
      try {
        unverified = JSON.parse(inflate(parts[1]));
      } catch {
        throw bad("not a sync response");
      }
      await this.#takeKeyRevocations(unverified.key_revocations);
      try {
        const got = await endorsedKey(unverified.key_endorsement, this.#o.rootJwks);
        if (got.e.kid !== header.kid) throw new Error("the endorsement is for another key");
        if (await revokedByRoot(header.kid, this.#state.key_revocations, this.#o.rootJwks)) throw new Error("its signing key was revoked by the root");
        if (!(unverified.iat >= got.e.nbf) || (got.e.exp !== undefined && unverified.iat > got.e.exp)) throw new Error("signed outside its key's endorsement window");
        key = got.key;
      } catch (e) {
        throw bad(e.message);
      }
    }
    if (!key) throw bad("signed by an unknown key");
    try {
      await compactVerify(compact, key, { algorithms: ["RS256"] });
    } catch {
      throw bad("bad signature");
    }
    const payload = inflate(parts[1]);
    let members;
    try {
      members = checkObject(payload, { snake: true });
    } catch (e) {
      throw bad(e.message);
    }
    for (const [name, kind] of Object.entries(RESPONSE_MEMBERS)) {
      if (members.get(name)?.kind !== kind) throw bad(`"${name}" must be a ${kind}`);
    }
    for (const [name, m] of members) {
      if (!(name in RESPONSE_MEMBERS) && RESPONSE_OPTIONAL[name] !== m.kind) throw bad(`it carries "${name}", which is not part of the format`);
    }
    const resp = JSON.parse(payload);
    if (resp.iss !== "flowlytix-licensing" || Number.isNaN(Date.parse(resp.server_time))) throw bad("not a sync response of this format");
    return resp;
  }

  /** importRevocations applies a signed revocation list carried in by hand. */
  async importRevocations(jws) {
    const keys = this.#o.jwks ? await parseJWKS(this.#o.jwks) : new Map();
    const compact = String(jws).replace(/\s+/g, "");
    const parts = compact.split(".");
    if (parts.length !== 3) throw new Error("import revocations: not a JWS compact serialization");
    // The same rules as the Go library's license.VerifyJSON: a header of
    // exactly alg, kid and typ, and a payload whose member names are
    // snake_case, unique and ASCII.
    let header;
    try {
      const headerText = Buffer.from(parts[0], "base64url").toString("utf8");
      const members = checkObject(headerText);
      for (const [name, m] of members) {
        if (!["alg", "kid", "typ"].includes(name) || m.kind !== "string") throw new Error(`header carries "${name}"`);
      }
      header = JSON.parse(headerText);
    } catch (e) {
      throw new Error("import revocations: " + e.message);
    }
    if (header.alg !== "RS256" || header.typ !== "flowlytix-revocations+jwt") throw new Error("import revocations: not a revocation list");
    let key = keys.get(header.kid);
    if (!key && this.#o.rootJwks) {
      // An app that pins the root: the list carries its key's endorsement.
      let unverified;
      try {
        unverified = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
      } catch {
        throw new Error("import revocations: not a revocation list");
      }
      await this.#takeKeyRevocations(unverified.key_revocations);
      try {
        const got = await endorsedKey(unverified.key_endorsement, this.#o.rootJwks);
        if (got.e.kid !== header.kid) throw new Error("the endorsement is for another key");
        if (await revokedByRoot(header.kid, this.#state.key_revocations, this.#o.rootJwks)) throw new Error("its signing key was revoked by the root");
        key = got.key;
      } catch (e) {
        throw new Error("import revocations: " + e.message);
      }
    }
    if (!key) throw new Error("import revocations: signed by an unknown key");
    const { payload } = await compactVerify(compact, key, { algorithms: ["RS256"] });
    const text = new TextDecoder().decode(payload);
    try {
      checkObject(text, { snake: true });
    } catch (e) {
      throw new Error("import revocations: " + e.message);
    }
    const list = JSON.parse(text);
    if (!Array.isArray(list.revocations)) throw new Error("import revocations: no revocations list");
    await this.#update((s) => {
      const known = new Set(s.revocations.map((r) => r.seq));
      for (const r of list.revocations) if (!known.has(r.seq)) s.revocations.push(r);
    });
    await this.#takeKeyRevocations(list.key_revocations);
    return list.revocations.length;
  }

  /**
   * takeKeyRevocations keeps the root's statements revoking signing keys
   * (only those a pinned root signed): files of those keys are refused
   * from then on.
   */
  async #takeKeyRevocations(statements) {
    if (!this.#o.rootJwks || !Array.isArray(statements)) return;
    const fresh = [];
    for (const stmt of statements) {
      if (typeof stmt !== "string" || this.#state.key_revocations.includes(stmt)) continue;
      try {
        await parseKeyRevocation(stmt, this.#o.rootJwks);
        fresh.push(stmt);
      } catch { /* not the root's: it revokes nothing */ }
    }
    if (fresh.length) {
      await this.#update((s) => { s.key_revocations.push(...fresh); });
      this.#parsed = null; // the next check verifies the file again
    }
  }

  /**
   * start runs syncs in the background: one soon after start (at a random
   * moment within o.firstWithinMs, default 30 s, so a fleet started
   * together spreads out), then every quarter of the license's check-in
   * period (o.intervalMs overrides it), and at once when online() is
   * called. After a failure it waits twice as long each time, from 30 s to
   * an hour, drawn at random below that (o.backoffBaseMs and
   * o.backoffMaxMs override them), and never less than a Retry-After the
   * server sent. It emits "sync" with each report, "syncError" with
   * { error, retryInMs }, and "status" with the check() result when the
   * status changes. stop() ends it.
   */
  start(o = {}) {
    if (this.#loop) return this;
    const loop = { o, failures: 0, timer: null, running: null, stopped: false, lastStatus: "" };
    this.#loop = loop;
    const interval = () => {
      if (o.intervalMs) return o.intervalMs;
      const days = (this.#state.license_file && parse(this.#state.license_file)?.claims?.check_in_days) || 7;
      return Math.min(LOOP_MAX_INTERVAL, Math.max(LOOP_MIN_INTERVAL, (days * 86400e3) / 4));
    };
    const schedule = (ms) => {
      if (loop.stopped) return;
      clearTimeout(loop.timer);
      loop.timer = setTimeout(run, ms);
      loop.timer.unref?.(); // the loop never keeps the process alive
    };
    const run = async () => {
      if (loop.stopped || loop.running) return;
      loop.running = (async () => {
        try {
          const report = await this.sync();
          this.emit("sync", report);
          // A floating seat: a lease that ended (or that the sync could
          // not renew) is checked out again; no_free_seat backs off below.
          await this.#recheckout();
          loop.failures = 0;
          schedule(this.#leaseWaitMs() || interval());
        } catch (error) {
          loop.failures++;
          const cap = Math.min(o.backoffMaxMs ?? BACKOFF_MAX, (o.backoffBaseMs ?? BACKOFF_BASE) * 2 ** Math.min(loop.failures - 1, 20));
          const retryInMs = Math.max(Math.floor(Math.random() * cap), error instanceof APIError ? error.retryAfterMs : 0);
          this.emit("syncError", { error, retryInMs });
          schedule(retryInMs);
        }
        try {
          const r = await this.check();
          if (r.status !== loop.lastStatus) {
            loop.lastStatus = r.status;
            this.emit("status", r);
          }
        } catch { /* no license yet */ }
      })();
      await loop.running;
      loop.running = null;
    };
    loop.run = run;
    schedule(Math.floor(Math.random() * (o.firstWithinMs ?? 30e3)));
    return this;
  }

  /** online tells the loop the network is back: it syncs now. */
  online() {
    if (this.#loop && !this.#loop.stopped) setImmediate(this.#loop.run);
  }

  /** stop ends the background loop, after a sync under way. */
  async stop() {
    const loop = this.#loop;
    if (!loop) return;
    loop.stopped = true;
    clearTimeout(loop.timer);
    this.#loop = null;
    if (loop.running) await loop.running;
  }

  /** close stops the loop and closes the queue's journal. */
  async close() {
    await this.stop();
    await this.#qchain;
    await this.#journal.close();
  }

  /** pending counts queued usage events. */
  pending() {
    return this.#usageQueued;
  }

  /** pendingHeartbeats counts queued heartbeats (at most 10,000 wait). */
  pendingHeartbeats() {
    return this.#state.queue.length - this.#usageQueued;
  }

  /**
   * licenseFile is the installed license file as the server or the vendor
   * sent it ("" when there is none): an app may offer it for backup or
   * show it to support. It is not a secret.
   */
  licenseFile() {
    return this.#state.license_file;
  }

  /**
   * revocations lists the revocations this app has learned, by sync or
   * by importRevocations, oldest first: seq, subscriptionId, deviceId
   * (when one device was named), state and at (RFC 3339).
   */
  revocations() {
    return this.#state.revocations.map((r) => ({ seq: r.seq, subscriptionId: r.subscription_id, deviceId: r.device_id || "", state: r.state, at: r.at }));
  }
}
