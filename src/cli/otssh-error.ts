import { CodedError } from '../core/errors.js';

/** What stopped otssh; each exits with status 1 and its message on stderr. */
export type OtsshErrorCode =
  | 'keys-invalid'
  | 'bind-failed'
  | 'relay-failed'
  | 'session-dropped'
  | 'log-failed'
  | 'announce-invalid'
  | 'announce-failed'
  | 'flag-missing';

export class OtsshError extends CodedError<OtsshErrorCode> {
  override readonly name = 'OtsshError';
}
