// Source entry of the CLI (used by bin/opensora-sample.mjs before a build).
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
