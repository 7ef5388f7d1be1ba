// Deterministic tensor lifetimes (DESIGN.md §2). Native memory is freed when a tensor is
// disposed, not when JavaScript's garbage collector gets round to it: a training step that
// waited for GC would hold every activation of every step alive and run several times slower.
//
// - `scope(fn)` disposes every tensor created while fn runs, except those it returns (found
//   inside arrays, plain objects and Maps) and those marked with `keep`.
// - `using t = ...` (TypeScript 5.2 explicit resource management) disposes one tensor at the
//   end of its block.
// - Parameters, buffers and optimiser state are kept; they live until disposed explicitly.

/** What a scope needs of a tensor; implemented by Tensor. */
export interface Disposable {
  dispose(): void;
  readonly kept: boolean;
}

let current: Disposable[] | null = null;

/** Called by every new tensor: the innermost open scope (if any) takes ownership of it. */
export function track(t: Disposable): void {
  if (current !== null) current.push(t);
}

function collect(value: unknown, into: Set<unknown>, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 8) return;
  if (typeof (value as Disposable).dispose === "function" && "kept" in (value as object)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, depth + 1);
  }
}

/**
 * Runs `fn` and disposes the tensors it created, except what it returns and what is kept.
 * Returned tensors pass to the enclosing scope. `fn` must be synchronous: tensors created by
 * other tasks while an async function awaited would be attributed to the wrong scope.
 */
export function scope<T>(fn: () => T): T {
  const parent = current;
  const mine: Disposable[] = [];
  current = mine;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    current = parent;
    for (const t of mine) if (!t.kept) t.dispose();
    throw e;
  }
  current = parent;
  if (result instanceof Promise) {
    for (const t of mine) if (!t.kept) t.dispose();
    throw new TypeError(
      "scope(fn): fn returned a Promise; scopes track synchronous code only — open a scope inside each synchronous step",
    );
  }
  const survivors = new Set<unknown>();
  collect(result, survivors);
  for (const t of mine) {
    if (survivors.has(t)) {
      // Returned tensors made here now belong to the enclosing scope (if any).
      if (parent !== null && !t.kept) parent.push(t);
    } else if (!t.kept) {
      t.dispose();
    }
  }
  return result;
}

/** Whether a scope is open (tensors created now will be disposed when it closes). */
export function inScope(): boolean {
  return current !== null;
}
