// Typed wrappers over ATen's _foreach_* kernels: one native call updates a whole tensor list.
import { native } from "../tensor/native.js";
import { opTable } from "../tensor/ops.js";
import { Tensor, wrap } from "../tensor/tensor.js";

const O = opTable({
  mulS_: "_foreach_mul_.Scalar",
  addL_: "_foreach_add_.List",
  addS_: "_foreach_add_.Scalar",
  addcmul_: "_foreach_addcmul_.Scalar",
  addcdiv_: "_foreach_addcdiv_.Scalar",
  sqrt: "_foreach_sqrt",
  divS_: "_foreach_div_.Scalar",
  addL: "_foreach_add.List",
  mulS: "_foreach_mul.Scalar",
});

const hs = (ts: Tensor[]) => ts.map((t) => t.handle);
const many = (r: unknown) => (r as unknown[]).map(wrap);

/** xs[i] *= s */
export function mulScalar_(xs: Tensor[], s: number): void {
  native.callVoid(O.mulS_, hs(xs), s);
}
/** xs[i] += alpha * ys[i] */
export function addList_(xs: Tensor[], ys: Tensor[], alpha = 1): void {
  native.callVoid(O.addL_, hs(xs), hs(ys), alpha);
}
/** xs[i] + alpha * ys[i], new tensors */
export function addList(xs: Tensor[], ys: Tensor[], alpha = 1): Tensor[] {
  return many(native.call(O.addL, hs(xs), hs(ys), alpha));
}
/** xs[i] * s, new tensors */
export function mulScalar(xs: Tensor[], s: number): Tensor[] {
  return many(native.call(O.mulS, hs(xs), s));
}
/** xs[i] += s */
export function addScalar_(xs: Tensor[], s: number): void {
  native.callVoid(O.addS_, hs(xs), s);
}
/** xs[i] += value * a[i] * b[i] */
export function addcmul_(xs: Tensor[], a: Tensor[], b: Tensor[], value: number): void {
  native.callVoid(O.addcmul_, hs(xs), hs(a), hs(b), value);
}
/** xs[i] += value * a[i] / b[i] */
export function addcdiv_(xs: Tensor[], a: Tensor[], b: Tensor[], value: number): void {
  native.callVoid(O.addcdiv_, hs(xs), hs(a), hs(b), value);
}
/** sqrt(xs[i]), new tensors */
export function sqrt(xs: Tensor[]): Tensor[] {
  return many(native.call(O.sqrt, hs(xs)));
}
/** xs[i] /= s */
export function divScalar_(xs: Tensor[], s: number): void {
  native.callVoid(O.divS_, hs(xs), s);
}

export function disposeAll(xs: Tensor[]): void {
  for (const t of xs) t.dispose();
}
