import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../src/routing/route-table.js';
import { normaliseTarget } from '../../src/routing/path.js';
import { route } from '../helpers/routes.js';

const table = new RouteTable([
  route('/orders'),
  route('/orders/archive'),
  route('/api/v1/users'),
  route('/api'),
  route('/a-b'),
]);

describe('RouteTable.match', () => {
  it.each([
    ['/orders', '/orders'],
    ['/orders/', '/orders'],
    ['/orders/42', '/orders'],
    ['/orders/42/items', '/orders'],
    ['/orders/archive', '/orders/archive'],
    ['/orders/archive/7', '/orders/archive'],
    ['/orders/archived', '/orders'],
    ['/api/v1/users/9', '/api/v1/users'],
    ['/api/v1/user', '/api'],
    ['/api/v2/users', '/api'],
    ['/a-b/c', '/a-b'],
  ])('%s matches %s (segment boundaries, longest prefix wins)', (path, prefix) => {
    expect(table.match(path)?.pathPrefix).toBe(prefix);
  });

  it.each(['/orders-archive', '/order', '/ordersx/1', '/', '/apiv1', '/a', '/users', '/ORDERS'])(
    '%s matches nothing (goes to legacy)',
    (path) => {
      expect(table.match(path)).toBeUndefined();
    },
  );

  it('a root route catches what nothing longer matches', () => {
    const withRoot = new RouteTable([route('/'), route('/orders')]);
    expect(withRoot.match('/anything/else')?.pathPrefix).toBe('/');
    expect(withRoot.match('/')?.pathPrefix).toBe('/');
    expect(withRoot.match('/orders/1')?.pathPrefix).toBe('/orders');
  });

  it('an empty table matches nothing', () => {
    expect(new RouteTable().match('/orders')).toBeUndefined();
  });

  it.each([
    ['/public/../orders/1', '/orders'],
    ['/public/%2e%2e/orders', '/orders'],
    ['/./orders/1', '/orders'],
    ['/%6frders/1', '/orders'],
    ['/orders//1', '/orders'],
    ['//orders//1', undefined],
    ['/orders?x=1', '/orders'],
    ['/orders/..', undefined],
    ['/orders/archive/../../api/v1/users', '/api/v1/users'],
  ])('after normalisation %s matches %s', (target, prefix) => {
    const normal = normaliseTarget(target);
    if (!normal.ok) throw new Error(normal.reason);
    expect(table.match(normal.path)?.pathPrefix).toBe(prefix);
  });

  it('looks up 10,000 routes by map, not by scan: a deep match and a miss both resolve', () => {
    const many = new RouteTable(Array.from({ length: 10_000 }, (_, i) => route(`/svc/${i}/api`, { id: `r${i}` })));
    expect(many.size).toBe(10_000);
    expect(many.match('/svc/9999/api/items/1')?.id).toBe('r9999');
    expect(many.match('/svc/10000/api')).toBeUndefined();
  });
});
