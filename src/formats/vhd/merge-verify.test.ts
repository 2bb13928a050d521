// The cleanup proof at every crash point of ours (rename, then intermediates newest first) and of
// XO's (children deleted, then rename), and the refusals: a file that does not link to the recorded
// chain, a parent without the target's UUID, a lost rename, nothing left at all.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { MergeState } from './merge-state.ts'
import type { Identity } from './merge-verify.ts'
import { verifyCleanup } from './merge-verify.ts'
import { resolveStateChain } from './merge-scope.ts'

const [P, C1, C2, T, G] = ['p', 'c1', 'c2', 't', 'g'].map((n) => `${n}0000000-0000-4000-8000-000000000000`)
const state: MergeState = {
  parent: { uuid: P as string },
  child: { uuid: T as string },
  chain: ['p.vhd', 'c1.vhd', 'c2.vhd', 't.vhd'],
  currentBlock: 0,
  mergedDataSize: 0,
  step: 'cleanup',
}
const chain = ['d/p.vhd', 'd/c1.vhd', 'd/c2.vhd', 'd/t.vhd']
const delta = (uuid: string | undefined, parentUuid: string | undefined): Identity => ({
  uuid: uuid as string,
  differencing: true,
  parentUuid,
  headerOffset: 512,
})
const dynamic = (uuid: string | undefined): Identity => ({
  uuid: uuid as string,
  differencing: false,
  parentUuid: undefined,
  headerOffset: 512,
})
const merged = dynamic(T)
const oldTarget = delta(T, C2)
const [c1, c2] = [delta(C1, P), delta(C2, C1)]
type Ids = (Identity | undefined)[]
const check = (ids: Ids) => {
  verifyCleanup(state, chain, ids, 'd/.p.vhd.merge.json')
}

describe('merge cleanup proof', () => {
  it('accepts every crash point of our cleanup and of XO’s', () => {
    const accepted: [string, Ids][] = [
      ['before the rename', [merged, c1, c2, oldTarget]],
      ['after the rename', [undefined, c1, c2, merged]],
      ['after deleting c2', [undefined, c1, undefined, merged]],
      ['after deleting c1 too', [undefined, undefined, undefined, merged]],
      ['XO: target deleted first', [merged, c1, c2, undefined]],
      ['XO: c1 deleted first', [merged, undefined, c2, oldTarget]],
      ['XO: all children deleted', [merged, undefined, undefined, undefined]],
      ['a merge into a delta (--into), renamed', [undefined, c1, c2, delta(T, G)]],
    ]
    for (const [what, ids] of accepted)
      assert.doesNotThrow(() => {
        check(ids)
      }, what)
  })

  it('refuses what it cannot prove, naming the file', () => {
    const refused: [string, Ids, RegExp][] = [
      [
        'an unrelated intermediate',
        [undefined, delta(G, G), c2, merged],
        /d\/c1\.vhd.*header\.parentUniqueId/,
      ],
      ['a dynamic intermediate', [merged, dynamic(C1), c2, oldTarget], /d\/c1\.vhd/],
      ['a parent without the target UUID', [dynamic(P), c1, c2, oldTarget], /d\/p\.vhd.*footer\.uniqueId/],
      ['a target with another UUID', [merged, c1, c2, delta(G, C2)], /d\/t\.vhd.*footer\.uniqueId/],
      [
        'a lost rename (the old delta, parent gone)',
        [undefined, c1, c2, oldTarget],
        /d\/t\.vhd.*still a delta/,
      ],
      ['nothing left', [undefined, c1, c2, undefined], /neither exists/],
      ['an orphan in the middle', [merged, undefined, c2, undefined], /d\/c2\.vhd/],
    ]
    for (const [what, ids, message] of refused)
      assert.throws(
        () => {
          check(ids)
        },
        { code: 'VHD_MERGE_STATE', message },
        what,
      )
  })

  it('refuses a state chain that repeats a file or names the state file', () => {
    const twice = { ...state, chain: ['p.vhd', 't.vhd', 't.vhd'] }
    assert.throws(() => resolveStateChain('d', 'd/.p.vhd.merge.json', twice), {
      code: 'VHD_MERGE_STATE',
      message: /chain\[2\]/,
    })
    const itself = { ...state, chain: ['p.vhd', '.p.vhd.merge.json', 't.vhd'] }
    assert.throws(() => resolveStateChain('d', 'd/.p.vhd.merge.json', itself), { code: 'VHD_MERGE_STATE' })
    assert.throws(
      () => resolveStateChain('d', 'd/.p.vhd.merge.json', { ...state, chain: ['p.vhd', 'x/../../e'] }),
      {
        code: 'PATH_ESCAPE',
        message: /d\/\.p\.vhd\.merge\.json chain\[1\]/,
      },
    )
  })
})
