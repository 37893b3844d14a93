//! Text that other people see — names, titles, topics — in one form and with nothing
//! hidden: "Admin" and "Admin\u{200b}" must not be two different names, and a room title
//! must not reverse the text around it.

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, ErrorCode, Result};

/// `raw` trimmed and in Unicode normal form C, or a 422 `invisible_characters` naming
/// `field` when it holds a control character (line breaks too, unless `lines` allows
/// them), a bidirectional override or isolate, or a character that shows nothing.
pub fn visible(field: &str, raw: &str, lines: bool) -> Result<String> {
    let text: String = raw.trim().nfc().collect();
    let chars: Vec<char> = text.chars().collect();
    let hidden = chars.iter().enumerate().any(|(i, &c)| {
        let line_break = lines && matches!(c, '\n' | '\r');
        let joins_emoji = matches!(c, '\u{200D}' | '\u{FE0E}' | '\u{FE0F}')
            && i > 0
            && (is_pictographic(chars[i - 1]) || chars[i - 1] == '\u{FE0F}')
            && chars.get(i + 1).is_none_or(|&next| !next.is_alphanumeric());
        !line_break && !joins_emoji && (c.is_control() || is_invisible(c))
    });
    if hidden {
        return Err(Error::validation(
            ErrorCode::InvisibleCharacters,
            format!(
                "The {field} cannot contain control, direction-changing or invisible characters."
            ),
        ));
    }
    Ok(text)
}

/// Formatting and default-ignorable characters: they change how the text around them
/// reads (bidirectional controls) or show nothing at all.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{2800}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// Emoji and other symbols that zero-width joiners and variation selectors legitimately
/// follow ("❤️", "🏳️‍🌈").
fn is_pictographic(c: char) -> bool {
    matches!(c, '\u{00A9}' | '\u{00AE}' | '\u{203C}'..='\u{3299}' | '\u{1F000}'..='\u{1FAFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_in_one_form() {
        assert_eq!(
            visible("name", "  Bright Otter ", false).unwrap(),
            "Bright Otter"
        );
        // "é" typed as e + combining accent is stored as the single character.
        assert_eq!(
            visible("name", "Rene\u{301}e", false).unwrap(),
            "Ren\u{e9}e"
        );
        for fine in [
            "Zoë",
            "Łucja",
            "محمد",
            "さくら",
            "Anya ❤️",
            "🏳️‍🌈 pride",
            "👩‍👩‍👧",
        ] {
            assert!(visible("name", fine, false).is_ok(), "{fine}");
        }
    }

    #[test]
    fn hidden_and_reordering_characters_are_refused() {
        for bad in [
            "Admin\u{200b}",
            "Ad\u{200d}min",
            "\u{202e}nimdA",
            "left\u{2066}right",
            "\u{feff}Sam",
            "Sam\u{0007}",
            "line\nbreak",
            "tag\u{e0041}",
            "A\u{fe0f}",
        ] {
            let error = visible("name", bad, false).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::Validation {
                        code: ErrorCode::InvisibleCharacters,
                        ..
                    }
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn line_breaks_pass_only_where_allowed() {
        assert_eq!(visible("reason", "one\ntwo", true).unwrap(), "one\ntwo");
        assert!(visible("reason", "one\u{200b}two", true).is_err());
    }
}
