//! Reading settings: the pairs given (empty values count as unset, `KEY_FILE` secrets
//! read), and one typed reader per kind of value, each failing the same way —
//! `KEY: what was expected, got 'value'` — so a new setting is one line in its section.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::{invalid, redact_url, ConfigError};

/// Units for [`Env::duration`].
pub(super) const MILLISECONDS: u64 = 1;
pub(super) const SECONDS: u64 = 1_000;
pub(super) const MINUTES: u64 = 60 * SECONDS;
pub(super) const DAYS: u64 = 86_400 * SECONDS;

/// Keys whose value may instead come from a file named by `KEY_FILE` — Docker and
/// Kubernetes secrets are mounted as files, and values in files stay out of the process
/// environment (and `docker inspect`).
pub const SECRET_KEYS: &[&str] = &[
    "DATABASE_URL",
    "ENCRYPTION_KEYSTORE_URL",
    "REDIS_URL",
    "LLM_API_KEY",
    "EMBEDDINGS_API_KEY",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "OIDC_CLIENT_SECRET",
    "TURN_SECRET",
    "TURN_CREDENTIAL",
    "TTS_API_KEY",
    "STT_API_KEY",
    "ELEVENLABS_API_KEY",
    "SENTRY_DSN",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "POSTHOG_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "HF_TOKEN",
];

/// The settings as given, trimmed, without empty values.
pub(super) struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub(super) fn new(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut vars: HashMap<String, String> = vars
            .into_iter()
            .filter_map(|(k, v)| {
                let v = v.trim();
                (!v.is_empty()).then(|| (k, v.to_owned()))
            })
            .collect();
        read_secret_files(&mut vars)?;
        Ok(Self { vars })
    }

    /// The value as written, if set.
    pub(super) fn text(&self, key: &'static str) -> Option<String> {
        self.vars.get(key).cloned()
    }

    pub(super) fn text_or(&self, key: &'static str, default: &str) -> String {
        self.text(key).unwrap_or_else(|| default.to_owned())
    }

    pub(super) fn path(&self, key: &'static str) -> Option<PathBuf> {
        self.text(key).map(PathBuf::from)
    }

    pub(super) fn secret(&self, key: &'static str) -> Option<SecretString> {
        self.text(key).map(SecretString::from)
    }

    /// Comma-separated values, blanks left out.
    pub(super) fn list(&self, key: &'static str) -> Vec<String> {
        self.text(key)
            .map(|raw| {
                raw.split(',')
                    .map(|item| item.trim().to_owned())
                    .filter(|item| !item.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A value of any type with `FromStr`; `expected` says what it should look like.
    pub(super) fn parsed<T: FromStr>(
        &self,
        key: &'static str,
        expected: &str,
    ) -> Result<Option<T>, ConfigError> {
        self.text(key)
            .map(|raw| {
                raw.parse()
                    .map_err(|_| invalid(key, format!("expected {expected}, got '{raw}'")))
            })
            .transpose()
    }

    pub(super) fn number<T: FromStr>(
        &self,
        key: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        Ok(self.parsed(key, "a whole number")?.unwrap_or(default))
    }

    /// A whole number of at least 1.
    pub(super) fn at_least_one<T: FromStr + PartialOrd + From<u8>>(
        &self,
        key: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        let value = self.number(key, default)?;
        if value < T::from(1) {
            return Err(invalid(key, "must be at least 1"));
        }
        Ok(value)
    }

    /// A whole number of `unit`s (0 allowed).
    pub(super) fn duration(
        &self,
        key: &'static str,
        default: u64,
        unit: u64,
    ) -> Result<Duration, ConfigError> {
        let count: u64 = self.number(key, default)?;
        Ok(Duration::from_millis(count.saturating_mul(unit)))
    }

    /// A whole number of `unit`s, at least one.
    pub(super) fn positive_duration(
        &self,
        key: &'static str,
        default: u64,
        unit: u64,
    ) -> Result<Duration, ConfigError> {
        let duration = self.duration(key, default, unit)?;
        if duration.is_zero() {
            return Err(invalid(key, "must be at least 1"));
        }
        Ok(duration)
    }

    /// A decimal number between `low` and `high`.
    pub(super) fn decimal(
        &self,
        key: &'static str,
        default: f32,
        low: f32,
        high: f32,
    ) -> Result<f32, ConfigError> {
        let value = match self.text(key) {
            None => default,
            Some(raw) => raw
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    invalid(key, format!("expected a number such as 0.7, got '{raw}'"))
                })?,
        };
        if !(low..=high).contains(&value) {
            return Err(invalid(key, format!("must be between {low} and {high}")));
        }
        Ok(value)
    }

    /// `true`/`1` or `false`/`0`.
    pub(super) fn flag(&self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        self.choice(
            key,
            default,
            &[("true", true), ("1", true), ("false", false), ("0", false)],
        )
    }

    /// One of `names`; the error lists the first name of each value.
    pub(super) fn choice<T: Copy + PartialEq>(
        &self,
        key: &'static str,
        default: T,
        names: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let Some(raw) = self.text(key) else {
            return Ok(default);
        };
        if let Some((_, value)) = names.iter().find(|(name, _)| *name == raw) {
            return Ok(*value);
        }
        let mut shown: Vec<&str> = Vec::new();
        for (i, (name, value)) in names.iter().enumerate() {
            if !names[..i].iter().any(|(_, earlier)| earlier == value) {
                shown.push(name);
            }
        }
        Err(invalid(
            key,
            format!("expected {}, got '{raw}'", one_of(&shown)),
        ))
    }

    /// An `http://` or `https://` URL.
    pub(super) fn http_url(&self, key: &'static str) -> Result<Option<Url>, ConfigError> {
        self.text(key).map(|raw| http_url(key, &raw)).transpose()
    }

    /// An `http://` or `https://` URL, `default` when unset (checked the same way).
    pub(super) fn http_url_or(&self, key: &'static str, default: &str) -> Result<Url, ConfigError> {
        http_url(key, &self.text(key).unwrap_or_else(|| default.to_owned()))
    }

    /// A value `set` needs: an error naming both when `set` is set and `key` is not.
    pub(super) fn required_with(
        &self,
        key: &'static str,
        set: &'static str,
        what: &str,
    ) -> Result<String, ConfigError> {
        self.text(key)
            .ok_or_else(|| invalid(key, format!("required when {set} is set ({what})")))
    }

    /// Settings that only make sense together: all of them, or none.
    pub(super) fn together<const N: usize>(
        &self,
        keys: [&'static str; N],
    ) -> Result<Option<[String; N]>, ConfigError> {
        let values = keys.map(|key| self.text(key));
        match values.iter().filter(|v| v.is_some()).count() {
            0 => Ok(None),
            n if n == N => Ok(Some(values.map(Option::unwrap_or_default))),
            _ => Err(invalid(
                keys[0],
                format!("{} must be set together", one_of_and(&keys)),
            )),
        }
    }
}

/// Parses an `http(s)://` URL for `key` (the password never appears in the error).
pub(super) fn http_url(key: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| invalid(key, format!("not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            key,
            format!("expected http(s)://…, got '{}'", redact_url(raw)),
        ));
    }
    Ok(url)
}

/// "a, b or c".
fn one_of(names: &[&str]) -> String {
    join(names, "or")
}

/// "a, b and c".
fn one_of_and(names: &[&str]) -> String {
    join(names, "and")
}

fn join(names: &[&str], last: &str) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [rest @ .., end] => format!("{} {last} {end}", rest.join(", ")),
    }
}

/// Replaces each `KEY_FILE` of [`SECRET_KEYS`] by `KEY` holding the file's contents
/// (without the trailing newline editors and `echo` add).
fn read_secret_files(vars: &mut HashMap<String, String>) -> Result<(), ConfigError> {
    for &key in SECRET_KEYS {
        let file_key = format!("{key}_FILE");
        let Some(path) = vars.remove(&file_key) else {
            continue;
        };
        if vars.contains_key(key) {
            return Err(invalid(
                key,
                format!("set either {key} or {file_key}, not both"),
            ));
        }
        let value = std::fs::read_to_string(&path)
            .map_err(|e| invalid(key, format!("cannot read {file_key} ({path}): {e}")))?;
        let value = value.trim();
        if value.is_empty() {
            return Err(invalid(key, format!("{file_key} ({path}) is empty")));
        }
        vars.insert(key.to_owned(), value.to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Mode {
        A,
        B,
    }

    #[test]
    fn every_reader_names_the_key_and_what_it_expected() {
        let env = env(&[
            ("N", "x"),
            ("Z", "0"),
            ("D", "1.5"),
            ("F", "maybe"),
            ("C", "c"),
            ("U", "ftp://a"),
            ("ONE", "1"),
        ]);
        let errors = [
            env.number("N", 1u32).unwrap_err(),
            env.at_least_one("Z", 1u32).unwrap_err(),
            env.decimal("D", 0.5, 0.0, 1.0).unwrap_err(),
            env.flag("F", true).unwrap_err(),
            env.choice(
                "C",
                Mode::A,
                &[("a", Mode::A), ("alpha", Mode::A), ("b", Mode::B)],
            )
            .unwrap_err(),
            env.http_url("U").unwrap_err(),
            env.together(["ONE", "TWO", "THREE"]).unwrap_err(),
            env.required_with("M", "U", "the model id").unwrap_err(),
        ];
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "N: expected a whole number, got 'x'",
                "Z: must be at least 1",
                "D: must be between 0 and 1",
                "F: expected true or false, got 'maybe'",
                "C: expected a or b, got 'c'",
                "U: expected http(s)://…, got 'ftp://a'",
                "ONE: ONE, TWO and THREE must be set together",
                "M: required when U is set (the model id)",
            ]
        );
    }

    #[test]
    fn unset_keys_take_their_defaults_and_set_ones_their_values() {
        let env = env(&[
            ("L", " a, ,b "),
            ("S", "2"),
            ("M", "b"),
            ("X", "1"),
            ("Y", "2"),
        ]);
        assert_eq!(env.list("L"), ["a", "b"]);
        assert!(env.list("NONE").is_empty());
        assert_eq!(
            env.duration("S", 9, SECONDS).unwrap(),
            Duration::from_secs(2)
        );
        assert_eq!(
            env.duration("NONE", 3, DAYS).unwrap(),
            Duration::from_secs(3 * 86_400)
        );
        assert_eq!(
            env.choice("M", Mode::A, &[("a", Mode::A), ("b", Mode::B)])
                .unwrap(),
            Mode::B
        );
        assert_eq!(
            env.choice("NONE", Mode::A, &[("b", Mode::B)]).unwrap(),
            Mode::A
        );
        assert_eq!(
            env.together(["X", "Y"]).unwrap(),
            Some(["1".to_owned(), "2".to_owned()])
        );
        assert_eq!(env.together(["P", "Q"]).unwrap(), None);
    }
}
