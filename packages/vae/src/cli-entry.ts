// Source entry of the CLI (used by bin/opensora-vae.mjs before a build).
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
