import type { z } from 'zod';
import { GatewayError } from './errors.js';

/** Parses `input` with `schema`, or throws VALIDATION_FAILED naming every offending field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what = 'body'): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || what,
    message: issue.message,
  }));
  throw new GatewayError('VALIDATION_FAILED', issues.map((i) => `${i.path}: ${i.message}`).join('; '), {
    details: issues,
  });
}
