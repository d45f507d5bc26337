/**
 * errno.ts — a failed local file read said in words (#16): `no such file`, never a raw
 * `ENOENT`. Kept free of imports so any layer can use it.
 */

const WORDS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
  ELOOP: 'too many symbolic links',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
}

/** readErrorWords: why a file could not be read, in words (`no such file`); a non-system error as its message. */
export function readErrorWords(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return WORDS[code] ?? code.toLowerCase()
  return err instanceof Error ? err.message : String(err)
}
