// machineFingerprint: this machine's stable id, salted per app and hashed,
// the same value as the Go client's MachineFingerprint for the same machine
// and app id (clientlib/fingerprint.go; a Go test compares the two).
import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { readFile, writeFile, mkdir } from "node:fs/promises";
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
  return createHash("sha256").update(`flowlytix-fingerprint\0${appId}\0${id.trim().toLowerCase()}`).digest("hex");
}
