import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { backendSpecOf } from '../backends/plan.js';
import type { BackendView } from '../backends/schema.js';
import { RouteFile, parseRouteFile, specOf } from '../routing/route-file.js';
import { hasChanges, type ApplyResult } from '../routing/plan.js';
import type { Route } from '../routing/schema.js';
import { UsageError } from './args.js';
import { AdminClient, output, parseCommand } from './client.js';
import { cell } from './table.js';

/**
 * `strangler export`: the route table as a route file (YAML, or JSON with --json) on stdout,
 * written a page of routes at a time, so a table of a million routes streams out.
 */
export async function exportCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { flags } = parseCommand(argv, env, { flags: [], schema: z.object({}), usage: 'strangler export [--json] > routes.yaml', positionals: 0 });
  const client = new AdminClient(flags);
  const backends = (await client.get<{ backends: BackendView[] }>('/backends')).backends.map(backendSpecOf);
  const out = new Output();
  if (flags.json) await out.write(`{"backends":${JSON.stringify(backends)},"routes":[`);
  else await out.write(`# strangler route file: edit, review, then \`strangler apply -f <file>\`\n${stringify({ backends })}routes:`);
  let count = 0;
  for await (const page of client.pages<{ routes: Route[]; next: string | null }>('/routes')) {
    const specs = page.routes.map(specOf);
    if (specs.length === 0) continue;
    if (flags.json) await out.write((count > 0 ? ',' : '') + specs.map((s) => JSON.stringify(s)).join(','));
    else await out.write('\n' + stringify(specs).trimEnd().replace(/^/gm, '  '));
    count += specs.length;
  }
  await out.write(flags.json ? ']}\n' : count === 0 ? ' []\n' : '\n');
  return 0;
}

/** stdout with backpressure; a reader that goes away (`| head`) ends the export quietly. */
class Output {
  async write(text: string): Promise<void> {
    if (process.stdout.write(text)) return;
    await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  }
}

/**
 * `strangler apply -f routes.yaml [--dry-run] [--prune]`: validates the file with the API's own
 * schemas, then sends it to `POST /apply`, which plans and applies it in one transaction. The
 * plan printed is the one the server computed and carried out.
 */
export async function applyCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { flags } = parseCommand(argv, env, {
    flags: [{ key: 'file', short: 'f' }, { key: 'dryRun', boolean: true }, { key: 'prune', boolean: true }],
    schema: z.object({ file: z.string().optional(), dryRun: z.boolean().default(false), prune: z.boolean().default(false) }),
    usage: 'strangler apply -f <file|-> [--dry-run] [--prune]',
    positionals: 0,
  });
  if (flags.file === undefined) throw new UsageError('apply: -f <file> is required (- reads stdin)');
  const document = await readRouteFile(flags.file);
  // The file as written (checked above): the server fills in the defaults, so a large file stays small on the wire.
  const body = { backends: document.backends, routes: document.routes, prune: flags.prune, dryRun: flags.dryRun, reason: flags.reason };
  const result = await new AdminClient(flags).call<ApplyResult>('POST', '/apply', body);
  output(flags, result, () => formatPlan(result));
  return 0;
}

/** The file's document, after checking it with the API's own schemas (so mistakes are found before anything is sent). */
async function readRouteFile(path: string): Promise<{ backends?: unknown; routes: unknown }> {
  const name = path === '-' ? 'stdin' : path;
  let source: string;
  try {
    source = path === '-' ? await text(process.stdin) : await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${name}: ${(err as Error).message}`);
  }
  let document: unknown;
  try {
    // JSON is YAML too, but a JSON parser reads a file of a million routes in a second, not minutes.
    document = /^\s*\{/.test(source) ? JSON.parse(source) : parse(source, { prettyErrors: true });
  } catch (err) {
    throw new Error(`${name} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
  }
  try {
    parseRouteFile(RouteFile, document ?? {});
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}`);
  }
  return document as { backends?: unknown; routes: unknown };
}

/** The plan for people: one line per change, field changes indented, then a summary. */
export function formatPlan({ plan, applied, summary, truncated }: ApplyResult): string {
  const lines: string[] = [];
  for (const change of plan.backends.changes) {
    if (change.action === 'create') lines.push(`+ create backend ${change.name} (${change.settings.role}, ${change.settings.url})`);
    if (change.action === 'delete') lines.push(`- delete backend ${change.name} (v${change.version})`);
    if (change.action === 'update') {
      lines.push(`~ update backend ${change.name} (v${change.version})`);
      for (const c of change.changes) lines.push(`    ${c.field}: ${cell(c.from)} → ${cell(c.to)}`);
    }
  }
  for (const change of plan.changes) {
    if (change.action === 'create') lines.push(`+ create ${change.id} (${change.settings.pathPrefix}, ${change.settings.mode})`);
    if (change.action === 'delete') lines.push(`- delete ${change.id} (v${change.version})`);
    if (change.action === 'update') {
      lines.push(`~ update ${change.id} (v${change.version})`);
      for (const c of change.changes) lines.push(`    ${c.field}: ${cell(c.from)} → ${cell(c.to)}`);
    }
  }
  const counts = summary.routes;
  if (truncated) lines.push(`… (the answer lists the first ${plan.changes.length} route changes; the counts below are complete)`);
  if (summary.backends.create + summary.backends.update + summary.backends.delete > 0) {
    const b = summary.backends;
    lines.push(`backends: ${b.create} to create, ${b.update} to update, ${b.delete} to delete, ${b.unchanged} unchanged`);
  }
  lines.push(
    `plan: ${counts.create} to create, ${counts.update} to update, ${counts.delete} to delete, ${counts.unchanged} unchanged`,
  );
  if (plan.unmanaged.length > 0) lines.push(`not in the file, left alone (--prune deletes them): ${plan.unmanaged.join(', ')}`);
  lines.push(!applied ? 'dry run: nothing changed' : hasChanges(plan) ? 'applied' : 'nothing to do');
  return lines.join('\n') + '\n';
}
