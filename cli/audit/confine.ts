/**
 * confine.ts — what the control node accepts of a host's scan reply (#12): every path a host
 * reports is checked before it becomes a finding, and again before `--fix` acts on it.
 *
 * A host that forges its reply (a wrapper `sh` or `find` earlier in its PATH, a tampered
 * binary) could otherwise name `…/secrets/../../etc/x` — inside the roots by its prefix,
 * outside them on the host — and have `--fix` chmod and chown it.
 *
 * Rules enforced here:
 * - a path is accepted only when it is absolute, holds no NUL, is already in normal form
 *   (`posix.normalize(p) === p`: no `..`, `.` or empty segment, no trailing slash) and is a
 *   root or lies under one; it is refused, never normalised into something else (what `a/..`
 *   names on the host depends on links there, not on the text);
 * - a bundle record must name one of the bundle files the scan asked about, and the newest
 *   backup a `secrets-*.tar.gz` directly in the backup dir;
 * - decision: one path the scan could not have printed refuses the WHOLE reply, as a per-host
 *   error (exit 4, "audit scan reply refused: …"), rather than dropping that path with a
 *   warning. A real `find -P ROOT…` only prints ROOT and names below it, so such a reply is
 *   forged or corrupt, and none of it can be trusted: not its findings (a forger can hide
 *   problems as easily as invent them) and not one of its fix targets.
 */
import { posix } from 'node:path'
import { escapeControl } from '../util/escape.js'
import type { ScanResult } from './types.js'
import { BACKUP_NAME } from '../util/backup-names.js'

/** isNormalAbsolute says whether `p` is absolute, NUL-free and in normal form (see the header). */
export function isNormalAbsolute(p: string): boolean {
  // what `posix.normalize(p) === p` and no trailing slash say, without building a string: an
  // audit checks every path of every host (#14: 166 ms of CPU for 50,000 paths, now ~15)
  if (p === '/') return true
  if (p.charCodeAt(0) !== 0x2f || p.charCodeAt(p.length - 1) === 0x2f || p.includes('\0')) return false
  return !p.includes('//') && !p.includes('/./') && !p.includes('/../') && !p.endsWith('/.') && !p.endsWith('/..')
}

/** insideRoots says whether `p` is one of `roots` or lies under one (by whole path segments). */
export function insideRoots(p: string, roots: readonly string[]): boolean {
  return roots.some((r) => p === r || p.startsWith(r === '/' ? '/' : `${r}/`))
}

/** trustedPath says whether a path a host reported may become a finding or a fix target. */
export function trustedPath(p: string, roots: readonly string[]): boolean {
  return isNormalAbsolute(p) && insideRoots(p, roots)
}

/** ConfineTarget is what the scan asked about: the roots, the bundle files, the backup dir. */
export interface ConfineTarget {
  roots: readonly string[]
  bundles: readonly string[]
  backupDir?: string
}

/** shown quotes a refused path for the message, escaped (it is the host's text) and cut at 200 characters. */
const shown = (p: string): string => `"${escapeControl(p.length > 200 ? `${p.slice(0, 200)}…` : p)}"`

/** confineScan returns why the reply must be refused (the first path it could not have printed), or undefined. */
export function confineScan(scan: ScanResult, t: ConfineTarget): string | undefined {
  for (const p of scan.entries.keys()) {
    if (!trustedPath(p, t.roots))
      return `path ${shown(p)} is not a normalised path inside the audited roots (is the host's sh or find what it should be?)`
  }
  const asked = new Set(t.bundles)
  for (const p of scan.bundleFiles.keys())
    if (!asked.has(p)) return `bundle record ${shown(p)} is not one of the bundle files asked about`
  const b = scan.newestBackup?.path
  if (
    b !== undefined &&
    !(t.backupDir && isNormalAbsolute(b) && posix.dirname(b) === t.backupDir && BACKUP_NAME.test(posix.basename(b)))
  ) {
    return `backup record ${shown(b)} is not a secrets-*.tar.gz directly in the backup dir`
  }
  return undefined
}
