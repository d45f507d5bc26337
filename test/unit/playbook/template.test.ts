import { describe, expect, it } from 'vitest'
import { evalCondition, render, scopeOf, TemplateError, UndefinedError } from '../../../cli/playbook/template.js'

const scope = scopeOf(
  { secrets_root: '/opt/callableapis', n: 3, bundles: ['aws', 'cloudflare'], host: { name: 'onode1', port: 22 } },
  { result: { changed: true, rc: 0, stdout: 'ok' }, empty: '' },
)

describe('templates (#3)', () => {
  it('substitutes variables inside strings and keeps native types for a whole expression', () => {
    expect(render('{{ secrets_root }}/secrets', scope)).toBe('/opt/callableapis/secrets')
    expect(render('{{ n }}', scope)).toBe(3)
    expect(render('{{ bundles }}', scope)).toEqual(['aws', 'cloudflare'])
    expect(render({ a: ['x-{{ host.name }}', '{{ host["port"] + 1 }}'] }, scope)).toEqual({ a: ['x-onode1', 23] })
  })
  it('applies defaults and filters', () => {
    expect(render("{{ missing | default('y') }}", scope)).toBe('y')
    expect(render("{{ empty | default('z', true) }}", scope)).toBe('z')
    expect(render("{{ bundles | join(',') | upper }}", scope)).toBe('AWS,CLOUDFLARE')
    expect(render('{{ secrets_root | basename }}', scope)).toBe('callableapis')
    expect(render("{{ 'a' ~ n }}", scope)).toBe('a3')
  })
  it('selects and maps registered loop results like Jinja (selectattr, map(attribute=), flatten, unique)', () => {
    const reg = scopeOf(
      {
        push: {
          results: [
            { item: 'aws', changed: true, consumers: ['api'] },
            { item: 'gh', changed: false, consumers: ['api', 'web'] },
            { item: 'cf', changed: true, consumers: ['api', 'dns'] },
          ],
        },
      },
      {},
    )
    expect(
      render("{{ push.results | selectattr('changed') | map(attribute='consumers') | flatten | unique }}", reg),
    ).toEqual(['api', 'dns'])
    expect(render("{{ push.results | rejectattr('changed') | map(attribute='item') | list }}", reg)).toEqual(['gh'])
    expect(
      render("{{ push.results | selectattr('item', 'equalto', 'cf') | map(attribute='item') | first }}", reg),
    ).toBe('cf')
    expect(render("{{ ['a', 'b'] | map('upper') | join }}", reg)).toBe('AB')
  })
  it('an undefined variable is an error naming it', () => {
    expect(() => render('{{ nope }}/x', scope)).toThrow(UndefinedError)
    expect(() => render('{{ host.nope }}', scope)).toThrow("'host.nope' is undefined")
  })
  it('evaluates when: conditions like Ansible', () => {
    expect(evalCondition('result is changed and n > 2', scope)).toBe(true)
    expect(evalCondition("'aws' in bundles", scope)).toBe(true)
    expect(evalCondition('nope is defined', scope)).toBe(false)
    expect(evalCondition('not (result.rc == 0)', scope)).toBe(false)
    expect(evalCondition('{{ n == 3 }}', scope)).toBe(true)
    expect(evalCondition("'gcp' not in bundles", scope)).toBe(true)
  })
  it('reports syntax errors and unknown filters', () => {
    expect(() => render('{{ a | nosuchfilter }}', scopeOf({ a: 1 }))).toThrow(TemplateError)
    expect(() => render('{{ a + }}', scopeOf({ a: 1 }))).toThrow(TemplateError)
  })
})
