/**
 * `burrow ls [PREFIX]`: the names the cluster holds, read from a coordinator's `/v1/names`
 * (by default the local `burrow serve`), every page or the first `--limit` names. Output: an
 * aligned table for people, or with `--json` one JSON array of the API's name objects, one per
 * line; both are written page by page, so a large fleet is never held in memory at once.
 */
import type { Command } from 'commander';
import { listNames, NamesClientError, type NameView } from '../coordinator/names-client.js';
import { BurrowError, configError } from '../core/errors.js';
import { envOption } from './env-option.js';
import { NamesTable } from './names-table.js';
import { parseCount } from './parse.js';
import { readTokenFile } from './token-file.js';

interface LsFlags {
  coordinator: string;
  tokenFile?: string;
  limit?: string;
  json?: boolean;
}

/** Where `burrow serve` answers by default. */
export const DEFAULT_COORDINATOR = 'http://127.0.0.1:8080';

export function registerLsCommand(program: Command): void {
  program
    .command('ls')
    .summary('list the names the cluster holds (relay, ports, owner, since)')
    .description(
      'Lists the names devices hold, with the relay that serves each, its ports, the ' +
        "owner key's fingerprint and since when, from a coordinator's /v1/names (every page). " +
        'PREFIX keeps the names that start with it. Exit status 0 (even when no name matches), ' +
        '1 when the coordinator cannot be reached or refuses, 2 for bad flags.',
    )
    .argument('[prefix]', 'only names starting with this')
    .addOption(
      envOption(
        '--coordinator <url>',
        'the coordinator (or `burrow serve`) to ask',
        'COORDINATOR',
        DEFAULT_COORDINATOR,
      ),
    )
    .addOption(
      envOption(
        '--token-file <file>',
        "file holding the coordinator's API token (its --api-token-file)",
        'TOKEN_FILE',
      ),
    )
    .option('--limit <n>', 'list at most N names [default: all]')
    .option('--json', 'print one JSON array of {name, relay, ports, owner, since}, one per line')
    .action(async (prefix: string | undefined, flags: LsFlags, cmd: Command) => {
      await runLs(prefix, flags, cmd.getOptionValueSource('coordinator') === 'default');
    });
}

function parseCoordinatorUrl(value: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw configError(
      `--coordinator: expected an http:// or https:// URL (e.g. ${DEFAULT_COORDINATOR}), got "${value}"`,
    );
  }
  return url;
}

async function runLs(prefix: string | undefined, flags: LsFlags, defaultUrl: boolean) {
  const base = parseCoordinatorUrl(flags.coordinator);
  const limit = flags.limit === undefined ? undefined : parseCount('--limit', flags.limit);
  const token =
    flags.tokenFile === undefined ? undefined : readTokenFile('--token-file', flags.tokenFile);
  const pages = listNames({
    base,
    ...(prefix === undefined ? {} : { prefix }),
    ...(limit === undefined ? {} : { limit }),
    ...(token === undefined ? {} : { token }),
  });
  // `burrow ls | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  try {
    if (flags.json) await printJson(pages);
    else await printTable(pages);
  } catch (err) {
    if (err instanceof NamesClientError) throw cliError(err, flags, defaultUrl);
    throw err;
  }
}

async function printTable(pages: AsyncIterable<NameView[]>): Promise<void> {
  const table = new NamesTable((text) => process.stdout.write(text));
  for await (const page of pages) table.add(page);
  table.end();
}

/** `[`, the names one per line, `]`: valid JSON as a whole, readable line by line. */
async function printJson(pages: AsyncIterable<NameView[]>): Promise<void> {
  let first = true;
  process.stdout.write('[');
  for await (const page of pages) {
    const lines = page.map((n) => JSON.stringify(n));
    process.stdout.write(`${first ? '\n' : ',\n'}${lines.join(',\n')}`);
    first = false;
  }
  process.stdout.write(first ? ']\n' : '\n]\n');
}

function cliError(err: NamesClientError, flags: LsFlags, defaultUrl: boolean): BurrowError {
  switch (err.code) {
    case 'UNREACHABLE':
      return new BurrowError(
        'REFUSED',
        defaultUrl
          ? `${err.message} (is \`burrow serve\` running here? else give --coordinator URL)`
          : err.message,
        { cause: err },
      );
    case 'UNAUTHORIZED':
      return new BurrowError(
        'REFUSED',
        flags.tokenFile === undefined
          ? `${err.message}: give --token-file FILE`
          : `${err.message}: check ${flags.tokenFile}`,
        { cause: err },
      );
    case 'BAD_REQUEST':
      return configError(err.message, err);
    default:
      return new BurrowError('REFUSED', err.message, { cause: err });
  }
}
