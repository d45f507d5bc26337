/**
 * store-tx.ts — a write of several store files as one transaction (#12): a rotation of five
 * bundles, a `vault rekey` of every bundle and of the hosts' passwords, a put-back. A kill at
 * any moment leaves the store wholly old or wholly new, never under two passwords.
 *
 * Rules enforced here:
 * - every new file is first written beside its target as a 0600 temp (`.<name>.tmp-tx-<id>`,
 *   fsync'ed); nothing is renamed before all temps are on disk;
 * - the commit point is one atomic write of `<root>/.transaction.json` naming the temps (paths
 *   relative to the root, checked to stay inside it); then each temp is renamed over its
 *   target, the directories fsync'ed, and the marker removed;
 * - `recoverStore` (run under the store lock) finishes a committed transaction (rolls forward
 *   the renames still owed) and removes the temps of one that never reached its commit point;
 * - the caller holds the store lock for both.
 */
import { randomBytes } from 'node:crypto'
import { lstat, readdir, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, normalize, relative } from 'node:path'
import { z } from 'zod'
import { syncDir, writeFileAtomic } from '../util/secure-write.js'

/** TX_MARKER is the commit record of a transaction in flight, in the store's root. */
export const TX_MARKER = '.transaction.json'
const TEMP = /^\..+\.tmp-tx-[0-9a-f]{12}$/

const markerSchema = z.object({ id: z.string(), files: z.array(z.object({ target: z.string(), temp: z.string() })) })

/** TxFile is one file of a transaction: its path and its new bytes. */
export interface TxFile {
  path: string
  data: string | Uint8Array
}

function inside(root: string, rel: string): string {
  const p = normalize(rel)
  if (isAbsolute(p) || p === '..' || p.startsWith('../'))
    throw new Error(`${root}/${TX_MARKER}: path outside the store`)
  return join(root, p)
}

/** commitFiles writes `files` (all under `root`) as one transaction; see the header. */
export async function commitFiles(root: string, files: readonly TxFile[]): Promise<void> {
  if (files.length === 0) return
  const id = randomBytes(6).toString('hex')
  const staged: { target: string; temp: string }[] = []
  try {
    for (const f of files) {
      const temp = join(dirname(f.path), `.${basename(f.path)}.tmp-tx-${id}`)
      await writeFileAtomic(temp, f.data, { overwrite: false })
      staged.push({ target: f.path, temp })
    }
  } catch (err) {
    await Promise.all(staged.map((s) => unlink(s.temp).catch(() => undefined)))
    throw err
  }
  const marker = { id, files: staged.map((s) => ({ target: relative(root, s.target), temp: relative(root, s.temp) })) }
  await writeFileAtomic(join(root, TX_MARKER), JSON.stringify(marker) + '\n')
  await rollForward(root, marker.files)
}

async function rollForward(root: string, files: readonly { target: string; temp: string }[]): Promise<void> {
  const dirs = new Set<string>()
  for (const f of files) {
    const temp = inside(root, f.temp)
    const present = await lstat(temp).then(
      (s) => s.isFile(),
      () => false,
    )
    if (present) await rename(temp, inside(root, f.target))
    dirs.add(dirname(temp))
  }
  for (const d of dirs) await syncDir(d)
  await unlink(join(root, TX_MARKER))
  await syncDir(root)
}

/**
 * recoverStore finishes or undoes what a killed transaction left under `root` (and its
 * sub-folders `subdirs`); returns what it did, for a warning line, or undefined when nothing.
 */
export async function recoverStore(root: string, subdirs: readonly string[] = []): Promise<string | undefined> {
  let done: string | undefined
  const text = await readFile(join(root, TX_MARKER), 'utf8').catch(() => undefined)
  if (text !== undefined) {
    const parsed = (() => {
      try {
        return markerSchema.safeParse(JSON.parse(text))
      } catch {
        return undefined
      }
    })()
    if (parsed?.success) {
      await rollForward(root, parsed.data.files)
      done = `finished the store write interrupted earlier (${parsed.data.files.length} files)`
    } else {
      await unlink(join(root, TX_MARKER))
    }
  }
  let removed = 0
  for (const dir of [root, ...subdirs.map((s) => join(root, s))]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!TEMP.test(name)) continue
      await unlink(join(dir, name)).catch(() => undefined)
      removed += 1
    }
  }
  if (removed > 0)
    done ??= `removed ${removed} temp files of a store write interrupted before its commit (the store is as it was)`
  return done
}

/** txPending says whether a committed transaction waits to be finished under `root`. */
export async function txPending(root: string): Promise<boolean> {
  return lstat(join(root, TX_MARKER)).then(
    () => true,
    () => false,
  )
}
