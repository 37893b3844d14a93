//! A small decoder for Server-Sent Events, fed with bytes as they arrive.
//!
//! Only what OpenAI-compatible servers send is kept: the `data` of each event. Lines
//! may be split anywhere across network chunks, end in `\n`, `\r\n` or `\r`, and
//! comment lines (`: keep-alive`) are skipped.

#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of a line that has not ended yet.
    line: Vec<u8>,
    /// The data lines of the event being read.
    data: Vec<String>,
    /// The previous byte was `\r`, so a following `\n` belongs to the same line end.
    after_cr: bool,
}

impl SseDecoder {
    /// Feeds a chunk and returns the data of every event it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &byte in chunk {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.end_line(&line) {
                        events.push(event);
                    }
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    fn end_line(&mut self, line: &[u8]) -> Option<String> {
        if line.is_empty() {
            if self.data.is_empty() {
                return None;
            }
            return Some(std::mem::take(&mut self.data).join("\n"));
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        if field == "data" {
            self.data.push(value.to_owned());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_end_at_a_blank_line() {
        let mut decoder = SseDecoder::default();
        assert_eq!(
            decoder.feed(b"data: one\n\ndata: two\n\n"),
            vec!["one".to_owned(), "two".to_owned()]
        );
    }

    #[test]
    fn lines_split_across_chunks_and_crlf_are_joined() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.feed(b"da").is_empty());
        assert!(decoder.feed(b"ta: {\"a\":").is_empty());
        assert!(decoder.feed(b"1}\r").is_empty());
        assert_eq!(decoder.feed(b"\n\r\n"), vec!["{\"a\":1}".to_owned()]);
    }

    #[test]
    fn comments_and_other_fields_are_ignored_and_data_lines_join() {
        let mut decoder = SseDecoder::default();
        let events = decoder.feed(b": keep-alive\n\nevent: message\nid: 7\ndata: a\ndata:b\n\n");
        assert_eq!(events, vec!["a\nb".to_owned()]);
    }

    #[test]
    fn multibyte_characters_split_across_chunks_survive() {
        let mut decoder = SseDecoder::default();
        let text = "data: café 💛\n\n".as_bytes();
        let (a, b) = text.split_at(10);
        assert!(decoder.feed(a).is_empty());
        assert_eq!(decoder.feed(b), vec!["café 💛".to_owned()]);
    }
}

/// Properties over generated streams: any bytes in any chunks, and well-formed streams cut
/// anywhere, with any of the three line ends.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_bytes_in_any_chunks_never_panic(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..16),
        ) {
            let mut decoder = SseDecoder::default();
            for chunk in &chunks {
                for event in decoder.feed(chunk) {
                    prop_assert!(!event.contains('\r'));
                }
            }
        }

        #[test]
        fn every_event_arrives_whole_however_the_stream_is_cut(
            events in prop::collection::vec(prop::collection::vec("[^\r\n]{0,24}", 1..4), 0..6),
            end in prop::sample::select(vec!["\n", "\r\n", "\r"]),
            comments in any::<bool>(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let mut stream = String::new();
            for lines in &events {
                if comments {
                    stream.push_str(": keep-alive");
                    stream.push_str(end);
                }
                for line in lines {
                    stream.push_str("data: ");
                    stream.push_str(line);
                    stream.push_str(end);
                }
                stream.push_str(end);
            }
            let bytes = stream.as_bytes();
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            at.push(bytes.len());
            at.sort_unstable();
            let mut decoder = SseDecoder::default();
            let (mut got, mut from) = (Vec::new(), 0);
            for to in at {
                got.extend(decoder.feed(&bytes[from..to]));
                from = to;
            }
            let want: Vec<String> = events.iter().map(|lines| lines.join("\n")).collect();
            prop_assert_eq!(got, want);
        }
    }
}
