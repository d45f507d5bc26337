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
 *
 * `--from-control latest|PATH` (#17) restores ONE host from a copy `backup --fetch` made on
 * the control node (control-copy.ts): the copy is checked here before anything is sent —
 * every member a file or directory under one top dir, no `..` or absolute path, bounded, and
 * its sha256 the one the journal recorded when the backup was made — then the module sends it
 * to the host's backup dir (atomic, 0600) and restores it as any host backup is restored.
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
import { controlCopy } from './control-copy.js'
import type { CommandIo } from './types.js'

/** RestoreArgs are restore's options. */
export interface RestoreArgs extends SecretsArgs {
  from?: string
  fromControl?: string
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

/** fromOf checks `--from` / `--from-control` (exactly one) and says whether `--from` is a stamp prefix. */
function fromOf(args: RestoreArgs): { from: string; prefix: boolean } {
  if (!args.hosts) throw new UsageError('restore needs --hosts (use --hosts all to restore every host)')
  if (args.from !== undefined && args.fromControl !== undefined)
    throw new UsageError('restore takes --from or --from-control, not both')
  if (args.from === undefined && args.fromControl === undefined)
    throw new UsageError('restore needs --from (a backup on the host) or --from-control (a copy on this machine)')
  if (args.from === undefined) return { from: 'latest', prefix: false }
  const prefix = args.from !== 'latest' && !PATH.test(args.from) && !BACKUP_STAMP.test(args.from)
  if (prefix && !STAMP_PREFIX.test(args.from)) {
    throw new UsageError(
      `--from ${args.from}: give a backup's UTC timestamp (20261201T150203.123Z-3f9a, or 20261125T030000Z ` +
        'for older ones) or a unique prefix of it from the day on (20261201T15), latest, ' +
        'or an absolute path to a .tar.gz on the host',
    )
  }
  return { from: args.from, prefix }
}

/** run runs playbooks/restore.yml with `restore_from` (or `restore_upload`, a verified control-node copy). */
export async function run(args: RestoreArgs, io: CommandIo): Promise<number> {
  const { from, prefix } = fromOf(args)
  const pb = await loadPlaybook(join(PLAYBOOKS, 'restore.yml'))
  return runWithInventory(args, io, async (opts) => {
    // a control-node copy is checked before the store is opened or any host is touched
    const upload = args.fromControl === undefined ? undefined : await controlCopy(args.fromControl, opts, io)
    const body = async (): Promise<CommandSummary> => {
      const withStore = await secretsIfAny(args, io, opts)
      const extraVars = {
        ...opts.extraVars,
        restore_from: from,
        // always set here: an unverified archive cannot come in through -e
        restore_upload: upload?.file ?? '',
        restore_upload_sha256: upload?.sha256 ?? '',
      }
      if (prefix && !args.check) {
        const quiet = new CaptureReporter({ emit: () => undefined })
        await runPlaybook(pb, { ...withStore, check: true, reporter: quiet, extraVars })
        refuseAmbiguous(from, quiet.take())
      }
      const capture = new CaptureReporter(opts.reporter)
      const summary = await runPlaybook(pb, { ...withStore, reporter: capture, extraVars })
      const taken = capture.take()
      if (prefix && args.check) refuseAmbiguous(from, taken)
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
