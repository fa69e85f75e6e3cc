import { describe, expect, it } from 'vitest';
import { cell, formatPairs, formatTable } from '../../src/cli/table.js';

describe('CLI text output', () => {
  it('pads columns to the widest cell, with no trailing blanks', () => {
    expect(formatTable(['ID', 'MODE', 'NOTE'], [['orders', 'canary', ''], ['u', 'legacy', 'x']])).toBe(
      'ID      MODE    NOTE\norders  canary\nu       legacy  x\n',
    );
  });

  it('aligns key/value pairs', () => {
    expect(formatPairs([['id', 'orders'], ['canaryPercent', '10']])).toBe('id             orders\ncanaryPercent  10\n');
  });

  it('shows strings bare, other values as JSON, nothing as "-"', () => {
    expect([cell('a'), cell(3), cell([404]), cell(null), cell(undefined), cell(false)]).toEqual(['a', '3', '[404]', '-', '-', 'false']);
  });
});
