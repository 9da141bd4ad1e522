export { verifyLicense, evaluate, parse, parseJWKS, unarmor, fingerprintHash, unlocks, Status, InvalidLicenseError, MAX_FILE_SIZE, CLOCK_TOLERANCE_MS } from "./verify.js";
export { LicenseClient, APIError } from "./client.js";
