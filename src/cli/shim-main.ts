#!/usr/bin/env node
/**
 * The `burrow-shim` executable: exactly `burrow shim …`, under one program name, which is what
 * `scp -S` and `rsync -e` need (scp runs its -S value as a single program). Loads only the shim.
 */
import '../core/v8-flags.js';
import { runShimCli } from './shim-command.js';

void runShimCli(process.argv.slice(2));
