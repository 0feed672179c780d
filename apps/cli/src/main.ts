#!/usr/bin/env node
// The correio command: every Correio program behind one binary (see ../README.md).
import { runMain } from '@correio/observability';
import { runCli } from './cli.js';

runMain('correio', () => runCli(process.argv));
