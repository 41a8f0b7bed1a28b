import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  countRequestEnds, MAX_REPLY_BYTES, MAX_REQUEST_BYTES, MAX_VERBS, newRequestScan, OTHER_VERB, ReplyReader,
} from '../../bench/policy/framing.ts';
import { seededRandom } from '../../bench/exporter/random.ts';

const bytes = (s: string) => Buffer.from(s, 'latin1');

/** Feeds `chunks` to a fresh reader; the verbs of the replies in order, and the error if any. */
function read(chunks: Buffer[], reader = new ReplyReader()): { verbs: string[]; error: string | undefined; reader: ReplyReader } {
  const verbs: string[] = [];
  let error: string | undefined;
  for (const c of chunks) {
    error = reader.feed(c, (v) => verbs.push(reader.verbs[v] as string));
    if (error !== undefined) break;
  }
  return { verbs, error, reader };
}

describe('policy bench: reply framing', () => {
  it('GIVEN one reply in one chunk THEN its verb is reported once', () => {
    const { verbs, error, reader } = read([bytes('action=DUNNO\n\n')]);
    assert.deepEqual(verbs, ['DUNNO']);
    assert.equal(error, undefined);
    assert.equal(reader.pending, 0);
  });

  it('GIVEN a reply split at every possible byte WHEN fed in two chunks THEN it is the same single reply', () => {
    const reply = bytes('action=DEFER_IF_PERMIT 4.7.1 rate limit exceeded\n\n');
    for (let cut = 0; cut <= reply.length; cut++) {
      const { verbs, error } = read([reply.subarray(0, cut), reply.subarray(cut)]);
      assert.deepEqual(verbs, ['DEFER_IF_PERMIT'], `cut at ${cut}`);
      assert.equal(error, undefined);
    }
  });

  it('GIVEN a reply fed one byte at a time THEN it is one reply', () => {
    const reply = bytes('action=450 4.7.1 try later\n\n');
    const { verbs } = read([...reply].map((b) => Buffer.from([b])));
    assert.deepEqual(verbs, ['450']);
  });

  it('GIVEN several replies in one chunk THEN each is reported, in order, verbs upper-cased', () => {
    const { verbs, reader } = read([bytes('action=dunno\n\naction=DUNNO\n\naction=defer_if_permit Rate limit reach, retry later\n\naction=OK\n\n')]);
    assert.deepEqual(verbs, ['DUNNO', 'DUNNO', 'DEFER_IF_PERMIT', 'OK']);
    assert.deepEqual(reader.verbs, ['DUNNO', 'DEFER_IF_PERMIT', 'OK']);
  });

  it('GIVEN a reply without its empty line THEN nothing is reported and its bytes wait', () => {
    const { verbs, error, reader } = read([bytes('action=DUNNO\n')]);
    assert.deepEqual(verbs, []);
    assert.equal(error, undefined);
    assert.equal(reader.pending, 'action=DUNNO\n'.length);
  });

  const malformed: [string, Buffer, RegExp][] = [
    ['no action= prefix', bytes('result=DUNNO\n\n'), /does not start with "action="/],
    ['a stray empty line', bytes('\n\n'), /does not start with "action="/],
    ['an empty action', bytes('action=\n\n'), /empty action/],
    ['an empty action before text', bytes('action= text\n\n'), /empty action/],
    ['two lines', bytes('action=DUNNO\nfoo=bar\n\n'), /more than one line/],
    ['CRLF line ends (never an empty line)', Buffer.concat([bytes('action=DUNNO\r\n\r\n'.repeat(200))]), /longer than/],
    ['an over-long reply', bytes(`action=DUNNO ${'x'.repeat(MAX_REPLY_BYTES)}\n\n`), /longer than 2048 bytes/],
    ['binary noise', Buffer.concat([Buffer.from([0, 0xff, 0x80, 0x0a, 0x00, 0x0a]), bytes('action=DUNNO\n\n')]), /does not start with "action="/],
  ];
  for (const [name, input, expected] of malformed) {
    it(`GIVEN ${name} THEN the stream is refused with a reason and nothing is reported`, () => {
      const { verbs, error, reader } = read([input]);
      assert.deepEqual(verbs, []);
      assert.match(error ?? '', expected);
      assert.ok(reader.pending <= MAX_REPLY_BYTES);
    });
  }

  it('GIVEN a refused stream WHEN more valid replies follow THEN it stays refused and reports nothing', () => {
    const reader = new ReplyReader();
    const seen: number[] = [];
    const first = reader.feed(bytes('nonsense\n\n'), (v) => seen.push(v));
    const second = reader.feed(bytes('action=DUNNO\n\n'), (v) => seen.push(v));
    assert.ok(first !== undefined);
    assert.equal(second, first);
    assert.deepEqual(seen, []);
  });

  it('GIVEN invalid UTF-8 in the text or the verb THEN the reply is still framed and counted', () => {
    const { verbs, error } = read([Buffer.concat([bytes('action=DUNNO '), Buffer.from([0xff, 0xfe, 0xc3]), bytes('\n\naction='), Buffer.from([0xc3, 0x28]), bytes('\n\n')])]);
    assert.equal(error, undefined);
    assert.equal(verbs.length, 2);
    assert.equal(verbs[0], 'DUNNO');
  });

  it(`GIVEN more than ${MAX_VERBS} distinct verbs THEN the rest count as ${OTHER_VERB} and the table stops growing`, () => {
    const replies = Array.from({ length: MAX_VERBS + 10 }, (_, i) => `action=${400 + i} text\n\n`).join('');
    const { verbs, reader } = read([bytes(replies)]);
    assert.equal(verbs.length, MAX_VERBS + 10);
    assert.deepEqual(verbs.slice(MAX_VERBS), Array(10).fill(OTHER_VERB));
    assert.equal(reader.verbs.length, MAX_VERBS + 1);
  });

  it('GIVEN two readers sharing a verb table THEN the same verb has the same index on both', () => {
    const shared: string[] = [];
    const a = new ReplyReader(shared);
    const b = new ReplyReader(shared);
    const fromA: number[] = [];
    const fromB: number[] = [];
    a.feed(bytes('action=DUNNO\n\naction=REJECT no\n\n'), (v) => fromA.push(v));
    b.feed(bytes('action=reject no\n\naction=dunno\n\naction=HOLD\n\n'), (v) => fromB.push(v));
    a.feed(bytes('action=HOLD\n\n'), (v) => fromA.push(v));
    assert.deepEqual(shared, ['DUNNO', 'REJECT', 'HOLD']);
    assert.deepEqual(fromA, [0, 1, 2]);
    assert.deepEqual(fromB, [1, 0, 2]);
  });

  it('GIVEN random bytes in random chunks THEN feeding never throws and never holds more than the bound', () => {
    const r = seededRandom(7);
    for (let round = 0; round < 200; round++) {
      const reader = new ReplyReader();
      for (let c = 0; c < 20; c++) {
        const chunk = Buffer.from(Array.from({ length: r.int(0, 300) }, () => (r.chance(0.1) ? 0x0a : r.int(0, 255))));
        assert.doesNotThrow(() => reader.feed(chunk, () => undefined));
        assert.ok(reader.pending <= MAX_REPLY_BYTES);
      }
    }
  });
});

describe('policy bench: request ends (the no-op responder)', () => {
  const request = bytes('request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=198.18.0.1\n\n');

  it('GIVEN a request split at every possible byte THEN exactly one end is found', () => {
    for (let cut = 0; cut <= request.length; cut++) {
      const scan = newRequestScan();
      const ends = countRequestEnds(request.subarray(0, cut), scan) + countRequestEnds(request.subarray(cut), scan);
      assert.equal(ends, 1, `cut at ${cut}`);
      assert.equal(scan.pending, 0);
    }
  });

  it('GIVEN three requests in one chunk THEN three ends', () => {
    assert.equal(countRequestEnds(Buffer.concat([request, request, request]), newRequestScan()), 3);
  });

  it('GIVEN a run of empty lines THEN every second LF ends one', () => {
    assert.equal(countRequestEnds(bytes('\n\n\n\n\n'), newRequestScan()), 2);
  });

  it('GIVEN a request without its empty line THEN no end, and its bytes are pending', () => {
    const scan = newRequestScan();
    assert.equal(countRequestEnds(bytes('request=smtpd_access_policy\n'), scan), 0);
    assert.equal(scan.pending, 'request=smtpd_access_policy\n'.length);
    assert.equal(scan.lastWasLf, true);
  });

  it('GIVEN a request longer than the bound THEN -1, however it is chunked', () => {
    const scan = newRequestScan();
    let result = 0;
    for (let i = 0; i < 70 && result >= 0; i++) result = countRequestEnds(Buffer.alloc(1024, 0x61), scan);
    assert.equal(result, -1);
    assert.ok(scan.pending <= MAX_REQUEST_BYTES + 1);
  });

  it('GIVEN random bytes and invalid UTF-8 THEN the ends found are the LF pairs an independent count finds', () => {
    const r = seededRandom(11);
    for (let round = 0; round < 100; round++) {
      const data = Buffer.from(Array.from({ length: r.int(0, 2000) }, () => (r.chance(0.2) ? 0x0a : r.int(0, 255))));
      let expected = 0;
      for (let i = 0, lf = false; i < data.length; i++) {
        if (data[i] === 0x0a) {
          if (lf) {
            expected++;
            lf = false;
          } else {
            lf = true;
          }
        } else {
          lf = false;
        }
      }
      const scan = newRequestScan();
      let ends = 0;
      for (let at = 0; at < data.length;) {
        const n = r.int(1, 64);
        ends += countRequestEnds(data.subarray(at, at + n), scan);
        at += n;
      }
      assert.equal(ends, expected);
    }
  });
});
