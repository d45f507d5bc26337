import { describe, expect, it } from 'vitest'
import { expandHostPattern, expandHostnameRange, HostRangeError, parseAddress } from '../../../cli/inventory/ranges.js'

describe('expandHostnameRange (ansible-core semantics, #2)', () => {
  it('keeps zero padding of numeric ranges', () => {
    expect(expandHostnameRange('web[01:03].example.com')).toEqual([
      'web01.example.com',
      'web02.example.com',
      'web03.example.com',
    ])
  })
  it('expands alphabetic ranges and strides', () => {
    expect(expandHostnameRange('db-[a:c]')).toEqual(['db-a', 'db-b', 'db-c'])
    expect(expandHostnameRange('node[0:10:5]')).toEqual(['node0', 'node5', 'node10'])
  })
  it('expands several ranges in one name', () => {
    expect(expandHostnameRange('r[1:2]-[a:b]')).toEqual(['r1-a', 'r1-b', 'r2-a', 'r2-b'])
  })
  it('rejects ranges Ansible rejects', () => {
    expect(() => expandHostnameRange('web[01:x]')).toThrow(HostRangeError)
    expect(() => expandHostnameRange('web[01:100]')).toThrow(/equal-length/)
    expect(() => expandHostnameRange('web[1:]')).toThrow(/end value/)
    expect(() => expandHostnameRange('web[c:a]')).toThrow(/begin <= end/)
  })
  it('a reversed numeric range is empty, as in Ansible', () => {
    expect(expandHostnameRange('web[5:1]')).toEqual([])
  })
})

describe('parseAddress', () => {
  it('splits a port from host names, IPv4 and bracketed IPv6', () => {
    expect(parseAddress('db1.example.com:2222', true)).toEqual({ host: 'db1.example.com', port: 2222 })
    expect(parseAddress('10.0.0.1:22', true)).toEqual({ host: '10.0.0.1', port: 22 })
    expect(parseAddress('[::1]:2200', true)).toEqual({ host: '::1', port: 2200 })
    expect(parseAddress('::1', true)).toEqual({ host: '::1', port: undefined })
  })
  it('accepts ranges only when allowed and refuses non-addresses', () => {
    expect(parseAddress('web[1:3]', true)?.host).toBe('web[1:3]')
    expect(parseAddress('web[1:3]', false)).toBeNull()
    expect(parseAddress('web:db', true)).toBeNull()
    expect(parseAddress('web-', true)).toBeNull()
  })
  it('expandHostPattern returns hosts and port', () => {
    expect(expandHostPattern('h[1:2]:2200')).toEqual({ hosts: ['h1', 'h2'], port: 2200 })
  })
})
