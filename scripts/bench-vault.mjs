// bench-vault.mjs — password-mode cost (#4), part of `npm run bench`: the Argon2id S2K alone
// (a one-byte message), and a 500-key bundle decrypted, changed and re-encrypted, as
// `vault edit` or a rotation does. Medians of 5; measurements, never assertions.
import { bundleValues, emptyBundle, parsePayload, serializePayload, setKey } from '../dist/secrets/bundle.js'
import { generateValue } from '../dist/secrets/generate.js'
import { Fingerprinter } from '../dist/secrets/secret.js'
import { argon2Key, forgetDerivations, wasmArgon2Key } from '../dist/secrets/argon2.js'
import { ARGON2_PARAMS } from '../dist/secrets/crypto.js'
import { KDF_LABEL, seal, unseal } from '../dist/vault/vault.js'

const fp = Fingerprinter.ephemeral()
const password = fp.secret('bench-password-not-secret')
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
// each run as a new process pays it: a run derives each key once (secrets/argon2.ts)
async function time(fn, runs = 5) {
  const ms = []
  for (let i = 0; i < runs; i++) {
    forgetDerivations()
    const t0 = performance.now()
    await fn()
    ms.push(performance.now() - t0)
  }
  return median(ms)
}

const salt = new Uint8Array(16)
const nativeKdf = await time(() => argon2Key('bench', salt, ARGON2_PARAMS, 32))
const wasmKdf = await time(() => wasmArgon2Key('bench', salt, ARGON2_PARAMS, 32))
const tiny = await seal(fp.secret('x'), { kind: 'password', password })
const kdfSeal = await time(() => seal(fp.secret('x'), { kind: 'password', password }))
const kdfOpen = await time(() => unseal(tiny, { passwords: [password] }, fp, 'tiny'))

const bundle = emptyBundle('bench')
for (let i = 0; i < 500; i++)
  setKey(bundle, `KEY_${i}`, fp.secret(generateValue({ generator: 'password', length: 32 })), new Date(), 1)
const armored = await seal(fp.secret(serializePayload(bundle)), { kind: 'password', password })
const cycle = await time(async () => {
  const opened = parsePayload(
    (await unseal(armored, { passwords: [password] }, fp, 'bench.asc')).reveal(),
    fp,
    'bench.asc',
  )
  setKey(opened, 'KEY_0', fp.secret(generateValue({ generator: 'password', length: 32 })), new Date(), 1)
  await seal(fp.secret(serializePayload(opened)), { kind: 'password', password })
})
console.log(
  `vault: Argon2id ${KDF_LABEL}: native addon ${nativeKdf.toFixed(0)} ms, openpgp WebAssembly ${wasmKdf.toFixed(0)} ms (secrets/argon2.ts)`,
)
console.log(
  `vault: S2K ${KDF_LABEL}: encrypt ${kdfSeal.toFixed(0)} ms, decrypt ${kdfOpen.toFixed(0)} ms (1-byte message)`,
)
console.log(
  `vault: 500-key bundle (${(armored.length / 1024).toFixed(0)} KiB armoured, ${bundleValues(bundle).size} values): decrypt + change + re-encrypt ${cycle.toFixed(0)} ms`,
)
