#!/usr/bin/env node
/** The standalone `otssh` executable: the same command as `burrow otssh`. */
import '../core/v8-flags.js';
import { runOtsshCli } from './otssh-command.js';

void runOtsshCli(process.argv.slice(2));
