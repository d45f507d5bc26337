/**
 * sign.ts — `journal sign` (#15, recipient mode): an admin signs the journal's head with their
 * OpenPGP key, so a chain that holds up to that line is vouched for by a person and not only by
 * a key file on the control node; `journal verify` checks the signature it finds.
 *
 * The signature file is `journal.head.sig` next to the head: one JSON record holding the head's
 * text as it was signed, the signer's fingerprint and the armoured detached signature over that
 * text. The head moves on with every command; the signed copy stays, and `verify` checks that
 * the line it names is still the line of the chain.
 *
 * Rules enforced here:
 * - only a key among the store's admins (`.secrets/recipients/admins/*.asc`) may sign, and a
 *   signature is only trusted when it verifies against one of them;
 * - the signature file is written atomically, 0600, and never follows a link (journal.ts);
 * - a signature that does not verify, by an unknown key, or over a line no longer in the chain
 *   is a problem naming the line (0: the signature file).
 */
import { join } from 'node:path'
import * as openpgp from 'openpgp'
import { z } from 'zod'
import { UsageError } from '../errors.js'
import { writeFileAtomic } from '../util/secure-write.js'
import type { Recipient } from '../secrets/keys.js'
import { JOURNAL_HEAD, readHead, readText, type JournalProblem, type Row } from './journal.js'

/** SIGNATURE_FILE is the signed head's name in the state dir. */
export const SIGNATURE_FILE = 'journal.head.sig'

const SignedSchema = z.strictObject({
  head: z.string().max(1000),
  signer: z.string().regex(/^[0-9a-f]{40,64}$/),
  signature: z.string().max(20_000),
})

/** Signed is what `journal sign` wrote: the head, who signed it, the detached signature. */
export type Signed = z.infer<typeof SignedSchema>

/** signHead signs the current head with `identity` (an admin's key) and writes journal.head.sig. */
export async function signHead(
  stateDir: string,
  identity: openpgp.PrivateKey,
  admins: readonly Recipient[],
): Promise<{ seq: number; signer: string }> {
  const signer = identity.getFingerprint()
  if (admins.length === 0)
    throw new UsageError('journal sign needs the store to have admin keys (recipient mode)', [
      'make one with: manage-secrets vault keygen --admin NAME --output FILE',
    ])
  if (!admins.some((a) => a.fingerprint === signer))
    throw new UsageError(`the key ${signer} is not an admin of this store: only admins sign the journal`, [
      'make one with: manage-secrets vault keygen --admin NAME',
    ])
  const head = await readText(join(stateDir, JOURNAL_HEAD))
  const parsed = await readHead(stateDir)
  if (head === null || parsed === null || parsed === 'malformed')
    throw new UsageError(`${join(stateDir, JOURNAL_HEAD)}: no head to sign (an empty journal, or a damaged head)`, [
      'run: manage-secrets journal verify',
    ])
  const message = await openpgp.createMessage({ text: head })
  const signature = (await openpgp.sign({
    message,
    signingKeys: identity,
    detached: true,
    format: 'armored',
  })) as string
  const record: Signed = { head, signer, signature }
  await writeFileAtomic(join(stateDir, SIGNATURE_FILE), `${JSON.stringify(record)}\n`)
  return { seq: parsed.seq, signer }
}

/** SignatureCheck is what `verify` learnt of the signature: who signed which seq, and any problem. */
export interface SignatureCheck {
  signed?: { seq: number; signer: string; admin: string }
  problems: JournalProblem[]
}

/** checkSignature verifies journal.head.sig, when present, against the admins and the chain. */
export async function checkSignature(
  stateDir: string,
  rows: readonly Row[],
  admins: readonly Recipient[],
): Promise<SignatureCheck> {
  const text = await readText(join(stateDir, SIGNATURE_FILE)).catch(() => 'unreadable')
  if (text === null) return { problems: [] }
  const bad = (detail: string): SignatureCheck => ({
    problems: [{ line: 0, kind: 'unverified', detail: `${SIGNATURE_FILE}: ${detail}` }],
  })
  let record: Signed
  let head: { seq: number; hash: string }
  try {
    record = SignedSchema.parse(JSON.parse(text))
    head = z.looseObject({ seq: z.number().int().min(1), hash: z.string() }).parse(JSON.parse(record.head))
  } catch {
    return bad('not a signed head record')
  }
  const admin = admins.find((a) => a.fingerprint === record.signer)
  if (!admin) return bad(`signed by ${record.signer}, which is not an admin key of the store`)
  try {
    const { signatures } = await openpgp.verify({
      message: await openpgp.createMessage({ text: record.head }),
      signature: await openpgp.readSignature({ armoredSignature: record.signature }),
      verificationKeys: admin.key,
    })
    await signatures[0]?.verified
    if (!signatures[0]) throw new Error('no signature')
  } catch {
    return bad(`the signature by ${admin.id} does not verify: the signed head was altered`)
  }
  const at = rows.find((r) => r.state === 'chained' && r.seq === head.seq)
  const signed = { seq: head.seq, signer: record.signer, admin: admin.id }
  if (at?.digest === head.hash) return { signed, problems: [] }
  const detail = at
    ? `seq ${head.seq} is not the line ${admin.id} signed: the journal was rewritten`
    : `${admin.id} signed seq ${head.seq}, which is not in the journal`
  return { signed, problems: [{ line: at ? at.line : rows.length + 1, kind: at ? 'edited' : 'truncated', detail }] }
}
