/**
 * The admin API's documentation as one self-contained HTML page, rendered on the server from
 * the OpenAPI document: no script, no CDN, so it works on an air-gapped host.
 */

interface Operation {
  summary?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; description?: string }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: { $ref?: string } }> }>;
}

interface Document {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{margin-top:2.5rem;font-size:1.1rem}code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.75rem;overflow:auto}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}.get{color:#06c}.post{color:#080}.patch{color:#a60}.delete{color:#c00}
table{border-collapse:collapse}td{padding:.15rem .75rem .15rem 0;vertical-align:top}.open{color:#666;font-size:.85rem}`;

export function renderDocsPage(doc: Record<string, unknown>): string {
  const { info, paths, components } = doc as unknown as Document;
  const endpoints = Object.entries(paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => renderOperation(method, path, op)),
  );
  const schemas = Object.entries(components.schemas).map(
    ([name, schema]) => `<details id="schema-${esc(name)}"><summary><code>${esc(name)}</code></summary><pre>${esc(JSON.stringify(schema, null, 2))}</pre></details>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)}</title><style>${STYLE}</style></head>
<body><h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
<p>${esc(info.description ?? '')}</p>
<p>Machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI 3.1).</p>
${endpoints.join('\n')}
<h2>Schemas</h2>
${schemas.join('\n')}
</body></html>
`;
}

function renderOperation(method: string, path: string, op: Operation): string {
  const rows: string[] = [];
  for (const p of op.parameters ?? []) rows.push(row(`${p.in} <code>${esc(p.name)}</code>`, esc(p.description ?? '')));
  if (op.requestBody) {
    const { $ref } = Object.values(op.requestBody.content)[0]!.schema;
    rows.push(row(op.requestBody.required ? 'body' : 'body (optional)', schemaLink($ref)));
  }
  for (const [status, response] of Object.entries(op.responses)) {
    const [type, media] = Object.entries(response.content ?? {})[0] ?? [];
    const what = media?.schema.$ref ? schemaLink(media.schema.$ref) : type ? `<code>${esc(type)}</code>` : '';
    rows.push(row(`<b>${esc(status)}</b>`, `${esc(response.description)} ${what}`));
  }
  const open = op.security?.length === 0 ? ' <span class="open">(no token needed)</span>' : '';
  return `<h2><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code>${open}</h2>
<p>${esc(op.summary ?? '')}</p><table>${rows.join('')}</table>`;
}

function row(left: string, right: string): string {
  return `<tr><td>${left}</td><td>${right}</td></tr>`;
}

function schemaLink(ref: string | undefined): string {
  const name = ref?.split('/').pop();
  return name ? `<a href="#schema-${esc(name)}"><code>${esc(name)}</code></a>` : '';
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
