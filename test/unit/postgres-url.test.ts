import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isPostgresUrl } from '../../src/store/open.js';
import { isConnectionError, redactUrl } from '../../src/store/postgres-url.js';

describe('--db values', () => {
  it('postgres:// and postgresql:// select PostgreSQL; anything else is a SQLite path', () => {
    expect(isPostgresUrl('postgres://u:p@h:5432/db')).toBe(true);
    expect(isPostgresUrl('POSTGRESQL://h/db')).toBe(true);
    expect(isPostgresUrl('./routes.db')).toBe(false);
    expect(isPostgresUrl('/data/postgres://odd.db')).toBe(false);
    expect(isPostgresUrl(':memory:')).toBe(false);
  });

  it('a URL is printed with its password redacted, and only that', () => {
    expect(redactUrl('postgres://gw:s3cr%40t@db.internal:5432/routes?sslmode=require')).toBe('postgres://gw:***@db.internal:5432/routes?sslmode=require');
    expect(redactUrl('postgresql://db.internal/routes')).toBe('postgresql://db.internal/routes');
    expect(redactUrl('postgres://gw@db/routes')).toBe('postgres://gw@db/routes');
  });

  it('sslmode reaches the driver, which the store hands the URL to as it is', () => {
    const ssl = (url: string) => (new pg.Client({ connectionString: url }) as unknown as { connectionParameters: { ssl: unknown } }).connectionParameters.ssl;
    expect(ssl('postgres://h/db?sslmode=disable')).toBe(false);
    expect(ssl('postgres://h/db?sslmode=verify-full')).toEqual({});
    expect(ssl('postgres://h/db?sslmode=no-verify')).toEqual({ rejectUnauthorized: false });
  });

  it('tells a lost database from a refused statement', () => {
    expect(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('duplicate key value'), { code: '23505' }))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }))).toBe(false);
  });
});
