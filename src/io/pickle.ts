// A data-only Python pickle reader (protocols 0–5 opcodes that describe plain data).
//
// This is NOT Python's unpickler: it never imports or runs anything. GLOBAL opcodes become
// inert `PyGlobal` names; REDUCE/NEWOBJ on them builds an inert `PyObject` recording the
// class and arguments — unless the caller registered a JS function for that exact name
// (how pth.ts rebuilds tensors), or the name is one of the few harmless builtins handled
// below (OrderedDict, set, bytes via _codecs.encode). A malicious pickle can therefore
// only produce odd data, never code execution.
//
// Python values map to: None→null, bool→boolean, int→number (bigint beyond 2^53),
// float→number, str→string, bytes→Uint8Array, list/tuple→Array, dict→Map, set→Set.

/** A reference to a Python global (module attribute) that was *not* resolved. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
  toString(): string {
    return `<global ${this.qualname}>`;
  }
}

/** An instance of an unknown class: what it was built from, kept as data. */
export class PyObject {
  /** Set by BUILD (the object's __setstate__ / __dict__ payload). */
  state: unknown = undefined;
  constructor(
    readonly cls: unknown,
    readonly args: unknown[],
  ) {}
  toString(): string {
    return `<object ${this.cls instanceof PyGlobal ? this.cls.qualname : "?"}>`;
  }
}

/** A callable the caller chose to implement in JS for one qualified name. */
export type PyFunction = (args: unknown[]) => unknown;

export interface PickleOptions {
  /** Name used in error messages (usually file + entry). */
  source?: string;
  /** Resolves BINPERSID/PERSID ids (torch uses them for storages). Required if the pickle has any. */
  persistentLoad?: (pid: unknown) => unknown;
  /** JS implementations of Python callables, keyed by "module.name". Everything else stays inert. */
  functions?: ReadonlyMap<string, PyFunction>;
}

export class PickleError extends Error {
  constructor(source: string, pos: number, detail: string) {
    super(`${source}: pickle byte ${pos}: ${detail}`);
    this.name = "PickleError";
  }
}

/** Functions safe to emulate for every pickle: they only build containers or bytes. */
const BUILTINS = new Map<string, PyFunction>([
  [
    "collections.OrderedDict",
    (args) => new Map(args.length > 0 ? (args[0] as Iterable<[unknown, unknown]>) : []),
  ],
  ["builtins.set", (args) => new Set(args.length > 0 ? (args[0] as Iterable<unknown>) : [])],
  ["builtins.frozenset", (args) => new Set(args.length > 0 ? (args[0] as Iterable<unknown>) : [])],
  ["__builtin__.set", (args) => new Set(args.length > 0 ? (args[0] as Iterable<unknown>) : [])],
  ["builtins.bytearray", (args) => latin1Bytes(args[0])],
  // Python 3 pickles bytes at protocol < 3 as _codecs.encode(text, "latin1").
  ["_codecs.encode", (args) => latin1Bytes(args[0])],
]);

function latin1Bytes(x: unknown): Uint8Array {
  if (x === undefined) return new Uint8Array(0);
  if (x instanceof Uint8Array) return x;
  if (typeof x !== "string") throw new TypeError("expected a string");
  return Uint8Array.from(x, (ch) => ch.charCodeAt(0) & 0xff);
}

/** Python 2 names that protocol-2 pickles written by Python 3 use for compatibility. */
function canonicalModule(module: string): string {
  if (module === "__builtin__") return "builtins";
  if (module === "copy_reg") return "copyreg";
  return module;
}

function toInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

/** Decode one pickle starting at `offset`. Returns the value and the offset after STOP. */
export function unpickle(
  bytes: Uint8Array,
  opts: PickleOptions = {},
  offset = 0,
): { value: unknown; end: number } {
  const source = opts.source ?? "<pickle>";
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 = new TextDecoder("latin1");
  const utf8 = new TextDecoder("utf-8");
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = offset;
  let opPos = offset;

  const fail = (msg: string): never => {
    throw new PickleError(source, opPos, msg);
  };
  const need = (n: number): void => {
    if (pos + n > bytes.byteLength) fail("unexpected end of data (truncated pickle)");
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const u8 = (): number => (need(1), bytes[pos++]);
  const u16 = (): number => (need(2), (pos += 2), dv.getUint16(pos - 2, true));
  const u32 = (): number => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const i32 = (): number => (need(4), (pos += 4), dv.getInt32(pos - 4, true));
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.byteLength)) fail(`length ${v} exceeds the data`);
    return Number(v);
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail("unterminated text line");
    const s = latin1.decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const pop = (): unknown => (stack.length === 0 ? fail("stack underflow") : stack.pop());
  const top = (): unknown =>
    stack.length === 0 ? fail("stack underflow") : stack[stack.length - 1];
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail("no MARK on the stack");
    return stack.splice(m as number);
  };
  const memoGet = (i: number): unknown =>
    memo.has(i) ? memo.get(i) : fail(`memo key ${i} is not defined`);
  const longLE = (b: Uint8Array): number | bigint => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return toInt(v);
  };
  const global = (module: string, name: string): unknown => {
    const key = `${canonicalModule(module)}.${name}`;
    const fn = opts.functions?.get(key) ?? BUILTINS.get(key);
    return fn !== undefined ? fn : new PyGlobal(canonicalModule(module), name);
  };
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (typeof fn === "function") {
      try {
        return (fn as PyFunction)(args);
      } catch (e) {
        if (e instanceof PickleError) throw e;
        return fail(`cannot rebuild object: ${(e as Error).message}`);
      }
    }
    return new PyObject(fn, args);
  };
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (d instanceof Map) for (let i = 0; i + 1 < kv.length; i += 2) d.set(kv[i], kv[i + 1]);
    else if (d instanceof PyObject) {
      // A dict subclass we do not know: keep its items with it.
      const items = ((d as PyObject & { items?: Map<unknown, unknown> }).items ??= new Map());
      for (let i = 0; i + 1 < kv.length; i += 2) items.set(kv[i], kv[i + 1]);
    } else fail("SETITEM(S) on a non-dict");
  };
  const appendItems = (l: unknown, items: unknown[]): void => {
    if (Array.isArray(l)) l.push(...items);
    else if (l instanceof PyObject)
      ((l as PyObject & { list?: unknown[] }).list ??= []).push(...items);
    else fail("APPEND(S) on a non-list");
  };
  const persistent = (pid: unknown): unknown => {
    if (opts.persistentLoad === undefined)
      return fail("persistent id found but no storage resolver given");
    return opts.persistentLoad(pid);
  };

  for (;;) {
    opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail("pickle protocol newer than 5");
        break;
      case 0x95: // FRAME: framing is a hint for streaming readers; the data is inline.
        take(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} items on the stack`);
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;

      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(longLE(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail("negative LONG4 length");
        stack.push(longLE(take(n)));
        break;
      }
      case 0x49: {
        // INT (text); "00"/"01" are protocol 0's False/True
        const s = line();
        if (s === "00") stack.push(false);
        else if (s === "01") stack.push(true);
        else stack.push(toInt(BigInt(s)));
        break;
      }
      case 0x4c: // LONG (text, trailing L)
        stack.push(toInt(BigInt(line().replace(/L$/, ""))));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: // FLOAT (text)
        stack.push(parseFloat(line()));
        break;

      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(take(u8())));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(take(u32())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(take(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text)
        stack.push(
          line().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a, b) =>
            String.fromCodePoint(parseInt(a ?? b, 16)),
          ),
        );
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str): bytes, read as latin-1 text
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x54: {
        // BINSTRING
        const n = i32();
        if (n < 0) fail("negative BINSTRING length");
        stack.push(latin1.decode(take(n)));
        break;
      }
      case 0x53: {
        // STRING: a quoted Python repr; handle the common escapes
        const s = line().trim();
        const body = s.slice(1, -1);
        stack.push(
          body.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) =>
            e[0] === "x"
              ? String.fromCharCode(parseInt(e.slice(1), 16))
              : (({ n: "\n", r: "\r", t: "\t" } as Record<string, string>)[e] ?? e),
          ),
        );
        break;
      }
      // Bytes are copied (new Uint8Array(view)) so results never alias the input buffer.
      case 0x43: // SHORT_BINBYTES
        stack.push(new Uint8Array(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(new Uint8Array(take(u32())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(new Uint8Array(take(u64())));
        break;

      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const kv = popMark();
        const d = new Map();
        setItems(d, kv);
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail("ADDITEMS on a non-set");
        for (const x of items) (s as Set<unknown>).add(x);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;

      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string")
          fail("STACK_GLOBAL needs two strings");
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        stack.push(call(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX (kwargs dropped: only positional construction is emulated)
        pop();
        const args = pop();
        const cls = pop();
        stack.push(call(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x69: {
        // INST "module\nname\n" with args above MARK
        const module = line();
        const name = line();
        stack.push(call(global(module, name), popMark()));
        break;
      }
      case 0x6f: {
        // OBJ: MARK cls args...
        const items = popMark();
        stack.push(call(items[0], items.slice(1)));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state). Kept on inert objects; containers ignore
        // attribute state (e.g. the _metadata torch attaches to a state_dict).
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        break;
      }

      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x50: // PERSID (text id)
        stack.push(persistent(line()));
        break;

      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(parseInt(line(), 10), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x67: // GET
        stack.push(memoGet(parseInt(line(), 10)));
        break;

      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}
