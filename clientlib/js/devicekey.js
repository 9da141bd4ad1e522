// The device key: an ECDSA P-256 key pair made at activation, kept in the
// state file (0600) or, through a protector hook, in the OS keychain. Its
// public half goes to the server and into activation requests; every call
// after activation carries an RFC 9449 DPoP proof made with it, so that a
// copied license file (not a secret) cannot drive the app API.
import { generateKeyPairSync, createPrivateKey, createHash, sign, randomBytes } from "node:crypto";

/** publicJWK is the key's public half with its members in RFC 7638 order. */
function publicJWK(jwk) {
  return { crv: "P-256", kty: "EC", x: jwk.x, y: jwk.y };
}

export class DeviceKey {
  #key; // the node:crypto KeyObject
  #jwk; // the private JWK
  constructor(jwk) {
    if (!jwk || jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.d || !jwk.x || !jwk.y) throw new Error("device key: not a P-256 private JWK");
    this.#key = createPrivateKey({ key: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d }, format: "jwk" });
    // Checks that x and y are d's public half, as the Go client does.
    const pub = this.#key.export({ format: "jwk" });
    if (pub.x !== jwk.x || pub.y !== jwk.y) throw new Error("device key: x and y are not the public half of d");
    this.#jwk = { crv: "P-256", d: jwk.d, kty: "EC", x: jwk.x, y: jwk.y };
  }

  static generate() {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    return new DeviceKey(privateKey.export({ format: "jwk" }));
  }

  /** The private JWK, as text: what the state file (or the protector) keeps. */
  toJSON() {
    return this.#jwk;
  }

  /** The public JWK (device_public_key). */
  publicJWK() {
    return publicJWK(this.#jwk);
  }

  /** The RFC 7638 SHA-256 thumbprint, base64url: what cnf.jkt says. */
  thumbprint() {
    return createHash("sha256").update(JSON.stringify(publicJWK(this.#jwk))).digest("base64url");
  }

  /** sign is an ES256 signature (r || s, base64url) over a JWS signing input. */
  sign(input) {
    return sign("sha256", Buffer.from(input), { key: this.#key, dsaEncoding: "ieee-p1363" }).toString("base64url");
  }

  /**
   * proof makes a DPoP proof for one request: method, the URL without
   * query or fragment, the time (ms) and a fresh jti.
   */
  proof(method, url, nowMs) {
    const u = new URL(url);
    const htu = `${u.protocol}//${u.host}${u.pathname}`;
    const header = { alg: "ES256", jwk: publicJWK(this.#jwk), typ: "dpop+jwt" };
    const claims = { jti: randomBytes(16).toString("base64url"), htm: method, htu, iat: Math.floor(nowMs / 1000) };
    const input = Buffer.from(JSON.stringify(header)).toString("base64url") + "." + Buffer.from(JSON.stringify(claims)).toString("base64url");
    const sig = sign("sha256", Buffer.from(input), { key: this.#key, dsaEncoding: "ieee-p1363" });
    return input + "." + sig.toString("base64url");
  }
}
