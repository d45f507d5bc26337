/**
 * edit-leftovers.ts — says on stderr what `removeEditLeftovers` cleaned up: the plaintext of
 * a `vault edit` whose process was killed (#12). Called at the start of every `vault` action
 * and by every command that opens the secrets store (setup, deploy, rotate, audit, status).
 *
 * Rules enforced here:
 * - one stderr line per directory found, removed or not, naming it and the pid that made it;
 *   never its content;
 * - it never fails the command it runs in: a directory it cannot remove is a warning.
 */
import { removeEditLeftovers } from '../secrets/edit-leftovers.js'
import type { CommandIo } from './types.js'

/** cleanEditLeftovers removes the temp directories of interrupted edits and reports each on stderr. */
export async function cleanEditLeftovers(io: CommandIo): Promise<void> {
  for (const l of await removeEditLeftovers(io.env)) {
    io.stderr(
      l.removed
        ? `manage-secrets: removed plaintext left by an interrupted vault edit (pid ${l.pid}): ${l.dir}\n`
        : `manage-secrets: warning: plaintext left by an interrupted vault edit (pid ${l.pid}) in ${l.dir} could not be removed: ${l.problem ?? 'error'}; delete it by hand\n`,
    )
  }
}
