/**
 * shell-quote.ts — argv to the one command line an SSH server hands to the remote shell.
 *
 * Rules enforced here (connection.ts header, README "SSH"):
 * - commands are argv arrays, each word single-quoted for the remote POSIX shell; a NUL byte
 *   (which no shell word can hold) is refused rather than cut;
 * - the command is run with `exec` (programs, not shell builtins, as with the local connection),
 *   so the signal that kills it is reported as such (`code: null`), not as the shell's status.
 */

/** shellQuote quotes one word for a POSIX shell: `'…'`, each `'` written as `'\''`. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/** commandLine turns argv into the one string the remote shell runs (`exec 'a' 'b' …`). */
export function commandLine(argv: readonly string[]): string {
  const first = argv[0]
  if (first === undefined) throw new Error('empty command')
  argv.forEach((word, i) => {
    if (word.includes('\0')) throw new Error(`argument ${i} contains a NUL byte`)
  })
  const quoted = argv.map(shellQuote).join(' ')
  // `exec -x` would be read as an option of exec; such a command runs without exec
  return first.startsWith('-') ? quoted : `exec ${quoted}`
}
