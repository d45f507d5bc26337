/**
 * secrets-backup.ts — the `secrets_backup` module (#6, `manage-secrets backup`): a tar.gz of
 * the host's secrets tree in `dest_dir/secrets-<UTC to the ms>-<4 hex>.tar.gz`
 * (cli/util/backup-names.ts), made by ONE remote script (cli/modules/remote/backup.sh): born
 * 0600 (umask 077, mktemp in the same dir) and moved into place without replacing anything
 * (`mv -n`) only after it was verified — every member compared byte for byte with the live file
 * by `tar --diff` (nothing unpacked anywhere), and as many members as the tree has paths — then
 * the oldest beyond `keep` (by timestamp) removed. A symlinked tree or backup dir is refused,
 * and so is a tree holding a symlink or a special file (restore would refuse that archive, so a
 * rotation could not roll back); a full or read-only disk is said in words, the temp archive
 * removed. Check mode only says what it would make.
 */
import { z } from 'zod'
import { backupStamp } from '../util/backup-names.js'
import { hostScript } from '../util/host-script.js'
import type { Module } from './types.js'

const Args = z.strictObject({
  src: z.string().min(1),
  dest_dir: z.string().min(1),
  keep: z.number().int().min(1).default(8),
})
type Args = z.infer<typeof Args>

/**
 * BACKUP is the host side (cli/modules/remote/backup.sh): $1 tree, $2 backup dir, $3 keep, $4 stamp.
 * Prints `path sha256 members`.
 */
const BACKUP = hostScript('lib/backups.sh', 'lib/failed.sh', 'backup.sh')

/** secrets_backup makes, verifies and rotates one host's backup. */
export const secretsBackup: Module<Args> = {
  name: 'secrets_backup',
  args: Args,
  async check(_ctx, a) {
    return { changed: true, msg: `archive ${a.src} to ${a.dest_dir}/secrets-<now>.tar.gz (keep ${a.keep})` }
  },
  async apply(ctx, a) {
    const r = await ctx.conn.exec([
      'sh',
      '-c',
      BACKUP(),
      'sh',
      a.src,
      a.dest_dir,
      String(a.keep),
      backupStamp(ctx.clock.now()),
    ])
    if (!r.ok)
      return {
        changed: false,
        failed: true,
        msg: `backup failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`,
      }
    const [path, sha256, members] = r.stdout.trim().split(' ')
    return {
      changed: true,
      backup: path,
      sha256,
      members: Number(members),
      msg: `${path} (${members} members, verified)`,
    }
  },
}
