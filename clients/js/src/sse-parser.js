// Server-sent events parser following the WHATWG HTML "Server-sent events" section
// (9.2.6 Interpreting an event stream). It is fed decoded text in arbitrary chunks;
// a chunk may end in the middle of a line or between the CR and LF of a CRLF.
//
// Hand-written on purpose: the well-kept alternative, eventsource-parser, is an npm
// package (its current major needs Node >= 22); using it here would mean vendoring a
// copy of its build under /static/, while this file loads as a plain ES module with no
// build step. The tests cross-check this parser against eventsource-parser.

const BOM = '\uFEFF';

/**
 * @typedef {{type: string, data: string, id: string}} ServerSentEvent
 * @typedef {{
 *   onEvent: (event: ServerSentEvent) => void,
 *   onRetry?: (milliseconds: number) => void,
 *   onComment?: (text: string) => void,
 * }} ParserCallbacks
 */

/**
 * Build a parser. `feed(text)` consumes decoded text; `reset()` forgets a partial
 * event (call it when a new connection starts, keeping `lastEventId`).
 * @param {ParserCallbacks} callbacks
 */
export function createSSEParser(callbacks) {
  let pending = '';          // text after the last complete line
  let atStreamStart = true;  // a leading BOM is dropped once
  let skipLeadingLF = false; // the previous chunk ended with CR; a following LF belongs to it
  let data = '';
  let dataSeen = false;
  let eventType = '';
  let lastEventId = '';

  function dispatch() {
    if (!dataSeen) {
      eventType = '';
      return;
    }
    const event = {
      type: eventType || 'message',
      data: data.endsWith('\n') ? data.slice(0, -1) : data,
      id: lastEventId,
    };
    data = '';
    dataSeen = false;
    eventType = '';
    callbacks.onEvent(event);
  }

  function processField(name, value) {
    switch (name) {
      case 'event':
        eventType = value;
        break;
      case 'data':
        data += value + '\n';
        dataSeen = true;
        break;
      case 'id':
        // An id containing NULL is ignored, so a server bug cannot poison resumption.
        if (!value.includes('\u0000')) lastEventId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) callbacks.onRetry?.(Number(value));
        break;
      default:
        break; // unknown fields are ignored by the spec
    }
  }

  function processLine(line) {
    if (line === '') {
      dispatch();
      return;
    }
    if (line.startsWith(':')) {
      callbacks.onComment?.(line.slice(1).replace(/^ /, ''));
      return;
    }
    const colon = line.indexOf(':');
    if (colon === -1) {
      processField(line, '');
      return;
    }
    let value = line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    processField(line.slice(0, colon), value);
  }

  function feed(text) {
    if (text === '') return;
    if (atStreamStart) {
      atStreamStart = false;
      if (text.startsWith(BOM)) text = text.slice(1);
    }
    if (skipLeadingLF) {
      skipLeadingLF = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    let buffer = pending + text;
    let start = 0;
    for (;;) {
      const cr = buffer.indexOf('\r', start);
      const lf = buffer.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      let end;
      let next;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        end = cr;
        if (cr + 1 < buffer.length) {
          next = buffer[cr + 1] === '\n' ? cr + 2 : cr + 1;
        } else {
          next = cr + 1;
          skipLeadingLF = true; // wait for the next chunk to tell CR from CRLF
        }
      } else {
        end = lf;
        next = lf + 1;
      }
      processLine(buffer.slice(start, end));
      start = next;
    }
    pending = buffer.slice(start);
  }

  return {
    feed,
    /** Drop a partial line and event (a new connection), keeping the last event id. */
    reset() {
      pending = '';
      atStreamStart = true;
      skipLeadingLF = false;
      data = '';
      dataSeen = false;
      eventType = '';
    },
    get lastEventId() {
      return lastEventId;
    },
    set lastEventId(value) {
      lastEventId = value ?? '';
    },
  };
}
