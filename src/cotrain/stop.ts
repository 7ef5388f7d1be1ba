// A request to stop a run: Ctrl-C (SIGINT, when the caller asks for the handler) or an
// AbortSignal. The training loop reads it between steps and stops at the end of the current
// step with a checkpoint; a second Ctrl-C quits at once (exit 130, the shell's code for SIGINT).

export interface StopOptions {
  signal?: AbortSignal;
  /** Install a SIGINT handler for the request's lifetime (the CLI does; library users may not want it). */
  handleSigint?: boolean;
  /** Where the "stopping after this step" notice goes. */
  out?: NodeJS.WritableStream | null;
}

export class StopRequest implements Disposable {
  private stopRequested = false;
  private readonly onSigint = () => {
    if (this.stopRequested) process.exit(130);
    this.request();
    this.out?.write(
      "\ndivco: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n",
    );
  };
  private readonly onAbort = () => this.request();
  private readonly signal?: AbortSignal;
  private readonly sigint: boolean;
  private readonly out: NodeJS.WritableStream | null;

  constructor(o: StopOptions = {}) {
    this.signal = o.signal;
    this.sigint = o.handleSigint ?? false;
    this.out = o.out ?? null;
    if (this.sigint) process.on("SIGINT", this.onSigint);
    // A signal aborted before the run started asks it to stop after its first step.
    if (this.signal?.aborted) this.request();
    else this.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Whether a stop was asked for. */
  get requested(): boolean {
    return this.stopRequested;
  }

  request(): void {
    this.stopRequested = true;
  }

  /** Removes the handlers this request installed. */
  dispose(): void {
    if (this.sigint) process.off("SIGINT", this.onSigint);
    this.signal?.removeEventListener("abort", this.onAbort);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
