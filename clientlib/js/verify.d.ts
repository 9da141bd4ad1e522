// The renderer-safe entry point (@flowlytix/licensing/verify): offline
// verification with WebCrypto only, for a sandboxed Electron renderer or a
// browser. The same declarations as the package's.
export {
  verifyLicense, evaluate, parse, parseJWKS, parseKeyRevocation, unarmor, fingerprintHash, unlocks, entitlement, Status, DEFAULT_PRODUCT, REASON_DEACTIVATED,
  InvalidLicenseError, MAX_FILE_SIZE, CLOCK_TOLERANCE_MS, ENDORSEMENT_TYPE, KEY_REVOCATION_TYPE,
  type Claims, type Result, type VerifyOptions, type Revocation, type Time,
} from "./index.js";
