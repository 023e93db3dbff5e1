/**
 * Reads asked for in the same turn of the event loop are made together: one `load` call per batch
 * instead of one query per caller (the signing path reads several rows for every request it signs, and
 * on SQLite every read waits for the one connection between write batches).
 */
export interface ReadBatcher<K, V> {
  load(key: K): Promise<V>;
}

/**
 * `load` receives the keys of one batch and answers, in the same order, a value or an Error for each (an
 * Error rejects that caller only; a rejected `load` rejects the whole batch).
 */
export function readBatcher<K, V>(
  load: (keys: K[]) => Promise<Array<V | Error>>,
  maxBatch = 256,
): ReadBatcher<K, V> {
  let queue: Array<{ key: K; resolve: (v: V) => void; reject: (e: unknown) => void }> = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    while (queue.length) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(maxBatch);
      load(batch.map((b) => b.key)).then(
        (values) => {
          batch.forEach((b, i) => {
            const v = values[i];
            if (v instanceof Error) b.reject(v);
            else if (i >= values.length) b.reject(new Error('read batch answered fewer values than keys'));
            else b.resolve(v as V);
          });
        },
        (e: unknown) => batch.forEach((b) => b.reject(e)),
      );
    }
  };
  return {
    load(key: K): Promise<V> {
      return new Promise<V>((resolve, reject) => {
        queue.push({ key, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
