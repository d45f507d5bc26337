import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../../cli/errors.js'
import type { ConnectionSpec } from '../../../cli/transport/connection.js'
import { parseJumpHost, parseSshArgs, resolveSshOptions, splitShellWords } from '../../../cli/transport/ssh-options.js'
import type { SshOptionsEnv } from '../../../cli/transport/ssh-options.js'

let home: string
let env: SshOptionsEnv
let config: string

const spec = (over: Partial<ConnectionSpec> = {}): ConnectionSpec => ({
  host: 'web1',
  connection: 'ssh',
  address: 'web1',
  sshConfigFile: config,
  ...over,
})

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'ms-ssh-options-'))
  env = { homeDir: home, localUser: 'alice', env: { SSH_AUTH_SOCK: '/run/agent.sock', KEYS: '/keys' } }
  await mkdir(join(home, '.ssh', 'config.d'), { recursive: true })
  config = join(home, '.ssh', 'config')
  await writeFile(
    config,
    [
      '# user config',
      'Host web*',
      '  HostName %h.internal.example',
      '  Port 2201',
      '  User deploy',
      '  IdentityFile ~/.ssh/web_key',
      '  UserKnownHostsFile ~/.ssh/kh_web /etc/kh_shared',
      '  StrictHostKeyChecking accept-new',
      '  ConnectTimeout 4',
      '  HostKeyAlias web-alias',
      '  ProxyJump jump@bastion:2222,inner',
      'Include config.d/*.conf',
      'Host db1',
      '  HostName 10.0.0.5',
      '  ProxyCommand ssh -W %h:%p bastion',
      'Host *',
      '  User nobody',
      '  IdentityFile ${KEYS}/%r_key',
      '  IdentitiesOnly yes',
      '  ServerAliveInterval 5',
    ].join('\n'),
  )
  await writeFile(join(home, '.ssh', 'config.d', '10-cache.conf'), 'Host cache1\n  HostName 10.9.9.9\n  Port 6000\n')
})
afterAll(async () => {
  await rm(home, { recursive: true, force: true })
})

describe('splitShellWords', () => {
  it('splits like a POSIX shell: quotes, escapes, empty words', () => {
    expect(splitShellWords(`-o 'A B' "c \\"d\\" $x" e\\ f '' g`)).toEqual(['-o', 'A B', 'c "d" $x', 'e f', '', 'g'])
    expect(splitShellWords('  ')).toEqual([])
    expect(() => splitShellWords(`-o 'open`)).toThrow(/unterminated/)
  })
})

describe('parseSshArgs (ansible_ssh_common_args)', () => {
  it('reads -o Key=Value, -o Key Value, -oKey=Value, -J, -p, -l, -i, -F and skips other flags', () => {
    const args = `-4 -C -o StrictHostKeyChecking=no -o 'UserKnownHostsFile /dev/null' -oPort=2022 -J root@b1:2200 -p 99 -lbob -i ~/k -F /cfg -v -o "ControlPersist = 60s" -E /log`
    expect(parseSshArgs(args)).toEqual([
      ['stricthostkeychecking', 'no'],
      ['userknownhostsfile', '/dev/null'],
      ['port', '2022'],
      ['proxyjump', 'root@b1:2200'],
      ['port', '99'],
      ['user', 'bob'],
      ['identityfile', '~/k'],
      ['-F', '/cfg'],
      ['controlpersist', '60s'],
    ])
  })
  it('rejects a malformed -o and a flag missing its value', () => {
    expect(() => parseSshArgs('-o =x')).toThrow(/Key=Value/)
    expect(() => parseSshArgs('-o')).toThrow(/needs a value/)
  })
})

describe('parseJumpHost', () => {
  it('reads user@host:port, bare hosts, IPv6 and ssh:// forms', () => {
    expect(parseJumpHost('root@10.0.0.1:2200')).toEqual({ host: '10.0.0.1', user: 'root', port: 2200 })
    expect(parseJumpHost('bastion')).toEqual({ host: 'bastion' })
    expect(parseJumpHost('[::1]:22')).toEqual({ host: '::1', port: 22 })
    expect(parseJumpHost('ssh://me@b.example:2022')).toEqual({ host: 'b.example', user: 'me', port: 2022 })
    expect(() => parseJumpHost('a@b:0')).toThrow()
    expect(() => parseJumpHost('a b')).toThrow()
  })
})

describe('resolveSshOptions precedence (ansible vars > ssh args > ssh_config > defaults)', () => {
  it('takes everything from ssh_config when nothing else is set', () => {
    const o = resolveSshOptions(spec(), env)
    expect(o).toMatchObject({
      hostName: 'web1.internal.example',
      port: 2201,
      user: 'deploy',
      identitiesOnly: true,
      identityFilesExplicit: true,
      knownHostsFiles: [join(home, '.ssh', 'kh_web'), '/etc/kh_shared'],
      hostKeyPolicy: 'accept-new',
      hostKeyAlias: 'web-alias',
      connectTimeoutMs: 4000,
      keepaliveIntervalMs: 5000,
      proxyJump: [{ host: 'bastion', user: 'jump', port: 2222 }, { host: 'inner' }],
      agentSocket: '/run/agent.sock',
      configFile: config,
    })
    // IdentityFile accumulates in order; ${VAR}, %r and ~ are expanded
    expect(o.identityFiles).toEqual([join(home, '.ssh', 'web_key'), '/keys/deploy_key'])
  })

  it('lets ssh args beat ssh_config and ansible vars beat ssh args', () => {
    const viaArgs = resolveSshOptions(
      spec({ sshArgs: '-o Port=3000 -l carol -i /args_key -o UserKnownHostsFile=/kh_args -o ProxyJump=none' }),
      env,
    )
    expect(viaArgs).toMatchObject({ port: 3000, user: 'carol', knownHostsFiles: ['/kh_args'], proxyJump: [] })
    expect(viaArgs.identityFiles).toEqual(['/args_key', join(home, '.ssh', 'web_key'), '/keys/carol_key'])

    const viaVars = resolveSshOptions(
      spec({ port: 4000, user: 'dave', privateKeyFile: '/var_key', sshArgs: '-p 3000 -l carol -i /args_key' }),
      env,
    )
    expect(viaVars).toMatchObject({ port: 4000, user: 'dave' })
    expect(viaVars.identityFiles.slice(0, 2)).toEqual(['/var_key', '/args_key'])
  })

  it('lets the CLI host-key policy, known_hosts file and timeout win over everything', () => {
    const o = resolveSshOptions(
      spec({
        hostKeyPolicy: 'yes',
        knownHostsFile: '/cli_kh',
        connectTimeoutMs: 1500,
        sshArgs: '-o StrictHostKeyChecking=no -o ConnectTimeout=9',
      }),
      env,
    )
    expect(o).toMatchObject({
      hostKeyPolicy: 'yes',
      knownHostsFiles: ['/cli_kh'],
      connectTimeoutMs: 1500,
      knownHostsExplicit: true,
    })
  })

  it('matches ssh_config against the address and inlines Include files', () => {
    const o = resolveSshOptions(spec({ host: 'c', address: 'cache1' }), env)
    expect(o).toMatchObject({ hostName: '10.9.9.9', port: 6000, user: 'nobody' })
  })

  it('falls back to OpenSSH defaults without a config file', () => {
    const o = resolveSshOptions(spec({ address: '192.0.2.7', sshConfigFile: 'none' }), { ...env, env: {} })
    expect(o).toMatchObject({
      hostName: '192.0.2.7',
      port: 22,
      user: 'alice',
      identityFilesExplicit: false,
      identitiesOnly: false,
      agentSocket: null,
      knownHostsExplicit: false,
      hostKeyPolicy: 'yes',
      hostKeyAlias: null,
      connectTimeoutMs: 10_000,
      proxyJump: [],
      configFile: null,
    })
    expect(o.identityFiles).toEqual(['id_rsa', 'id_ecdsa', 'id_ed25519'].map((f) => join(home, '.ssh', f)))
    expect(o.knownHostsFiles[0]).toBe(join(home, '.ssh', 'known_hosts'))
  })

  it('reads -F from ssh args when no config file is given, and treats a missing file as empty', () => {
    const o = resolveSshOptions(spec({ sshConfigFile: undefined, sshArgs: `-F ${config}` }), env)
    expect(o.port).toBe(2201)
    const none = resolveSshOptions(spec({ sshConfigFile: join(home, 'nope') }), env)
    expect(none.port).toBe(22)
  })

  it('maps StrictHostKeyChecking values like ssh: ask means yes, off means no', () => {
    const policy = (v: string): string =>
      resolveSshOptions(spec({ sshArgs: `-o StrictHostKeyChecking=${v}` }), env).hostKeyPolicy
    expect(policy('ask')).toBe('yes')
    expect(policy('off')).toBe('no')
    expect(policy('accept-new')).toBe('accept-new')
  })

  it('refuses ProxyCommand and bad values with a ConfigError naming the host and source', () => {
    expect(() => resolveSshOptions(spec({ address: 'db1' }), env)).toThrow(ConfigError)
    expect(() => resolveSshOptions(spec({ address: 'db1' }), env)).toThrow(/web1: ProxyCommand .* use ProxyJump/)
    expect(() => resolveSshOptions(spec({ sshArgs: '-o Port=http' }), env)).toThrow(
      /web1: bad port 'http' \(from ansible_ssh_common_args\)/,
    )
    expect(() => resolveSshOptions(spec({ sshArgs: '-o StrictHostKeyChecking=maybe' }), env)).toThrow(
      /StrictHostKeyChecking/,
    )
    expect(() => resolveSshOptions(spec({ sshArgs: `-o 'Port` }), env)).toThrow(/ansible_ssh_common_args: unterminated/)
  })

  it('honours IdentityAgent none and an explicit socket', () => {
    expect(resolveSshOptions(spec({ sshArgs: '-o IdentityAgent=none' }), env).agentSocket).toBeNull()
    expect(resolveSshOptions(spec({ sshArgs: '-o IdentityAgent=~/agent.sock' }), env).agentSocket).toBe(
      join(home, 'agent.sock'),
    )
  })
})
