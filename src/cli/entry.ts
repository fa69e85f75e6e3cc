// Runs the CLI from source (`node --import tsx src/cli/entry.ts …`); bin/strangler.js runs the built copy.
import { run } from './main.js';

await run(process.argv.slice(2));
