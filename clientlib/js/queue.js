// The usage queue as an append-only journal beside the state file: one
// line per change ({"a": entry} adds, {"d": [n, ...]} removes), written and
// fsynced before the call that made it resolves, so recording an event
// costs one small write whatever the length of the queue, and survives a
// crash. The journal is rewritten with only the live entries (temp file,
// fsync, rename) once removed lines outnumber them.
import { open, readFile, rename, mkdir } from "node:fs/promises";
import { constants } from "node:fs";

// Appends are opened with O_DSYNC where the system has it (Linux, macOS):
// each write returns once its data is on disk, one system call instead of
// a write and an fdatasync (each a trip through libuv's thread pool).
const DSYNC = constants.O_DSYNC ? constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC : 0;
import { dirname } from "node:path";

export class QueueJournal {
  constructor(path) {
    this.path = path;
    this.fh = null;
    this.lines = 0;
  }

  /**
   * load replays the journal. A last line cut short is a write the crash
   * interrupted: it was never acknowledged to the app, so it is dropped
   * (torn reports it, and the caller rewrites the file before appending).
   * Damage anywhere else is an error, never a silent loss.
   */
  async load() {
    let text = "";
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if (e.code !== "ENOENT") throw e;
    }
    const live = new Map();
    let lines = 0;
    let torn = false;
    const rows = text.split("\n");
    for (let i = 0; i < rows.length; i++) {
      const line = rows[i];
      if (!line) continue;
      let r;
      try {
        r = JSON.parse(line);
      } catch {
        if (i === rows.length - 1) {
          torn = true; // no newline after it: the interrupted write
          break;
        }
        throw new Error(`usage queue ${this.path} is damaged at line ${i + 1}: move it aside and open again (its events are lost to the server)`);
      }
      lines++;
      if (r.a && typeof r.a.n === "number") live.set(r.a.n, r.a);
      else if (Array.isArray(r.d)) for (const n of r.d) live.delete(n);
    }
    this.lines = lines;
    const entries = [...live.values()].sort((x, y) => x.n - y.n);
    return { entries, next: entries.reduce((m, e) => Math.max(m, e.n), 0) + 1, torn };
  }

  /** append writes records as lines, then fsyncs: durable when it resolves. */
  async append(records) {
    if (!this.fh) {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      this.fh = await open(this.path, DSYNC || "a", 0o600);
    }
    await this.fh.write(records.map((r) => JSON.stringify(r) + "\n").join(""));
    // Without O_DSYNC, fdatasync: the data and the file's new size.
    if (!DSYNC) await this.fh.datasync();
    this.lines += records.length;
  }

  /** compact rewrites the journal with only the live entries. */
  async compact(entries) {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const f = await open(tmp, "w", 0o600);
    try {
      await f.writeFile(entries.map((e) => JSON.stringify({ a: e }) + "\n").join(""));
      await f.sync();
    } finally {
      await f.close();
    }
    await this.close();
    await rename(tmp, this.path);
    this.lines = entries.length;
  }

  async close() {
    if (this.fh) {
      const fh = this.fh;
      this.fh = null;
      await fh.close();
    }
  }
}
