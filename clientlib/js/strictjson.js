// A structural scan of one JSON object, mirroring the Go verifier
// (license/strictjson.go): it refuses duplicate member names at any depth
// (compared after unescaping), member names that are not ASCII (decoders
// fold case differently: Go reads "featureſ" as "features"), nesting deeper
// than 8, and anything but one object, and reports each top-level member's
// kind and raw text.

const MAX_DEPTH = 8;

export class JSONShapeError extends Error {}

// With snake set (signed documents other than license files), every member
// name at any depth must be snake_case: [a-z0-9_]+.
export function checkObject(text, { snake = false } = {}) {
  const s = { t: text, i: 0, snake };
  space(s);
  if (s.t[s.i] !== "{") throw new JSONShapeError("not a JSON object");
  const members = new Map();
  object(s, 0, members);
  space(s);
  if (s.i !== s.t.length) throw new JSONShapeError("data after the JSON object");
  return members;
}

function space(s) {
  while (s.i < s.t.length && " \t\n\r".includes(s.t[s.i])) s.i++;
}

function syntax() {
  return new JSONShapeError("not JSON: syntax error");
}

function object(s, depth, top) {
  if (depth > MAX_DEPTH) throw new JSONShapeError("JSON nested too deeply");
  s.i++; // {
  const seen = new Set();
  space(s);
  if (s.t[s.i] === "}") {
    s.i++;
    return;
  }
  for (;;) {
    space(s);
    if (s.t[s.i] !== '"') throw syntax();
    const name = str(s);
    if (!/^[\x00-\x7f]*$/.test(name)) throw new JSONShapeError(`member name ${JSON.stringify(name)} is not ASCII`);
    if (s.snake && !/^[a-z0-9_]+$/.test(name)) throw new JSONShapeError(`member name ${JSON.stringify(name)} is not snake_case`);
    if (top ? top.has(name) : seen.has(name)) throw new JSONShapeError(`duplicate member name "${name}"`);
    seen.add(name);
    space(s);
    if (s.t[s.i] !== ":") throw syntax();
    s.i++;
    space(s);
    const start = s.i;
    const kind = value(s, depth + 1);
    if (top) top.set(name, { kind, raw: s.t.slice(start, s.i) });
    space(s);
    if (s.t[s.i] === ",") s.i++;
    else if (s.t[s.i] === "}") {
      s.i++;
      return;
    } else throw syntax();
  }
}

function value(s, depth) {
  const c = s.t[s.i];
  if (c === "{") {
    object(s, depth, null);
    return "object";
  }
  if (c === "[") {
    if (depth > MAX_DEPTH) throw new JSONShapeError("JSON nested too deeply");
    s.i++;
    space(s);
    if (s.t[s.i] === "]") {
      s.i++;
      return "array";
    }
    for (;;) {
      space(s);
      value(s, depth + 1);
      space(s);
      if (s.t[s.i] === ",") s.i++;
      else if (s.t[s.i] === "]") {
        s.i++;
        return "array";
      } else throw syntax();
    }
  }
  if (c === '"') {
    str(s);
    return "string";
  }
  if (c === "-" || (c >= "0" && c <= "9")) {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.t.slice(s.i));
    if (!m) throw syntax();
    s.i += m[0].length;
    return "number";
  }
  for (const [word, kind] of [["true", "boolean"], ["false", "boolean"], ["null", "null"]]) {
    if (s.t.startsWith(word, s.i)) {
      s.i += word.length;
      return kind;
    }
  }
  throw syntax();
}

function str(s) {
  const start = s.i;
  s.i++;
  while (s.i < s.t.length) {
    const c = s.t.charCodeAt(s.i);
    if (c === 0x5c) s.i += 2;
    else if (c === 0x22) {
      s.i++;
      try {
        return JSON.parse(s.t.slice(start, s.i));
      } catch {
        throw syntax();
      }
    } else if (c < 0x20) throw syntax();
    else s.i++;
  }
  throw syntax();
}
