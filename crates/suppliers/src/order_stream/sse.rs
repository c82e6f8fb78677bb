//! A Server-Sent Events parser for order streams, bounded per event.
//!
//! It follows the WHATWG event-stream rules (any of CRLF, CR and LF ends a line; a blank
//! line dispatches; `:` starts a comment; one space after the colon is dropped; unnamed
//! events are `message`) with one difference: an event with a name but no `data:` line
//! is dispatched too, with empty data, so that a bare `event: stop` still ends the
//! stream. eventsource-stream, like a browser, drops such an event, and it buffers an
//! event of any size; this parser refuses one past its limit instead.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// `event:` field, `message` when absent.
    pub(crate) name: String,
    /// `data:` lines joined by LF.
    pub(crate) data: String,
}

/// An event grew past the parser's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// Incremental parser: feed it chunks as they arrive.
#[derive(Debug)]
pub(crate) struct Parser {
    limit: usize,
    line: Vec<u8>,
    after_cr: bool,
    name: String,
    data: String,
    has_data: bool,
}

impl Parser {
    /// A parser refusing any event whose lines add up to more than `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            line: Vec::new(),
            after_cr: false,
            name: String::new(),
            data: String::new(),
            has_data: false,
        }
    }

    /// Parses `chunk`, appending the events it completes to `out`.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> Result<(), TooLarge> {
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.after_cr && rest[0] == b'\n' {
                // The LF of a CRLF split across two chunks.
                rest = &rest[1..];
                self.after_cr = false;
                continue;
            }
            self.after_cr = false;
            let Some(end) = rest.iter().position(|b| matches!(b, b'\r' | b'\n')) else {
                self.line.extend_from_slice(rest);
                break;
            };
            self.line.extend_from_slice(&rest[..end]);
            if self.line.len() + self.data.len() > self.limit {
                return Err(TooLarge);
            }
            let crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
            self.after_cr = rest[end] == b'\r' && end + 1 == rest.len();
            rest = &rest[end + if crlf { 2 } else { 1 }..];
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out);
            self.line = line;
            self.line.clear();
        }
        if self.line.len() + self.data.len() > self.limit {
            return Err(TooLarge);
        }
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"event" => self.name = value.into_owned(),
            b"data" => {
                self.data.push_str(&value);
                self.data.push('\n');
                self.has_data = true;
            }
            // `id` and `retry` steer a browser's reconnects; ours has its own schedule.
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Event>) {
        let name = std::mem::take(&mut self.name);
        let mut data = std::mem::take(&mut self.data);
        if !std::mem::take(&mut self.has_data) && name.is_empty() {
            return;
        }
        if data.ends_with('\n') {
            data.pop();
        }
        out.push(Event {
            name: if name.is_empty() {
                "message".into()
            } else {
                name
            },
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&str]) -> Vec<(String, String)> {
        let mut parser = Parser::new(1024);
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk.as_bytes(), &mut out).unwrap();
        }
        out.into_iter().map(|e| (e.name, e.data)).collect()
    }

    fn event(name: &str, data: &str) -> (String, String) {
        (name.into(), data.into())
    }

    #[test]
    fn named_unnamed_multi_line_and_comments() {
        assert_eq!(
            parse(&[": hi\n\nevent: message\ndata: {}\n\ndata:a\ndata: b\n\n"]),
            [event("message", "{}"), event("message", "a\nb")]
        );
    }

    #[test]
    fn a_named_event_without_data_is_dispatched() {
        assert_eq!(parse(&["event: stop\n\n"]), [event("stop", "")]);
        assert_eq!(parse(&["event: stop\ndata: {}\n\n"]), [event("stop", "{}")]);
        assert_eq!(parse(&["id: 4\n\nretry: 10\n\n"]), []);
    }

    #[test]
    fn every_line_ending_and_chunk_boundary() {
        let expected = [event("message", "x"), event("stop", "")];
        for chunks in [
            &["data: x\r\n\r\nevent: stop\r\n\r\n"][..],
            &["data: x\r\revent: stop\r\r"],
            &["data: x\r", "\n\r", "\nevent: st", "op\r\n", "\r\n"],
            &["da", "ta", ": x\n", "\n", "event: stop\n\n"],
        ] {
            assert_eq!(parse(chunks), expected, "{chunks:?}");
        }
    }

    #[test]
    fn an_incomplete_event_is_not_dispatched() {
        assert_eq!(parse(&["data: x\n"]), []);
    }

    #[test]
    fn an_event_past_the_limit_is_refused_even_without_a_line_end() {
        let mut out = Vec::new();
        let mut parser = Parser::new(10);
        assert_eq!(parser.feed(b"data: 12345678901", &mut out), Err(TooLarge));
        let mut parser = Parser::new(10);
        assert_eq!(
            parser.feed(b"data: 1\ndata: 2\ndata: 3\n", &mut out),
            Err(TooLarge)
        );
        let mut parser = Parser::new(10);
        for _ in 0..100 {
            parser.feed(b"data: 1\n\n", &mut out).unwrap();
        }
        assert_eq!(out.len(), 100);
    }
}
