/**
 * mode.ts — file modes as users write them ('0600', 600, 0o600) and read them ('0600').
 */

/** parseMode reads a mode given as '0600', '600', 0o600 or 384 (YAML may give any of them). */
export function parseMode(mode: string | number | undefined): number | undefined {
  if (mode === undefined) return undefined
  if (typeof mode === 'number') {
    // YAML 1.1 (Ansible's) reads `mode: 0600` as the number 384 already
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
      throw new Error(`invalid mode ${mode} (use an octal string such as '0600')`)
    return mode
  }
  if (!/^0?[0-7]{3,4}$/.test(mode)) throw new Error(`invalid mode '${mode}' (use an octal string such as '0600')`)
  return Number.parseInt(mode, 8)
}

/** formatMode prints a mode the way ls/stat users read it: '0600'. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`
}
