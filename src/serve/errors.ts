// The ways an inference request can fail, each with the HTTP status it is answered with. The
// server answers every one as {"error": message}, the error object of the Open Inference
// Protocol (see kserve.ts), so clients of either endpoint read failures the same way.

/** A request that failed in a way the client can act on; `status` is the HTTP status. */
export class ServeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra response headers (Retry-After). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "ServeError";
  }
}

/** 400: the request itself is wrong (its message says what and how to fix it). */
export function badRequest(message: string): ServeError {
  return new ServeError(400, message);
}

/** 404: no such model (or route). */
export function notFound(message: string): ServeError {
  return new ServeError(404, message);
}

/** 503 + Retry-After: too many requests admitted, or the server is shutting down. */
export function unavailable(message: string, retryAfterS: number): ServeError {
  return new ServeError(503, message, {
    "retry-after": String(Math.max(1, Math.ceil(retryAfterS))),
  });
}

/** 504: no result within the per-request timeout. */
export function timedOut(message: string): ServeError {
  return new ServeError(504, message);
}
