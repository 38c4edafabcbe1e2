/**
 * What a build reports about each step besides its text output, for a progress view: when it starts and how
 * it ends (run, or taken from the cache), with the time the daemon measured. Sent only to a client that asks
 * (the docker CLI's classic builder does not know them).
 */
export interface StepEvent {
  /** 1-based position in the Dockerfile's instructions, as in `Step N/M`. */
  number: number;
  total: number;
  /** The instruction as written. */
  text: string;
  state: 'running' | 'done' | 'cached';
  /** Seconds the step took (done and cached only). */
  seconds?: number;
}

/** One message of a build's output: text for the stream, or a step event. */
export type BuildMessage = { text: string } | { step: StepEvent };
