/** One error type for the whole engine. The code decides the HTTP status and the CLI exit status. */
export type ErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'conflict'
  | 'not_modified'
  | 'unavailable'
  | 'internal';

const httpStatusByCode: Record<ErrorCode, number> = {
  invalid_argument: 400,
  not_found: 404,
  conflict: 409,
  not_modified: 304,
  unavailable: 503,
  internal: 500,
};

const codeByHttpStatus = new Map<number, ErrorCode>(
  Object.entries(httpStatusByCode).map(([code, status]) => [status, code as ErrorCode]),
);

export class EngineError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  /** Exit status a CLI should end with when this error stops a command (Docker's 125 unless set). */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; cause?: unknown; exitCode?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'EngineError';
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? (code === 'not_modified' ? 0 : 125);
  }

  get httpStatus(): number {
    return httpStatusByCode[this.code];
  }

  static fromHttp(status: number, message: string, hint?: string): EngineError {
    return new EngineError(codeByHttpStatus.get(status) ?? 'internal', message, { hint });
  }
}

export const invalid = (message: string, hint?: string) => new EngineError('invalid_argument', message, { hint });
export const notFound = (message: string) => new EngineError('not_found', message);
export const conflict = (message: string, hint?: string) => new EngineError('conflict', message, { hint });
export const unavailable = (message: string, hint?: string) => new EngineError('unavailable', message, { hint });

/** Wraps anything thrown into an EngineError, keeping the original as the cause. */
export function asEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EngineError('internal', message, { cause: err });
}
