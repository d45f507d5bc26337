/**
 * import-source.ts — reads the files users migrate from (#4): ansible-vault files (whose
 * plaintext is YAML vars or KEY=VALUE), YAML vars files with inline `!vault` values, and
 * plaintext `.env` files; for `vault import`, `vault encrypt` and `vault view FILE`.
 *
 * Rules enforced here:
 * - the kind is told from content (ansible-vault header) and then from the name (`.yml`,
 *   `.yaml`, `.json` are YAML; else a YAML mapping is YAML, anything else is `.env`);
 * - `plaintext` says whether the file itself holds secret values in clear: those are the
 *   files the user is told to delete after an import;
 * - the source password is asked for only when an encrypted value is met.
 */
import { readFile } from 'node:fs/promises'
import { basename, extname } from 'node:path'
import { isMap, parseDocument } from 'yaml'
import { ConfigError } from '../../errors.js'
import { isBundleName, showName } from '../names.js'
import type { Fingerprinter, Secret } from '../secret.js'
import { decryptAnsibleVault, isAnsibleVault } from './ansible-vault.js'
import { hasInlineVault, parseVarsFile } from './ansible-vault-yaml.js'
import { parseDotenv } from './dotenv.js'

/** SourceKind is what an imported file turned out to be. */
export type SourceKind = 'ansible-vault' | 'yaml' | 'yaml-inline-vault' | 'env'

/** ImportedFile is one file read for import: its key/values and what it was. */
export interface ImportedFile {
  file: string
  kind: SourceKind
  /** the file holds secret values in clear (delete it once imported) */
  plaintext: boolean
  entries: { key: string; value: Secret }[]
  vaultId?: string
}

/** readImportSource reads one file; `passwords` gives the ansible-vault passwords when needed. */
export async function readImportSource(
  file: string,
  fp: Fingerprinter,
  passwords: () => Promise<Secret[]>,
): Promise<ImportedFile> {
  const raw = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`${file}: cannot read: ${err.code ?? 'error'}`)
  })
  try {
    if (isAnsibleVault(raw)) {
      const { plaintext, vaultId } = decryptAnsibleVault(raw.toString('latin1'), await passwords(), file)
      const inner = await parseText(plaintext.toString('utf8'), file, fp, passwords)
      plaintext.fill(0)
      return {
        file,
        kind: 'ansible-vault',
        plaintext: false,
        entries: inner.entries,
        ...(vaultId !== undefined ? { vaultId } : {}),
      }
    }
    const inner = await parseText(raw.toString('utf8'), file, fp, passwords)
    const kind: SourceKind = inner.yaml ? (inner.vaulted ? 'yaml-inline-vault' : 'yaml') : 'env'
    return { file, kind, plaintext: inner.clear, entries: inner.entries }
  } finally {
    raw.fill(0)
  }
}

interface Parsed {
  yaml: boolean
  vaulted: boolean
  /** some value was in clear */
  clear: boolean
  entries: { key: string; value: Secret }[]
}

async function parseText(
  text: string,
  file: string,
  fp: Fingerprinter,
  passwords: () => Promise<Secret[]>,
): Promise<Parsed> {
  if (looksLikeYaml(text, file)) {
    const vars = await parseVarsFile(text, file, fp, passwords)
    return {
      yaml: true,
      vaulted: vars.some((v) => v.vaulted),
      clear: vars.some((v) => !v.vaulted && v.value.byteLength > 0),
      entries: vars,
    }
  }
  const entries = parseDotenv(text, file, fp)
  return { yaml: false, vaulted: false, clear: entries.length > 0, entries }
}

function looksLikeYaml(text: string, file: string): boolean {
  const ext = extname(file.replace(/\.(vault|enc)$/, '')).toLowerCase()
  if (['.yml', '.yaml', '.json'].includes(ext)) return true
  if (ext === '.env' || basename(file).startsWith('.env')) return false
  if (hasInlineVault(text)) return true
  const doc = parseDocument(text, { version: '1.1' })
  return doc.errors.length === 0 && isMap(doc.contents)
}

/** bundleNameOf derives a bundle name from a file name: `aws.env` → `aws`, `all-secrets.env.vault` → `all-secrets`. */
export function bundleNameOf(file: string): string {
  let name = basename(file)
  for (;;) {
    const stripped = name.replace(/\.(env|vault|enc|ya?ml|json|txt)$/i, '')
    if (stripped === name) break
    name = stripped
  }
  name = name
    .replace(/^[.-]+/, '')
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/\.+$/, '')
  if (!isBundleName(name))
    throw new ConfigError(`${showName(file)}: cannot name a bundle after this file; pass --bundle NAME`)
  return name
}
