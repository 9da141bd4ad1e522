// machineFingerprint: this machine's stable id, salted per app and hashed,
// the same value as the Go client's MachineFingerprint for the same machine
// and app id (clientlib/fingerprint.go; a Go test compares the two).
import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { readFile, writeFile, mkdir, readdir, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, dirname } from "node:path";

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    // windowsHide: no console window flashes in a GUI app.
    execFile(cmd, args, { windowsHide: true, timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(String(stdout))));
  });
}

/** The system's own machine id, or "" where it has none. */
async function machineID(platform) {
  try {
    if (platform === "win32") {
      const m = /MachineGuid\s+REG_SZ\s+([0-9A-Fa-f-]+)/.exec(await run("reg", ["query", "HKLM\\SOFTWARE\\Microsoft\\Cryptography", "/v", "MachineGuid"]));
      return m ? m[1] : "";
    }
    if (platform === "darwin") {
      const m = /"IOPlatformUUID" = "([0-9A-Fa-f-]+)"/.exec(await run("ioreg", ["-rd1", "-c", "IOPlatformExpertDevice"]));
      return m ? m[1] : "";
    }
    for (const p of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
      try {
        const id = (await readFile(p, "utf8")).trim();
        if (id) return id;
      } catch { /* the next one */ }
    }
  } catch { /* no id: the fallback */ }
  return "";
}

/** The user's config directory, as Go's os.UserConfigDir finds it. */
function configDir(platform, env) {
  if (platform === "win32") return env.AppData || env.APPDATA || join(homedir(), "AppData", "Roaming");
  if (platform === "darwin") return join(homedir(), "Library", "Application Support");
  return env.XDG_CONFIG_HOME || join(homedir(), ".config");
}

/** A random id made once and kept where the Go client keeps its own. */
async function fallbackID(platform, env) {
  const path = join(configDir(platform, env), "flowlytix", "machine-id");
  try {
    const id = (await readFile(path, "utf8")).trim();
    if (id.length >= 32) return id;
  } catch { /* make one */ }
  const id = randomBytes(16).toString("hex");
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, id + "\n", { mode: 0o600 });
  return id;
}

/**
 * machineFingerprint returns a fingerprint of this machine for one app:
 * Windows MachineGuid, macOS IOPlatformUUID or Linux machine-id (a random
 * id kept in the user's config directory where there is none), salted with
 * appId and hashed with SHA-256, so two apps see different values and the
 * raw id never leaves the machine.
 */
export async function machineFingerprint(appId, { platform = process.platform, env = process.env } = {}) {
  if (typeof appId !== "string" || !appId) throw new Error("machineFingerprint: appId is required (e.g. com.acme.editor)");
  let id = (await machineID(platform)).trim();
  if (!id) id = await fallbackID(platform, env);
  return componentValue(appId, "machine_id", id);
}

// ---- components (docs/license-format.md, section 3.6) -------------------------
// The same rules as the Go client (clientlib/components.go and
// license/components.go); testdata/vectors/components.json and a Go test on
// Linux hold the two to one answer.

/** The component names, in their canonical order. */
export const COMPONENT_NAMES = Object.freeze(["board", "disk", "machine_id", "mac", "os_install"]);
/** How many components must match unless the product says otherwise. */
export const DEFAULT_COMPONENT_MATCH = 3;

const sha256 = (s) => createHash("sha256").update(s).digest("hex");

/** normalizeComponent trims ASCII blank space and lowercases A to Z, nothing else (as Go's license.NormalizeComponent). */
export function normalizeComponent(raw) {
  return raw.replace(/^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g, "").replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** componentValue salts and hashes one component's raw value. */
export function componentValue(appId, name, raw) {
  const v = normalizeComponent(String(raw));
  if (name === "machine_id") return sha256(`flowlytix-fingerprint\0${appId}\0${v}`);
  return sha256(`flowlytix-component\0${appId}\0${name}\0${v}`);
}

/** componentsFingerprint is the fingerprint a component set makes. */
export function componentsFingerprint(components) {
  const names = Object.keys(components).sort();
  return sha256("flowlytix-components\n" + names.map((n) => `${n}=${components[n]}\n`).join(""));
}

/**
 * matchComponents compares a machine's components with those a device was
 * bound to: it matches when at least `need` are the same (every stored one
 * when fewer are stored); one no longer offered counts as changed. A
 * failed match with the same machine_id is a clone.
 */
export function matchComponents(stored, presented, need = DEFAULT_COMPONENT_MATCH) {
  if (!(need >= 1)) need = DEFAULT_COMPONENT_MATCH;
  const has = (o, n) => Object.prototype.hasOwnProperty.call(o, n);
  const m = { same: [], changed: [], added: [], removed: [], need: Math.min(need, Object.keys(stored).length) };
  for (const n of COMPONENT_NAMES) {
    const s = has(stored, n), p = has(presented, n);
    if (s && p && stored[n] === presented[n]) m.same.push(n);
    else if (s && p) m.changed.push(n);
    else if (s) m.removed.push(n);
    else if (p) m.added.push(n);
  }
  m.matched = m.need > 0 && m.same.length >= m.need;
  m.clone = !m.matched && !!stored.machine_id && stored.machine_id === presented.machine_id;
  return m;
}

const JUNK = new Set(["", "none", "0", "default string", "not specified", "not applicable", "to be filled by o.e.m.", "system serial number",
  "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "03000200-0400-0500-0006-000700080009", "00:00:00:00:00:00"]);

async function readValue(path) {
  try {
    const b = await readFile(path);
    if (b.length > 4096) return "";
    // Printable ASCII only: bytes no two languages decode alike are no value.
    const v = b.toString("latin1").replace(/^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g, "");
    if (/[^\x20-\x7e]/.test(v)) return "";
    return JUNK.has(normalizeComponent(v)) ? "" : v;
  } catch {
    return "";
  }
}

async function sortedDir(dir) {
  try {
    // Go sorts names by bytes; so does this (no locale).
    return (await readdir(dir)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch {
    return [];
  }
}

/** What Linux offers below root: the rules of clientlib/components.go. */
async function linuxComponents(root) {
  const at = (...p) => join(root, ...p);
  const out = {};
  for (const p of ["etc/machine-id", "var/lib/dbus/machine-id"]) {
    const v = await readValue(at(p));
    if (v) { out.machine_id = v; break; }
  }
  for (const f of ["product_uuid", "board_serial", "product_serial"]) {
    const v = await readValue(at("sys/class/dmi/id", f));
    if (v) { out.board = v; break; }
  }
  disks: for (const name of await sortedDir(at("sys/block"))) {
    if (["loop", "ram", "zram", "dm-", "sr", "md", "nbd", "fd"].some((p) => name.startsWith(p))) continue;
    for (const f of ["device/serial", "device/wwid", "serial"]) {
      const v = await readValue(at("sys/block", name, f));
      if (v) { out.disk = v; break disks; }
    }
  }
  for (const name of await sortedDir(at("sys/class/net"))) {
    if (name === "lo") continue;
    try { await stat(at("sys/class/net", name, "device")); } catch { continue; }
    const t = await readValue(at("sys/class/net", name, "addr_assign_type"));
    if (t && t !== "0") continue;
    const v = await readValue(at("sys/class/net", name, "address"));
    if (v) { out.mac = v; break; }
  }
  return out;
}

const WIN_BOARD = "(Get-CimInstance -ClassName Win32_ComputerSystemProduct).UUID";

async function platformComponents(platform, root) {
  if (platform === "linux") return linuxComponents(root);
  const out = {};
  try {
    if (platform === "darwin") {
      const text = await run("ioreg", ["-rd1", "-c", "IOPlatformExpertDevice"]);
      const id = /"IOPlatformUUID" = "([0-9A-Fa-f-]+)"/.exec(text);
      const serial = /"IOPlatformSerialNumber" = "([^"]+)"/.exec(text);
      if (id) out.machine_id = id[1];
      if (serial) out.board = serial[1];
    } else if (platform === "win32") {
      out.machine_id = await machineID(platform);
      try {
        const p = /ProductId\s+REG_SZ\s+(\S+)/.exec(await run("reg", ["query", "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", "/v", "ProductId"]));
        if (p) out.os_install = p[1];
      } catch { /* not offered */ }
      try {
        // The SMBIOS UUID: a copy of the disk image on other hardware has another.
        const u = (await run("powershell", ["-NoProfile", "-NonInteractive", "-Command", WIN_BOARD])).trim();
        if (/^[0-9A-Fa-f-]{36}$/.test(u) && !JUNK.has(normalizeComponent(u))) out.board = u;
      } catch { /* not offered */ }
    }
  } catch { /* what could be read */ }
  return out;
}

/**
 * machineComponents returns this machine's fingerprint components for one
 * app, salted and hashed: the Go client's MachineComponents for the same
 * machine. `root` reads a fake Linux tree (tests).
 */
export async function machineComponents(appId, { platform = process.platform, env = process.env, root = "/" } = {}) {
  if (typeof appId !== "string" || !appId) throw new Error("machineComponents: appId is required (e.g. com.acme.editor)");
  const raw = await platformComponents(platform, root);
  if (!String(raw.machine_id ?? "").trim()) raw.machine_id = await fallbackID(platform, env);
  const out = {};
  for (const [name, v] of Object.entries(raw)) if (String(v ?? "").trim()) out[name] = componentValue(appId, name, v);
  return out;
}
