/**
 * schema.ts — the shapes of plays and tasks (Ansible's keywords), validated with zod before
 * anything runs. A task holds exactly one module (or `include_tasks`).
 */
import { z } from 'zod'
import type { Vars } from '../inventory/inventory.js'

const stringList = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]))
const condition = z.union([z.string(), z.boolean(), z.array(z.union([z.string(), z.boolean()]))])
const vars = z.record(z.string(), z.unknown())

/** TASK_KEYWORDS are the task keys that are not a module. */
export const TASK_KEYWORDS = {
  name: z.string().optional(),
  when: condition.optional(),
  notify: stringList.optional(),
  register: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a variable name')
    .optional(),
  loop: z.unknown().optional(),
  with_items: z.unknown().optional(),
  loop_control: z.object({ loop_var: z.string().optional(), label: z.string().optional() }).strict().optional(),
  tags: stringList.optional(),
  no_log: z.boolean().optional(),
  ignore_errors: z.boolean().optional(),
  check_mode: z.boolean().optional(),
  changed_when: condition.optional(),
  failed_when: condition.optional(),
  vars: vars.optional(),
  listen: stringList.optional(),
} as const

/** TaskKeywords is the validated keyword part of a task. */
export type TaskKeywords = z.infer<z.ZodObject<typeof TASK_KEYWORDS>>

/** PlaySchema validates one play (its task lists are validated task by task). */
export const PlaySchema = z
  .object({
    name: z.string().optional(),
    hosts: z.union([z.string(), z.array(z.string())]).transform((h) => (Array.isArray(h) ? h.join(',') : h)),
    vars: vars.optional(),
    serial: z
      .union([
        z.number().int().positive(),
        z.string().regex(/^\d+%?$/),
        z.array(z.union([z.number().int().positive(), z.string().regex(/^\d+%?$/)])),
      ])
      .optional(),
    any_errors_fatal: z.boolean().optional(),
    max_fail_percentage: z.number().min(0).max(100).optional(),
    gather_facts: z.boolean().optional(),
    tags: stringList.optional(),
    roles: z
      .array(
        z.union([
          z.string(),
          z
            .object({
              role: z.string(),
              vars: vars.optional(),
              tags: stringList.optional(),
              when: condition.optional(),
            })
            .strict(),
        ]),
      )
      .optional(),
    pre_tasks: z.array(z.unknown()).optional(),
    tasks: z.array(z.unknown()).optional(),
    post_tasks: z.array(z.unknown()).optional(),
    handlers: z.array(z.unknown()).optional(),
  })
  .strict()

/** Task is one loaded task, ready for the runner. */
export interface Task {
  name: string
  module: string
  args: Record<string, unknown>
  when: (string | boolean)[]
  notify: string[]
  listen: string[]
  register?: string
  loop?: unknown
  loopVar: string
  /** `loop_control.label`: what the output shows for each item (a template) */
  loopLabel?: string
  tags: string[]
  noLog: boolean
  ignoreErrors: boolean
  checkMode?: boolean
  changedWhen?: (string | boolean)[]
  failedWhen?: (string | boolean)[]
  vars: Vars
  /** `file:line:col` of the task, for every message about it. */
  where: string
  /** Directory `src:` paths resolve against. */
  baseDir: string
}

/** Play is one loaded play with its roles expanded. */
export interface Play {
  name: string
  hosts: string
  vars: Vars
  defaults: Vars
  serial: (number | string)[]
  anyErrorsFatal: boolean
  maxFailPercentage?: number
  tasks: Task[]
  handlers: Task[]
  where: string
}

/** Playbook is a loaded, validated playbook file. */
export interface Playbook {
  file: string
  dir: string
  plays: Play[]
}
