/**
 * restore.ts — `manage-secrets restore --hosts P --from TS|latest [--check]` (#6): each host's
 * secrets tree as one of its own backups holds it (playbooks/restore.yml), modes and owners
 * included, then the consumers of the bundles that changed restarted and verified. Takes the
 * run lock (not with --check). The store is left alone: where a restored bundle differs from
 * it, the next deploy or rotate pushes the store's values again, and this says so.
 */
import { join } from 'node:path'
import { runPlaybook } from '../engine/run.js'
import { CaptureReporter, outcomeOf } from '../engine/capture.js'
import { UsageError } from '../errors.js'
import { loadPlaybook } from '../playbook/load.js'
import { withRunLock } from './run-lock.js'
import { runWithInventory, type CommandSummary } from './run-playbook.js'
import { PLAYBOOKS, secretsIfAny, type SecretsArgs } from './secrets-playbook.js'
import type { CommandIo } from './types.js'

/** RestoreArgs are restore's options. */
export interface RestoreArgs extends SecretsArgs {
  from: string
}

const STAMP = /^(latest|\d{8}T\d{6}Z|\/.+\.tar\.gz)$/

/** run runs playbooks/restore.yml with `restore_from`. */
export async function run(args: RestoreArgs, io: CommandIo): Promise<number> {
  if (!args.hosts) throw new UsageError('restore needs --hosts (use --hosts all to restore every host)')
  if (!STAMP.test(args.from)) throw new UsageError(`--from ${args.from}: give a backup's UTC timestamp (20261125T030000Z), latest, or an absolute path to a .tar.gz on the host`)
  const pb = await loadPlaybook(join(PLAYBOOKS, 'restore.yml'))
  return runWithInventory(args, io, async (opts) => {
    const body = async (): Promise<CommandSummary> => {
      const secrets = await secretsIfAny(args, io, opts)
      const capture = new CaptureReporter(opts.reporter)
      const summary = await runPlaybook(pb, { ...opts, reporter: capture, extraVars: { ...opts.extraVars, restore_from: args.from }, ...secrets })
      const restored: Record<string, { archive: string; files: string[]; bundles: string[] }> = {}
      for (const [host, results] of capture.take()) {
        const r = results.find((x) => x.task === 'restore the secrets tree')?.result
        if (!r || typeof r.archive !== 'string') continue
        restored[host] = { archive: r.archive, files: (r.restored as string[]) ?? [], bundles: (r.bundles as string[]) ?? [] }
        io.journal?.host(host, { result: outcomeOf(results).status, backup: r.archive, ...(restored[host].bundles.length > 0 ? { bundles: restored[host].bundles } : {}) })
        if (!args.check && Array.isArray(r.bundles) && r.bundles.length > 0) {
          capture.emit({ kind: 'warning', msg: `${host}: restored ${r.bundles.join(', ')}; where they differ from the store, the next deploy or rotate pushes the store's values again` })
        }
      }
      capture.finish()
      return { exitCode: summary.exitCode, stats: capture.total, json: { restore: restored } }
    }
    return args.check ? body() : withRunLock(opts.stateDir as string, 'restore', body)
  })
}
