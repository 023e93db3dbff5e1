/**
 * Queries built and compiled once per dialect, then run with fresh parameters. Kysely builds an immutable
 * operation tree and compiles it to SQL on every call, which costs more than executing the small statements
 * of the write path; these skip both steps and reuse the same SQL string (so the statement cache finds it
 * without rehashing). The query is still written once with Kysely, for both dialects.
 *
 * How: the query is built with placeholder values standing for its arguments, compiled, and each
 * placeholder's position among the compiled parameters is recorded; constants written into the query keep
 * their place. Every argument the builder reads must end up as a bound parameter (not inlined SQL).
 */
import { createHash } from 'node:crypto';
import { CompiledQuery, PostgresAdapter, type Compilable, type QueryResult } from 'kysely';
import type { Queryable } from './queryable.ts';

// Cannot collide with a real argument value: no caller passes strings containing NUL to the builder.
const MARK = '\u0000strongroom-arg\u0000';

type Slot = { arg: string } | { constant: unknown };

interface Template {
  sql: string;
  slots: Slot[];
}

/** PostgreSQL texts of the prepared queries, with their statement names (see database.ts). */
const statementNames = new Map<string, string>();
/** Multi-row inserts beyond this many parameters stay unnamed (a plan per row count costs server memory). */
const MAX_NAMED_PARAMETERS = 1000;

/** The name under which the `pg` client prepares `sqlText` once per connection, if it is one of ours. */
export function preparedStatementName(sqlText: string): string | undefined {
  return statementNames.get(sqlText);
}

function remember(q: Queryable, compiled: CompiledQuery): void {
  if (!(q.getExecutor().adapter instanceof PostgresAdapter)) return;
  if (compiled.parameters.length > MAX_NAMED_PARAMETERS) return;
  // `select *` / `returning *` would change shape when a migration adds a column, and PostgreSQL refuses to
  // run such a prepared statement again ("cached plan must not change result type"): leave those unnamed.
  if (compiled.sql.replaceAll('count(*)', '').includes('*')) return;
  // Derived from the text, so the same statement has the same name on every connection and never clashes.
  const name = `sr_${createHash('sha256').update(compiled.sql).digest('hex').slice(0, 24)}`;
  statementNames.set(compiled.sql, name);
}

/**
 * The dialect a query runs on is that of the Kysely instance (or transaction) running it; transactions share
 * their parent's adapter object, so it keys the compiled form. (`getExecutor` is marked internal in Kysely;
 * the version is pinned exactly, and a change here fails every store test at once.)
 */
function dialectKey(q: Queryable): object {
  return q.getExecutor().adapter;
}

function compileTemplate(compiled: CompiledQuery, argNames: ReadonlySet<string>): Template {
  const used = new Set<string>();
  const slots = compiled.parameters.map((p): Slot => {
    if (typeof p === 'string' && p.startsWith(MARK)) {
      const arg = p.slice(MARK.length);
      used.add(arg);
      return { arg };
    }
    return { constant: p };
  });
  for (const name of argNames) {
    if (!used.has(name)) throw new Error(`prepared query: argument ${name} is not a bound parameter`);
  }
  return { sql: compiled.sql, slots };
}

/** Placeholder values: reading `p.x` records `x` as an argument and yields its placeholder. */
function placeholders(names: Set<string>): Record<string, unknown> {
  return new Proxy(
    {},
    {
      get(_target, prop) {
        if (typeof prop !== 'string') return undefined;
        names.add(prop);
        return MARK + prop;
      },
    },
  );
}

export interface PreparedQuery<A extends object, R> {
  execute(q: Queryable, args: A): Promise<QueryResult<R>>;
}

/**
 * @example
 * const byId = preparedQuery((q, p: { id: string }) => q.selectFrom('tenants').selectAll().where('id', '=', p.id));
 * const { rows } = await byId.execute(trx, { id });
 */
export function preparedQuery<A extends object, R>(
  build: (q: Queryable, args: A) => Compilable<R>,
): PreparedQuery<A, R> {
  const templates = new WeakMap<object, Template>();
  return {
    execute(q, args) {
      const key = dialectKey(q);
      let t = templates.get(key);
      if (t === undefined) {
        try {
          const names = new Set<string>();
          const compiled = build(q, placeholders(names) as A).compile();
          t = compileTemplate(compiled, names);
          remember(q, compiled);
        } catch (e) {
          return Promise.reject(e as Error);
        }
        templates.set(key, t);
      }
      const parameters = new Array<unknown>(t.slots.length);
      for (let i = 0; i < parameters.length; i++) {
        const s = t.slots[i]!;
        parameters[i] = 'arg' in s ? (args as Record<string, unknown>)[s.arg] : s.constant;
      }
      return q.executeQuery(CompiledQuery.raw(t.sql, parameters) as CompiledQuery<R>);
    },
  };
}

/** `C` when it names every column of `Row`; `never` (a type error at the call) when one is missing. */
type EveryColumn<Row, C extends ReadonlyArray<keyof Row>> = [Exclude<keyof Row, C[number]>] extends [never]
  ? C
  : never;

/**
 * The column list of a table row, checked by the compiler to name every column, so a column added to the
 * table cannot be silently left out of an insert.
 *
 * @example
 * const columns = everyColumn<OutboxRow>()(['tenant_id', 'topic', 'payload', 'created_at', 'delivered_at']);
 */
export function everyColumn<Row>() {
  return <const C extends ReadonlyArray<keyof Row & string>>(columns: EveryColumn<Row, C>): C => columns;
}

/**
 * A multi-row insert of `columns`, compiled once per dialect and row count (chunks of at most `maxRows`, so
 * a batch is one statement per chunk). Rows are plain objects holding every column (see `everyColumn`).
 */
export function preparedInsert<Row extends object>(
  build: (q: Queryable, rows: Row[]) => Compilable<unknown>,
  columns: ReadonlyArray<keyof Row & string>,
  maxRows = 500,
): { execute(q: Queryable, rows: readonly Row[]): Promise<void> } {
  const templates = new WeakMap<object, Map<number, { sql: string; arity: number }>>();
  function template(q: Queryable, n: number): { sql: string; arity: number } {
    const key = dialectKey(q);
    let byCount = templates.get(key);
    if (byCount === undefined) templates.set(key, (byCount = new Map()));
    let t = byCount.get(n);
    if (t === undefined) {
      const rows = Array.from(
        { length: n },
        (_, i) => Object.fromEntries(columns.map((c) => [c, `${MARK}${i}:${c}`])) as unknown as Row,
      );
      const compiled = build(q, rows).compile();
      // Rows bind their columns in order, row after row: check it rather than assume it.
      const expected = rows.flatMap((r) => columns.map((c) => r[c] as unknown));
      if (
        compiled.parameters.length !== expected.length ||
        compiled.parameters.some((p, i) => p !== expected[i])
      ) {
        throw new Error('prepared insert: parameters are not bound row by row in column order');
      }
      t = { sql: compiled.sql, arity: expected.length };
      remember(q, compiled);
      byCount.set(n, t);
    }
    return t;
  }
  return {
    async execute(q, rows) {
      for (let start = 0; start < rows.length; start += maxRows) {
        const n = Math.min(maxRows, rows.length - start);
        const t = template(q, n);
        const parameters = new Array<unknown>(t.arity);
        let k = 0;
        for (let i = start; i < start + n; i++) {
          const r = rows[i]!;
          for (const c of columns) parameters[k++] = r[c];
        }
        await q.executeQuery(CompiledQuery.raw(t.sql, parameters));
      }
    },
  };
}
