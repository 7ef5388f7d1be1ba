// ATen operator schemas ("aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, int[2]
// stride=1, ...) -> Tensor"), parsed once per operator: which arguments are tensors (a native
// call passes tensors as handles, which are plain numbers), which ones the operator writes in
// place, and the defaults of the arguments a caller left out.
import { native } from "../tensor/native.js";

export interface SchemaArg {
  name: string;
  /** The type as written: "Tensor(a!)", "int[2]", "Scalar?", ... */
  type: string;
  /** Tensor, Tensor? */
  tensor: boolean;
  /** Tensor[], Tensor?[] */
  tensorList: boolean;
  /** Written in place (alias annotation with "!"). */
  mutated: boolean;
  /** The default as JavaScript (undefined when the argument has none). */
  default?: unknown;
}

export interface OpSchema {
  /** "conv2d", "add_.Tensor": the name without "aten::", with its overload. */
  spec: string;
  args: SchemaArg[];
  /** How many values the operator returns (1 for Tensor, n for a tuple; -1 for a list). */
  returns: number;
  /** Whether what it returns is tensors (not a Scalar, bool or int read out of one). */
  returnsTensors: boolean;
}

/** Splits at top-level commas (not inside brackets or parentheses). */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(" || ch === "[") depth++;
    if (ch === ")" || ch === "]") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function parseDefault(raw: string): unknown {
  if (raw === "None") return null;
  if (raw === "True") return true;
  if (raw === "False") return false;
  if (raw.startsWith("[")) {
    const inner = raw.slice(1, -1).trim();
    return inner ? inner.split(",").map((v) => Number(v.trim())) : [];
  }
  const n = Number(raw);
  return Number.isNaN(n) ? raw.replace(/^["']|["']$/g, "") : n;
}

function parseArg(text: string): SchemaArg {
  let decl = text;
  let def: unknown;
  const eq = text.lastIndexOf("=");
  // "Tensor(a -> *) self" has no default; "int[2] stride=1" has.
  if (eq > 0 && !text.slice(eq - 1, eq + 2).includes("->")) {
    decl = text.slice(0, eq).trim();
    def = parseDefault(text.slice(eq + 1).trim());
  }
  const space = decl.lastIndexOf(" ");
  const type = decl.slice(0, space).trim();
  const name = decl.slice(space + 1);
  const base = type.replace(/\(.*?\)/, "");
  return {
    name,
    type,
    tensor: base === "Tensor" || base === "Tensor?",
    tensorList: base === "Tensor[]" || base === "Tensor?[]",
    mutated: /\([^)]*!\)/.test(type),
    default: def,
  };
}

export function parseSchema(schema: string): OpSchema {
  const m = /^aten::([\w.]+)\((.*)\)\s*->\s*(.*)$/.exec(schema);
  if (!m) throw new Error(`cannot parse the operator schema "${schema}"`);
  const args = splitTopLevel(m[2])
    .filter((a) => a !== "*")
    .map(parseArg);
  const ret = m[3].trim();
  let returns: number;
  if (ret === "()") returns = 0;
  else if (ret.startsWith("(")) returns = splitTopLevel(ret.slice(1, -1)).length;
  else if (ret.endsWith("[]")) returns = -1;
  else returns = 1;
  return { spec: m[1], args, returns, returnsTensors: returns === 0 || /^\(?Tensor/.test(ret) };
}

const cache = new Map<number, OpSchema>();

/** The parsed schema of an operator id (ops.ts). */
export function schemaOf(id: number): OpSchema {
  let s = cache.get(id);
  if (!s) {
    s = parseSchema(native.opSchema(id));
    cache.set(id, s);
  }
  return s;
}
