/**
 * argon2.ts — the store's Argon2id derivations in native code (#14). openpgp computes Argon2id
 * in WebAssembly on the main thread: about 0.58 s per derivation at the store's cost
 * (t=3, p=4, 64 MiB; secrets/crypto.ts ARGON2_PARAMS) on this 2-core machine, with the event
 * loop blocked for all of it, and it keeps the 64 MiB of WebAssembly memory for the life of the
 * process. The `argon2` package (the reference C implementation, a prebuilt Node-API addon)
 * computes the same function in about 0.2 s: its 4 lanes run on threads off the event loop, so
 * host I/O goes on meanwhile, and its 64 MiB is freed when the derivation ends.
 *
 * The function is the same, so the files are the same: a key derived here equals openpgp's own,
 * byte for byte, for the same password, salt and parameters (test/unit/secrets/argon2.test.ts
 * compares them, and opens what one sealed with the other, in a process without this module).
 * Nothing about the store format, the S2K parameters written or the 1 GiB bound changes.
 *
 * Once per run: a derivation is memoised for the run (same password, parameters and salt give
 * the same key, so a second open of a file sealed with the same salt costs nothing), and the
 * bundles a run seals with one password share the salt the run drew for its first seal, so a
 * rotation of five bundles derives one key where it derived five. Why that is as safe:
 * - the salt makes a guess cost one Argon2id per target and rules out precomputed tables; the
 *   bundles of a store are one target (one vault password: a guess that opens one opens all),
 *   and the salt is still 16 random bytes this run drew, so no table exists for it;
 * - each message still has its own random session key and its own random AEAD IV, encrypted
 *   under the key HKDF makes of the Argon2id output (SKESK v6): one AEAD key over a handful of
 *   messages with random nonces, as AEAD keys are made for. Only AEAD messages share a salt
 *   (the v4 form, which encrypts with a zero IV, never does);
 * - a salt read from a file is never taken for a seal (a planted file cannot choose it), a
 *   new run or another password draws a new one, and nothing outlives the process.
 *
 * How it is wired: openpgp has no hook for its S2K, so `useNativeArgon2` wraps the `produceKey`
 * method of openpgp's Argon2 S2K class (reached through a packet it parses: the class is not
 * exported). The wrapper keeps every check of the original and hands it back the cases it does
 * not take (a parameter outside what a sane file asks for, or an addon that does not load), so
 * the worst case is openpgp's own behaviour.
 *
 * Rules enforced here:
 * - the password goes to the addon as bytes in this process (never argv or environment) and
 *   those bytes are zeroed after;
 * - openpgp's memory bound (`maxArgon2MemoryExponent`) is checked before any work, by the
 *   original method itself.
 */
import { createRequire } from 'node:module'
import * as openpgp from 'openpgp'

interface Argon2S2K {
  salt: Uint8Array | null
  t: number
  p: number
  encodedM: number
  generateSalt(): void
  produceKey(passphrase: string, keySize: number, config: openpgp.Config): Promise<Uint8Array>
}

interface NativeArgon2 {
  argon2id: number
  hash(
    password: Buffer,
    options: {
      type: number
      version: number
      memoryCost: number
      timeCost: number
      parallelism: number
      salt: Buffer
      hashLength: number
      raw: true
    },
  ): Promise<Buffer>
}

/** A v6 SKESK with an Argon2 S2K (t=1, p=1, m=2^3), parsed only to reach openpgp's S2K class. */
const SAMPLE_SKESK =
  '062309031404d9d32bd69055e587aa6e5e3d8d9c314701010368f92969ee45d6a602eb7e19448931d601125d24999fb1107e7966ede71f87705a9b60eb1b5cbd00d54dd5f064ce82275aaf5eb2d3ca394ae99977a2'

type ProduceKey = Argon2S2K['produceKey']

let wasmProduceKey: ProduceKey | undefined
let derivationCount = 0

/** argon2Derivations is the number of Argon2id keys this process computed (not memoised). */
export function argon2Derivations(): number {
  return derivationCount
}

/** argon2Prototype returns the prototype of openpgp's Argon2 S2K class. */
function argon2Prototype(): Argon2S2K {
  const packet = new openpgp.SymEncryptedSessionKeyPacket()
  packet.read(Buffer.from(SAMPLE_SKESK, 'hex'))
  const s2k = (packet as unknown as { s2k: Argon2S2K }).s2k
  return Object.getPrototypeOf(s2k) as Argon2S2K
}

function loadNative(): NativeArgon2 | undefined {
  try {
    return createRequire(import.meta.url)('argon2') as NativeArgon2
  } catch {
    return undefined
  }
}

/** takes says whether the native path computes this derivation (else openpgp's own does). */
function takes(s2k: Argon2S2K, keySize: number, config: openpgp.Config): boolean {
  return (
    s2k.salt instanceof Uint8Array &&
    s2k.salt.length === 16 &&
    Number.isInteger(s2k.t) &&
    s2k.t >= 1 &&
    s2k.t <= 16 &&
    Number.isInteger(s2k.p) &&
    s2k.p >= 1 &&
    s2k.p <= 16 &&
    config.maxArgon2MemoryExponent <= 30 &&
    s2k.encodedM <= config.maxArgon2MemoryExponent &&
    2 ** s2k.encodedM >= 8 * s2k.p &&
    [16, 24, 32].includes(keySize)
  )
}

/** FRESH marks an S2K whose salt openpgp just drew for a new message (a seal, not a read). */
const FRESH = Symbol('fresh salt')

/** Derivations is this run's Argon2id results, per password, then per parameters and salt. */
class Derivations {
  private readonly keys = new Map<string, Map<string, Promise<Uint8Array>>>()
  private readonly salts = new Map<string, Map<string, Uint8Array>>()

  /** clear forgets every key and salt (forgetDerivations). */
  clear(): void {
    this.keys.clear()
    this.salts.clear()
  }

  /** saltFor is the salt this run already used with `password` at `params`, if any. */
  saltFor(password: string, params: string): Uint8Array | undefined {
    return this.salts.get(password)?.get(params)
  }

  /**
   * key returns the key for (password, params, salt), deriving it with `derive` only once; a
   * salt this run drew itself (`drawn`) becomes the one later seals with `password` take.
   */
  async key(
    password: string,
    params: string,
    salt: Uint8Array,
    drawn: boolean,
    derive: () => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const id = `${params}/${Buffer.from(salt).toString('hex')}`
    let byId = this.keys.get(password)
    if (!byId) this.keys.set(password, (byId = new Map()))
    let pending = byId.get(id)
    if (!pending) {
      pending = derive()
      byId.set(id, pending)
      pending.catch(() => byId.delete(id))
    }
    const key = await pending
    if (drawn) {
      let bySalt = this.salts.get(password)
      if (!bySalt) this.salts.set(password, (bySalt = new Map()))
      if (!bySalt.has(params)) bySalt.set(params, Uint8Array.from(salt))
    }
    return Uint8Array.from(key)
  }
}

/** done is this process's derivations (the patched produceKey's memory). */
const done = new Derivations()

/**
 * forgetDerivations makes the next derivation of every key real again, as in a new run:
 * scripts/bench-vault.mjs measures what one run pays (a command is one process, so nothing
 * else needs it).
 */
export function forgetDerivations(): void {
  done.clear()
}

/**
 * useNativeArgon2 makes openpgp's Argon2 derivations run in the `argon2` addon, once each per
 * run (see the header); returns whether it does (false when the addon does not load: openpgp's
 * WebAssembly stays, as it was). Idempotent.
 */
export function useNativeArgon2(): boolean {
  if (wasmProduceKey) return true
  const native = loadNative()
  if (!native) return false
  const proto = argon2Prototype()
  const original = proto.produceKey
  const generateSalt = proto.generateSalt
  wasmProduceKey = original
  proto.generateSalt = function (this: Argon2S2K & { [FRESH]?: boolean }) {
    generateSalt.call(this)
    this[FRESH] = true
  }
  proto.produceKey = async function (this: Argon2S2K & { [FRESH]?: boolean }, passphrase, keySize, config) {
    if (!takes(this, keySize, config)) return original.call(this, passphrase, keySize, config)
    const params = `${this.t}/${this.p}/${this.encodedM}/${keySize}`
    // a new AEAD message takes the salt this run already used with this password (see header)
    const drawn = this[FRESH] === true && config.aeadProtect === true
    this[FRESH] = false
    const reuse = drawn ? done.saltFor(passphrase, params) : undefined
    if (reuse) this.salt = Uint8Array.from(reuse)
    const salt = Buffer.from(this.salt as Uint8Array)
    return done.key(passphrase, params, salt, drawn, async () => {
      const password = Buffer.from(passphrase, 'utf8')
      derivationCount += 1
      try {
        const key = await native.hash(password, {
          type: native.argon2id,
          version: 0x13,
          memoryCost: 2 ** this.encodedM,
          timeCost: this.t,
          parallelism: this.p,
          salt,
          hashLength: keySize,
          raw: true,
        })
        const out = Uint8Array.from(key)
        key.fill(0)
        return out
      } finally {
        password.fill(0)
      }
    })
  }
  return true
}

/**
 * wasmArgon2Key derives with openpgp's own WebAssembly Argon2id (for the comparison test and
 * scripts/bench-vault.mjs): same inputs as an S2K specifier of `params`.
 */
export async function wasmArgon2Key(
  password: string,
  salt: Uint8Array,
  params: { passes: number; parallelism: number; memoryExponent: number },
  keySize: number,
): Promise<Uint8Array> {
  return produceWith(wasmProduceKey ?? argon2Prototype().produceKey, password, salt, params, keySize)
}

/** argon2Key derives with whatever openpgp uses now (the native path once `useNativeArgon2` ran). */
export async function argon2Key(
  password: string,
  salt: Uint8Array,
  params: { passes: number; parallelism: number; memoryExponent: number },
  keySize: number,
): Promise<Uint8Array> {
  return produceWith(argon2Prototype().produceKey, password, salt, params, keySize)
}

function produceWith(
  produce: ProduceKey,
  password: string,
  salt: Uint8Array,
  params: { passes: number; parallelism: number; memoryExponent: number },
  keySize: number,
): Promise<Uint8Array> {
  const s2k = Object.create(argon2Prototype()) as Argon2S2K
  Object.assign(s2k, { salt, t: params.passes, p: params.parallelism, encodedM: params.memoryExponent })
  return produce.call(s2k, password, keySize, { ...openpgp.config, maxArgon2MemoryExponent: 30 })
}
