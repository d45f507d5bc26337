/**
 * owed.ts — handlers owed to hosts that became unreachable (issue #3: "a restart owed is never
 * dropped"). Ansible drops them (ansible#10498); here they are written to the state dir and
 * the next run of the same play performs them first thing at the end of its tasks.
 * The file holds names only (playbook, play, handler, host), never values; written atomically.
 * An entry's `since` is the run's clock (cli/context.ts), never the wall clock read here.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { systemClock, type Clock } from '../context.js'

interface Entry {
  playbook: string
  play: string
  handler: string
  host: string
  since: string
}

/** OwedHandlers is the persistent list of handlers still owed to hosts. */
export class OwedHandlers {
  private entries: Entry[] = []
  private loaded = false

  constructor(
    private readonly dir: string | null,
    private readonly clock: Clock = systemClock,
  ) {}

  private get file(): string | null {
    return this.dir ? join(this.dir, 'owed-handlers.json') : null
  }

  private async load(): Promise<void> {
    if (this.loaded) return
    this.loaded = true
    if (!this.file) return
    try {
      this.entries = JSON.parse(await readFile(this.file, 'utf8')) as Entry[]
    } catch {
      this.entries = []
    }
  }

  /** owed returns, per host, the handlers still owed for this play. */
  async owed(playbook: string, play: string): Promise<Map<string, Set<string>>> {
    await this.load()
    const out = new Map<string, Set<string>>()
    for (const e of this.entries.filter((e) => e.playbook === playbook && e.play === play)) {
      if (!out.has(e.host)) out.set(e.host, new Set())
      out.get(e.host)?.add(e.handler)
    }
    return out
  }

  /** settle replaces what one host owes for this play (empty: nothing owed any more). */
  async settle(playbook: string, play: string, host: string, handlers: Iterable<string>): Promise<void> {
    await this.load()
    const since = this.clock.now().toISOString()
    this.entries = this.entries.filter((e) => !(e.playbook === playbook && e.play === play && e.host === host))
    for (const handler of handlers) this.entries.push({ playbook, play, handler, host, since })
  }

  /** save writes the list atomically (0600 file in a 0700 dir). */
  async save(): Promise<void> {
    if (!this.file || !this.dir || !this.loaded) return
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const tmp = `${this.file}.tmp-${process.pid}`
    await writeFile(tmp, JSON.stringify(this.entries, null, 2) + '\n', { mode: 0o600 })
    await rename(tmp, this.file)
  }
}
