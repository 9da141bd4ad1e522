export { verifyLicense, evaluate, parse, parseJWKS, parseKeyRevocation, unarmor, fingerprintHash, unlocks, entitlement, Status, InvalidLicenseError, MAX_FILE_SIZE, CLOCK_TOLERANCE_MS, ENDORSEMENT_TYPE, KEY_REVOCATION_TYPE, DEFAULT_PRODUCT, REASON_DEACTIVATED } from "./verify.js";
export { LicenseClient, APIError, checkUsage } from "./client.js";
export { machineFingerprint, machineComponents, componentValue, componentsFingerprint, matchComponents, COMPONENT_NAMES, DEFAULT_COMPONENT_MATCH } from "./fingerprint.js";
