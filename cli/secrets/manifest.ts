/**
 * manifest.ts — `<inventory>/.secrets/manifest.yml`, the user-written declaration of every
 * bundle: its keys and how each is generated, rotation policy, target hosts, on-host format,
 * consumers and file ownership (#4, README "Secrets").
 *
 * Rules enforced here:
 * - every issue is reported with file:line:col (through config/yaml.ts), all at once;
 * - names become file names and environment variable names, so they are checked by the one
 *   validation of names.ts: bundles `[A-Za-z0-9][A-Za-z0-9_.-]*` (no `..`), keys
 *   `[A-Za-z_][A-Za-z0-9_]*`, no key ends in `_PREVIOUS` (that suffix carries a rotated key's
 *   old value during its grace period); a key that changes how a process loads code
 *   (`NODE_OPTIONS`, `LD_PRELOAD`, `PATH`, …) only when the bundle lists it in `allow_keys`;
 * - a generated value is at least 16 characters (16 bytes for base64): a secrets tool does
 *   not mint weak secrets;
 * - the on-host file mode grants nothing to others and no execute bit.
 *
 * Shape (defaults in brackets):
 * ```yaml
 * encryption: password            # [password] | recipients
 * bundles:
 *   aws:
 *     hosts: "api:&oracle"        # Ansible host pattern [all]
 *     format: encrypted           # [encrypted] | env (plaintext KEY=VALUE on the host)
 *     rotate_days: 30             # [7]
 *     grace_days: 1               # [1]
 *     consumers: [api]            # containers restarted after a change [[]]
 *     owner: root                 # [root]   group: [root]   mode: [0600]
 *     health: [curl, -fsS, http://127.0.0.1:8080/health]
 *     allow_keys: []              # loader keys (NODE_OPTIONS, LD_*, PATH, …) this bundle may set [[]]
 *     allow_no_hosts: false       # true: the pattern may match no host yet [false]
 *     keys:
 *       DB_PASSWORD: password     # shorthand for {generator: password}
 *       JWT_SECRET: {generator: base64, length: 48, rotate_days: 90}
 *       AWS_SECRET_ACCESS_KEY: {generator: external, hook: [scripts/aws-rotate-key.sh]}
 * ```
 */
import { join } from 'node:path'
import { z } from 'zod'
import { readYaml, validate, type YamlSource } from '../config/yaml.js'
import { bundleNameIssue, keyNameIssue, loaderKeyIssue } from './names.js'

/** GENERATORS are the ways a key's value is made; `external` values come from a hook or a human. */
export const GENERATORS = ['password', 'alnum', 'hex', 'base64', 'uuid', 'external'] as const

/** Generator is one of `GENERATORS`. */
export type Generator = (typeof GENERATORS)[number]

export { BUNDLE_NAME, KEY_NAME } from './names.js'

const MIN_LENGTH = 16
const argv = z.array(z.string().min(1, 'must not be empty')).min(1, 'must name a command')
const days = z.number().int('must be a whole number of days').min(0, 'must not be negative')

const keySpec = z.preprocess(
  (v) => (typeof v === 'string' ? { generator: v } : v === null ? {} : v),
  z
    .strictObject({
      generator: z.enum(GENERATORS).default('password'),
      length: z.number().int().min(MIN_LENGTH, `must be at least ${MIN_LENGTH}`).max(4096).optional(),
      rotate_days: days.optional(),
      grace_days: days.optional(),
      hook: argv.optional(),
      description: z.string().optional(),
    })
    .superRefine((k, ctx) => {
      if (k.hook && k.generator !== 'external')
        ctx.addIssue({ code: 'custom', path: ['hook'], message: 'only an external key has a hook' })
      if (k.length !== undefined && k.generator === 'uuid')
        ctx.addIssue({ code: 'custom', path: ['length'], message: 'a uuid has no length' })
    }),
)

const mode = z.preprocess(
  (v) => (typeof v === 'string' && /^0?[0-7]{3,4}$/.test(v) ? parseInt(v, 8) : v),
  z
    .number()
    .int()
    .refine((m) => m >= 0 && m <= 0o777, 'must be an octal mode like 0600')
    .refine((m) => (m & 0o007) === 0, 'must grant nothing to others (like 0600 or 0640)')
    .refine((m) => (m & 0o111) === 0, 'must not be executable'),
)

const bundleSpec = z
  .strictObject({
    description: z.string().optional(),
    hosts: z.string().min(1, 'must be a host pattern').default('all'),
    format: z.enum(['encrypted', 'env']).default('encrypted'),
    rotate_days: days.default(7),
    grace_days: days.default(1),
    consumers: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be a container name')).default([]),
    owner: z.string().min(1).default('root'),
    group: z.string().min(1).default('root'),
    mode: mode.default(0o600),
    health: argv.optional(),
    allow_keys: z.array(z.string()).default([]),
    allow_no_hosts: z.boolean().default(false),
    keys: z.record(z.string(), keySpec),
  })
  .superRefine((b, ctx) => {
    if (Object.keys(b.keys).length === 0)
      ctx.addIssue({ code: 'custom', path: ['keys'], message: 'a bundle needs at least one key' })
    for (const k of Object.keys(b.keys)) {
      const issue = keyNameIssue(k) ?? loaderKeyIssue(k, b.allow_keys)
      if (issue) ctx.addIssue({ code: 'custom', path: ['keys', k], message: issue })
    }
    b.allow_keys.forEach((k, i) => {
      const issue = keyNameIssue(k)
      if (issue) ctx.addIssue({ code: 'custom', path: ['allow_keys', i], message: issue })
    })
  })

const manifestSchema = z.strictObject({
  version: z.literal(1).default(1),
  encryption: z.enum(['password', 'recipients']).default('password'),
  bundles: z.record(z.string(), bundleSpec).superRefine((bundles, ctx) => {
    for (const n of Object.keys(bundles)) {
      const issue = bundleNameIssue(n)
      if (issue) ctx.addIssue({ code: 'custom', path: [n], message: issue })
    }
  }),
})

/** KeySpec is one key of a bundle as declared, with the bundle's policy filled in. */
export interface KeySpec {
  generator: Generator
  length?: number
  rotateDays: number
  graceDays: number
  hook?: string[]
  description?: string
}

/** BundleSpec is one bundle as declared in the manifest (defaults applied). */
export interface BundleSpec {
  name: string
  description?: string
  hosts: string
  format: 'encrypted' | 'env'
  rotateDays: number
  graceDays: number
  consumers: string[]
  owner: string
  group: string
  mode: number
  health?: string[]
  /** loader keys (`NODE_OPTIONS`, `LD_*`, `PATH`, …) the manifest lets this bundle set */
  allowKeys: string[]
  /** the bundle may select no host yet (else a pattern matching nothing is an error) */
  allowNoHosts: boolean
  keys: Record<string, KeySpec>
}

/** EncryptionMode is how the store's bundles are encrypted. */
export type EncryptionMode = 'password' | 'recipients'

/** Manifest is a validated manifest file. */
export interface Manifest {
  file: string
  encryption: EncryptionMode
  bundles: Record<string, BundleSpec>
}

/** MANIFEST_FILE is the manifest's path inside the store directory. */
export const MANIFEST_FILE = 'manifest.yml'

/** parseManifest validates parsed manifest YAML; every issue becomes part of one `ConfigError`. */
export function parseManifest(src: YamlSource): Manifest {
  const raw = validate(src, manifestSchema)
  const bundles: Record<string, BundleSpec> = {}
  for (const [name, b] of Object.entries(raw.bundles)) {
    const keys: Record<string, KeySpec> = {}
    for (const [key, k] of Object.entries(b.keys)) {
      keys[key] = {
        generator: k.generator,
        ...(k.length !== undefined ? { length: k.length } : {}),
        rotateDays: k.rotate_days ?? b.rotate_days,
        graceDays: k.grace_days ?? b.grace_days,
        ...(k.hook ? { hook: k.hook } : {}),
        ...(k.description !== undefined ? { description: k.description } : {}),
      }
    }
    bundles[name] = {
      name,
      ...(b.description !== undefined ? { description: b.description } : {}),
      hosts: b.hosts,
      format: b.format,
      rotateDays: b.rotate_days,
      graceDays: b.grace_days,
      consumers: b.consumers,
      owner: b.owner,
      group: b.group,
      mode: b.mode,
      ...(b.health ? { health: b.health } : {}),
      allowKeys: b.allow_keys,
      allowNoHosts: b.allow_no_hosts,
      keys,
    }
  }
  return { file: src.file, encryption: raw.encryption, bundles }
}

/** loadManifest reads and validates `<storeDir>/manifest.yml`. */
export async function loadManifest(storeDir: string): Promise<Manifest> {
  return parseManifest(await readYaml(join(storeDir, MANIFEST_FILE)))
}
