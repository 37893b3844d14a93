//! The SentencePiece tokenizer of llama-family GGUF files (`tokenizer.ggml.model =
//! "llama"`: Llama 2, Mistral and fine-tunes such as MelloGPT), built from the file's
//! own vocabulary and scores.
//!
//! Encoding follows llama.cpp: spaces become `▁`, a `▁` is put in front, then adjacent
//! pieces are merged, best-scoring merge first, while the merged piece is in the
//! vocabulary; what is left unknown falls back to byte tokens (`<0xE2>`). Control
//! tokens written in the prompt (`</s>`, `<|im_end|>`) become their ids directly.
//! Merging runs per word (a word starts at a `▁` that follows a non-`▁`), which keeps
//! long prompts fast; SentencePiece vocabularies do not merge across words.

use std::collections::HashMap;

const SPACE: char = '▁';

/// GGUF `tokenizer.ggml.token_type` values.
const TYPE_CONTROL: u32 = 3;
const TYPE_USER_DEFINED: u32 = 4;
const TYPE_BYTE: u32 = 6;

#[derive(Debug, Clone)]
pub struct SpmTokenizer {
    tokens: Vec<String>,
    scores: Vec<f32>,
    types: Vec<u32>,
    ids: HashMap<String, u32>,
    byte_ids: Box<[Option<u32>; 256]>,
    /// Control and user-defined tokens, longest first, matched verbatim in prompts.
    specials: Vec<(String, u32)>,
    unk: u32,
}

impl SpmTokenizer {
    pub fn new(tokens: Vec<String>, scores: Vec<f32>, types: Vec<u32>, unk: u32) -> Self {
        let mut ids = HashMap::with_capacity(tokens.len());
        let mut byte_ids = Box::new([None; 256]);
        let mut specials = Vec::new();
        for (id, token) in tokens.iter().enumerate() {
            let id = id as u32;
            let kind = types.get(id as usize).copied().unwrap_or(1);
            if kind == TYPE_BYTE {
                if let Some(byte) = parse_byte_token(token) {
                    byte_ids[byte as usize] = Some(id);
                }
            } else if (kind == TYPE_CONTROL || kind == TYPE_USER_DEFINED) && !token.is_empty() {
                specials.push((token.clone(), id));
            }
            ids.entry(token.clone()).or_insert(id);
        }
        specials.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        Self {
            tokens,
            scores,
            types,
            ids,
            byte_ids,
            specials,
            unk,
        }
    }

    /// The id of a token spelled exactly so, if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// Encodes text; control tokens written in it keep their meaning.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        let mut first = true;
        while !rest.is_empty() {
            let next_special = self
                .specials
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s.len(), *id)))
                .min_by_key(|(at, len, _)| (*at, usize::MAX - len));
            let (plain, special) = match next_special {
                Some((at, len, id)) => (&rest[..at], Some((len, id, at))),
                None => (rest, None),
            };
            if !plain.is_empty() {
                self.encode_plain(plain, first, &mut out);
            }
            first = false;
            match special {
                Some((len, id, at)) => {
                    out.push(id);
                    rest = &rest[at + len..];
                }
                None => break,
            }
        }
        out
    }

    fn encode_plain(&self, text: &str, add_prefix: bool, out: &mut Vec<u32>) {
        let mut escaped = String::with_capacity(text.len() + 3);
        if add_prefix {
            escaped.push(SPACE);
        }
        escaped.extend(text.chars().map(|c| if c == ' ' { SPACE } else { c }));
        for word in split_words(&escaped) {
            self.encode_word(word, out);
        }
    }

    fn encode_word(&self, word: &str, out: &mut Vec<u32>) {
        let mut pieces: Vec<String> = word.chars().map(String::from).collect();
        loop {
            let mut best: Option<(usize, f32)> = None;
            for i in 0..pieces.len().saturating_sub(1) {
                let merged = format!("{}{}", pieces[i], pieces[i + 1]);
                if let Some(&id) = self.ids.get(&merged) {
                    let score = self.scores.get(id as usize).copied().unwrap_or(f32::MIN);
                    if best.is_none_or(|(_, s)| score > s) {
                        best = Some((i, score));
                    }
                }
            }
            let Some((i, _)) = best else { break };
            let right = pieces.remove(i + 1);
            pieces[i].push_str(&right);
        }
        for piece in pieces {
            match self.ids.get(&piece) {
                Some(&id) => out.push(id),
                None => {
                    for byte in piece.bytes() {
                        out.push(self.byte_ids[byte as usize].unwrap_or(self.unk));
                    }
                }
            }
        }
    }

    /// The bytes of the text these ids stand for; control tokens are left out.
    pub fn decode_bytes(&self, ids: &[u32]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for &id in ids {
            let Some(token) = self.tokens.get(id as usize) else {
                continue;
            };
            match self.types.get(id as usize).copied().unwrap_or(1) {
                TYPE_BYTE => bytes.extend(parse_byte_token(token)),
                TYPE_CONTROL => {}
                2 => {} // unknown
                _ => bytes.extend(token.replace(SPACE, " ").into_bytes()),
            }
        }
        bytes
    }

    #[cfg(test)]
    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&self.decode_bytes(ids)).into_owned()
    }
}

/// Splits escaped text before each `▁` that follows something other than `▁`.
fn split_words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        if c == SPACE && previous.is_some_and(|p| p != SPACE) && at > start {
            words.push(&text[start..at]);
            start = at;
        }
        previous = Some(c);
    }
    if start < text.len() {
        words.push(&text[start..]);
    }
    words
}

fn parse_byte_token(token: &str) -> Option<u8> {
    let hex = token.strip_prefix("<0x")?.strip_suffix('>')?;
    u8::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small vocabulary in the llama layout: specials, the 256 byte tokens, then pieces.
    fn tokenizer() -> SpmTokenizer {
        let mut tokens = vec!["<unk>".to_owned(), "<s>".to_owned(), "</s>".to_owned()];
        let mut types = vec![2, 3, 3];
        for byte in 0..=255u8 {
            tokens.push(format!("<0x{byte:02X}>"));
            types.push(TYPE_BYTE);
        }
        for piece in [
            "▁", "I", "f", "e", "l", "▁I", "▁f", "▁fe", "▁fee", "▁feel", "ee", "el",
        ] {
            tokens.push(piece.to_owned());
            types.push(1);
        }
        let scores = tokens.iter().map(|t| t.chars().count() as f32).collect();
        SpmTokenizer::new(tokens, scores, types, 0)
    }

    #[test]
    fn words_merge_into_the_longest_pieces() {
        let t = tokenizer();
        let ids = t.encode("I feel");
        let pieces: Vec<&str> = ids.iter().map(|&i| t.tokens[i as usize].as_str()).collect();
        assert_eq!(pieces, vec!["▁I", "▁feel"]);
        assert_eq!(t.decode(&ids), " I feel");
    }

    #[test]
    fn unknown_characters_fall_back_to_bytes_and_round_trip() {
        let t = tokenizer();
        let ids = t.encode("é 💛");
        assert!(ids.iter().all(|&i| i != 0), "no <unk>");
        assert_eq!(t.decode(&ids), " é 💛");
    }

    #[test]
    fn control_tokens_in_the_text_keep_their_ids() {
        let t = tokenizer();
        let ids = t.encode("I</s>I");
        assert_eq!(ids[1], 2);
        assert_eq!(t.decode(&ids), " II", "control tokens are not text");
    }

    #[test]
    fn words_split_at_spaces_but_runs_of_spaces_stay_together() {
        assert_eq!(split_words("▁a▁▁b▁c"), vec!["▁a", "▁▁b", "▁c"]);
    }
}
