// Offline verification of Flowlytix license files: the same rules, in the
// same order, as the Go library (docs/license-format.md). Both run the
// vectors in testdata/vectors, so they cannot disagree unnoticed.
// Renderer-safe: WebCrypto (through jose) and plain JavaScript only, no
// node: module and no Buffer, so a sandboxed Electron renderer or a browser
// can verify a file (the shared vectors run it in Node and in Chromium).
import { b64urlDecode, b64urlEncode, utf8Decode, utf8Encode, sha256Hex, constantTimeEqual } from "./bytes.js";
import { calculateJwkThumbprint, compactVerify, importJWK } from "jose";
import { checkObject, JSONShapeError } from "./strictjson.js";

export const MAX_FILE_SIZE = 64 << 10;
export const CLOCK_TOLERANCE_MS = 5 * 60 * 1000;
const DAY_MS = 86400 * 1000;
const MAX_DAYS = 10000;
const BEGIN = "-----BEGIN FLOWLYTIX LICENSE-----";
const END = "-----END FLOWLYTIX LICENSE-----";
const TYPE = "flowlytix-license+jwt";

export const Status = Object.freeze({
  INVALID: "invalid",
  CLOCK_TAMPERED: "clock_tampered",
  DEVICE_MISMATCH: "device_mismatch",
  REVOKED: "revoked",
  NOT_YET_VALID: "not_yet_valid",
  EXPIRED: "expired",
  CHECK_IN_REQUIRED: "check_in_required",
  GRACE: "grace",
  VALID: "valid",
});

/** Only valid and grace unlock features. */
export function unlocks(status) {
  return status === Status.VALID || status === Status.GRACE;
}

export class InvalidLicenseError extends Error {}

function invalid(msg) {
  return new InvalidLicenseError("invalid license file: " + msg);
}

// ---- key sets -------------------------------------------------------------

const keySets = new WeakMap();

const JWK_MEMBERS = ["kty", "n", "e", "kid", "alg", "use", "key_ops"];
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

function jwksError(msg) {
  return new Error("parse jwks: " + msg);
}

// uintMember decodes a Base64urlUInt (RFC 7518, section 2): canonical
// unpadded base64url without leading zero bytes, so that one key has one
// encoding and one thumbprint.
function uintMember(jwk, name) {
  const s = jwk[name];
  if (typeof s !== "string") throw new Error(`no ${name}`);
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error(`${name} is not canonical unpadded base64url`);
  const b = b64urlDecode(s);
  if (!b || b64urlEncode(b) !== s) throw new Error(`${name} is not canonical unpadded base64url`);
  if (b.length === 0 || b[0] === 0) throw new Error(`${name} is empty or has leading zero bytes`);
  return b;
}

// checkJWK applies the Go library's rules (keys.ParseJWKS) to one key.
function checkJWK(jwk) {
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw new Error("not a JSON object");
  for (const name of Object.keys(jwk)) {
    if (!/^[\x00-\x7f]*$/.test(name)) throw new Error(`member name ${JSON.stringify(name)} is not ASCII`);
    for (const known of JWK_MEMBERS) {
      if (name !== known && name.toLowerCase() === known) throw new Error(`member "${name}" is not "${known}"`);
    }
  }
  for (const p of PRIVATE_MEMBERS) if (Object.hasOwn(jwk, p)) throw new Error("holds private key material; publish only public keys");
  for (const m of ["kty", "alg", "use", "kid"]) {
    if (Object.hasOwn(jwk, m) && typeof jwk[m] !== "string") throw new Error(`${m} is not a string`);
  }
  if (jwk.kty !== "RSA") throw new Error(`kty ${JSON.stringify(jwk.kty)}, want RSA`);
  if (Object.hasOwn(jwk, "alg") && jwk.alg !== "RS256") throw new Error(`alg "${jwk.alg}", want RS256`);
  if (Object.hasOwn(jwk, "use") && jwk.use !== "sig") throw new Error(`use "${jwk.use}", want sig`);
  if (Object.hasOwn(jwk, "key_ops")) {
    const ops = jwk.key_ops;
    if (!Array.isArray(ops) || !ops.every((o) => typeof o === "string")) throw new Error("key_ops is not a list of strings");
    if (!ops.includes("verify")) throw new Error("key_ops does not allow verify");
  }
  const n = uintMember(jwk, "n");
  const e = uintMember(jwk, "e");
  if (e.length > 4) throw new Error("public exponent e is too large");
  const ev = e.reduce((v, b) => v * 256 + b, 0);
  if (ev > 2 ** 31 - 1) throw new Error("public exponent e is too large");
  // With e = 1 or 2 (or any even e) anyone could forge files.
  if (ev < 3 || ev % 2 === 0) throw new Error(`public exponent ${ev} is not usable`);
  let bits = n.length * 8;
  for (let b = n[0]; b < 0x80 && bits > 0; b <<= 1) bits--;
  if (bits < 2048) throw new Error(`${bits} bits is too small, want at least 2048`);
  if (bits > 8192) throw new Error(`${bits} bits is too large, want at most 8192`);
}

/**
 * parseJWKS reads a public JWKS (an object or its JSON text) into a key set,
 * with the Go library's rules (keys.ParseJWKS): one object and nothing after
 * it, no member name twice or outside ASCII, and every key RSA, public only,
 * canonical n and e, 2048 to 8192 bits, e odd and at least 3, alg RS256,
 * use sig and key_ops allowing verify when they are given, and a kid that is
 * the key's own RFC 7638 thumbprint.
 */
export async function parseJWKS(jwks) {
  if (typeof jwks === "object" && jwks !== null && keySets.has(jwks)) return keySets.get(jwks);
  let set = jwks;
  if (typeof jwks === "string") {
    if (jwks.length > 1 << 20) throw jwksError("over the 1 MiB limit");
    try {
      checkObject(jwks);
    } catch (e) {
      throw jwksError(e.message);
    }
    set = JSON.parse(jwks);
  }
  if (typeof set !== "object" || set === null || Array.isArray(set)) throw jwksError("not a JSON object");
  for (const name of Object.keys(set)) {
    if (name !== "keys" && name.toLowerCase() === "keys") throw jwksError(`member "${name}" is not "keys"`);
  }
  if (!Array.isArray(set.keys) || set.keys.length === 0) throw jwksError("no keys");
  const byKid = new Map();
  for (const [i, jwk] of set.keys.entries()) {
    try {
      checkJWK(jwk);
    } catch (e) {
      throw jwksError(`key ${i}: ${e.message}`);
    }
    const kid = await calculateJwkThumbprint({ kty: "RSA", n: jwk.n, e: jwk.e }, "sha256");
    if (jwk.kid !== undefined && jwk.kid !== kid) throw jwksError(`key ${i}: kid is not the key's thumbprint`);
    byKid.set(kid, await importJWK({ kty: "RSA", n: jwk.n, e: jwk.e }, "RS256"));
  }
  if (typeof jwks === "object") keySets.set(jwks, byKid);
  return byKid;
}

// ---- the file -------------------------------------------------------------

/** unarmor extracts the JWS compact serialization from a license file. */
export function unarmor(input) {
  const text = typeof input === "string" ? input : utf8Decode(input);
  if (utf8Encode(text).length > MAX_FILE_SIZE) throw invalid(`the file is more than the ${MAX_FILE_SIZE} bytes a license file may be`);
  let t = text.replace(/^\uFEFF/, "").replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
  if (t.startsWith("-----")) {
    if (!t.startsWith(BEGIN)) throw invalid(`the first line is not ${BEGIN}`);
    if (!t.endsWith(END)) throw invalid(`the last line is not ${END}`);
    t = t.slice(BEGIN.length, t.length - END.length);
  }
  const compact = t.replace(/[\r\n \t]/g, "");
  if (compact === "") throw invalid("empty file");
  return compact;
}

function segment(name, s) {
  if (s === "") throw invalid(`empty ${name}`);
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw invalid(`${name} is not unpadded base64url`);
  const b = b64urlDecode(s);
  if (!b || b64urlEncode(b) !== s) throw invalid(`${name} is not canonical base64url`);
  return b;
}

const CLAIM_KINDS = {
  iss: "string", aud: "string", sub: "string", jti: "string",
  iat: "number", nbf: "number", exp: "number", license_version: "number",
  customer_id: "string", tenant_id: "string", tier: "string",
  features: "array", max_devices: "number",
  starts_at: "string", expires_at: "string",
  grace_period_days: "number", check_in_days: "number", max_offline_days: "number",
  device_id: "string", device_fingerprint_sha256: "string",
  key_endorsement: "string", entitlements: "object", cnf: "object",
  lease_id: "string", lease_borrowed: "boolean",
};
const OPTIONAL = new Set(["device_id", "device_fingerprint_sha256", "key_endorsement", "entitlements", "cnf", "lease_id", "lease_borrowed"]);
const UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

// confirmationOf reads cnf (RFC 7800) as the Go verifier does: an object
// carrying jkt, a SHA-256 JWK thumbprint in base64url; a file bound to a
// key it cannot name is refused rather than read as bound to none.
function confirmationOf(raw) {
  const members = checkObject(raw);
  for (const name of members.keys()) {
    if (name !== "jkt" && name.toLowerCase() === "jkt") throw invalid(`claims: cnf: "${name}" is not "jkt"`);
  }
  const m = members.get("jkt");
  if (!m || m.kind !== "string") throw invalid("claims: cnf must carry jkt, a string");
  const jkt = JSON.parse(m.raw);
  if (!THUMBPRINT.test(jkt) || b64urlEncode(b64urlDecode(jkt)) !== jkt) throw invalid("claims: cnf.jkt must be a SHA-256 JWK thumbprint: 43 characters of base64url");
  return { jkt };
}

/** The default product's audience: files made before products carry it. */
export const DEFAULT_PRODUCT = "flowlytix-app";
const AUDIENCE = /^[a-z0-9][a-z0-9._-]{0,99}$/;
const ENTITLEMENT_NAME = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
const MAX_ENTITLEMENTS = 100;
const MAX_ENTITLEMENT_STRING = 128; // bytes of UTF-8
const MAX_ENTITLEMENT_INT = Number.MAX_SAFE_INTEGER; // 2^53-1, as the Go verifier

// entitlementsOf holds the entitlements claim to the Go verifier's rules
// (license.ParseEntitlements): names as features, values whole numbers
// within ±(2^53-1) written without fraction or exponent, booleans, or
// strings of at most 128 UTF-8 bytes without control characters.
function entitlementsOf(raw) {
  const members = checkObject(raw);
  if (members.size > MAX_ENTITLEMENTS) throw invalid(`claims: entitlements: ${members.size} is more than ${MAX_ENTITLEMENTS}`);
  const out = {};
  for (const [name, m] of members) {
    if (!ENTITLEMENT_NAME.test(name)) throw invalid(`claims: entitlements: ${JSON.stringify(name)} is not an entitlement name`);
    let v;
    if (m.kind === "boolean") v = m.raw === "true";
    else if (m.kind === "number") {
      v = Number(m.raw);
      if (!INTEGER.test(m.raw) || m.raw === "-0" || Math.abs(v) > MAX_ENTITLEMENT_INT) throw invalid(`claims: entitlements: "${name}" is ${m.raw}; a number must be a whole number from -${MAX_ENTITLEMENT_INT} to ${MAX_ENTITLEMENT_INT}`);
    } else if (m.kind === "string") {
      v = JSON.parse(m.raw);
      if (new TextEncoder().encode(v).length > MAX_ENTITLEMENT_STRING) throw invalid(`claims: entitlements: "${name}" is longer than ${MAX_ENTITLEMENT_STRING} bytes`);
      if (/[\x00-\x1f\x7f]/.test(v)) throw invalid(`claims: entitlements: "${name}" holds a control character`);
      // As the Go verifier: a lone surrogate (which Go reads as U+FFFD)
      // and U+FFFD itself are refused.
      if (/\uFFFD/.test(v) || /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v)) throw invalid(`claims: entitlements: "${name}" holds U+FFFD or a lone surrogate`);
    } else throw invalid(`claims: entitlements: "${name}" is ${m.raw}; want a whole number, true, false or a short string`);
    Object.defineProperty(out, name, { value: v, enumerable: true });
  }
  return out;
}

/**
 * entitlement returns the named entitlement of verified claims (a number,
 * a boolean or a string), or undefined when the license has none by that
 * name.
 */
export function entitlement(claims, name) {
  const e = claims?.entitlements;
  return e && Object.hasOwn(e, name) ? e[name] : undefined;
}
const INTEGER = /^-?(0|[1-9]\d*)$/;
const UTC_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.0+)?Z$/;

function utcSeconds(name, s) {
  const m = UTC_TIME.exec(s);
  const bad = () => invalid(`claims: ${name} "${s}" is not an RFC 3339 UTC time in whole seconds`);
  if (!m) throw bad();
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, se);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) throw bad();
  return ms / 1000;
}

/** parse decodes a license file without verifying its signature. */
export function parse(input) {
  const compact = unarmor(input);
  const parts = compact.split(".");
  if (parts.length !== 3) throw invalid(`a JWS compact serialization has 3 segments, this has ${parts.length}`);
  const headerText = utf8Decode(segment("header", parts[0]));
  let members;
  try {
    members = checkObject(headerText);
  } catch (e) {
    throw invalid(`header: ${e.message}`);
  }
  for (const [name, m] of members) {
    if (!["alg", "kid", "typ"].includes(name)) throw invalid(`header carries "${name}"; only alg, kid and typ are allowed`);
    if (m.kind !== "string") throw invalid(`header "${name}" is a ${m.kind}, want a string`);
  }
  const header = JSON.parse(headerText);
  if (header.alg !== "RS256") throw invalid(`alg is "${header.alg}", only RS256 is accepted`);
  if (header.typ !== TYPE) throw invalid(`typ is "${header.typ}", want "${TYPE}"`);
  if (!header.kid) throw invalid("header has no kid");
  const payloadText = utf8Decode(segment("payload", parts[1]));
  segment("signature", parts[2]);
  const claims = decodeClaims(payloadText);
  return { header, claims, compact };
}

function decodeClaims(text) {
  let members;
  try {
    members = checkObject(text);
  } catch (e) {
    throw invalid(`claims: ${e instanceof JSONShapeError ? e.message : "not JSON"}`);
  }
  for (const name of members.keys()) {
    const lower = name.toLowerCase();
    if (lower !== name && Object.hasOwn(CLAIM_KINDS, lower)) throw invalid(`claims: "${name}" is not "${lower}": claim names are lowercase`);
  }
  for (const [name, want] of Object.entries(CLAIM_KINDS)) {
    const m = members.get(name);
    if (!m) {
      if (!OPTIONAL.has(name)) throw invalid(`claims: missing "${name}"`);
      continue;
    }
    if (m.kind !== want) throw invalid(`claims: "${name}" is a ${m.kind}, want a ${want}`);
    if (want === "number" && !INTEGER.test(m.raw)) throw invalid(`claims: "${name}" is not an integer`);
  }
  const c = JSON.parse(text);
  if (members.has("entitlements")) {
    c.entitlements = entitlementsOf(members.get("entitlements").raw);
    if (Object.keys(c.entitlements).length === 0) delete c.entitlements;
  }
  if (members.has("cnf")) c.cnf = confirmationOf(members.get("cnf").raw);
  if (c.iss !== "flowlytix-licensing") throw invalid(`claims: iss is "${c.iss}"`);
  if (!AUDIENCE.test(c.aud)) throw invalid(`claims: aud "${c.aud}" is not a product audience`);
  if (c.license_version !== 1) throw invalid(`claims: license_version is ${c.license_version}, want 1`);
  for (const k of ["sub", "jti", "customer_id", "tenant_id", "tier"]) if (c[k] === "") throw invalid(`claims: ${k} is empty`);
  if (c.max_devices < 1) throw invalid("claims: max_devices must be at least 1");
  for (const k of ["grace_period_days", "check_in_days", "max_offline_days"]) {
    if (c[k] < 0 || c[k] > MAX_DAYS) throw invalid(`claims: ${k} out of range`);
  }
  if (!c.features.every((f) => typeof f === "string" && f !== "")) throw invalid("claims: features must be non-empty strings");
  const starts = utcSeconds("starts_at", c.starts_at);
  const expires = utcSeconds("expires_at", c.expires_at);
  if (!(expires > starts)) throw invalid("claims: expires_at must be after starts_at");
  if (c.nbf !== starts) throw invalid("claims: nbf disagrees with starts_at");
  if (c.exp !== expires + c.grace_period_days * 86400) throw invalid("claims: exp is not expires_at plus the grace period");
  const hasID = members.has("device_id");
  if (hasID !== members.has("device_fingerprint_sha256")) throw invalid("claims: device_id and device_fingerprint_sha256 go together");
  if (members.has("cnf") && !hasID) throw invalid("claims: cnf binds a device key, and the file is bound to no device");
  const hasLease = members.has("lease_id");
  if (hasLease !== members.has("lease_borrowed")) throw invalid("claims: lease_id and lease_borrowed go together");
  if (hasLease && !hasID) throw invalid("claims: a lease is a device's, and the file is bound to no device");
  if (hasLease && !UUID.test(c.lease_id)) throw invalid("claims: lease_id must be a UUID");
  if (hasLease && c.grace_period_days !== 0) throw invalid("claims: a lease has no grace: grace_period_days must be 0");
  if (hasID) {
    if (c.device_id === "") throw invalid("claims: device_id is empty");
    if (!/^[0-9a-f]{64}$/.test(c.device_fingerprint_sha256)) throw invalid("claims: device_fingerprint_sha256 must be 64 lowercase hex digits");
  }
  return c;
}

// ---- the outcome ----------------------------------------------------------

/** fingerprintHash is how a raw fingerprint appears in files and requests. */
export function fingerprintHash(fingerprint) {
  return sha256Hex(fingerprint);
}

const ms = (t) => (t === undefined || t === null || t === "" ? 0 : t instanceof Date ? t.getTime() : typeof t === "number" ? t : Date.parse(t));

/** The reason of a revoked outcome whose device was deactivated on the server. */
export const REASON_DEACTIVATED = "this device was deactivated; activate it again";

// revokedState is the blocking state of the file's subscription or of the
// device: for each only its latest entry counts; a device's "deactivated"
// counts against files signed no later than it (iat at or before the
// entry's time, in whole seconds), so activating again is not undone by it.
function revokedState(c, deviceId, entries) {
  const sub = c.sub;
  let subE = null;
  let devE = null;
  for (const e of entries || []) {
    if (e.subscription_id !== sub) continue;
    if (!e.device_id) {
      if (!subE || e.seq > subE.seq) subE = e;
    } else if (e.device_id === deviceId) {
      if (!devE || e.seq > devE.seq) devE = e;
    }
  }
  for (const e of [subE, devE]) {
    if (e && ["revoked", "suspended", "blocked"].includes(e.state)) return e.state;
    if (e && e === devE && e.state === "deactivated" && c.iat <= Math.floor(Date.parse(e.at) / 1000)) return e.state;
  }
  return "";
}

function sameDevice(c, deviceId, fingerprint) {
  if (deviceId !== c.device_id || !fingerprint) return false;
  return constantTimeEqual(fingerprintHash(fingerprint), String(c.device_fingerprint_sha256));
}

/**
 * evaluate applies the time, device and revocation rules to verified
 * claims. opts: {now, deviceId, fingerprint, state: {latestTrustedTime,
 * lastSync, revocations}}; times as Date, milliseconds or RFC 3339 text.
 */
export function evaluate(c, opts = {}) {
  const now = opts.now === undefined ? Date.now() : ms(opts.now);
  const state = opts.state || {};
  const iat = c.iat * 1000, nbf = c.nbf * 1000, exp = c.exp * 1000;
  const expiresAt = Date.parse(c.expires_at);
  const res = { status: Status.VALID, reason: "", claims: c, daysRemaining: 0, inGrace: false, graceDaysRemaining: 0 };
  if (expiresAt - now > 0) res.daysRemaining = Math.floor((expiresAt - now) / DAY_MS);
  const trusted = Math.max(iat, ms(state.latestTrustedTime));
  const deviceId = opts.deviceId || c.device_id || "";
  const rev = revokedState(c, deviceId, state.revocations);
  const lastCheckIn = Math.max(iat, ms(state.lastSync));
  if (now < trusted - CLOCK_TOLERANCE_MS) {
    res.status = Status.CLOCK_TAMPERED;
    res.reason = "the clock reads earlier than the latest trusted time";
  } else if (c.device_id !== undefined && !sameDevice(c, opts.deviceId, opts.fingerprint)) {
    res.status = Status.DEVICE_MISMATCH;
    res.reason = "the file is bound to another device";
  } else if (rev) {
    res.status = Status.REVOKED;
    res.reason = rev === "deactivated" ? REASON_DEACTIVATED : "the cached revocation list says " + rev;
  } else if (now < nbf) {
    res.status = Status.NOT_YET_VALID;
    res.reason = "the license starts at " + c.starts_at;
  } else if (now >= exp) {
    res.status = Status.EXPIRED;
    res.reason = "the license and its grace period have ended";
  } else if (c.max_offline_days > 0 && now > lastCheckIn + c.max_offline_days * DAY_MS) {
    res.status = Status.CHECK_IN_REQUIRED;
    res.reason = `no successful sync within ${c.max_offline_days} days`;
  } else if (now > expiresAt) {
    res.status = Status.GRACE;
    res.inGrace = true;
    res.graceDaysRemaining = Math.floor((exp - now) / DAY_MS);
    res.reason = "the license has expired; grace ends at " + new Date(exp).toISOString();
  }
  return res;
}

/**
 * verifyLicense checks a license file offline, with no network: form,
 * signature (RS256 only, with a key from the app's own JWKS), then device,
 * cached state and clock. It resolves to exactly one status; it never
 * rejects for a bad file (the status is "invalid").
 */
export async function verifyLicense(text, opts) {
  let parsed;
  try {
    parsed = parse(text);
    const keys = opts.jwks ? await parseJWKS(opts.jwks) : new Map();
    const key = keys.get(parsed.header.kid);
    if (key) await compactVerify(parsed.compact, key, { algorithms: ["RS256"] });
    else if (opts.rootJwks) await verifyThroughRoot(parsed, opts.rootJwks, opts.keyRevocations || []);
    else throw invalid(`signed by unknown key "${parsed.header.kid}"`);
    const product = opts.product || DEFAULT_PRODUCT;
    if (parsed.claims.aud !== product) throw invalid(`the file is for the product "${parsed.claims.aud}", and this app is "${product}"`);
  } catch (e) {
    return { status: Status.INVALID, reason: e instanceof InvalidLicenseError ? e.message : "invalid license file: " + (e.code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? "bad signature" : e.message),
      claims: null, daysRemaining: 0, inGrace: false, graceDaysRemaining: 0 };
  }
  const res = evaluate(parsed.claims, opts);
  res.token = parsed.compact;
  return res;
}

// ---- a pinned root (docs/license-format.md, section 4.1) ------------------

export const ENDORSEMENT_TYPE = "flowlytix-key-endorsement+jwt";
export const KEY_REVOCATION_TYPE = "flowlytix-key-revocation+jwt";
const endorsements = new Map(); // compact endorsement -> { e, key }, checked

// rootDocument verifies a JWS signed by a root key: a header of exactly
// alg, kid and typ (strings), the given typ, and a payload whose member
// names are snake_case; it resolves to the payload and its members.
async function rootDocument(compact, roots, typ, what) {
  const parts = String(compact).split(".");
  if (parts.length !== 3) throw invalid(`${what}: not a JWS compact serialization`);
  let header;
  try {
    const headerText = utf8Decode(segment(`${what} header`, parts[0]));
    for (const [name, m] of checkObject(headerText)) {
      if (!["alg", "kid", "typ"].includes(name) || m.kind !== "string") throw invalid(`${what}: header carries "${name}"`);
    }
    header = JSON.parse(headerText);
  } catch (e) {
    throw e instanceof InvalidLicenseError ? e : invalid(`${what}: ${e.message}`);
  }
  if (header.alg !== "RS256" || header.typ !== typ) throw invalid(`${what}: not a ${typ}`);
  const key = roots.get(header.kid);
  if (!key) throw invalid(`${what}: not signed by a trusted root`);
  let payload;
  try {
    ({ payload } = await compactVerify(String(compact), key, { algorithms: ["RS256"] }));
  } catch {
    throw invalid(`${what}: bad signature`);
  }
  const text = new TextDecoder().decode(payload);
  let members;
  try {
    members = checkObject(text, { snake: true });
  } catch (e) {
    throw invalid(`${what}: ${e.message}`);
  }
  return { doc: JSON.parse(text), members };
}

function requireMembers(members, want, what) {
  for (const [name, kind] of Object.entries(want)) {
    const m = members.get(name);
    if (!m) throw invalid(`${what}: missing "${name}"`);
    if (m.kind !== kind) throw invalid(`${what}: "${name}" is a ${m.kind}, want a ${kind}`);
    if (kind === "number" && !INTEGER.test(m.raw)) throw invalid(`${what}: "${name}" is not an integer`);
  }
}

// verifyThroughRoot accepts a file whose signer a root endorsed, in the
// order of docs/license-format.md, section 4.1.
async function verifyThroughRoot(parsed, rootJwks, keyRevocations) {
  const got = await endorsedKey(parsed.claims.key_endorsement, rootJwks);
  const notEndorsed = (why) => invalid(`its signing key is not endorsed by a trusted root: ${why}`);
  if (got.e.kid !== parsed.header.kid) throw notEndorsed(`the endorsement is for key "${got.e.kid}", the file is signed by "${parsed.header.kid}"`);
  const iat = parsed.claims.iat;
  if (iat < got.e.nbf || (got.e.exp !== undefined && iat > got.e.exp)) throw notEndorsed("the file was signed outside its key's endorsement window");
  if (await revokedByRoot(parsed.header.kid, keyRevocations, rootJwks)) throw invalid(`its signing key "${parsed.header.kid}" was revoked by the root`);
  try {
    await compactVerify(parsed.compact, got.key, { algorithms: ["RS256"] });
  } catch {
    throw invalid("bad signature");
  }
}

// revokedByRoot reports whether one of the statements is a root's
// revocation of kid; a statement the root did not sign revokes nothing.
export async function revokedByRoot(kid, keyRevocations, rootJwks) {
  for (const stmt of keyRevocations || []) {
    try {
      if ((await parseKeyRevocation(stmt, rootJwks)).kid === kid) return true;
    } catch {
      // not the root's
    }
  }
  return false;
}

/**
 * endorsedKey checks an endorsement against the pinned roots and resolves
 * to { e: the endorsement's payload, key: the endorsed public key },
 * remembering each one checked.
 */
export async function endorsedKey(compact, rootJwks) {
  const notEndorsed = (why) => invalid(`its signing key is not endorsed by a trusted root: ${why}`);
  if (!compact) throw notEndorsed("the file carries no endorsement");
  const roots = await parseJWKS(rootJwks);
  let got = endorsements.get(compact);
  if (!got) {
    const { doc: e, members } = await rootDocument(compact, roots, ENDORSEMENT_TYPE, "endorsement");
    requireMembers(members, { iss: "string", use: "string", kid: "string", jwk: "object", iat: "number", nbf: "number" }, "endorsement");
    if (members.has("exp")) requireMembers(members, { exp: "number" }, "endorsement");
    if (e.iss !== "flowlytix-licensing") throw notEndorsed(`iss "${e.iss}"`);
    if (e.use !== "license-signing") throw notEndorsed(`an endorsement for use "${e.use}"`);
    try {
      checkJWK({ kty: e.jwk.kty, n: e.jwk.n, e: e.jwk.e });
    } catch (err) {
      throw notEndorsed(`the endorsed jwk: ${err.message}`);
    }
    const thumb = await calculateJwkThumbprint({ kty: "RSA", n: e.jwk.n, e: e.jwk.e }, "sha256");
    if (thumb !== e.kid) throw notEndorsed("the endorsement's kid is not its key's thumbprint");
    got = { e, key: await importJWK({ kty: "RSA", n: e.jwk.n, e: e.jwk.e }, "RS256") };
    if (endorsements.size >= 64) endorsements.clear();
    endorsements.set(compact, got);
  }
  return got;
}

/**
 * parseKeyRevocation verifies a root's statement that a signing key is
 * revoked (licensectl root revoke-key) and resolves to { iss, kid, iat }.
 */
export async function parseKeyRevocation(statement, rootJwks) {
  const { doc, members } = await rootDocument(String(statement).trim(), await parseJWKS(rootJwks), KEY_REVOCATION_TYPE, "key revocation");
  requireMembers(members, { iss: "string", kid: "string", iat: "number" }, "key revocation");
  if (doc.iss !== "flowlytix-licensing" || doc.kid === "") throw invalid("key revocation: not a statement of this format");
  return doc;
}
