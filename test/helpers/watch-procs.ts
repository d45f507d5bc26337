/**
 * watch-procs.ts — reads every process's argv and environment on this machine until stopped, for
 * the invariant "no secret value in any argv or environment" (ARCHITECTURE.md, invariant 1):
 * every needle found is reported with the pid and program. The processes of other pid
 * namespaces (the consumer containers) are left out: handing values to a service through its
 * environment is what `manage-secrets load` is for.
 */
import { readdir, readFile, readlink } from 'node:fs/promises'

/** watchProcs starts the watch; `stop()` ends it and returns what was found (none: `[]`). */
export function watchProcs(needles: readonly string[]): { stop: () => Promise<string[]> } {
  let running = true
  const found = new Set<string>()
  const loop = (async () => {
    const ours = await readlink('/proc/self/ns/pid')
    while (running) {
      for (const pid of await readdir('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid) || pid === String(process.pid)) continue
        if ((await readlink(`/proc/${pid}/ns/pid`).catch(() => ours)) !== ours) continue
        for (const f of ['cmdline', 'environ']) {
          const text = await readFile(`/proc/${pid}/${f}`, 'latin1').catch(() => '')
          for (const n of needles) if (text.includes(n)) found.add(`${f} of ${pid}: ${text.split('\0')[0]}`)
        }
      }
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  return { stop: async () => ((running = false), await loop, [...found]) }
}
