/**
 * global-setup.ts — builds the CLI once before the suites when any source under cli/ is newer
 * than dist/, so e2e tests always spawn the code under test (`npm test` builds too).
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function newest(dir: string): number {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}

/** setup runs the build (`npm run build`: tsc, then the host scripts copied) when dist/ is missing or stale. */
export function setup(): void {
  let built = 0
  try {
    built = statSync('dist/main.js').mtimeMs
  } catch {
    built = 0
  }
  if (built < newest('cli')) execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' })
}
