/**
 * steps.ts — the named steps of a rotation (README "Rotate") and what each returns: the steps
 * that run on hosts are run by the command (it owns the engine and the playbooks), through a
 * `RunStep` it gives the service; the results come back per host and are found by the module
 * that produced them, never by a task's or a play's display name.
 *
 * Rules enforced here:
 * - a host step's results are identified by module: `secrets_backup` (backup), `secret_bundle`
 *   (push), `container` and `command` (verify: the push play's handlers restart and check the
 *   consumers, so push and verify run as one playbook step), `secrets_restore` (roll back, and
 *   `manage-secrets restore`); renaming a task in a role changes nothing here;
 * - a step ended on a host as its first unreachable or first unignored failure says.
 */

/** Step names the steps of a rotation, in their order. */
export type Step = 'backup' | 'store-write' | 'push' | 'verify' | 'rollback' | 'put-back'

/** HostStep is a step that runs a playbook on hosts (the others work on the store). */
export type HostStep = Extract<Step, 'backup' | 'push' | 'rollback'>

/**
 * STEP_MODULE is the module whose task a host step's play runs: the command picks the play that
 * holds it (playbooks/rotate.yml, playbooks/restore.yml), and the service reads that module's results.
 */
export const STEP_MODULE: Readonly<Record<HostStep, string>> = {
  backup: 'secrets_backup',
  push: 'secret_bundle',
  rollback: 'secrets_restore',
}

/** TaskStatus is one task's outcome on one host, as the engine names it. */
export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable' | 'unknown'

/** TaskResult is one task result on one host, as a host step reports it (already redacted). */
export interface TaskResult {
  /** the module that produced it; absent when the host could not be reached */
  module?: string
  task: string
  handler: boolean
  status: TaskStatus
  msg?: string
  item?: string
  ignored?: boolean
  result: Record<string, unknown>
}

/** StepResults are a host step's results, by host. */
export type StepResults = Map<string, TaskResult[]>

/** RunStep runs a host step on `hosts` (none: nothing runs) and returns each host's results. */
export type RunStep = (
  step: HostStep,
  hosts: readonly string[],
  check: boolean,
  vars?: Record<string, unknown>,
) => Promise<StepResults>

/** ofModule is the results of `module` among a host's results. */
export function ofModule(results: readonly TaskResult[] | undefined, module: string): TaskResult[] {
  return (results ?? []).filter((r) => r.module === module)
}

/** BackupMade is what the backup step returns for a host: the verified archive and its checksum. */
export interface BackupMade {
  backup: string
  sha256: string
}

/** backupMade is the backup a host's backup step made, if it made one. */
export function backupMade(results: readonly TaskResult[] | undefined): BackupMade | undefined {
  const r = ofModule(results, STEP_MODULE.backup).find((x) => typeof x.result.backup === 'string')?.result
  return r ? { backup: r.backup as string, sha256: r.sha256 as string } : undefined
}

/** pushedBundles are the bundles the push step wrote to a host (its changed items). */
export function pushedBundles(results: readonly TaskResult[] | undefined): string[] {
  return ofModule(results, STEP_MODULE.push)
    .filter((r) => r.status === 'changed')
    .map((r) => String(r.item))
}

/** Restored is what a restore returns for a host (the module `secrets_restore`'s result). */
export interface Restored {
  status: TaskStatus
  /** the archive it restored from (absent when none was found) */
  archive?: string
  /** the files it put back */
  restored: string[]
  /** the bundles among them */
  bundles: string[]
  /** the backups a `--from` prefix named, when it named several */
  ambiguous?: string[]
}

/** restoredOf is a host's restore result, if the restore ran there. */
export function restoredOf(results: readonly TaskResult[] | undefined): Restored | undefined {
  const r = ofModule(results, STEP_MODULE.rollback)[0]
  if (!r) return undefined
  const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : [])
  return {
    status: r.status,
    ...(typeof r.result.archive === 'string' ? { archive: r.result.archive } : {}),
    restored: list(r.result.restored),
    bundles: list(r.result.bundles),
    ...(Array.isArray(r.result.ambiguous) ? { ambiguous: r.result.ambiguous as string[] } : {}),
  }
}

/** runOn runs a host step through `runStep`, or nothing when no host is left for it. */
export async function runOn(
  runStep: RunStep,
  step: HostStep,
  hosts: readonly string[],
  check: boolean,
  vars: Record<string, unknown> = {},
): Promise<StepResults> {
  return hosts.length === 0 ? new Map() : runStep(step, hosts, check, vars)
}
