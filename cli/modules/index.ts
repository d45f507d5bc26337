/**
 * index.ts — the module registry, by hand: a task names one of these.
 */
import { assert } from './assert.js'
import { auditLeaks } from './audit-leaks.js'
import { auditScan } from './audit-scan.js'
import { command } from './command.js'
import { container } from './container.js'
import { copy } from './copy.js'
import { debug } from './debug.js'
import { fetch } from './fetch.js'
import { file } from './file.js'
import { secretBundle } from './secret-bundle.js'
import { secretHostKey } from './secret-host-key.js'
import { secretHostPassword } from './secret-host-password.js'
import { secretOrphans } from './secret-orphans.js'
import { secretsBackup } from './secrets-backup.js'
import { secretsRestore } from './secrets-restore.js'
import { secretsStatus } from './secrets-status.js'
import { stat } from './stat.js'
import type { AnyModule } from './types.js'

/** MODULES maps each module name to its implementation. */
export const MODULES: ReadonlyMap<string, AnyModule> = new Map<string, AnyModule>(
  [
    file,
    copy,
    command,
    stat,
    container,
    assert,
    debug,
    secretBundle,
    secretHostKey,
    secretHostPassword,
    secretOrphans,
    auditScan,
    auditLeaks,
    secretsStatus,
    secretsBackup,
    secretsRestore,
    fetch,
  ].map((m) => [m.name, m]),
)
