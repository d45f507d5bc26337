/**
 * opened.ts — one decryption per ciphertext per run. A command reads a bundle more than once
 * (the preflight proves the password, the locked read-modify-write reads it again, a deploy
 * after a rotation reads it a third time) and every open of a password-mode bundle costs an
 * Argon2id derivation (about 0.5 s, secrets/crypto.ts). The same bytes opened with the same
 * credentials give the same plaintext, so a second open is answered from memory.
 *
 * Rules enforced here:
 * - a hit needs the identical ciphertext (its sha256) at the same path and the identical
 *   credential objects (the run's memoised password or keys, secrets/access.ts): another or a
 *   wrong password is always tried for real, and a rewritten file is always opened again;
 * - nothing outlives the process, and only plaintext the run already holds is kept.
 */
import type { Opener } from './crypto.js'
import type { Secret } from './secret.js'
import { sha256Hex } from '../util/digest.js'

interface Opened {
  sha: string
  creds: readonly unknown[]
  plain: Secret
}

/** OpenedCache remembers, per path, the plaintext of the last ciphertext opened there. */
export class OpenedCache {
  private readonly entries = new Map<string, Opened>()

  /** open returns the plaintext of `armored` at `where`, calling `unseal` only on a miss. */
  async open(where: string, armored: string, opener: Opener, unseal: () => Promise<Secret>): Promise<Secret> {
    const sha = sha256Hex(armored)
    const creds = [...(opener.passwords ?? []), ...(opener.identities ?? [])]
    const hit = this.entries.get(where)
    if (hit && hit.sha === sha && sameObjects(hit.creds, creds)) return hit.plain
    const plain = await unseal()
    this.entries.set(where, { sha, creds, plain })
    return plain
  }

  /**
   * sealed remembers what this run just encrypted with `password`: reading it back with that
   * password needs no derivation. Until the file holds exactly these bytes, nothing matches.
   */
  sealed(where: string, armored: string, password: Secret, plain: Secret): void {
    this.entries.set(where, { sha: sha256Hex(armored), creds: [password], plain })
  }
}

function sameObjects(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
