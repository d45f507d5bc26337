/**
 * bundles.ts — what the control node knows about the bundles a host should hold (#8), from
 * the manifest, the deploy records and the sidecars only: no password, nothing decrypted.
 * Read once per bundle per run (a fleet of hosts shares the same store).
 */
import { posix } from 'node:path'
import { UserError } from '../errors.js'
import type { SecretsProvider } from '../secrets/provider.js'
import type { BundleTarget, StaleKey } from './state-checks.js'
import { staleKeys } from './state-checks.js'

interface StoreFacts {
  content?: string
  stale: StaleKey[]
}

const cache = new WeakMap<SecretsProvider, Map<string, Promise<StoreFacts>>>()

async function storeFacts(s: SecretsProvider, name: string, nowMs: number): Promise<StoreFacts> {
  const spec = s.spec(name)
  // the sidecars are plaintext: no password needed
  const meta = await s.meta(name)
  const stale = meta ? staleKeys(meta.keys, (k) => spec.keys[k]?.rotateDays ?? spec.rotateDays, nowMs) : []
  let content: string | undefined
  try {
    content = await s.contentId(name)
  } catch (err) {
    // a bundle not in the store, or a sidecar out of step: `vault status` tells; no outdated check
    if (!(err instanceof UserError)) throw err
  }
  return { stale, ...(content ? { content } : {}) }
}

function factsOf(s: SecretsProvider, name: string, nowMs: number): Promise<StoreFacts> {
  let m = cache.get(s)
  if (!m) cache.set(s, (m = new Map()))
  let p = m.get(name)
  if (!p) m.set(name, (p = storeFacts(s, name, nowMs)))
  return p
}

/** bundleTargets lists the bundles `host` should hold in `secretsDir`, with their records and store facts. */
export async function bundleTargets(
  s: SecretsProvider,
  host: string,
  secretsDir: string,
  nowMs: number,
): Promise<{ targets: BundleTarget[]; modes: Map<string, number> }> {
  const records = await s.deployed(host)
  const targets: BundleTarget[] = []
  const modes = new Map<string, number>()
  for (const spec of s.bundlesFor(host)) {
    const path = posix.join(secretsDir, `${spec.name}.env`)
    const facts = await factsOf(s, spec.name, nowMs)
    const rec = records[spec.name]
    modes.set(path, spec.mode)
    targets.push({
      name: spec.name,
      path,
      format: spec.format,
      staleKeys: facts.stale,
      ...(rec?.sha256 ? { deployedSha256: rec.sha256 } : {}),
      ...(rec?.content ? { deployedContent: rec.content } : {}),
      ...(facts.content ? { currentContent: facts.content } : {}),
    })
  }
  return { targets, modes }
}
