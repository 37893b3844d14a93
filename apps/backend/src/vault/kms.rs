//! Master keys held by AWS KMS (`ENCRYPTION_KMS_KEY_ID`): each person's data key is
//! wrapped by KMS `Encrypt` and unwrapped by `Decrypt`, so the master key never leaves
//! KMS and every unwrap is in its audit log. The wrap is bound to the data key's id by an
//! encryption context, as the key file's wraps are by their associated data.
//!
//! Requests are signed with Signature Version 4 here (a few dozen lines instead of the
//! AWS SDK's dependency tree); they are tested against an independent implementation of
//! the KMS API that checks signatures (moto's server, `tests/api/kms.rs`). Any
//! KMS-compatible endpoint works (`AWS_ENDPOINT_URL_KMS`). Credentials come from
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), or their
//! `*_FILE` variants; instance-profile credentials are not read.

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::{digest, hmac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;

use super::keyring::{Keyring, MasterKeys};
use super::{VaultError, KEY_LEN};

/// How a master id names a KMS key: `aws-kms:` and the key's id, ARN or alias.
const PREFIX: &str = "aws-kms:";
/// The encryption context's key: the data key's id is bound to its wrap.
const CONTEXT_KEY: &str = "solace-data-key";

/// AWS credentials for signing.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
}

/// An AWS KMS key as the master key.
pub struct AwsKms {
    key_id: String,
    region: String,
    endpoint: Url,
    credentials: Credentials,
    http: reqwest::Client,
}

impl AwsKms {
    pub fn new(
        key_id: String,
        region: String,
        endpoint: Option<Url>,
        credentials: Credentials,
    ) -> Result<Self, VaultError> {
        let endpoint = match endpoint {
            Some(url) => url,
            None => Url::parse(&format!("https://kms.{region}.amazonaws.com/"))
                .map_err(|e| VaultError::Kms(format!("AWS_REGION '{region}': {e}")))?,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| VaultError::Kms(e.to_string()))?;
        Ok(Self {
            key_id,
            region,
            endpoint,
            credentials,
            http,
        })
    }

    /// One KMS call (`TrentService.<action>`), signed; the JSON answer, or the error KMS
    /// gave (its type and message: never a key or a secret).
    async fn call(&self, action: &str, body: &Value) -> Result<Value, VaultError> {
        let payload = serde_json::to_vec(body).map_err(|e| VaultError::Kms(e.to_string()))?;
        let target = format!("TrentService.{action}");
        let now = time::OffsetDateTime::now_utc();
        let amz_date = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let signed = sign(
            &Request {
                host: &host_of(&self.endpoint)?,
                path: self.endpoint.path(),
                target: &target,
                payload: &payload,
                amz_date: &amz_date,
                region: &self.region,
            },
            &self.credentials,
        );
        let mut request = self
            .http
            .post(self.endpoint.clone())
            .header("content-type", CONTENT_TYPE)
            .header("x-amz-target", &target)
            .header("x-amz-date", &signed.amz_date)
            .header("authorization", signed.authorization);
        if let Some(token) = &self.credentials.session_token {
            request = request.header("x-amz-security-token", token.expose_secret());
        }
        let response = request
            .body(payload)
            .send()
            .await
            .map_err(|e| VaultError::Kms(format!("{action}: {}", without_url(&e))))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        let kind = answer["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t))
            .unwrap_or("error");
        let message = answer["message"]
            .as_str()
            .or_else(|| answer["Message"].as_str())
            .unwrap_or("");
        Err(VaultError::Kms(format!(
            "{action} answered {status}: {kind} {message}"
        )))
    }
}

#[async_trait]
impl MasterKeys for AwsKms {
    fn current_id(&self) -> Result<String, VaultError> {
        Ok(format!("{PREFIX}{}", self.key_id))
    }

    async fn wrap(
        &self,
        key_id: &str,
        key: &[u8; KEY_LEN],
    ) -> Result<(String, Vec<u8>), VaultError> {
        let answer = self
            .call(
                "Encrypt",
                &json!({
                    "KeyId": self.key_id,
                    "Plaintext": STANDARD.encode(key),
                    "EncryptionContext": { CONTEXT_KEY: key_id },
                }),
            )
            .await?;
        let blob = answer["CiphertextBlob"]
            .as_str()
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(|| VaultError::Kms("Encrypt gave no ciphertext".into()))?;
        Ok((self.current_id()?, blob))
    }

    async fn unwrap(
        &self,
        master_id: &str,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<[u8; KEY_LEN], VaultError> {
        let kms_key = master_id
            .strip_prefix(PREFIX)
            .ok_or_else(|| VaultError::UnknownMasterKey(master_id.to_owned()))?;
        let answer = self
            .call(
                "Decrypt",
                &json!({
                    "KeyId": kms_key,
                    "CiphertextBlob": STANDARD.encode(wrapped),
                    "EncryptionContext": { CONTEXT_KEY: key_id },
                }),
            )
            .await?;
        answer["Plaintext"]
            .as_str()
            .and_then(|b| STANDARD.decode(b).ok())
            .and_then(|bytes| <[u8; KEY_LEN]>::try_from(bytes.as_slice()).ok())
            .ok_or(VaultError::Crypto)
    }
}

/// KMS for new data keys, and the key file for those wrapped before KMS was configured:
/// `solace keys rotate --no-new-key` moves them all to KMS.
pub struct KmsWithKeyFile {
    pub kms: AwsKms,
    pub older: Option<Keyring>,
}

#[async_trait]
impl MasterKeys for KmsWithKeyFile {
    fn current_id(&self) -> Result<String, VaultError> {
        self.kms.current_id()
    }

    async fn wrap(
        &self,
        key_id: &str,
        key: &[u8; KEY_LEN],
    ) -> Result<(String, Vec<u8>), VaultError> {
        self.kms.wrap(key_id, key).await
    }

    async fn unwrap(
        &self,
        master_id: &str,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<[u8; KEY_LEN], VaultError> {
        match &self.older {
            Some(file) if !master_id.starts_with(PREFIX) => {
                file.unwrap(master_id, key_id, wrapped).await
            }
            _ => self.kms.unwrap(master_id, key_id, wrapped).await,
        }
    }
}

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// What a KMS request's signature covers.
struct Request<'a> {
    host: &'a str,
    path: &'a str,
    target: &'a str,
    payload: &'a [u8],
    amz_date: &'a str,
    region: &'a str,
}

struct Signed {
    amz_date: String,
    authorization: String,
}

/// Signature Version 4 of a KMS `POST` (no query string; the signed headers are
/// content-type, host, x-amz-date, x-amz-target and the session token when there is one).
fn sign(request: &Request<'_>, credentials: &Credentials) -> Signed {
    let date = &request.amz_date[..8];
    let mut headers = vec![
        ("content-type", CONTENT_TYPE.to_owned()),
        ("host", request.host.to_owned()),
        ("x-amz-date", request.amz_date.to_owned()),
    ];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token", token.expose_secret().to_owned()));
    }
    headers.push(("x-amz-target", request.target.to_owned()));
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{}\n", value.trim()))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(";");
    let path = if request.path.is_empty() {
        "/"
    } else {
        request.path
    };
    let canonical_request = format!(
        "POST\n{path}\n\n{canonical_headers}\n{signed_headers}\n{}",
        hex_sha256(request.payload)
    );
    let scope = format!("{date}/{}/kms/aws4_request", request.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        request.amz_date,
        hex_sha256(canonical_request.as_bytes())
    );
    let secret = format!("AWS4{}", credentials.secret_access_key.expose_secret());
    let mut key = hmac_sha256(secret.as_bytes(), date.as_bytes());
    for part in [request.region, "kms", "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    Signed {
        amz_date: request.amz_date.to_owned(),
        authorization: format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, \
             Signature={signature}",
            credentials.access_key_id
        ),
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

fn hex_sha256(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Host` header for the endpoint: the port only when it is not the scheme's own.
fn host_of(url: &Url) -> Result<String, VaultError> {
    let host = url
        .host_str()
        .ok_or_else(|| VaultError::Kms(format!("{url}: no host")))?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the KMS endpoint");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned().into(),
            session_token: None,
        }
    }

    fn request<'a>(payload: &'a [u8], target: &'a str) -> Request<'a> {
        Request {
            host: "kms.eu-west-1.amazonaws.com",
            path: "/",
            target,
            payload,
            amz_date: "20150830T123600Z",
            region: "eu-west-1",
        }
    }

    #[test]
    fn the_signature_names_the_scope_and_the_signed_headers() {
        let signed = sign(&request(b"{}", "TrentService.Encrypt"), &credentials());
        assert!(signed.authorization.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/kms/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
        ));
        let signature = signed.authorization.rsplit('=').next().unwrap();
        assert_eq!(signature.len(), 64);
        assert!(signature.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn the_signature_covers_the_body_the_action_and_the_token() {
        let base = sign(&request(b"{}", "TrentService.Encrypt"), &credentials());
        let other_body = sign(&request(b"{ }", "TrentService.Encrypt"), &credentials());
        let other_action = sign(&request(b"{}", "TrentService.Decrypt"), &credentials());
        let mut with_token = credentials();
        with_token.session_token = Some("token".to_owned().into());
        let token = sign(&request(b"{}", "TrentService.Encrypt"), &with_token);
        assert_ne!(base.authorization, other_body.authorization);
        assert_ne!(base.authorization, other_action.authorization);
        assert!(token.authorization.contains(
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
        ));
        // The same request signs the same way.
        assert_eq!(
            base.authorization,
            sign(&request(b"{}", "TrentService.Encrypt"), &credentials()).authorization
        );
    }

    #[test]
    fn the_host_header_keeps_only_a_port_the_scheme_does_not_imply() {
        let url = |u: &str| Url::parse(u).unwrap();
        assert_eq!(
            host_of(&url("https://kms.eu-west-1.amazonaws.com/")).unwrap(),
            "kms.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            host_of(&url("https://kms.example:443/")).unwrap(),
            "kms.example"
        );
        assert_eq!(
            host_of(&url("http://127.0.0.1:5099")).unwrap(),
            "127.0.0.1:5099"
        );
    }
}
