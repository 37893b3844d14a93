//! Embedded text-to-speech: the espeak-ng program (Debian's `espeak-ng` package). It
//! needs no network and no model, speaks ~100 languages, and sounds robotic — the
//! dependable default, with a hosted voice one setting away.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{checked, wav, Speech, Tts, TtsError, Voice};

/// How long one synthesis may take before it is abandoned.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct EspeakNg {
    program: PathBuf,
    voice: String,
    /// Speaking rate in words per minute (espeak-ng's `-s`; its default is 175).
    words_per_minute: u32,
}

const INSTALL_HINT: &str = "install it with `sudo apt-get install espeak-ng` (Debian/Ubuntu) \
     or `brew install espeak-ng` (macOS), or set ESPEAK_NG_PATH";

impl EspeakNg {
    /// Checks that `program` (default: `espeak-ng` on the PATH) runs.
    pub async fn detect(program: Option<PathBuf>, voice: &str) -> Result<Self, TtsError> {
        let program = program.unwrap_or_else(|| PathBuf::from("espeak-ng"));
        let output = Command::new(&program)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| {
                TtsError::Unavailable(format!(
                    "espeak-ng could not be started ({e}); {INSTALL_HINT}"
                ))
            })?;
        if !output.status.success() {
            return Err(TtsError::Unavailable(format!(
                "`{} --version` failed; {INSTALL_HINT}",
                program.display()
            )));
        }
        valid_voice(voice)?;
        Ok(Self {
            program,
            voice: voice.to_owned(),
            words_per_minute: 160,
        })
    }
}

/// Voice names are passed as an argument: only plain names, never an option.
fn valid_voice(voice: &str) -> Result<&str, TtsError> {
    let ok = !voice.is_empty()
        && voice.len() <= 64
        && !voice.starts_with('-')
        && voice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/'));
    ok.then_some(voice)
        .ok_or_else(|| TtsError::BadInput(format!("'{voice}' is not a voice name.")))
}

#[async_trait]
impl Tts for EspeakNg {
    async fn synthesize(&self, text: &str, voice: Option<&str>) -> Result<Speech, TtsError> {
        let text = checked(text)?;
        let voice = valid_voice(voice.unwrap_or(&self.voice))?;
        let mut child = Command::new(&self.program)
            .args(["--stdout", "-v", voice, "-s"])
            .arg(self.words_per_minute.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TtsError::Unavailable(format!("espeak-ng did not start ({e})")))?;
        // The text goes in on stdin, never as an argument.
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| TtsError::Failed("espeak-ng has no input".into()))?;
        let input = text.to_owned();
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(input.as_bytes()).await;
            let _ = stdin.write_all(b"\n").await;
        });
        let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| TtsError::Failed("espeak-ng took too long".into()))?
            .map_err(|e| TtsError::Failed(format!("espeak-ng failed ({e})")))?;
        let _ = writer.await;
        if !output.status.success() {
            // An unknown voice is the usual cause.
            return Err(TtsError::BadInput(format!(
                "espeak-ng could not speak with voice '{voice}'."
            )));
        }
        let mut audio = output.stdout;
        if wav::parse(&audio).is_none() {
            return Err(TtsError::Failed("espeak-ng wrote no audio".into()));
        }
        wav::fix_sizes(&mut audio);
        Ok(Speech {
            audio,
            content_type: "audio/wav".into(),
        })
    }

    async fn voices(&self) -> Result<Vec<Voice>, TtsError> {
        let output = Command::new(&self.program)
            .arg("--voices")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| TtsError::Unavailable(format!("espeak-ng did not start ({e})")))?;
        Ok(parse_voices(&String::from_utf8_lossy(&output.stdout)))
    }

    fn provider(&self) -> &'static str {
        "espeak-ng"
    }

    fn default_voice(&self) -> &str {
        &self.voice
    }
}

/// Reads `espeak-ng --voices`: `Pty Language Age/Gender VoiceName File Other…`; one
/// voice per language (the first, which espeak-ng lists by priority).
fn parse_voices(listing: &str) -> Vec<Voice> {
    let mut voices: Vec<Voice> = Vec::new();
    for line in listing.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(language), Some(name), Some(file)) =
            (fields.get(1), fields.get(3), fields.get(4))
        else {
            continue;
        };
        // MBROLA voices need extra packages that are usually not there.
        if file.starts_with("mb/") || voices.iter().any(|v| v.id == *language) {
            continue;
        }
        voices.push(Voice {
            id: (*language).to_owned(),
            name: name.replace('_', " "),
            language: Some((*language).to_owned()),
        });
    }
    voices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_voice_listing_is_read_one_voice_per_language() {
        let listing = "Pty Language       Age/Gender VoiceName          File                 Other Languages\n \
            5  af              --/M      Afrikaans          gmw/af\n \
            2  en-us           --/M      English_(America)  gmw/en-US            (en 3)\n \
            5  en-us           --/M      us-mbrola-2        mb/mb-us2            (en 7)\n \
            5  en-us           --/F      Another            gmw/en-US-2\n";
        let voices = parse_voices(listing);
        assert_eq!(
            voices,
            vec![
                Voice {
                    id: "af".into(),
                    name: "Afrikaans".into(),
                    language: Some("af".into())
                },
                Voice {
                    id: "en-us".into(),
                    name: "English (America)".into(),
                    language: Some("en-us".into())
                },
            ]
        );
    }

    #[test]
    fn voice_names_cannot_smuggle_options() {
        assert!(valid_voice("en-us").is_ok());
        assert!(valid_voice("gmw/en-US").is_ok());
        assert!(valid_voice("--stdout").is_err());
        assert!(valid_voice("en us").is_err());
        assert!(valid_voice("").is_err());
    }
}
