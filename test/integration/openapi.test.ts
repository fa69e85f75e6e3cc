import SwaggerParser from '@apidevtools/swagger-parser';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ENDPOINTS, buildOpenApiDocument, openApiPath } from '../../src/admin/openapi.js';
import { registerEndpoints, type AdminOptions } from '../../src/admin/server.js';
import { admin, silentLogger, startTestGateway, type TestGateway } from '../helpers/servers.js';

const gateways: TestGateway[] = [];
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
});

async function start(token?: string): Promise<TestGateway> {
  const gateway = await startTestGateway(token === undefined ? {} : { config: { adminToken: token } });
  gateways.push(gateway);
  return gateway;
}

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const document = buildOpenApiDocument('1.2.3');
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeTruthy();
    expect(document).toMatchObject({ openapi: '3.1.0', info: { version: '1.2.3' } });
  });

  it('lists every endpoint the admin app registers', async () => {
    const registered: string[] = [];
    const app = Fastify();
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) if (method !== 'HEAD') registered.push(`${method.toLowerCase()} ${openApiPath(route.url)}`);
    });
    // Registration only wires handlers; none of the options is used until a request arrives.
    registerEndpoints(app, { logger: silentLogger() } as unknown as AdminOptions);
    await app.ready();
    await app.close();
    const paths = buildOpenApiDocument('0').paths as Record<string, Record<string, unknown>>;
    const documented = Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(registered.length).toBeGreaterThanOrEqual(14);
    expect(documented).toEqual(expect.arrayContaining(registered));
    expect(documented).toEqual(expect.arrayContaining(['get /status', 'get /metrics']));
  });

  it('takes its schemas from zod: a route body has every RouteCreate field, defaults included', () => {
    const schemas = (buildOpenApiDocument('0').components as { schemas: Record<string, any> }).schemas;
    expect(schemas.RouteCreate.required).toEqual(['pathPrefix']);
    expect(schemas.RouteCreate.properties.canaryPercent).toMatchObject({ type: 'integer', minimum: 0, maximum: 100, default: 0 });
    expect(schemas.Route.required).toEqual(expect.arrayContaining(['id', 'version', 'resilience']));
    expect(schemas.ApplyRequest.properties.routes.items.required.sort()).toEqual(['id', 'pathPrefix']);
  });

  it('marks exactly the endpoints that need no token as open', () => {
    expect(ENDPOINTS.filter((e) => e.open).map((e) => e.path)).toEqual(['/healthz', '/readyz', '/openapi.json', '/docs']);
  });
});

describe('GET /openapi.json and GET /docs', () => {
  it('serve the document and an HTML page without a token, while the routes need one', async () => {
    const gw = await start('a-long-enough-admin-token');
    const doc = await admin(gw, 'GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(doc.body)).resolves.toBeTruthy();
    const page = await fetch(`${gw.adminUrl}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    for (const endpoint of ENDPOINTS) expect(html).toContain(`<code>${openApiPath(endpoint.path)}</code>`);
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect((await admin(gw, 'GET', '/routes')).status).toBe(401);
  });
});
