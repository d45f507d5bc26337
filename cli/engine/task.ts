/**
 * task.ts — one task on one host: loop, `when`, argument templating and validation, the
 * module's check (and apply unless in check mode), `changed_when`/`failed_when`, `register`,
 * and redaction. Module failures are results; only `UnreachableError` escapes.
 */
import { UnreachableError, UserError, VaultError } from '../errors.js'
import type { AnyModule, ModuleContext, ModuleResult } from '../modules/types.js'
import { MODULES } from '../modules/index.js'
import { redactResult } from './redact.js'
import type { Task } from '../playbook/schema.js'
import { evalCondition, render, TemplateError, UndefinedError, type Scope } from '../playbook/template.js'
import { toText } from '../util/text.js'
import type { HostStatus } from './events.js'
import { lazyScope } from './scope.js'

/** TaskRun is what running one task on one host needs from the play. */
export interface TaskRun {
  host: string
  check: boolean
  diff: boolean
  layers: Record<string, unknown>[]
  context: (scope: Scope, task: Task) => Promise<ModuleContext>
}

/** TaskOutcome is one result line (one per loop item) plus the value `register` stores. */
export interface TaskOutcome {
  status: HostStatus
  ignored: boolean
  item?: string
  /** Redacted: safe for any output. */
  result: ModuleResult
  /** Unredacted: what `register` stores (Ansible's semantics; Secret values stay redacting). */
  raw: ModuleResult
}

/** runTask runs `task` on one host and returns its outcomes and the registered value. */
export async function runTask(
  run: TaskRun,
  task: Task,
): Promise<{ outcomes: TaskOutcome[]; registered: Record<string, unknown> }> {
  const base = lazyScope(...run.layers, task.vars)
  let items: unknown[] | null = null
  if (task.loop !== undefined) {
    const rendered = guard(task, () => render(task.loop, base))
    if ('error' in rendered) return single(task, rendered.error)
    if (!Array.isArray(rendered.value))
      return single(task, failure(task, `loop must be a list, got ${typeof rendered.value}`))
    items = rendered.value
  }
  if (items === null) {
    const o = await runOnce(run, task, base)
    return { outcomes: [o], registered: o.raw }
  }
  const outcomes: TaskOutcome[] = []
  const mod = MODULES.get(task.module) as AnyModule
  const scopes = items.map((item) => lazyScope(...run.layers, task.vars, { [task.loopVar]: item }))
  const each =
    mod.applyEach && !(task.checkMode ?? run.check) && !mod.readOnly ? await runEach(run, task, scopes) : null
  for (const [i, item] of items.entries()) {
    const scope = scopes[i] as Scope
    const o = each ? (each[i] as TaskOutcome) : await runOnce(run, task, scope)
    outcomes.push({ ...o, item: toText(labelOf(task, scope, item)) })
  }
  const results = outcomes.map((o) => o.raw)
  const registered = { changed: results.some((r) => r.changed), failed: results.some((r) => r.failed), results }
  return { outcomes, registered }
}

/** Planned is one item checked and waiting for its apply (or already decided: `done`). */
type Planned =
  | { done: TaskOutcome }
  | {
      ctx: ModuleContext
      args: Record<string, unknown>
      plan: ModuleResult
      scope: Scope
      secrets: string[]
      /** the check threw a UserError: its failure is the result, nothing is applied */
      refused: boolean
    }

/** prepare runs one item up to its check: `when`, the arguments, the module's check. */
async function prepare(run: TaskRun, task: Task, scope: Scope): Promise<Planned> {
  const when = guard(task, () => task.when.every((c) => evalCondition(c, scope)))
  if ('error' in when) return { done: when.error }
  if (!when.value) {
    const skipped = { changed: false, skipped: true }
    return { done: { status: 'skipped', ignored: false, result: skipped, raw: skipped } }
  }
  const mod = MODULES.get(task.module) as AnyModule
  const args = guard(task, () => render(task.args, scope))
  if ('error' in args) return { done: args.error }
  const parsed = mod.args.safeParse(args.value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const msg = `invalid arguments for ${task.module}: ${issue?.path.join('.') || 'args'}: ${issue?.message}`
    return { done: failure(task, msg) }
  }
  const secrets = secretValues(mod, parsed.data)
  const ctx = await run.context(scope, task)
  const refusal = await refusedBy(() => mod.check(ctx, parsed.data))
  const plan = 'refused' in refusal ? refusal.refused : refusal.plan
  return { ctx, args: parsed.data, plan, scope, secrets, refused: 'refused' in refusal }
}

/**
 * refusedBy runs a module call: a UserError is the item's failure (`refused`); unreachable and
 * vault errors are the host's or the run's and are thrown on.
 */
async function refusedBy(fn: () => Promise<ModuleResult>): Promise<{ plan: ModuleResult } | { refused: ModuleResult }> {
  try {
    return { plan: await fn() }
  } catch (err) {
    // a wrong vault password or a damaged store is the whole run's problem, not one host's: exit 3
    if (err instanceof UnreachableError || err instanceof VaultError) throw err
    if (err instanceof UserError) return { refused: { changed: false, failed: true, msg: err.message } }
    throw err
  }
}

/** guarded is refusedBy's result either way. */
async function guarded(fn: () => Promise<ModuleResult>): Promise<ModuleResult> {
  const r = await refusedBy(fn)
  return 'refused' in r ? r.refused : r.plan
}

/** finish applies `changed_when`/`failed_when` and redaction to an item's result. */
function finish(
  task: Task,
  p: Exclude<Planned, { done: TaskOutcome }>,
  result: ModuleResult,
  checkOnly: boolean,
): TaskOutcome {
  const post = guard(task, () => conditions(task, p.scope, result))
  if ('error' in post) return post.error
  const shown = redactResult(post.value, task.noLog, p.secrets)
  return {
    status: statusOf(shown, checkOnly),
    ignored: !!shown.failed && task.ignoreErrors,
    result: shown,
    raw: post.value,
  }
}

async function runOnce(run: TaskRun, task: Task, scope: Scope): Promise<TaskOutcome> {
  const mod = MODULES.get(task.module) as AnyModule
  const checkOnly = task.checkMode ?? run.check
  const p = await prepare(run, task, scope)
  if ('done' in p) return p.done
  const plan = p.plan
  const result = checkOnly || mod.readOnly || p.refused ? plan : await guarded(() => mod.apply(p.ctx, p.args, plan))
  return finish(task, p, result, checkOnly)
}

/**
 * runEach runs a loop whose module applies its items together (Module.applyEach): every item
 * is checked, in order, then the planned ones are applied in one call.
 */
async function runEach(run: TaskRun, task: Task, scopes: readonly Scope[]): Promise<TaskOutcome[]> {
  const mod = MODULES.get(task.module) as AnyModule
  const planned: Planned[] = []
  for (const scope of scopes) planned.push(await prepare(run, task, scope))
  const todo = planned.filter((p): p is Exclude<Planned, { done: TaskOutcome }> => !('done' in p))
  const batch = todo.filter((p) => !p.refused)
  let applied: ModuleResult[]
  try {
    applied = batch.length > 0 && mod.applyEach ? await mod.applyEach(batch) : []
  } catch (err) {
    const failed = await guarded(() => Promise.reject(err))
    applied = batch.map(() => failed)
  }
  const results = new Map(batch.map((p, i) => [p, applied[i] ?? p.plan]))
  return planned.map((p) => ('done' in p ? p.done : finish(task, p, results.get(p) ?? p.plan, false)))
}

function conditions(task: Task, scope: Scope, result: ModuleResult): ModuleResult {
  if (!task.changedWhen && !task.failedWhen) return result
  const with_ = lazyScope({ __r: result }, task.register ? { [task.register]: result } : {})
  const s: Scope = {
    has: (n) => with_.has(n) || scope.has(n),
    get: (n) => (with_.has(n) ? with_.get(n) : scope.get(n)),
  }
  const out = { ...result }
  if (task.changedWhen) out.changed = task.changedWhen.every((c) => evalCondition(c, s))
  if (task.failedWhen) out.failed = task.failedWhen.every((c) => evalCondition(c, s))
  return out
}

function statusOf(r: ModuleResult, checkOnly: boolean): HostStatus {
  if (r.failed) return 'failed'
  if (r.skipped) return 'skipped'
  if (checkOnly && r.unknown) return 'unknown'
  return r.changed ? 'changed' : 'ok'
}

function secretValues(mod: AnyModule, args: Record<string, unknown>): string[] {
  return (mod.secretArgs ?? []).map((k) => args[k]).filter((v): v is string => typeof v === 'string')
}

/** labelOf is what the output names a loop item by: `loop_control.label` rendered, else the item. */
function labelOf(task: Task, scope: Scope, item: unknown): unknown {
  if (task.loopLabel === undefined) return item
  const label = guard(task, () => render(task.loopLabel, scope))
  return 'value' in label ? label.value : item
}

function guard<T>(task: Task, fn: () => T): { value: T } | { error: TaskOutcome } {
  try {
    return { value: fn() }
  } catch (err) {
    if (err instanceof UndefinedError)
      return { error: failure(task, `${err.message} in task '${task.name}' (${task.where})`) }
    if (err instanceof TemplateError)
      return { error: failure(task, `template error in task '${task.name}' (${task.where}): ${err.message}`) }
    throw err
  }
}

function failure(task: Task, msg: string): TaskOutcome {
  const result = { changed: false, failed: true, msg }
  return { status: 'failed', ignored: task.ignoreErrors, result, raw: result }
}

function single(_task: Task, o: TaskOutcome): { outcomes: TaskOutcome[]; registered: Record<string, unknown> } {
  return { outcomes: [o], registered: o.raw }
}
