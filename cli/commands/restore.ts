/**
 * restore.ts — `manage-secrets restore --hosts P --from TS|latest [--check]` (#6): each host's
 * secrets tree as one of its own backups holds it (playbooks/restore.yml), modes and owners
 * included, then the consumers of the bundles that changed restarted and verified. Takes the
 * run lock (not with --check). The store is left alone: where a restored bundle differs from
 * it, the next deploy or rotate pushes the store's values again, and this says so. `--from`
 * takes a backup's stamp in either form (backup-files.ts) or a prefix of one; a prefix that
 * names several backups of a host is a usage error listing them, found before any host changes
 * (a compare-only pass first). Each host's restore is found by its module, `secrets_restore`
 * (secrets/rotate/steps.ts `restoredOf`), never by a task's name.
 */
import { join } from 'node:path'
import { runPlaybook } from '../engine/run.js'
import { CaptureReporter, type Captured } from '../engine/capture.js'
import { hostEnd } from '../util/host-end.js'
import { restoredOf } from '../secrets/rotate/steps.js'
import { UsageError } from '../errors.js'
import { BACKUP_STAMP, STAMP_PREFIX } from '../util/backup-names.js'
import { loadPlaybook } from '../playbook/load.js'
import { withRunLock } from './run-lock.js'
import { runWithInventory, type CommandSummary } from './run-playbook.js'
import { PLAYBOOKS, secretsIfAny, type SecretsArgs } from './secrets-playbook.js'
import type { CommandIo } from './types.js'

/** RestoreArgs are restore's options. */
export interface RestoreArgs extends SecretsArgs {
  from: string
}

const PATH = /^\/.+\.tar\.gz$/

/** refuseAmbiguous throws the usage error for a `--from` prefix that names several backups of a host. */
function refuseAmbiguous(from: string, results: Map<string, Captured[]>): void {
  const hosts = [...results].flatMap(([host, rs]) => {
    const names = restoredOf(rs)?.ambiguous
    return names ? [`${host}: ${names.join(', ')}`] : []
  })
  if (hosts.length > 0)
    throw new UsageError(`--from ${from} names several backups (${hosts.join('; ')})`, [
      'give more of the timestamp, or all of it',
    ])
}

/** run runs playbooks/restore.yml with `restore_from`. */
export async function run(args: RestoreArgs, io: CommandIo): Promise<number> {
  if (!args.hosts) throw new UsageError('restore needs --hosts (use --hosts all to restore every host)')
  const prefix = args.from !== 'latest' && !PATH.test(args.from) && !BACKUP_STAMP.test(args.from)
  if (prefix && !STAMP_PREFIX.test(args.from)) {
    throw new UsageError(
      `--from ${args.from}: give a backup's UTC timestamp (20261201T150203.123Z-3f9a, or 20261125T030000Z ` +
        'for older ones) or a unique prefix of it from the day on (20261201T15), latest, ' +
        'or an absolute path to a .tar.gz on the host',
    )
  }
  const pb = await loadPlaybook(join(PLAYBOOKS, 'restore.yml'))
  return runWithInventory(args, io, async (opts) => {
    const body = async (): Promise<CommandSummary> => {
      const withStore = await secretsIfAny(args, io, opts)
      const extraVars = { ...opts.extraVars, restore_from: args.from }
      if (prefix && !args.check) {
        const quiet = new CaptureReporter({ emit: () => undefined })
        await runPlaybook(pb, { ...withStore, check: true, reporter: quiet, extraVars })
        refuseAmbiguous(args.from, quiet.take())
      }
      const capture = new CaptureReporter(opts.reporter)
      const summary = await runPlaybook(pb, { ...withStore, reporter: capture, extraVars })
      const taken = capture.take()
      if (prefix && args.check) refuseAmbiguous(args.from, taken)
      const restored: Record<string, { archive: string; files: string[]; bundles: string[] }> = {}
      for (const [host, results] of taken) {
        const r = restoredOf(results)
        if (r?.archive === undefined) continue
        restored[host] = { archive: r.archive, files: r.restored, bundles: r.bundles }
        io.journal?.host(host, {
          result: hostEnd(results).status,
          backup: r.archive,
          ...(restored[host].bundles.length > 0 ? { bundles: restored[host].bundles } : {}),
        })
        if (!args.check && r.bundles.length > 0) {
          capture.emit({
            kind: 'warning',
            msg:
              `${host}: restored ${r.bundles.join(', ')}; where they differ from the store, ` +
              "the next deploy or rotate pushes the store's values again",
          })
        }
      }
      capture.finish()
      return { exitCode: summary.exitCode, stats: capture.total, json: { restore: restored } }
    }
    return args.check ? body() : withRunLock(opts.stateDir as string, 'restore', body, { onTakeover: io.warn })
  })
}
