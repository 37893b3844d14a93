//! Emails and passwords: parsed into types that can only hold acceptable values, and
//! passwords hashed with Argon2id off the async runtime.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, ErrorCode, Result};

/// A syntactically valid email address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid = || {
            Error::validation(
                ErrorCode::InvalidEmail,
                "Please enter a valid email address.",
            )
        };
        let email = crate::text::visible("email", raw, false)
            .map_err(|_| invalid())?
            .to_lowercase();
        if email.len() > 254 || email.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the rules; it never appears in logs or debug output.
pub struct Password(SecretString);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(****)")
    }
}

/// Passwords too common to accept, whatever their length.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "passw0rd",
    "1234567890",
    "12345678910",
    "qwertyuiop",
    "qwerty1234",
    "iloveyou12",
    "letmein123",
    "welcome123",
    "abc1234567",
    "123456789a",
    "1q2w3e4r5t",
    "aaaaaaaaaa",
    "trustno1234",
    "sunshine12",
    "football12",
    "baseball12",
    "princess12",
    "dragon1234",
    "monkey1234",
    "starwars12",
    "whatever12",
];

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 128;

    /// Checks a new password against the rules, with a message a person can act on.
    pub fn parse_new(raw: &str, email: Option<&Email>) -> Result<Self> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Error::validation(
                ErrorCode::PasswordTooShort,
                format!(
                    "Use at least {} characters for your password.",
                    Self::MIN_CHARS
                ),
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(Error::validation(
                ErrorCode::PasswordTooLong,
                format!(
                    "Use at most {} characters for your password.",
                    Self::MAX_CHARS
                ),
            ));
        }
        let lower = raw.to_lowercase();
        let mut distinct: Vec<char> = lower.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if COMMON.contains(&lower.as_str()) || distinct.len() < 4 {
            return Err(Error::validation(
                ErrorCode::PasswordTooCommon,
                "That password is too easy to guess. Try a few unrelated words together.",
            ));
        }
        if email.is_some_and(|e| lower.contains(e.as_str().split('@').next().unwrap_or_default())) {
            return Err(Error::validation(
                ErrorCode::PasswordContainsEmail,
                "Your password should not contain your email address.",
            ));
        }
        Ok(Self(SecretString::from(raw.to_owned())))
    }

    /// A password typed to log in or confirm: no rules beyond a sane length.
    pub fn parse_attempt(raw: &str) -> Result<Self> {
        if raw.is_empty() || raw.chars().count() > Self::MAX_CHARS {
            return Err(Error::unauthorized(
                ErrorCode::InvalidCredentials,
                "The email or password is wrong.",
            ));
        }
        Ok(Self(SecretString::from(raw.to_owned())))
    }

    /// Argon2id with a fresh salt, on a blocking thread (it is deliberately slow).
    pub async fn hash(self) -> Result<String> {
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(self.0.expose_secret().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| Error::Startup(format!("password hashing failed: {e}")))
        })
        .await
        .map_err(|e| Error::Startup(format!("password hashing task failed: {e}")))?
    }

    /// Whether this password matches `stored`. With no stored hash (unknown account) it
    /// still does the same work against a fixed hash, so timing does not reveal which
    /// emails have accounts.
    pub async fn verify(self, stored: Option<String>) -> Result<bool> {
        tokio::task::spawn_blocking(move || {
            let (hash, known) = match stored {
                Some(hash) => (hash, true),
                None => (DUMMY_HASH.to_owned(), false),
            };
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| Error::Startup(format!("stored password hash is unreadable: {e}")))?;
            let matches = Argon2::default()
                .verify_password(self.0.expose_secret().as_bytes(), &parsed)
                .is_ok();
            Ok(known && matches)
        })
        .await
        .map_err(|e| Error::Startup(format!("password check task failed: {e}")))?
    }
}

/// An Argon2id hash of a random string nobody knows, for equal-time checks.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29sYWNlLWR1bW15LXNhbHQ$0bWq0k0bUjR4zD0l3C8cS0m9mH0zH7t8E0dQ5m8w1bQ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Sam.Doe+solace@Example.ORG ").map(|e| e.as_str().to_owned());
        assert_eq!(email.ok().as_deref(), Some("sam.doe+solace@example.org"));
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in [
            "",
            "sam",
            "sam@",
            "@example.org",
            "sam@example",
            "sam@@example.org",
            "s am@example.org",
            "sam@.example.org",
            "sam@example..org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn code(result: Result<Password>) -> &'static str {
        match result {
            Err(Error::Validation { code, .. }) => code.as_str(),
            Ok(_) => "ok",
            Err(_) => "other",
        }
    }

    #[test]
    fn password_rules_explain_what_is_wrong() {
        let email = Email::parse("sam.doe@example.org").ok();
        assert_eq!(
            code(Password::parse_new("short", None)),
            "password_too_short"
        );
        assert_eq!(
            code(Password::parse_new(&"x".repeat(129), None)),
            "password_too_long"
        );
        assert_eq!(
            code(Password::parse_new("Password123", None)),
            "password_too_common"
        );
        assert_eq!(
            code(Password::parse_new("abababababab", None)),
            "password_too_common"
        );
        assert_eq!(
            code(Password::parse_new("my sam.doe secret", email.as_ref())),
            "password_contains_email"
        );
        assert_eq!(
            code(Password::parse_new("river kettle lantern", email.as_ref())),
            "ok"
        );
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let password = Password::parse_attempt("hunter2-is-secret").map(|p| format!("{p:?}"));
        assert_eq!(password.ok().as_deref(), Some("Password(****)"));
    }

    fn attempt(raw: &str) -> Password {
        Password::parse_attempt(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password() {
        let new =
            Password::parse_new("river kettle lantern", None).unwrap_or_else(|e| panic!("{e}"));
        let hash = new.hash().await.unwrap_or_else(|e| panic!("{e}"));

        let right = attempt("river kettle lantern")
            .verify(Some(hash.clone()))
            .await;
        let wrong = attempt("river kettle lanterns")
            .verify(Some(hash.clone()))
            .await;

        assert!(hash.starts_with("$argon2id$"));
        assert!(matches!(right, Ok(true)));
        assert!(matches!(wrong, Ok(false)));
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        let outcome = attempt("anything at all").verify(None).await;
        assert!(matches!(outcome, Ok(false)), "{outcome:?}");
    }
}
