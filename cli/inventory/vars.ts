/**
 * vars.ts — Ansible's connection variables (`ansible_host`, `ansible_port`, `ansible_user`,
 * `ansible_connection`, `ansible_ssh_private_key_file`, `ansible_ssh_common_args`,
 * `ansible_ssh_extra_args`), validated with zod where they are written, and turned into the
 * `ConnectionSpec` the transports take.
 */
import { z } from 'zod'
import type { ConnectionSpec, HostKeyPolicy } from '../transport/connection.js'
import type { Vars } from './inventory.js'

const port = z.coerce.number().int().min(1).max(65535)
const text = z.string().min(1)

/** CONNECTION_VARS maps each supported connection variable to its schema. */
export const CONNECTION_VARS: Record<string, z.ZodType> = {
  ansible_host: text,
  ansible_port: port,
  ansible_user: text,
  ansible_connection: z.enum(['ssh', 'local', 'smart'], {
    error: () => "must be 'ssh' or 'local'",
  }),
  ansible_ssh_private_key_file: text,
  ansible_private_key_file: text,
  ansible_ssh_common_args: z.string(),
  ansible_ssh_extra_args: z.string(),
  ansible_ssh_host_key_checking: z.union([z.boolean(), z.enum(['yes', 'no', 'accept-new'])]),
  ansible_ssh_timeout: z.coerce.number().positive(),
  ansible_timeout: z.coerce.number().positive(),
}

/** connectionVarIssue returns why a connection variable's value is invalid, or null. */
export function connectionVarIssue(key: string, value: unknown): string | null {
  const schema = CONNECTION_VARS[key]
  if (!schema || isTemplate(value)) return null
  const result = schema.safeParse(value)
  return result.success ? null : `${key}: ${result.error.issues[0]?.message ?? 'invalid value'}`
}

/** ConnectionOptions are the command-line settings that apply to every host. */
export interface ConnectionOptions {
  hostKeyPolicy?: HostKeyPolicy
  knownHostsFile?: string
  sshConfigFile?: string
  connectTimeoutMs?: number
}

/** connectionSpec builds a host's `ConnectionSpec` from its merged variables. */
export function connectionSpec(host: string, vars: Vars, opts: ConnectionOptions = {}): ConnectionSpec {
  const str = (k: string): string | undefined => (typeof vars[k] === 'string' ? (vars[k] as string) : undefined)
  const kind = str('ansible_connection') === 'local' ? 'local' : 'ssh'
  const sshArgs = [str('ansible_ssh_common_args'), str('ansible_ssh_extra_args')].filter(Boolean).join(' ')
  const timeout = vars.ansible_ssh_timeout ?? vars.ansible_timeout
  const checking = vars.ansible_ssh_host_key_checking
  let policy = opts.hostKeyPolicy
  if (policy === undefined && checking !== undefined) {
    policy = checking === false || checking === 'no' ? 'no' : checking === 'accept-new' ? 'accept-new' : 'yes'
  }
  return {
    host,
    connection: kind,
    address: str('ansible_host') ?? host,
    port: vars.ansible_port === undefined ? undefined : Number(vars.ansible_port),
    user: str('ansible_user'),
    privateKeyFile: str('ansible_ssh_private_key_file') ?? str('ansible_private_key_file'),
    sshArgs: sshArgs || undefined,
    hostKeyPolicy: policy,
    knownHostsFile: opts.knownHostsFile,
    sshConfigFile: opts.sshConfigFile,
    connectTimeoutMs: opts.connectTimeoutMs ?? (timeout === undefined ? undefined : Number(timeout) * 1000),
  }
}

function isTemplate(value: unknown): boolean {
  return typeof value === 'string' && value.includes('{{')
}
