import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  appendKnownHost,
  checkHostKey,
  entryMatchesName,
  fingerprintSha256,
  hashKnownHostsName,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
  loadKnownHosts,
  parseKnownHosts,
} from '../../../cli/transport/known-hosts.js'

let dir: string
/** Real keys from ssh-keygen: [type, base64 blob, path of the .pub]. */
const keys: Record<string, { type: string; b64: string; blob: Buffer; pub: string }> = {}

function keygen(name: string, type: string): void {
  const path = join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', path])
  const [t, b64] = execFileSync('cat', [`${path}.pub`])
    .toString()
    .trim()
    .split(' ') as [string, string]
  keys[name] = { type: t, b64, blob: Buffer.from(b64, 'base64'), pub: `${path}.pub` }
}

function k(name: string): { type: string; b64: string; blob: Buffer; pub: string } {
  const key = keys[name]
  if (!key) throw new Error(`no key ${name}`)
  return key
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-known-hosts-'))
  keygen('ed1', 'ed25519')
  keygen('ed2', 'ed25519')
  keygen('ec1', 'ecdsa')
  keygen('rsa1', 'rsa')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('knownHostsName (#3 host-key checking)', () => {
  it('uses the bare host for port 22 and [host]:port otherwise, lowercased like ssh', () => {
    expect(knownHostsName('Web1.Example.COM', 22)).toBe('web1.example.com')
    expect(knownHostsName('127.0.0.1', 22105)).toBe('[127.0.0.1]:22105')
    expect(knownHostsName('::1', 2222)).toBe('[::1]:2222')
  })
})

describe('fingerprintSha256', () => {
  it('matches ssh-keygen -lf for ed25519, ecdsa and rsa keys', () => {
    for (const name of ['ed1', 'ec1', 'rsa1']) {
      const listed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', k(name).pub])
        .toString()
        .split(' ')[1]
      expect(fingerprintSha256(k(name).blob)).toBe(listed)
      expect(fingerprintSha256(k(name).blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/) // no '=' padding
    }
  })
  it('reads the key type from the blob', () => {
    expect(keyTypeOf(k('ed1').blob)).toBe('ssh-ed25519')
    expect(keyTypeOf(k('ec1').blob)).toBe('ecdsa-sha2-nistp256')
    expect(keyTypeOf(k('rsa1').blob)).toBe('ssh-rsa')
    expect(keyTypeOf(Buffer.from('xx'))).toBe('unknown')
  })
})

describe('parseKnownHosts', () => {
  it('reads plain, bracketed-port, comma-list, marker, comment and malformed lines', () => {
    const text = [
      '# a comment',
      '',
      `web1,10.0.0.1 ${k('ed1').type} ${k('ed1').b64} comment here`,
      `   [127.0.0.1]:2222 ${k('ec1').type} ${k('ec1').b64}`,
      `@revoked * ${k('rsa1').type} ${k('rsa1').b64}`,
      `@cert-authority *.example.com ${k('ed2').type} ${k('ed2').b64}`,
      'garbage line',
      `web2 ssh-ed25519 not-base64!`,
      `web3 ssh-rsa ${k('ed1').b64}`, // type does not match the blob
    ].join('\n')
    const entries = parseKnownHosts(text, '/kh')
    expect(entries.map((e) => [e.line, e.patterns, e.revoked, e.keyType])).toEqual([
      [3, ['web1', '10.0.0.1'], false, 'ssh-ed25519'],
      [4, ['[127.0.0.1]:2222'], false, 'ecdsa-sha2-nistp256'],
      [5, ['*'], true, 'ssh-rsa'],
    ])
    expect(entries[0]?.file).toBe('/kh')
  })

  it('matches hashed entries written by ssh-keygen -H, for plain and [host]:port names', async () => {
    const file = join(dir, 'hashed')
    await writeFile(
      file,
      `web1.example.com ${k('ed1').type} ${k('ed1').b64}\n[10.1.2.3]:2200 ${k('ec1').type} ${k('ec1').b64}\n`,
    )
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' }) // also writes file.old
    const entries = parseKnownHosts(await readFile(file, 'utf8'), file)
    expect(entries).toHaveLength(2)
    expect(entries.every((e) => e.hashed !== null && e.patterns === null)).toBe(true)
    expect(checkHostKey(entries, 'web1.example.com', k('ed1').blob).kind).toBe('match')
    expect(checkHostKey(entries, knownHostsName('10.1.2.3', 2200), k('ec1').blob).kind).toBe('match')
    expect(checkHostKey(entries, knownHostsName('10.1.2.3', 22), k('ec1').blob).kind).toBe('unknown')
    expect(checkHostKey(entries, 'web2.example.com', k('ed1').blob).kind).toBe('unknown')
  })

  it('with a name, keeps only the lines covering it, and decides as the whole file does', () => {
    const lines = [
      `web1,10.0.0.1 ${k('ed1').type} ${k('ed1').b64}`,
      `[10.0.0.9]:2200 ${k('ec1').type} ${k('ec1').b64}`,
      `${hashKnownHostsName('web2')} ${k('ed2').type} ${k('ed2').b64}`,
      `@revoked * ${k('rsa1').type} ${k('rsa1').b64}`,
      `web* ${k('ec1').type} ${k('ec1').b64}`,
      `!web2,web? ${k('rsa1').type} ${k('rsa1').b64}`,
      `web2 ssh-ed25519 not-base64!`,
    ]
    for (let i = 0; i < 300; i++) lines.push(`[10.1.${i >> 8}.${i & 255}]:22${i} ${k('ed1').type} ${k('ed1').b64}`)
    const text = lines.join('\n')
    const whole = parseKnownHosts(text, '/kh')
    for (const name of [
      'web1',
      'web2',
      'web3',
      '10.0.0.1',
      knownHostsName('10.0.0.9', 2200),
      '[10.1.0.7]:227',
      'none',
    ]) {
      const mine = parseKnownHosts(text, '/kh', name)
      expect(mine.every((e) => entryMatchesName(e, name))).toBe(true)
      expect(mine.map((e) => e.line)).toEqual(whole.filter((e) => entryMatchesName(e, name)).map((e) => e.line))
      for (const key of ['ed1', 'ed2', 'ec1', 'rsa1'])
        expect(checkHostKey(mine, name, k(key).blob)).toEqual(checkHostKey(whole, name, k(key).blob))
    }
    expect(parseKnownHosts(text, '/kh', '[10.1.0.7]:227')).toHaveLength(2) // its line and the revoked `*`
  })

  it('hashes names the way ssh-keygen -F finds them', async () => {
    const file = join(dir, 'ours-hashed')
    await writeFile(file, `${hashKnownHostsName('[h.example]:2022')} ${k('ed2').type} ${k('ed2').b64}\n`)
    const found = execFileSync('ssh-keygen', ['-F', '[h.example]:2022', '-f', file]).toString()
    expect(found).toContain(k('ed2').b64)
  })
})

describe('checkHostKey', () => {
  const line = (host: string, name: string): string => `${host} ${k(name).type} ${k(name).b64}`

  it('treats ports as part of the name: host:22 and [host]:2222 are different hosts', () => {
    const entries = parseKnownHosts([line('example.org', 'ed1'), line('[example.org]:2222', 'ed2')].join('\n'), 'f')
    expect(checkHostKey(entries, knownHostsName('example.org', 22), k('ed1').blob).kind).toBe('match')
    expect(checkHostKey(entries, knownHostsName('example.org', 2222), k('ed2').blob).kind).toBe('match')
    expect(checkHostKey(entries, knownHostsName('example.org', 2222), k('ed1').blob).kind).toBe('changed')
    expect(checkHostKey(entries, knownHostsName('example.org', 2223), k('ed1').blob).kind).toBe('unknown')
  })

  it('accepts any of several keys held for one host, and reports a new key as changed', () => {
    const entries = parseKnownHosts([line('h', 'ec1'), line('other', 'ed2'), line('h', 'ed1')].join('\n'), 'kh')
    expect(checkHostKey(entries, 'h', k('ed1').blob)).toMatchObject({ kind: 'match', entry: { line: 3 } })
    expect(checkHostKey(entries, 'h', k('ec1').blob)).toMatchObject({ kind: 'match', entry: { line: 1 } })
    const changed = checkHostKey(entries, 'h', k('ed2').blob)
    expect(changed.kind).toBe('changed')
    // the known key of the offered type comes first: it is the one to look at
    if (changed.kind === 'changed') expect(changed.entries.map((e) => e.line)).toEqual([3, 1])
    expect(knownKeyTypes(entries, 'h')).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519'])
  })

  it('refuses a revoked key even when it is also listed as valid', () => {
    const entries = parseKnownHosts([line('h', 'ed1'), `@revoked * ${k('ed1').type} ${k('ed1').b64}`].join('\n'), 'kh')
    expect(checkHostKey(entries, 'h', k('ed1').blob)).toMatchObject({ kind: 'revoked', entry: { line: 2 } })
    expect(checkHostKey(entries, 'elsewhere', k('ed1').blob).kind).toBe('revoked')
    expect(checkHostKey(entries, 'elsewhere', k('ed2').blob).kind).toBe('unknown')
  })

  it('honours globs and negations in host patterns', () => {
    const entries = parseKnownHosts(line('*.example.com,!bad.example.com,web?', 'ed1'), 'kh')
    expect(entryMatchesName(entries[0]!, 'a.example.com')).toBe(true)
    expect(entryMatchesName(entries[0]!, 'A.EXAMPLE.com')).toBe(true)
    expect(entryMatchesName(entries[0]!, 'bad.example.com')).toBe(false)
    expect(entryMatchesName(entries[0]!, 'web1')).toBe(true)
    expect(entryMatchesName(entries[0]!, 'web10')).toBe(false)
    expect(entryMatchesName(entries[0]!, 'example.com')).toBe(false)
  })
})

describe('loadKnownHosts / appendKnownHost (accept-new)', () => {
  it('skips missing files and numbers lines per file', async () => {
    const a = join(dir, 'a')
    await writeFile(a, `\n# x\nh ${k('ed1').type} ${k('ed1').b64}\n`)
    const entries = await loadKnownHosts([join(dir, 'missing'), a])
    expect(entries.map((e) => `${e.file}:${e.line}`)).toEqual([`${a}:3`])
  })

  it('creates the file 0600 in a new 0700 folder and appends OpenSSH-format lines', async () => {
    const file = join(dir, 'new', 'sub', 'known_hosts')
    await appendKnownHost(file, knownHostsName('127.0.0.1', 22105), k('ed1').blob)
    await appendKnownHost(file, knownHostsName('db1', 22), k('ec1').blob)
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600')
    expect(((await stat(join(dir, 'new', 'sub'))).mode & 0o777).toString(8)).toBe('700')
    expect(await readFile(file, 'utf8')).toBe(
      `[127.0.0.1]:22105 ssh-ed25519 ${k('ed1').b64}\ndb1 ecdsa-sha2-nistp256 ${k('ec1').b64}\n`,
    )
    // what we wrote, ssh-keygen finds
    expect(execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:22105', '-f', file]).toString()).toContain(k('ed1').b64)
  })

  it('starts a new line when the file does not end with one', async () => {
    const file = join(dir, 'no-newline')
    await writeFile(file, `h ${k('ed1').type} ${k('ed1').b64}`)
    await appendKnownHost(file, 'g', k('ed2').blob)
    const entries = await loadKnownHosts([file])
    expect(entries.map((e) => e.patterns?.[0])).toEqual(['h', 'g'])
  })
})
