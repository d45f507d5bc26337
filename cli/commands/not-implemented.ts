/**
 * not-implemented.ts — the honest placeholder for commands a later issue fills in: it says so
 * and exits 2, with no fake output.
 */
import { NotImplementedError } from '../errors.js'
import type { CommandModule } from './registry.js'

/** notImplemented returns a command that fails with `NotImplementedError` naming its issue. */
export function notImplemented(name: string, issue: number): CommandModule {
  return {
    async run() {
      throw new NotImplementedError(name, issue)
    },
  }
}
