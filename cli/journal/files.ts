/**
 * files.ts — how the journal's files are opened (#7): born 0600, never through a link (lstat,
 * then O_NOFOLLOW), never blocking on a FIFO; the last line read from the end; whole writes.
 */
import { constants } from 'node:fs'
import { lstat, open, type FileHandle } from 'node:fs/promises'
import { Exit, UserError } from '../errors.js'
import { PRIVATE_FILE } from '../util/secure-write.js'

/** lastLine reads the file's last line from its end, and whether the file ends in a newline. */
export async function lastLine(fh: FileHandle): Promise<{ text: string | null; newline: boolean }> {
  const { size } = await fh.stat()
  if (size === 0) return { text: null, newline: true }
  let buf = Buffer.alloc(0)
  for (let pos = size; pos > 0; ) {
    const n = Math.min(65_536, pos)
    pos -= n
    const chunk = Buffer.alloc(n)
    await fh.read(chunk, 0, n, pos)
    buf = Buffer.concat([chunk, buf])
    const body = buf[buf.length - 1] === 0x0a ? buf.subarray(0, -1) : buf
    const nl = body.lastIndexOf(0x0a)
    if (nl >= 0 || pos === 0)
      return { text: body.subarray(nl + 1).toString('utf8'), newline: buf[buf.length - 1] === 0x0a }
  }
  return { text: null, newline: true }
}

/** writeAll writes every byte of `data` (O_APPEND: at the file's end). */
export async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length; ) done += (await fh.write(data, done, data.length - done, null)).bytesWritten
}

/** openPrivate opens a journal file born 0600; a symlink or anything but a regular file is refused. */
export async function openPrivate(path: string, flags: number): Promise<FileHandle> {
  const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw err
  })
  if (info && !info.isFile()) throw notAFile(path, info.isSymbolicLink())
  // O_NOFOLLOW: a link swapped in after the lstat is refused too; O_NONBLOCK: a FIFO cannot hang us
  const fh = await open(path, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, PRIVATE_FILE).catch(
    (err: NodeJS.ErrnoException) => {
      throw err.code === 'ELOOP' ? notAFile(path, true) : err
    },
  )
  if (!(await fh.stat()).isFile()) {
    await fh.close()
    throw notAFile(path, false)
  }
  return fh
}

function notAFile(path: string, link: boolean): UserError {
  const what = link ? 'is a symlink, refusing to follow it' : 'is not a regular file'
  return new UserError(`${path}: ${what}`, Exit.Usage, [`move ${path} aside; the journal is recreated on the next run`])
}

/** readText reads a journal file without following links; null when it does not exist. */
export async function readText(path: string): Promise<string | null> {
  const fh = await openPrivate(path, constants.O_RDONLY).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw err
  })
  if (!fh) return null
  try {
    return (await fh.readFile({ encoding: 'utf8' })) as string
  } finally {
    await fh.close()
  }
}
