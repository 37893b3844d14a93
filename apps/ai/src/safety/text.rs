//! Turning free text into clauses of plain tokens, so patterns can match across the ways
//! people actually type: any case, curly or missing apostrophes, accents, emoji, and
//! several thoughts in one message.

/// Lower-cases, folds apostrophes away ("don't" → "dont"), keeps letters and digits, and
/// splits into clauses at punctuation and at words that join separate thoughts.
pub fn clauses(text: &str) -> Vec<Vec<String>> {
    let mut clauses = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut word = String::new();
    let flush_word = |word: &mut String, current: &mut Vec<String>| {
        if !word.is_empty() {
            current.push(std::mem::take(word));
        }
    };
    for ch in text.chars().flat_map(char::to_lowercase) {
        match ch {
            '\'' | '’' | '‘' | '`' | '´' => {}
            c if c.is_alphanumeric() => word.push(fold_accent(c)),
            '.' | ',' | ';' | ':' | '!' | '?' | '\n' | '—' | '–' | '(' | ')' | '"' | '“' | '”' =>
            {
                flush_word(&mut word, &mut current);
                if !current.is_empty() {
                    clauses.push(std::mem::take(&mut current));
                }
            }
            _ => flush_word(&mut word, &mut current),
        }
    }
    flush_word(&mut word, &mut current);
    if !current.is_empty() {
        clauses.push(current);
    }
    clauses
        .into_iter()
        .flat_map(split_on_joiners)
        .filter(|clause| !clause.is_empty())
        .collect()
}

/// Words that start a new thought: "I'm not okay but I want to die" holds two clauses, and
/// the "not" of the first must not cancel the second.
const JOINERS: &[&str] = &[
    "but", "and", "so", "because", "cause", "though", "although", "yet", "pero", "y", "mais", "et",
    "aber", "und", "ma", "mas", "e",
];

fn split_on_joiners(clause: Vec<String>) -> Vec<Vec<String>> {
    let mut parts = vec![Vec::new()];
    for token in clause {
        if JOINERS.contains(&token.as_str()) {
            parts.push(Vec::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(token);
        }
    }
    parts
}

/// Folds common Latin accents so "é" matches "e" ("suicidé", "está").
fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ß' => 's',
        other => other,
    }
}

/// A phrase to look for: words separated by spaces, where `a|b` means either word and `*`
/// lets up to three other words stand in between ("want to * die").
#[derive(Debug, Clone, Copy)]
pub struct Phrase(pub &'static str);

impl Phrase {
    /// Every start position in `tokens` where the phrase matches, with the position just past it.
    pub fn find(&self, tokens: &[String]) -> Vec<(usize, usize)> {
        let parts: Vec<&str> = self.0.split_whitespace().collect();
        (0..tokens.len())
            .filter_map(|start| match_from(&parts, tokens, start).map(|end| (start, end)))
            .collect()
    }
}

fn word_matches(part: &str, token: &str) -> bool {
    part.split('|').any(|alternative| {
        alternative
            .strip_suffix('~')
            .map_or(alternative == token, |stem| token.starts_with(stem))
    })
}

fn match_from(parts: &[&str], tokens: &[String], start: usize) -> Option<usize> {
    let Some((first, rest)) = parts.split_first() else {
        return Some(start);
    };
    if *first == "*" {
        return (0..=3).find_map(|skip| {
            let at = start + skip;
            (at <= tokens.len())
                .then(|| match_from(rest, tokens, at))
                .flatten()
        });
    }
    let token = tokens.get(start)?;
    if word_matches(first, token) {
        match_from(rest, tokens, start + 1)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        clauses(text)
    }

    #[test]
    fn apostrophes_case_and_accents_fold_away() {
        assert_eq!(
            words("I DON’T want Café"),
            vec![vec!["i", "dont", "want", "cafe"]]
        );
    }

    #[test]
    fn punctuation_and_joiners_split_clauses() {
        assert_eq!(
            words("I'm not okay, but I want to die!"),
            vec![vec!["im", "not", "okay"], vec!["i", "want", "to", "die"]]
        );
    }

    #[test]
    fn phrases_allow_alternatives_stems_and_gaps() {
        let tokens: Vec<String> = "i really want to just die"
            .split(' ')
            .map(String::from)
            .collect();
        assert_eq!(Phrase("want|wish to * die").find(&tokens), vec![(2, 6)]);
        assert!(Phrase("kill~ myself").find(&tokens).is_empty());
        let killing: Vec<String> = "killing myself".split(' ').map(String::from).collect();
        assert_eq!(Phrase("kill~ myself").find(&killing), vec![(0, 2)]);
    }
}
