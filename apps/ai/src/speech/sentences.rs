//! Turning a streamed reply into speech-sized pieces: whole sentences as soon as they
//! are complete (so the first one can be spoken while the rest is still being written),
//! with Markdown taken out so nobody hears "asterisk".

/// Words whose final full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "approx", "no", "jr", "sr",
];

/// A sentence shorter than this waits for the next one, so "Okay." does not become a
/// clip of its own (except at the very end).
const MIN_CHARS: usize = 12;
/// A run-on "sentence" is cut at a comma or space after this many characters.
const MAX_CHARS: usize = 300;

/// Collects streamed text and gives back whole sentences.
#[derive(Debug, Default)]
pub struct SentenceSplitter {
    pending: String,
}

impl SentenceSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a piece of the reply; returns the sentences it completed, in order.
    pub fn push(&mut self, piece: &str) -> Vec<String> {
        self.pending.push_str(piece);
        let mut out = Vec::new();
        while let Some(end) = sentence_end(&self.pending) {
            let rest = self.pending.split_off(end);
            let sentence = std::mem::replace(&mut self.pending, rest);
            let sentence = sentence.trim();
            if !sentence.is_empty() {
                out.push(sentence.to_owned());
            }
            self.pending = self.pending.trim_start().to_owned();
        }
        out
    }

    /// The end of the reply: whatever is left, if anything.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_owned())
    }
}

/// Where the first complete sentence of `text` ends (a byte index just past it).
fn sentence_end(text: &str) -> Option<usize> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        let next = chars.get(i + 1).map(|&(_, n)| n);
        let end = at + c.len_utf8();
        let ends_paragraph = c == '\n' && text[..at].trim().chars().count() > 0;
        let ends_sentence = matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？')
            // Only when followed by space: "3.5", "e.g." in mid-word and a full stop
            // that may be followed by more punctuation are not ends yet.
            && next.is_some_and(char::is_whitespace)
            && !(c == '.' && abbreviation_before(&text[..at]));
        if (ends_sentence || ends_paragraph) && text[..end].trim().chars().count() >= MIN_CHARS {
            return Some(end);
        }
        if text[..end].chars().count() >= MAX_CHARS && (c == ',' || c.is_whitespace()) {
            return Some(end);
        }
    }
    None
}

fn abbreviation_before(text: &str) -> bool {
    let word = text
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    ABBREVIATIONS.contains(&word.as_str())
        || (word.chars().count() == 1 && word.chars().all(char::is_alphabetic))
}

/// The words of a Markdown reply as they should be spoken: emphasis, code ticks,
/// heading and list markers, and link targets removed.
pub fn speakable(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for line in markdown.lines() {
        let line = line.trim_start();
        let line = line.trim_start_matches('#').trim_start_matches('>');
        let line = line
            .strip_prefix("- ")
            .or_else(|| line.strip_prefix("* "))
            .or_else(|| line.strip_prefix("+ "))
            .unwrap_or(line);
        let line = strip_numbering(line);
        if !out.is_empty() && !line.trim().is_empty() {
            out.push(' ');
        }
        out.push_str(&strip_links(line).replace(['*', '_', '`', '~'], ""));
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// "1. Breathe" → "Breathe".
fn strip_numbering(line: &str) -> &str {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && line[digits..].starts_with(". ") {
        &line[digits + 2..]
    } else {
        line
    }
}

/// "[text](url)" → "text".
fn strip_links(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|e| close + e) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_stream(pieces: &[&str]) -> Vec<String> {
        let mut splitter = SentenceSplitter::new();
        let mut out: Vec<String> = pieces.iter().flat_map(|p| splitter.push(p)).collect();
        out.extend(splitter.finish());
        out
    }

    #[test]
    fn sentences_come_out_as_soon_as_they_are_complete() {
        let mut splitter = SentenceSplitter::new();
        assert!(splitter.push("That sounds really").is_empty());
        assert!(
            splitter.push(" hard.").is_empty(),
            "the next character decides"
        );
        assert_eq!(
            splitter.push(" Would you"),
            vec!["That sounds really hard."]
        );
        assert_eq!(
            splitter.push(" like to talk?\n"),
            vec!["Would you like to talk?"]
        );
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn token_boundaries_do_not_change_the_sentences() {
        let text = "I hear you. It makes sense that you feel tired! What helps, even a little? Let's try one thing";
        let whole = split_stream(&[text]);
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let by_char = split_stream(&chars.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(whole, by_char);
        assert_eq!(
            whole,
            vec![
                // "I hear you." alone is too short to be a clip of its own.
                "I hear you. It makes sense that you feel tired!",
                "What helps, even a little?",
                "Let's try one thing"
            ]
        );
    }

    #[test]
    fn abbreviations_decimals_and_tiny_sentences_do_not_split() {
        assert_eq!(
            split_stream(&["Dr. Lee said 3.5 hours, e.g. after lunch. Okay. Then rest well."]),
            vec![
                "Dr. Lee said 3.5 hours, e.g. after lunch.",
                "Okay. Then rest well."
            ]
        );
    }

    #[test]
    fn paragraphs_end_sentences_and_run_ons_are_cut() {
        assert_eq!(
            split_stream(&["A heading without a stop\n\nThen the text."]),
            vec!["A heading without a stop", "Then the text."]
        );
        let long = "word ".repeat(100);
        let pieces = split_stream(&[&long]);
        assert!(pieces.len() >= 2, "{pieces:?}");
        assert!(pieces.iter().all(|p| p.chars().count() <= MAX_CHARS));
    }

    #[test]
    fn markdown_is_not_read_aloud() {
        assert_eq!(
            speakable("## Try this\n\n1. **Breathe** in for `4`\n- see [the guide](https://example.org/x)\n> _gently_"),
            "Try this Breathe in for 4 see the guide gently"
        );
    }
}
