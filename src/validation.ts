import type { z } from 'zod';
import { GatewayError } from './errors.js';

/** How an issue's path is named in the message; the default joins it with dots. */
export type PathLabel = (path: readonly PropertyKey[]) => string;

/** Parses `input` with `schema`, or throws VALIDATION_FAILED naming every offending field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what = 'body',
  label: PathLabel = (path) => path.map(String).join('.'),
): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: label(issue.path) || what,
    message: issue.message,
  }));
  throw new GatewayError('VALIDATION_FAILED', issues.map((i) => `${i.path}: ${i.message}`).join('; '), {
    details: issues,
  });
}
