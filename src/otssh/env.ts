/**
 * Which environment variables a client may set in the one session (SSH `env` requests). The
 * session otherwise gets exactly the environment otssh was started with. Default deny: only
 * locale and terminal cosmetics, never anything that changes what runs or how (PATH, LD_*,
 * BASH_ENV, IFS, SHELL, HOME…).
 */
const ALLOWED = new Set([
  'LANG',
  'LANGUAGE',
  'TZ',
  'COLORTERM',
  'TERM_PROGRAM',
  'TERM_PROGRAM_VERSION',
]);
const LOCALE = /^LC_[A-Z]{1,20}$/;
const MAX_VALUE = 256;

export function envAllowed(name: string, value: string): boolean {
  if (!ALLOWED.has(name) && !LOCALE.test(name)) return false;
  // Values are short printable text: no control characters, nothing a shell could trip over.
  return value.length <= MAX_VALUE && /^[\x20-\x7e]*$/.test(value);
}
