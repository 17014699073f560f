import { createParser } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { createSSEParser } from '@flagstream/client/sse-parser';

function parseAll(chunks) {
  const events = [];
  const retries = [];
  const parser = createSSEParser({ onEvent: (e) => events.push(e), onRetry: (ms) => retries.push(ms) });
  for (const chunk of chunks) parser.feed(chunk);
  return { events, retries, parser };
}

/**
 * What eventsource-parser (the well-kept reference) makes of the same text. It reports
 * an id only with the event whose block carried it, while the spec keeps the last id
 * across events (tested above), so ids are left out of the comparison.
 */
function referenceParse(text) {
  const events = [];
  const retries = [];
  const parser = createParser({
    onEvent: (e) => events.push({ type: e.event ?? 'message', data: e.data }),
    onRetry: (ms) => retries.push(ms),
  });
  parser.feed(text);
  return { events, retries };
}

/** A small seeded generator, so a failing case can be replayed from its seed. */
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('WHATWG event stream interpretation', () => {
  it('dispatches an event on a blank line, with type, data and id', () => {
    const { events } = parseAll(['id: 7\nevent: notification\ndata: {"a":1}\n\n']);
    expect(events).toEqual([{ type: 'notification', data: '{"a":1}', id: '7' }]);
  });

  it('joins several data lines with newlines and defaults the type to message', () => {
    const { events } = parseAll(['data: one\ndata: two\ndata\n\n']);
    expect(events).toEqual([{ type: 'message', data: 'one\ntwo\n', id: '' }]);
  });

  it('accepts CRLF, CR and LF line endings, even split between chunks', () => {
    const { events } = parseAll(['data: a\r', '\n\r', '\ndata: b\r\r', 'data: c\n', '\n']);
    expect(events.map((e) => e.data)).toEqual(['a', 'b', 'c']);
  });

  it('removes only one leading space from a value', () => {
    const { events } = parseAll(['data:  two spaces\ndata:none\n\n']);
    expect(events[0].data).toBe(' two spaces\nnone');
  });

  it('ignores comments, unknown fields and events without data', () => {
    const { events } = parseAll([': keep-alive\nfoo: bar\nevent: ping\n\ndata: x\n\n']);
    expect(events).toEqual([{ type: 'message', data: 'x', id: '' }]);
  });

  it('keeps the last event id for later events and ignores ids containing NULL', () => {
    const { events } = parseAll(['id: 1\ndata: a\n\ndata: b\n\nid: bad\u0000id\ndata: c\n\n']);
    expect(events.map((e) => e.id)).toEqual(['1', '1', '1']);
  });

  it('reports a numeric retry and ignores anything else', () => {
    const { retries } = parseAll(['retry: 2500\nretry: 1.5\nretry: soon\n\n']);
    expect(retries).toEqual([2500]);
  });

  it('drops a leading byte order mark and a trailing incomplete event', () => {
    const { events } = parseAll(['\uFEFFdata: first\n\ndata: cut off']);
    expect(events.map((e) => e.data)).toEqual(['first']);
  });

  it('reset() forgets a half-received event but keeps the last id', () => {
    const { events, parser } = parseAll(['id: 5\ndata: whole\n\ndata: half']);
    parser.reset();
    parser.feed('data: next\n\n');
    expect(events.map((e) => [e.data, e.id])).toEqual([['whole', '5'], ['next', '5']]);
  });

  it('matches eventsource-parser on random streams fed in random chunks', () => {
    const pieces = ['data: ', 'data:', 'event: ', 'id: ', 'retry: ', ': c', 'x', 'é', '{"k":"v"}', ' ', '\n', '\r\n', '\r', '\n\n', '1', 'id', ':'];
    for (let seed = 1; seed <= 300; seed += 1) {
      const random = seeded(seed);
      let text = '';
      const length = 5 + Math.floor(random() * 60);
      for (let i = 0; i < length; i += 1) text += pieces[Math.floor(random() * pieces.length)];
      text += '\n\n';
      const chunks = [];
      for (let at = 0; at < text.length; ) {
        const size = 1 + Math.floor(random() * 7);
        chunks.push(text.slice(at, at + size));
        at += size;
      }
      const ours = parseAll(chunks);
      const reference = referenceParse(text);
      const events = ours.events.map(({ type, data }) => ({ type, data }));
      expect({ seed, events, retries: ours.retries }).toEqual({ seed, ...reference });
    }
  });
});
