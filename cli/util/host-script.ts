/**
 * host-script.ts — the text of the scripts a module or the audit runs on a host: the POSIX sh
 * files of cli/modules/remote/ (each says what it does, its arguments and its exit codes).
 *
 * Rules enforced here:
 * - a script is sent as `sh -c SCRIPT sh ARG…`: its text is constant, every value (a path, a
 *   name, a mode) is a positional argument, never spliced into the text;
 * - a script made of parts is their files concatenated in order, the shared fragments
 *   (`lib/*.sh`, which only define functions) first;
 * - each file is read once, synchronously, when a script first needs it; the files are found
 *   relative to this file, so the same code reads them from `cli/` and from `dist/` (the build
 *   copies them there: scripts/copy-remote.mjs).
 */
import { readFileSync } from 'node:fs'

const REMOTE = new URL('../modules/remote/', import.meta.url)
const files = new Map<string, string>()

function read(name: string): string {
  let text = files.get(name)
  if (text === undefined) {
    text = readFileSync(new URL(name, REMOTE), 'utf8')
    files.set(name, text)
  }
  return text
}

/**
 * hostScript returns the getter of the script made of `names` (paths under cli/modules/remote/,
 * concatenated in this order); the text is read at the first call and kept.
 */
export function hostScript(...names: readonly string[]): () => string {
  let text: string | undefined
  return () => {
    text ??= names.map(read).join('')
    return text
  }
}
