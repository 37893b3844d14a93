//! The learned layer: sentence encoders run in-process with candle — the multilingual
//! one the shipped head reads (USE multilingual v3, `multilingual.rs`) and, for
//! comparison, all-MiniLM-L6-v2 (BERT, `bert.rs`, tunable) — and a small classification
//! head trained on Solace's own labelled messages, with hashed n-gram features beside
//! the embedding (see `features.rs`).
//!
//! The head is three softmax regressions over the same features: whether there is
//! danger at all, and — learned from the messages that show danger — its category and
//! its severity. Its weights and the record of how they were trained
//! live in the repository (`apps/ai/safety-head/`); `solace safety train` makes them
//! again, bit for bit, from the same data and embedding model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::assessment::{RiskCategory, Severity};
use super::bert::{self, Adapter, Bert};
use super::features::{self, BUCKETS};
use super::multilingual::{self, Multilingual};

/// The embedding model's files, as published by sentence-transformers.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// The model the shipped head was trained with.
pub const MODEL_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// Its folder name under MODELS_DIR.
pub const MODEL_DIR_NAME: &str = "all-MiniLM-L6-v2";
/// Embedding width of all-MiniLM-L6-v2.
pub const DIM: usize = 384;
/// The tuned adapters' file beside the head.
pub const ADAPTER_FILE: &str = "adapter.safetensors";
/// The multilingual encoder's tuned adapters' file beside the head.
pub const MULTILINGUAL_ADAPTER_FILE: &str = "multilingual-adapter.safetensors";
/// Tokens per piece of text; longer messages are read in several pieces.
const MAX_TOKENS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum LearnedError {
    #[error("{path} is missing")]
    Missing { path: PathBuf },
    #[error("could not read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("the model failed: {0}")]
    Model(String),
}

impl From<candle_core::Error> for LearnedError {
    fn from(error: candle_core::Error) -> Self {
        Self::Model(error.to_string())
    }
}

fn read(path: &Path) -> Result<Vec<u8>, LearnedError> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LearnedError::Missing { path: path.into() },
        _ => LearnedError::Unreadable {
            path: path.into(),
            reason: e.to_string(),
        },
    })
}

pub(super) fn unreadable(path: &Path, reason: impl std::fmt::Display) -> LearnedError {
    LearnedError::Unreadable {
        path: path.into(),
        reason: reason.to_string(),
    }
}

/// Sentence embeddings: BERT, mean-pooled over the tokens, L2-normalised.
#[derive(Clone)]
pub struct Embedder {
    model: Bert,
    tokenizer: Tokenizer,
}

impl Embedder {
    /// Loads the model from a folder holding `config.json`, `tokenizer.json` and
    /// `model.safetensors`.
    pub fn load(dir: &Path) -> Result<Self, LearnedError> {
        for name in MODEL_FILES {
            if !dir.join(name).is_file() {
                return Err(LearnedError::Missing {
                    path: dir.join(name),
                });
            }
        }
        let config_path = dir.join("config.json");
        let config: bert::Config = serde_json::from_slice(&read(&config_path)?)
            .map_err(|e| unreadable(&config_path, e))?;
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| unreadable(&tokenizer_path, e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| unreadable(&tokenizer_path, e))?;
        let weights_path = dir.join("model.safetensors");
        let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)
            .map_err(|e| unreadable(&weights_path, e))?;
        let model = Bert::load(tensors, &config).map_err(|e| unreadable(&weights_path, e))?;
        Ok(Self { model, tokenizer })
    }

    /// The encoder with trained adapters merged into its weights.
    pub fn with_adapter(mut self, adapter: &Adapter) -> Result<Self, LearnedError> {
        self.model.merge(adapter)?;
        Ok(self)
    }

    pub fn bert(&self) -> &Bert {
        &self.model
    }

    /// Token ids and attention mask (texts × longest) for a batch of texts.
    pub fn tokenize(&self, texts: &[&str]) -> Result<(Tensor, Tensor), LearnedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| LearnedError::Model(e.to_string()))?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for encoding in &encodings {
            ids.extend(encoding.get_ids().iter().copied());
            mask.extend(encoding.get_attention_mask().iter().copied());
        }
        Ok((
            Tensor::from_vec(ids, (rows, width), &Device::Cpu)?,
            Tensor::from_vec(mask, (rows, width), &Device::Cpu)?,
        ))
    }

    /// One unit vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, LearnedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, mask) = self.tokenize(texts)?;
        let hidden = self.model.forward(&ids, &mask)?;
        Ok(bert::pool(&hidden, &mask)?.to_vec2::<f32>()?)
    }
}

/// The encoders a head reads, loaded once: the (tuned) BERT encoder and the
/// multilingual one, each when the head's card names it.
#[derive(Clone, Default)]
pub struct Encoders {
    pub bert: Option<Embedder>,
    pub multilingual: Option<std::sync::Arc<Multilingual>>,
}

/// Where the encoders' files are.
#[derive(Debug, Clone)]
pub struct EncoderDirs {
    /// all-MiniLM-L6-v2 (`SAFETY_MODEL_DIR`).
    pub bert: PathBuf,
    /// USE multilingual v3 (`SAFETY_MULTILINGUAL_DIR`).
    pub multilingual: PathBuf,
}

impl Encoders {
    /// Loads what `head` reads from `dirs`, the BERT encoder with the head's adapters
    /// merged in.
    pub fn for_head(head: &Head, dirs: &EncoderDirs) -> Result<Self, LearnedError> {
        // An encoder other than the one the head was trained with would read every
        // message wrongly, silently: refuse it by its weights' SHA-256.
        let check = |file: PathBuf, expected: &Option<String>| -> Result<(), LearnedError> {
            let Some(expected) = expected else {
                return Ok(());
            };
            let actual = super::train::sha256_hex(&read(&file)?);
            if &actual == expected {
                Ok(())
            } else {
                Err(unreadable(
                    &file,
                    format!("SHA-256 {actual}, but the head was trained with {expected}"),
                ))
            }
        };
        let bert = if head.needs_embeddings() {
            check(
                dirs.bert.join("model.safetensors"),
                &head.card.embedding_sha256,
            )?;
            let plain = Embedder::load(&dirs.bert)?;
            Some(match &head.adapter {
                Some(adapter) => plain.with_adapter(adapter)?,
                None => plain,
            })
        } else {
            None
        };
        let multilingual = if head.needs_multilingual() {
            check(
                dirs.multilingual.join("weights.npz"),
                &head.card.multilingual_sha256,
            )?;
            let mut encoder = Multilingual::load(&dirs.multilingual)?;
            if let Some(adapter) = &head.multilingual_adapter {
                encoder.merge(adapter)?;
            }
            Some(std::sync::Arc::new(encoder))
        } else {
            None
        };
        Ok(Self { bert, multilingual })
    }

    pub fn is_empty(&self) -> bool {
        self.bert.is_none() && self.multilingual.is_none()
    }

    /// One vector per text: the encoders' vectors one after the other; `None` for each
    /// text when there is no encoder.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Option<Vec<f32>>>, LearnedError> {
        Ok(self.embed_with_plain(texts)?.0)
    }

    /// `embed`, and the multilingual encoder's published vector of each text (for
    /// retrieval; empty without that encoder), from one reading of each text.
    #[allow(clippy::type_complexity)]
    pub fn embed_with_plain(
        &self,
        texts: &[&str],
    ) -> Result<(Vec<Option<Vec<f32>>>, Vec<Vec<f32>>), LearnedError> {
        if self.is_empty() {
            return Ok((vec![None; texts.len()], Vec::new()));
        }
        let mut out: Vec<Vec<f32>> = match &self.bert {
            Some(bert) => bert.embed(texts)?,
            None => vec![Vec::new(); texts.len()],
        };
        let mut plain = Vec::new();
        if let Some(multilingual) = &self.multilingual {
            for (row, text) in out.iter_mut().zip(texts) {
                let (tuned, published) = multilingual.embed_twice(text)?;
                row.extend(tuned);
                plain.push(published);
            }
        }
        Ok((out.into_iter().map(Some).collect(), plain))
    }
}

/// Outputs of a binary danger head: no danger, danger.
const DANGER_CLASSES: usize = 2;
/// Outputs of the severity head: elevated, imminent.
const SEVERITY_CLASSES: usize = 2;

/// What the head was trained with and how its output is read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadCard {
    /// The embedding model the head reads (`None` for an n-gram-only head).
    pub embedding_model: Option<String>,
    /// SHA-256 of that model's `model.safetensors`, so a different model is refused.
    pub embedding_sha256: Option<String>,
    /// The multilingual encoder the head also reads (`multilingual.rs`), and the
    /// SHA-256 of its `weights.npz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multilingual_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multilingual_sha256: Option<String>,
    /// The multilingual encoder's tuned adapters (`multilingual-adapter.safetensors`
    /// beside the head), merged into its weights when it is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multilingual_adapter: Option<TunedCard>,
    /// Whether the hashed n-gram features are used.
    pub ngrams: bool,
    /// The kinds of message the danger head tells apart (a class each: the calm kinds,
    /// then the crises'); P(danger) is the crises' sum. A binary head (danger or not)
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub danger_kinds: Option<DangerKinds>,
    /// A message is in danger, at the severity the head reads, when P(danger) reaches
    /// this (chosen so the head adds few false alarms to the rules').
    pub threshold: f32,
    /// Between this and `threshold` the head is unsure: the response is a gentle
    /// check-in ("are you safe right now?"), never the crisis card.
    #[serde(default)]
    pub check_in_threshold: Option<f32>,
    /// A rule's alarm stands only when P(danger) is at least this: the head overrules
    /// phrases used in stories, school work, news or recovery.
    #[serde(default)]
    pub overrule_below: Option<f32>,
    /// The danger the head sees is read as imminent when P(imminent | danger) reaches
    /// this (chosen on validation, because a missed emergency costs more than a crisis
    /// card shown to someone at elevated risk); 0.5 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imminent_threshold: Option<f32>,
    /// The embedding model's tuned adapters (`adapter.safetensors` beside the head),
    /// merged into the model's weights when it is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterCard>,
    /// How the head was made: data files with their SHA-256, and the settings.
    pub training: serde_json::Value,
}

/// The classes of a danger head that reads kinds of message: calm ones (idioms,
/// fiction, recovery…) first, then crises (plans, passive wishes…). Learning what
/// sort of calm message looks alarming, rather than one "calm" class, is what lets a
/// softmax regression draw the line around idioms, stories and recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DangerKinds {
    pub calm: Vec<String>,
    pub crisis: Vec<String>,
}

impl DangerKinds {
    /// The kinds seen in training, each list sorted.
    pub fn of(examples: &[(&str, bool)]) -> Self {
        let mut calm: Vec<String> = Vec::new();
        let mut crisis: Vec<String> = Vec::new();
        for &(kind, danger) in examples {
            let list = if danger { &mut crisis } else { &mut calm };
            if !list.iter().any(|k| k == kind) {
                list.push(kind.to_owned());
            }
        }
        calm.sort();
        crisis.sort();
        Self { calm, crisis }
    }

    fn classes(&self) -> usize {
        self.calm.len() + self.crisis.len()
    }

    /// The class of a training example; an unknown kind counts as its side's first.
    fn class(&self, kind: &str, danger: bool) -> usize {
        if danger {
            self.calm.len() + self.crisis.iter().position(|k| k == kind).unwrap_or(0)
        } else {
            self.calm.iter().position(|k| k == kind).unwrap_or(0)
        }
    }
}

/// The shape of the adapters and the SHA-256 of their file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdapterCard {
    pub layers: Vec<usize>,
    pub rank: usize,
    pub alpha: f64,
    pub sha256: String,
}

/// The shape of the multilingual encoder's adapters and the SHA-256 of their file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TunedCard {
    pub rank: usize,
    pub alpha: f64,
    pub sha256: String,
}

/// Refuses adapter bytes whose SHA-256 is not the one the card records.
fn check_adapter(bytes: &[u8], expected: &str) -> Result<(), String> {
    let sha = super::train::sha256_hex(bytes);
    if sha != expected {
        return Err(format!(
            "the adapters' SHA-256 is {sha}, the card expects {expected}"
        ));
    }
    Ok(())
}

impl TunedCard {
    fn read(&self, bytes: &[u8]) -> Result<multilingual::Adapter, String> {
        check_adapter(bytes, &self.sha256)?;
        Ok(multilingual::Adapter {
            rank: self.rank,
            alpha: self.alpha,
            tensors: candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
                .map_err(|e| e.to_string())?,
        })
    }
}

impl AdapterCard {
    fn read(&self, bytes: &[u8]) -> Result<Adapter, String> {
        check_adapter(bytes, &self.sha256)?;
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| e.to_string())?;
        Ok(Adapter {
            layers: self.layers.clone(),
            rank: self.rank,
            alpha: self.alpha,
            tensors,
        })
    }
}

impl HeadCard {
    /// The width of the vector the head reads: the BERT encoder's, then the
    /// multilingual encoder's, each when the card names it.
    pub fn dim(&self) -> usize {
        usize::from(self.embedding_model.is_some()) * DIM
            + usize::from(self.multilingual_model.is_some()) * multilingual::DIM
    }

    fn danger_classes(&self) -> usize {
        self.danger_kinds
            .as_ref()
            .map_or(DANGER_CLASSES, DangerKinds::classes)
    }

    /// The features a head with this card reads for a text, given its embedding (the
    /// encoders' vectors one after the other, as `Encoders::embed` makes them).
    pub fn features(&self, text: &str, embedding: Option<Vec<f32>>) -> Features {
        Features {
            embedding: embedding.filter(|e| self.dim() > 0 && e.len() == self.dim()),
            ngrams: if self.ngrams {
                features::extract(text)
            } else {
                Vec::new()
            },
        }
    }
}

/// One softmax regression: dense weights over the embedding, a hashed table over the
/// n-grams, and a bias per class.
#[derive(Debug, Clone)]
struct Softmax {
    classes: usize,
    dim: usize,
    dense: Vec<f32>,  // classes × dim
    sparse: Vec<f32>, // BUCKETS × classes
    bias: Vec<f32>,   // classes
}

impl Softmax {
    fn zeros(classes: usize, dim: usize) -> Self {
        Self {
            classes,
            dim,
            dense: vec![0.0; classes * dim],
            sparse: vec![0.0; BUCKETS * classes],
            bias: vec![0.0; classes],
        }
    }

    fn probabilities(&self, x: &Features) -> Vec<f32> {
        let mut logits = self.bias.clone();
        for (c, logit) in logits.iter_mut().enumerate() {
            if let Some(e) = &x.embedding {
                let row = &self.dense[c * self.dim..(c + 1) * self.dim];
                *logit += dot(row, e);
            }
            for &(b, v) in &x.ngrams {
                *logit += self.sparse[b as usize * self.classes + c] * v;
            }
        }
        softmax(&mut logits);
        logits
    }

    fn tensors(&self, name: &str) -> candle_core::Result<Vec<(String, Tensor)>> {
        Ok(vec![
            (
                format!("{name}.dense"),
                Tensor::from_vec(self.dense.clone(), (self.classes, self.dim), &Device::Cpu)?,
            ),
            (
                format!("{name}.sparse"),
                Tensor::from_vec(self.sparse.clone(), (BUCKETS, self.classes), &Device::Cpu)?,
            ),
            (
                format!("{name}.bias"),
                Tensor::from_vec(self.bias.clone(), self.classes, &Device::Cpu)?,
            ),
        ])
    }

    fn from_tensors(
        tensors: &HashMap<String, Tensor>,
        name: &str,
        classes: usize,
        dim: usize,
    ) -> Result<Self, String> {
        let get = |part: &str, len: usize| -> Result<Vec<f32>, String> {
            let key = format!("{name}.{part}");
            let values = tensors
                .get(&key)
                .ok_or(format!("{key} is missing"))?
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| e.to_string())?;
            if values.len() != len {
                return Err(format!("{key} has {} values, not {len}", values.len()));
            }
            Ok(values)
        };
        Ok(Self {
            classes,
            dim,
            dense: get("dense", classes * dim)?,
            sparse: get("sparse", BUCKETS * classes)?,
            bias: get("bias", classes)?,
        })
    }
}

/// A dot product in eight lanes (a fixed order of additions, so the same on every
/// machine) that the compiler turns into vector instructions; a plain running sum
/// cannot be reordered, so it stays scalar (training the kinds head took 12–14 minutes
/// with it, about 6 with this).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn softmax(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in values.iter_mut() {
        *v /= sum;
    }
}

/// What the head reads for one text.
#[derive(Debug, Clone)]
pub struct Features {
    pub embedding: Option<Vec<f32>>,
    pub ngrams: Vec<(u32, f32)>,
}

/// The head's reading of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Probability that there is danger of any kind (1 − P(none)).
    pub danger: f32,
    /// The most likely category, given danger.
    pub category: RiskCategory,
    /// P(imminent | danger).
    pub imminent: f32,
    /// Imminent when `imminent` reaches the card's threshold, else elevated.
    pub severity: Severity,
}

/// The trained classification head.
#[derive(Debug, Clone)]
pub struct Head {
    pub card: HeadCard,
    /// The embedding model's tuned adapters, when the card names them.
    pub adapter: Option<Adapter>,
    /// The multilingual encoder's tuned adapters, when the card names them.
    pub multilingual_adapter: Option<multilingual::Adapter>,
    danger: Softmax,
    category: Softmax,
    severity: Softmax,
}

impl Head {
    /// Loads `head.json` and `head.safetensors` from a folder.
    pub fn load(dir: &Path) -> Result<Self, LearnedError> {
        let card_path = dir.join("head.json");
        let card: HeadCard =
            serde_json::from_slice(&read(&card_path)?).map_err(|e| unreadable(&card_path, e))?;
        let weights_path = dir.join("head.safetensors");
        if !weights_path.is_file() {
            return Err(LearnedError::Missing { path: weights_path });
        }
        let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)
            .map_err(|e| unreadable(&weights_path, e))?;
        let adapter = match &card.adapter {
            Some(adapter_card) => {
                let path = dir.join(ADAPTER_FILE);
                Some(
                    adapter_card
                        .read(&read(&path)?)
                        .map_err(|e| unreadable(&path, e))?,
                )
            }
            None => None,
        };
        let multilingual_adapter = match &card.multilingual_adapter {
            Some(tuned) => {
                let path = dir.join(MULTILINGUAL_ADAPTER_FILE);
                Some(
                    tuned
                        .read(&read(&path)?)
                        .map_err(|e| unreadable(&path, e))?,
                )
            }
            None => None,
        };
        let mut head =
            Self::from_parts(card, &tensors, adapter).map_err(|e| unreadable(&weights_path, e))?;
        head.multilingual_adapter = multilingual_adapter;
        Ok(head)
    }

    /// The head shipped inside the binary (`apps/ai/safety-head/`).
    pub fn built_in() -> Result<Self, LearnedError> {
        let card: HeadCard = serde_json::from_str(include_str!("../../safety-head/head.json"))
            .map_err(|e| LearnedError::Model(format!("built-in head card: {e}")))?;
        let tensors = candle_core::safetensors::load_buffer(
            include_bytes!("../../safety-head/head.safetensors"),
            &Device::Cpu,
        )?;
        // The shipped head reads the multilingual encoder with tuned adapters, built in
        // beside it; a head on the BERT encoder is loaded from SAFETY_HEAD_DIR.
        if card.adapter.is_some() {
            return Err(LearnedError::Model(
                "the built-in head names BERT adapters, but none are built in".into(),
            ));
        }
        let multilingual_adapter = match &card.multilingual_adapter {
            Some(tuned) => Some(
                tuned
                    .read(include_bytes!(
                        "../../safety-head/multilingual-adapter.safetensors"
                    ))
                    .map_err(|e| LearnedError::Model(format!("built-in adapters: {e}")))?,
            ),
            None => None,
        };
        let mut head = Self::from_parts(card, &tensors, None).map_err(LearnedError::Model)?;
        head.multilingual_adapter = multilingual_adapter;
        Ok(head)
    }

    fn from_parts(
        card: HeadCard,
        tensors: &HashMap<String, Tensor>,
        adapter: Option<Adapter>,
    ) -> Result<Self, String> {
        let dim = card.dim();
        Ok(Self {
            danger: Softmax::from_tensors(tensors, "danger", card.danger_classes(), dim)?,
            category: Softmax::from_tensors(tensors, "category", RiskCategory::ALL.len(), dim)?,
            severity: Softmax::from_tensors(tensors, "severity", SEVERITY_CLASSES, dim)?,
            card,
            adapter,
            multilingual_adapter: None,
        })
    }

    /// Writes `head.json` and `head.safetensors` into a folder.
    pub fn save(&self, dir: &Path) -> Result<(), LearnedError> {
        std::fs::create_dir_all(dir).map_err(|e| unreadable(dir, e))?;
        let card = serde_json::to_string_pretty(&self.card).map_err(|e| unreadable(dir, e))?;
        std::fs::write(dir.join("head.json"), card + "\n").map_err(|e| unreadable(dir, e))?;
        let mut tensors: Vec<(String, Tensor)> = self.danger.tensors("danger")?;
        tensors.extend(self.category.tensors("category")?);
        tensors.extend(self.severity.tensors("severity")?);
        let tensors: HashMap<String, Tensor> = tensors.into_iter().collect();
        candle_core::safetensors::save(&tensors, dir.join("head.safetensors"))?;
        if let Some(adapter) = &self.adapter {
            candle_core::safetensors::save(&adapter.tensors, dir.join(ADAPTER_FILE))?;
        }
        if let Some(adapter) = &self.multilingual_adapter {
            candle_core::safetensors::save(&adapter.tensors, dir.join(MULTILINGUAL_ADAPTER_FILE))?;
        }
        Ok(())
    }

    /// Whether the head reads the BERT encoder's embeddings.
    pub fn needs_embeddings(&self) -> bool {
        self.card.embedding_model.is_some()
    }

    /// Whether the head reads the multilingual encoder's embeddings.
    pub fn needs_multilingual(&self) -> bool {
        self.card.multilingual_model.is_some()
    }

    /// The features of a text, given its embedding when the head reads one.
    pub fn features(&self, text: &str, embedding: Option<Vec<f32>>) -> Features {
        self.card.features(text, embedding)
    }

    pub fn score(&self, x: &Features) -> Scores {
        let danger = match &self.card.danger_kinds {
            Some(kinds) => self.danger.probabilities(x)[kinds.calm.len()..]
                .iter()
                .sum(),
            None => self.danger.probabilities(x)[1],
        };
        let category = self.category.probabilities(x);
        let best = (0..category.len())
            .max_by(|&a, &b| category[a].total_cmp(&category[b]))
            .unwrap_or(0);
        let imminent = self.severity.probabilities(x)[1];
        Scores {
            danger,
            category: RiskCategory::ALL[best.min(RiskCategory::ALL.len() - 1)],
            imminent,
            severity: self.severity_of(imminent),
        }
    }

    /// The severity the head reads for a P(imminent | danger).
    pub fn severity_of(&self, imminent: f32) -> Severity {
        if imminent >= self.card.imminent_threshold.unwrap_or(0.5) {
            Severity::Imminent
        } else {
            Severity::Elevated
        }
    }

    /// Whether the scores say danger, at the threshold chosen on the validation set.
    pub fn alarms(&self, scores: &Scores) -> bool {
        scores.danger >= self.card.threshold
    }

    /// Whether the scores call for a check-in (unsure, but enough to ask).
    pub fn checks_in(&self, scores: &Scores) -> bool {
        self.card
            .check_in_threshold
            .is_some_and(|t| scores.danger >= t)
    }

    /// Whether the head is sure enough there is no danger to overrule a rule.
    pub fn overrules(&self, scores: &Scores) -> bool {
        self.card.overrule_below.is_some_and(|v| scores.danger < v)
    }
}

/// One labelled example for training.
pub struct Example {
    pub features: Features,
    pub category: Option<RiskCategory>,
    pub severity: Severity,
    /// What sort of message it is (`plan`, `idiom`…), for a head that reads kinds.
    pub kind: String,
}

/// Settings of a training run; the defaults made the shipped head.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TrainSettings {
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 penalty on the weights.
    pub l2: f32,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            epochs: 300,
            learning_rate: 0.05,
            l2: 1e-4,
        }
    }
}

/// Full-batch Adam on class-balanced cross-entropy, from zero weights: the same data
/// gives the same head, every time.
///
/// With `calm_classes`, the classes below it are one side (calm) and the rest the other
/// (danger): each side weighs half, shared equally by its classes. Otherwise every
/// class weighs the same — which, for a head of 11 calm kinds and 18 crises, would
/// lean every message it cannot read (a greeting, "I cannot sleep") 18:11 towards danger.
fn fit(
    examples: &[(&Features, usize)],
    classes: usize,
    dim: usize,
    settings: TrainSettings,
    calm_classes: Option<usize>,
) -> Softmax {
    let mut model = Softmax::zeros(classes, dim);
    let mut counts = vec![0usize; classes];
    for (_, y) in examples {
        counts[*y] += 1;
    }
    let seen = |range: std::ops::Range<usize>| counts[range].iter().filter(|&&n| n > 0).count();
    let share = |class: usize| -> f32 {
        match calm_classes {
            Some(calm) if class < calm => 2.0 * seen(0..calm) as f32,
            Some(calm) => 2.0 * seen(calm..classes) as f32,
            None => classes as f32,
        }
    };
    let weight: Vec<f32> = counts
        .iter()
        .enumerate()
        .map(|(class, &n)| {
            if n == 0 {
                0.0
            } else {
                examples.len() as f32 / (share(class) * n as f32)
            }
        })
        .collect();
    let n = examples.len().max(1) as f32;
    let sizes = [model.dense.len(), model.sparse.len(), model.bias.len()];
    let mut m: Vec<Vec<f32>> = sizes.iter().map(|&s| vec![0.0; s]).collect();
    let mut v: Vec<Vec<f32>> = sizes.iter().map(|&s| vec![0.0; s]).collect();
    let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    for step in 1..=settings.epochs {
        let mut grads: Vec<Vec<f32>> = sizes.iter().map(|&s| vec![0.0; s]).collect();
        for (x, y) in examples {
            let p = model.probabilities(x);
            for c in 0..classes {
                let g = weight[*y] * (p[c] - if c == *y { 1.0 } else { 0.0 }) / n;
                if let Some(e) = &x.embedding {
                    let row = &mut grads[0][c * dim..(c + 1) * dim];
                    for (gradient, value) in row.iter_mut().zip(e) {
                        *gradient += g * value;
                    }
                }
                for &(b, value) in &x.ngrams {
                    grads[1][b as usize * classes + c] += g * value;
                }
                grads[2][c] += g;
            }
        }
        let params: [&mut Vec<f32>; 3] = [&mut model.dense, &mut model.sparse, &mut model.bias];
        let correction1 = 1.0 - beta1.powi(step as i32);
        let correction2 = 1.0 - beta2.powi(step as i32);
        for (k, param) in params.into_iter().enumerate() {
            for i in 0..param.len() {
                let g = grads[k][i] + if k < 2 { settings.l2 * param[i] } else { 0.0 };
                m[k][i] = beta1 * m[k][i] + (1.0 - beta1) * g;
                v[k][i] = beta2 * v[k][i] + (1.0 - beta2) * g * g;
                let step_size = settings.learning_rate * (m[k][i] / correction1)
                    / ((v[k][i] / correction2).sqrt() + eps);
                param[i] -= step_size;
            }
        }
    }
    model
}

/// Trains the three softmax regressions of a head. The threshold is set afterwards,
/// on the validation set.
pub fn train(examples: &[Example], card: HeadCard, settings: TrainSettings) -> Head {
    let danger: Vec<(&Features, usize)> = examples
        .iter()
        .map(|e| {
            let danger = e.category.is_some();
            let class = match &card.danger_kinds {
                Some(kinds) => kinds.class(&e.kind, danger),
                None => usize::from(danger),
            };
            (&e.features, class)
        })
        .collect();
    // Category and severity are learned from the examples in danger: the danger head
    // decides whether there is any, these what kind and how urgent.
    let category: Vec<(&Features, usize)> = examples
        .iter()
        .filter_map(|e| {
            let c = e.category?;
            Some((&e.features, RiskCategory::ALL.iter().position(|x| *x == c)?))
        })
        .collect();
    let severity: Vec<(&Features, usize)> = examples
        .iter()
        .filter(|e| e.category.is_some())
        .map(|e| (&e.features, usize::from(e.severity == Severity::Imminent)))
        .collect();
    let dim = card.dim();
    let calm = card.danger_kinds.as_ref().map(|kinds| kinds.calm.len());
    let danger = fit(&danger, card.danger_classes(), dim, settings, calm);
    Head {
        card,
        adapter: None,
        multilingual_adapter: None,
        danger,
        category: fit(&category, RiskCategory::ALL.len(), dim, settings, None),
        severity: fit(&severity, SEVERITY_CLASSES, dim, settings, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(ngrams: bool) -> HeadCard {
        HeadCard {
            embedding_model: None,
            embedding_sha256: None,
            multilingual_model: None,
            multilingual_sha256: None,
            multilingual_adapter: None,
            ngrams,
            danger_kinds: None,
            threshold: 0.5,
            check_in_threshold: None,
            overrule_below: None,
            imminent_threshold: None,
            adapter: None,
            training: serde_json::json!({}),
        }
    }

    fn example(
        head: &Head,
        text: &str,
        category: Option<RiskCategory>,
        severity: Severity,
    ) -> Example {
        Example {
            features: head.features(text, None),
            category,
            severity,
            kind: text.split(' ').nth(1).unwrap_or_default().to_owned(),
        }
    }

    #[test]
    fn an_ngram_head_learns_a_separable_toy_problem_and_survives_a_round_trip() {
        let blank = train(&[], card(true), TrainSettings::default());
        let data = vec![
            example(
                &blank,
                "alpha bravo",
                Some(RiskCategory::SelfHarm),
                Severity::Elevated,
            ),
            example(
                &blank,
                "alpha charlie",
                Some(RiskCategory::SelfHarm),
                Severity::Imminent,
            ),
            example(&blank, "delta echo", None, Severity::None),
            example(&blank, "foxtrot echo", None, Severity::None),
        ];
        let settings = TrainSettings {
            epochs: 100,
            ..TrainSettings::default()
        };
        let head = train(&data, card(true), settings);
        let danger = head.score(&head.features("alpha", None));
        let calm = head.score(&head.features("echo", None));
        assert!(
            danger.danger > 0.5 && calm.danger < 0.5,
            "{danger:?} {calm:?}"
        );
        assert_eq!(danger.category, RiskCategory::SelfHarm);

        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let dir = dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default();
        assert!(head.save(&dir).is_ok());
        let loaded = Head::load(&dir);
        let again = loaded.map(|h| h.score(&h.features("alpha", None))).ok();
        assert_eq!(again, Some(danger));
        // Training twice gives the same head.
        let twice = train(&data, card(true), settings);
        assert_eq!(twice.category.sparse, head.category.sparse);
    }

    #[test]
    fn a_head_that_reads_kinds_sums_the_crises_and_survives_a_round_trip() {
        let blank = train(&[], card(true), TrainSettings::default());
        // Two crisis kinds and two calm ones; the kind is each text's second word.
        let data = vec![
            example(
                &blank,
                "alpha plan",
                Some(RiskCategory::SuicidalIdeation),
                Severity::Imminent,
            ),
            example(
                &blank,
                "bravo passive",
                Some(RiskCategory::SuicidalIdeation),
                Severity::Elevated,
            ),
            example(&blank, "charlie idiom", None, Severity::None),
            example(&blank, "delta recovery", None, Severity::None),
        ];
        let labelled: Vec<(&str, bool)> = data
            .iter()
            .map(|e| (e.kind.as_str(), e.category.is_some()))
            .collect();
        let kinds = DangerKinds::of(&labelled);
        assert_eq!(kinds.calm, ["idiom", "recovery"]);
        assert_eq!(kinds.crisis, ["passive", "plan"]);
        let mut with_kinds = card(true);
        with_kinds.danger_kinds = Some(kinds);
        let settings = TrainSettings {
            epochs: 100,
            ..TrainSettings::default()
        };
        let head = train(&data, with_kinds, settings);
        assert_eq!(head.danger.classes, 4);
        for (text, danger) in [
            ("alpha", true),
            ("bravo", true),
            ("charlie", false),
            ("delta", false),
        ] {
            let scores = head.score(&head.features(text, None));
            assert_eq!(scores.danger > 0.5, danger, "{text}: {scores:?}");
        }
        // Three crisis kinds against one calm one: a text the head cannot read is even
        // odds, not 3:1 towards danger.
        let uneven = vec![
            example(
                &blank,
                "alpha plan",
                Some(RiskCategory::SuicidalIdeation),
                Severity::Imminent,
            ),
            example(
                &blank,
                "bravo passive",
                Some(RiskCategory::SuicidalIdeation),
                Severity::Elevated,
            ),
            example(
                &blank,
                "echo means",
                Some(RiskCategory::SuicidalIdeation),
                Severity::Imminent,
            ),
            example(&blank, "charlie idiom", None, Severity::None),
            example(&blank, "delta idiom", None, Severity::None),
        ];
        let labelled: Vec<(&str, bool)> = uneven
            .iter()
            .map(|e| (e.kind.as_str(), e.category.is_some()))
            .collect();
        let mut uneven_card = card(true);
        uneven_card.danger_kinds = Some(DangerKinds::of(&labelled));
        let uneven_head = train(&uneven, uneven_card, settings);
        let unknown = uneven_head
            .score(&uneven_head.features("zzzz", None))
            .danger;
        assert!((0.4..=0.6).contains(&unknown), "{unknown}");

        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let dir = dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default();
        assert!(head.save(&dir).is_ok());
        let loaded = Head::load(&dir).map_err(|e| e.to_string());
        assert_eq!(
            loaded.as_ref().map(|h| h.card.danger_kinds.clone()),
            Ok(head.card.danger_kinds.clone())
        );
        let again = loaded.map(|h| h.score(&h.features("bravo", None)));
        assert_eq!(again, Ok(head.score(&head.features("bravo", None))));
    }

    /// The real all-MiniLM-L6-v2, when `scripts/ensure-safety-model.sh` has provided it
    /// (`make test` does; a plain `cargo test` without it skips this).
    fn real_model() -> Option<Embedder> {
        let dir = std::env::var("SAFETY_MODEL_DIR").ok()?;
        Embedder::load(Path::new(&dir)).ok()
    }

    #[test]
    fn real_embeddings_are_unit_vectors_that_put_like_meanings_together() {
        let Some(embedder) = real_model() else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide SAFETY_MODEL_DIR"
            );
            return;
        };
        let texts = [
            "I want to die",
            "I wish I were dead",
            "Here is my grandmother's pizza recipe",
        ];
        let vectors = embedder.embed(&texts).unwrap_or_default();
        assert_eq!(vectors.len(), 3);
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        for v in &vectors {
            assert_eq!(v.len(), DIM);
            assert!((dot(v, v) - 1.0).abs() < 1e-4);
        }
        let close = dot(&vectors[0], &vectors[1]);
        let far = dot(&vectors[0], &vectors[2]);
        assert!(close > 0.6 && far < 0.2, "close {close}, far {far}");
        // Padding in a batch does not change a text's embedding.
        let alone = embedder.embed(&texts[..1]).unwrap_or_default();
        assert!(dot(&alone[0], &vectors[0]) > 0.9999);
    }

    #[test]
    fn a_missing_model_or_head_is_named_in_the_error() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let dir = dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default();
        let embedder = Embedder::load(&dir).err().map(|e| e.to_string());
        assert!(embedder.is_some_and(|e| e.contains("config.json") && e.contains("missing")));
        let head = Head::load(&dir).err().map(|e| e.to_string());
        assert!(head.is_some_and(|e| e.contains("head.json")));
    }
}
