/**
 * types.ts — the contract every module keeps (plan, then apply):
 * - `check()` only reads, never mutates anything; `--check` runs only `check()`;
 * - `apply()` makes the change `check()` planned and reports what it did;
 * - a module that cannot predict in check mode returns `unknown` with a reason rather than
 *   acting; task failures are results (`failed: true`), not exceptions; only transport
 *   trouble (`UnreachableError`) is thrown;
 * - `secretArgs` name the arguments whose values are never shown (output, --diff, journal).
 */
import type { ZodType } from 'zod'
import type { Clock, RunCache, Services } from '../context.js'
import type { Connection } from '../transport/connection.js'

/** Facts are the few host facts templates can use (gathered lazily, one round trip). */
export interface Facts {
  ansible_hostname: string
  ansible_user_id: string
  ansible_user_uid: number
  ansible_user_gid: number
}

/** ModuleContext is what a module may touch: the host's connection and the run's mode. */
export interface ModuleContext {
  host: string
  conn: Connection
  check: boolean
  diff: boolean
  /** Host variables (raw; modules read plain settings such as `container_runtime`). */
  vars: Record<string, unknown>
  /** Directory relative `src:` paths resolve against (the role's or playbook's). */
  baseDir: string
  /** Evaluates a condition in the task's scope (for `assert`). */
  evaluate(cond: string | boolean): boolean
  /** Looks a variable up in the task's scope (for `debug: var=`). */
  lookup(name: string): unknown
  /** The run's services by key (the secrets provider under `SECRETS`, when the inventory has a store). */
  services: Services
  /** What this run already read (a directory listing shared by the modules of a loop). */
  cache: RunCache
  clock: Clock
}

/** FileDiff is one before/after pair shown with `--diff` (already redacted where secret). */
export interface FileDiff {
  path: string
  before: string
  after: string
}

/** ModuleResult is what one module run produced; extra keys are what `register` stores. */
export interface ModuleResult {
  changed: boolean
  failed?: boolean
  msg?: string
  /** In check mode: the module cannot tell whether it would change anything, and why. */
  unknown?: string
  diff?: FileDiff[]
  [key: string]: unknown
}

/** Module is one task type (`copy`, `file`, `command`, …). */
export interface Module<A = unknown> {
  name: string
  args: ZodType<A>
  secretArgs?: readonly string[]
  /** Read-only modules (stat, assert, debug) run the same way in check mode. */
  readOnly?: boolean
  check(ctx: ModuleContext, args: A): Promise<ModuleResult>
  apply(ctx: ModuleContext, args: A, plan: ModuleResult): Promise<ModuleResult>
  /**
   * applyEach, when given, applies the planned items of one loop on one host together (one
   * result per item, in order), so that a module can make their changes in fewer round trips;
   * the engine checks every item first, then calls it once instead of `apply` per item.
   */
  applyEach?(items: readonly { ctx: ModuleContext; args: A; plan: ModuleResult }[]): Promise<ModuleResult[]>
}

/** AnyModule erases a module's argument type for the registry. */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds modules of every argument type; each checks its own with zod
export type AnyModule = Module<any>
