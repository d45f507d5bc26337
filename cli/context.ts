/**
 * context.ts — what every layer below the commands receives instead of reaching for globals
 * (ARCHITECTURE.md, "One context"): the clock, the services a run carries (the secrets
 * provider, …) and a per-run cache. A command builds one `RunContext` and hands it down;
 * nothing below `cli/commands/` reads the wall clock, argv or the terminal on its own.
 *
 * Rules enforced here:
 * - this file imports nothing of the project: every layer may import it, it imports none;
 * - a service is found by a typed key (`ServiceKey<T>`), so the engine and the module
 *   contract carry the secrets provider without importing anything of `cli/secrets/`;
 * - the run cache is per run, never module-level, and forgets a key whose load failed.
 */

/** Clock is where "now" comes from; tests and `faketime` runs give their own. */
export interface Clock {
  now(): Date
}

/** systemClock is the wall clock. */
export const systemClock: Clock = { now: () => new Date() }

/** ServiceKey names one service a context can carry, with its type. */
export class ServiceKey<T> {
  /** never set: it only carries `T` for the compiler */
  declare readonly type?: T
  constructor(readonly name: string) {}
}

/** Services holds the services of one run, by key. */
export class Services {
  private readonly byKey = new Map<ServiceKey<unknown>, unknown>()

  /** with returns these services plus `value` under `key` (the original is unchanged). */
  with<T>(key: ServiceKey<T>, value: T): Services {
    const next = new Services()
    for (const [k, v] of this.byKey) next.byKey.set(k, v)
    next.byKey.set(key as ServiceKey<unknown>, value)
    return next
  }

  /** get returns the service under `key`, or undefined when the run has none. */
  get<T>(key: ServiceKey<T>): T | undefined {
    return this.byKey.get(key as ServiceKey<unknown>) as T | undefined
  }
}

/** RunCache remembers what one run read (a host directory's listing, …), loaded once per key. */
export class RunCache {
  private readonly entries = new Map<string, Promise<unknown>>()

  /** memo returns the value under `key`, calling `load` the first time (again after a failure). */
  memo<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.entries.get(key) as Promise<T> | undefined
    if (!p) {
      p = load()
      this.entries.set(key, p)
      p.catch(() => this.entries.delete(key))
    }
    return p
  }

  /** forget drops a key (what it named changed during the run). */
  forget(key: string): void {
    this.entries.delete(key)
  }
}
