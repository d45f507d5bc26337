/**
 * ansible-vault-yaml.ts — reads an Ansible vars file whose values may be `!vault |` inline
 * ciphertext (what `ansible-vault encrypt_string` prints), for `vault view` and `vault
 * import` (#4).
 *
 * Rules enforced here:
 * - YAML 1.1 like Ansible; `!vault` is a custom tag resolved to ciphertext, decrypted with
 *   the first given password that opens it (see ansible-vault.ts);
 * - only a flat mapping of variable names to scalars becomes a bundle: a nested value is an
 *   error naming its file:line:col, never its content; null becomes an empty value;
 * - YAML errors give file:line:col and the parser's error code only, never a snippet (the
 *   file holds plaintext secrets too).
 */
import { isMap, isPair, isScalar, LineCounter, parseDocument, type ScalarTag } from 'yaml'
import { ConfigError } from '../../errors.js'
import { KEY_NAME } from '../manifest.js'
import type { Fingerprinter, Secret } from '../secret.js'
import { decryptAnsibleVault } from './ansible-vault.js'

/** VaultedText is the ciphertext of one `!vault` value, not yet decrypted. */
export class VaultedText {
  constructor(readonly envelope: string) {}
}

const vaultTag: ScalarTag = {
  tag: '!vault',
  resolve: (text: string) => new VaultedText(text),
}

/** VarsEntry is one variable of a vars file; `vaulted` when it was a `!vault` value. */
export interface VarsEntry {
  key: string
  value: Secret
  vaulted: boolean
  vaultId?: string
}

/** hasInlineVault says whether YAML text holds any `!vault` value (cheap test before parsing). */
export function hasInlineVault(text: string): boolean {
  return /(^|[\s:])!vault\b/m.test(text)
}

/**
 * parseVarsFile reads a flat YAML vars file, decrypting `!vault` values with the first of
 * `passwords` that opens each (asked for only when one is present).
 */
export async function parseVarsFile(
  text: string,
  file: string,
  fp: Fingerprinter,
  passwords: () => Promise<Secret[]>,
): Promise<VarsEntry[]> {
  const lines = new LineCounter()
  const doc = parseDocument(text, {
    version: '1.1',
    customTags: [vaultTag],
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  })
  const at = (offset: number | undefined): string => {
    const p = lines.linePos(offset ?? 0)
    return `${file}:${p.line}:${p.col}`
  }
  const firstError = doc.errors[0]
  if (firstError) throw new ConfigError(`${at(firstError.pos[0])}: invalid YAML (${firstError.code.toLowerCase()})`)
  if (doc.contents === null) return []
  if (!isMap(doc.contents))
    throw new ConfigError(`${at(doc.contents.range?.[0])}: expected a mapping of variable names to values`)
  const out: VarsEntry[] = []
  for (const pair of doc.contents.items) {
    if (!isPair(pair) || !isScalar(pair.key))
      throw new ConfigError(`${at(doc.contents.range?.[0])}: expected variable names as keys`)
    const key = String(pair.key.value)
    const where = at(pair.key.range?.[0])
    if (!KEY_NAME.test(key))
      throw new ConfigError(`${where}: invalid variable name for a bundle key (letters, digits and _)`)
    if (!isScalar(pair.value) && pair.value !== null)
      throw new ConfigError(`${where}: ${key}: only plain values can be imported, not lists or mappings`)
    const raw = isScalar(pair.value) ? pair.value.value : null
    if (raw instanceof VaultedText) {
      const { plaintext, vaultId } = decryptAnsibleVault(raw.envelope, await passwords(), `${where}: ${key}`)
      out.push({
        key,
        value: fp.secret(plaintext.toString('utf8')),
        vaulted: true,
        ...(vaultId !== undefined ? { vaultId } : {}),
      })
      plaintext.fill(0)
    } else {
      out.push({ key, value: fp.secret(raw === null || raw === undefined ? '' : String(raw)), vaulted: false })
    }
  }
  return out
}
