/**
 * copy-remote.mjs — the build's second step (package.json `build`, after tsc): copies the
 * host-side scripts, every `.sh` file under a `remote/` folder of `cli/` (cli/modules/remote/),
 * to the same place under `dist/`, where cli/util/host-script.ts reads them from the built code.
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'cli')
const dist = join(root, 'dist')

/** walk lists the files under `dir`, recursively. */
function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    return e.isDirectory() ? walk(p) : e.isFile() ? [p] : []
  })
}

let n = 0
for (const file of walk(cli)) {
  const rel = relative(cli, file)
  if (!rel.endsWith('.sh') || !rel.split(sep).slice(0, -1).includes('remote')) continue
  mkdirSync(dirname(join(dist, rel)), { recursive: true })
  copyFileSync(file, join(dist, rel))
  n++
}
if (n === 0) throw new Error('copy-remote: no cli/**/remote/**/*.sh found')
