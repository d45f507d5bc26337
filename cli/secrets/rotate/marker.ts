/**
 * marker.ts — the state-dir file that says a rotation is under way (`rotation.json`, names
 * only): written just before the store write, removed at the end of the run or when the store
 * write wrote nothing. A run that finds one converges the hosts on the store (README "Rotate").
 *
 * Rules enforced here:
 * - the marker names bundles and hosts only, never a value;
 * - an unreadable or damaged marker reads as none (the push step converges every host anyway).
 */
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../../util/secure-write.js'

/** MARKER is the state-dir file that says a rotation is under way. */
export const MARKER = 'rotation.json'

/** Marker is what the marker says: when and by which process the rotation started, of what. */
export interface Marker {
  started_at: string
  pid: number
  bundles: string[]
  hosts: string[]
}

/** readMarker is the marker a rotation left in `stateDir`, if one did not finish. */
export async function readMarker(stateDir: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, MARKER), 'utf8')) as Marker
  } catch {
    return undefined
  }
}

/** writeMarker says, in `stateDir`, that a rotation is under way. */
export async function writeMarker(stateDir: string, marker: Marker): Promise<void> {
  await writeFileAtomic(join(stateDir, MARKER), `${JSON.stringify(marker, null, 2)}\n`)
}

/** clearMarker says the rotation is over. */
export async function clearMarker(stateDir: string): Promise<void> {
  await rm(join(stateDir, MARKER), { force: true })
}
