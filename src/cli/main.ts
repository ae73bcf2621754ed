#!/usr/bin/env node
/**
 * The `burrow` executable. Only a dispatcher, with nothing but its V8 settings imported up front:
 * each command loads what it needs, so the shim's processes (two per transfer) and a relay or an
 * agent start without the modules of the others (commander, ssh2, the pty addon).
 */
import '../core/v8-flags.js';

async function main(argv: string[]): Promise<void> {
  // The single executable answers as `burrow-shim` when started under that name (a symlink), as
  // scp -S and rsync -e do; its argv then has no `shim` word.
  if (/(^|\/)burrow-shim$/.test(process.argv0)) {
    const { runShimCli } = await import('./shim-command.js');
    await runShimCli(argv.slice(2));
  }
  // otssh takes Go-style flags (-port=2022) that commander cannot read: it parses its own.
  if (argv[2] === 'otssh') {
    const { runOtsshCli } = await import('./otssh-command.js');
    await runOtsshCli(argv.slice(3), 'burrow otssh');
  }
  // shim takes ssh's command line, which is not commander's either.
  if (argv[2] === 'shim') {
    const { runShimCli } = await import('./shim-command.js');
    await runShimCli(argv.slice(3));
  }
  const { runProgram } = await import('./program.js');
  await runProgram(argv);
}

main(process.argv).catch((err: unknown) => {
  // A module that fails while loading (e.g. ssh2 without burrow's patch, see src/ssh/ssh2.ts)
  // throws before any command can render the error: one line, not a stack trace.
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && code === 'SSH2_SEAM_MISSING') {
    process.stderr.write(`burrow: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
});
