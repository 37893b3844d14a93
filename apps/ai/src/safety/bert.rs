//! The sentence-embedding model's encoder (BERT, as all-MiniLM-L6-v2 is built), written
//! here rather than taken from candle-transformers so that its top layers can carry
//! low-rank adapters (LoRA): `solace safety train` fits them on Solace's labelled
//! messages with the lower layers frozen, and loading merges them into the weights, so
//! the tuned model costs exactly what the plain one does.
//!
//! Two paths through each layer: the fast one (fused layer norm and softmax) for
//! inference, and one made of differentiable operations for training the adapters.

use std::collections::HashMap;
use std::ops::Range;

use candle_core::{DType, Device, Module, Tensor, Var, D};
use serde::Deserialize;

/// The fields of the model's `config.json` the encoder needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_act() -> String {
    "gelu".into()
}

/// The projections of one layer that adapters can be put on, by their weight names.
pub const TARGETS: [&str; 6] = [
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
];

fn take(tensors: &mut HashMap<String, Tensor>, name: &str) -> candle_core::Result<Tensor> {
    tensors
        .remove(name)
        .ok_or_else(|| candle_core::Error::Msg(format!("the model has no tensor {name}")))
}

#[derive(Debug, Clone)]
struct Linear {
    weight: Tensor, // out × in
    bias: Tensor,
}

impl Linear {
    fn load(tensors: &mut HashMap<String, Tensor>, name: &str) -> candle_core::Result<Self> {
        Ok(Self {
            weight: take(tensors, &format!("{name}.weight"))?,
            bias: take(tensors, &format!("{name}.bias"))?,
        })
    }

    fn forward(&self, x: &Tensor, lora: Option<&Lora>) -> candle_core::Result<Tensor> {
        let base = x
            .broadcast_matmul(&self.weight.t()?)?
            .broadcast_add(&self.bias)?;
        match lora {
            None => Ok(base),
            Some(lora) => {
                let low = x.broadcast_matmul(&lora.a.as_tensor().t()?)?;
                let delta = low.broadcast_matmul(&lora.b.as_tensor().t()?)?;
                base + (delta * lora.scale)?
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl Norm {
    fn load(
        tensors: &mut HashMap<String, Tensor>,
        name: &str,
        eps: f64,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            weight: take(tensors, &format!("{name}.weight"))?,
            bias: take(tensors, &format!("{name}.bias"))?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor, differentiable: bool) -> candle_core::Result<Tensor> {
        if !differentiable {
            return candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps as f32);
        }
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
        centred
            .broadcast_div(&(variance + self.eps)?.sqrt()?)?
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

/// A low-rank adapter on one projection: `W + scale · B·A`.
#[derive(Debug)]
pub struct Lora {
    pub a: Var, // rank × in
    pub b: Var, // out × rank
    pub scale: f64,
}

#[derive(Debug, Clone)]
struct Layer {
    projections: Vec<Linear>, // in the order of TARGETS
    attention_norm: Norm,
    output_norm: Norm,
}

impl Layer {
    fn forward(
        &self,
        x: &Tensor,
        mask_bias: &Tensor,
        heads: usize,
        loras: Option<&[Lora]>,
    ) -> candle_core::Result<Tensor> {
        let differentiable = loras.is_some();
        let project =
            |i: usize, input: &Tensor| self.projections[i].forward(input, loras.map(|l| &l[i]));
        let (batch, seq, hidden) = x.dims3()?;
        let per_head = hidden / heads;
        let split = |t: Tensor| {
            t.reshape((batch, seq, heads, per_head))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(project(0, x)?)?;
        let k = split(project(1, x)?)?;
        let v = split(project(2, x)?)?;
        let scores = (q.matmul(&k.t()?)? / (per_head as f64).sqrt())?.broadcast_add(mask_bias)?;
        let weights = if differentiable {
            candle_nn::ops::softmax(&scores, D::Minus1)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        let context = weights
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch, seq, hidden))?;
        let attended = self
            .attention_norm
            .forward(&(project(3, &context)? + x)?, differentiable)?;
        let inner = project(4, &attended)?.gelu_erf()?;
        self.output_norm
            .forward(&(project(5, &inner)? + attended)?, differentiable)
    }
}

/// The encoder.
#[derive(Debug, Clone)]
pub struct Bert {
    words: Tensor,
    positions: Tensor,
    token_type: Tensor, // the first token type's embedding, 1 × hidden
    embedding_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
}

impl Bert {
    /// Builds the encoder from the model's tensors (the names of Hugging Face's BERT).
    pub fn load(
        mut tensors: HashMap<String, Tensor>,
        config: &Config,
    ) -> candle_core::Result<Self> {
        if config.hidden_act != "gelu" {
            return Err(candle_core::Error::Msg(format!(
                "the activation {} is not supported (gelu is)",
                config.hidden_act
            )));
        }
        if config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0 {
            return Err(candle_core::Error::Msg("bad attention head count".into()));
        }
        // Some exports prefix every name with "bert.".
        if tensors.keys().all(|k| k.starts_with("bert.")) {
            tensors = tensors
                .into_iter()
                .map(|(k, v)| (k["bert.".len()..].to_owned(), v))
                .collect();
        }
        let t = &mut tensors;
        let eps = config.layer_norm_eps;
        let token_type = take(t, "embeddings.token_type_embeddings.weight")?.narrow(0, 0, 1)?;
        let mut bert = Self {
            words: take(t, "embeddings.word_embeddings.weight")?,
            positions: take(t, "embeddings.position_embeddings.weight")?,
            token_type,
            embedding_norm: Norm::load(t, "embeddings.LayerNorm", eps)?,
            layers: Vec::with_capacity(config.num_hidden_layers),
            heads: config.num_attention_heads,
        };
        for i in 0..config.num_hidden_layers {
            let prefix = format!("encoder.layer.{i}");
            let projections = TARGETS
                .iter()
                .map(|name| Linear::load(t, &format!("{prefix}.{name}")))
                .collect::<candle_core::Result<Vec<_>>>()?;
            bert.layers.push(Layer {
                projections,
                attention_norm: Norm::load(
                    t,
                    &format!("{prefix}.attention.output.LayerNorm"),
                    eps,
                )?,
                output_norm: Norm::load(t, &format!("{prefix}.output.LayerNorm"), eps)?,
            });
        }
        Ok(bert)
    }

    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    pub fn hidden_size(&self) -> usize {
        self.words.dim(1).unwrap_or(0)
    }

    /// Shapes of a projection's weight (out, in), for making adapters.
    pub fn projection_shape(
        &self,
        layer: usize,
        target: usize,
    ) -> candle_core::Result<(usize, usize)> {
        self.layers
            .get(layer)
            .and_then(|l| l.projections.get(target))
            .ok_or_else(|| candle_core::Error::Msg(format!("no projection {layer}.{target}")))?
            .weight
            .dims2()
    }

    /// Token embeddings (batch × seq × hidden) for token ids (batch × seq).
    pub fn embed_tokens(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, seq) = ids.dims2()?;
        let words = self
            .words
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((batch, seq, ()))?;
        let positions = self.positions.narrow(0, 0, seq)?;
        let x = words
            .broadcast_add(&positions)?
            .broadcast_add(&self.token_type)?;
        self.embedding_norm.forward(&x, false)
    }

    /// Runs layers `range` over hidden states; with adapters (one set of `TARGETS.len()`
    /// per layer in the range) through the differentiable path.
    pub fn run(
        &self,
        mut x: Tensor,
        mask_bias: &Tensor,
        range: Range<usize>,
        adapters: Option<&[Vec<Lora>]>,
    ) -> candle_core::Result<Tensor> {
        for (n, i) in range.enumerate() {
            let layer = self
                .layers
                .get(i)
                .ok_or_else(|| candle_core::Error::Msg(format!("no layer {i}")))?;
            x = layer.forward(&x, mask_bias, self.heads, adapters.map(|a| a[n].as_slice()))?;
        }
        Ok(x)
    }

    /// The whole encoder: last hidden states for ids and attention mask (batch × seq).
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.embed_tokens(ids)?;
        self.run(x, &mask_bias(mask)?, 0..self.layers.len(), None)
    }

    /// Adds trained adapters into the weights: `W ← W + scale · B·A`.
    pub fn merge(&mut self, adapter: &Adapter) -> candle_core::Result<()> {
        for (&layer, loras) in adapter.layers.iter().zip(adapter.loras()?) {
            let target = self.layers.get_mut(layer).ok_or_else(|| {
                candle_core::Error::Msg(format!("the adapter names layer {layer}"))
            })?;
            for (projection, lora) in target.projections.iter_mut().zip(loras) {
                let delta = (lora.b.as_tensor().matmul(lora.a.as_tensor())? * lora.scale)?;
                projection.weight = (&projection.weight + delta)?;
            }
        }
        Ok(())
    }
}

/// The additive attention mask (batch × 1 × 1 × seq): 0 for tokens, −10⁴ for padding.
pub fn mask_bias(mask: &Tensor) -> candle_core::Result<Tensor> {
    let (batch, seq) = mask.dims2()?;
    ((mask.to_dtype(DType::F32)?.ones_like()? - mask.to_dtype(DType::F32)?)? * -10_000.0)?
        .reshape((batch, 1, 1, seq))
}

/// Mean over the real tokens, then unit length: the sentence embedding.
pub fn pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    mean.broadcast_div(&norms)
}

/// Trained low-rank adapters for some of the encoder's top layers, as stored in
/// `adapter.safetensors` (`layer.{i}.{target}.a` and `.b`).
#[derive(Debug, Clone)]
pub struct Adapter {
    pub layers: Vec<usize>,
    pub rank: usize,
    pub alpha: f64,
    pub tensors: HashMap<String, Tensor>,
}

impl Adapter {
    pub fn name(layer: usize, target: usize, part: &str) -> String {
        format!("layer.{layer}.{}.{part}", TARGETS[target])
    }

    /// The adapters as `Lora`s, one set per layer in `layers`.
    pub fn loras(&self) -> candle_core::Result<Vec<Vec<Lora>>> {
        let scale = self.alpha / self.rank.max(1) as f64;
        self.layers
            .iter()
            .map(|&layer| {
                (0..TARGETS.len())
                    .map(|target| {
                        let get = |part: &str| {
                            self.tensors
                                .get(&Self::name(layer, target, part))
                                .cloned()
                                .ok_or_else(|| {
                                    candle_core::Error::Msg(format!(
                                        "the adapter has no {}",
                                        Self::name(layer, target, part)
                                    ))
                                })
                        };
                        Ok(Lora {
                            a: Var::from_tensor(&get("a")?)?,
                            b: Var::from_tensor(&get("b")?)?,
                            scale,
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// Fresh adapters for training: A from a seeded uniform draw (Kaiming-like), B zero,
    /// so the tuned model starts exactly as the plain one.
    pub fn fresh(
        bert: &Bert,
        top: usize,
        rank: usize,
        alpha: f64,
        seed: u64,
    ) -> candle_core::Result<Self> {
        let count = bert.layer_count();
        let layers: Vec<usize> = (count.saturating_sub(top)..count).collect();
        let mut random = Xorshift::new(seed);
        let mut tensors = HashMap::new();
        for &layer in &layers {
            for target in 0..TARGETS.len() {
                let (out, inp) = bert.projection_shape(layer, target)?;
                let bound = (1.0 / inp as f32).sqrt();
                let a: Vec<f32> = (0..rank * inp).map(|_| random.uniform() * bound).collect();
                tensors.insert(
                    Self::name(layer, target, "a"),
                    Tensor::from_vec(a, (rank, inp), &Device::Cpu)?,
                );
                tensors.insert(
                    Self::name(layer, target, "b"),
                    Tensor::zeros((out, rank), DType::F32, &Device::Cpu)?,
                );
            }
        }
        Ok(Self {
            layers,
            rank,
            alpha,
            tensors,
        })
    }

    /// A copy of training adapters' current values (training goes on changing them).
    pub fn snapshot(
        layers: &[usize],
        rank: usize,
        alpha: f64,
        loras: &[Vec<Lora>],
    ) -> candle_core::Result<Self> {
        let mut tensors = HashMap::new();
        for (&layer, set) in layers.iter().zip(loras) {
            for (target, lora) in set.iter().enumerate() {
                tensors.insert(Self::name(layer, target, "a"), lora.a.as_tensor().copy()?);
                tensors.insert(Self::name(layer, target, "b"), lora.b.as_tensor().copy()?);
            }
        }
        Ok(Self {
            layers: layers.to_vec(),
            rank,
            alpha,
            tensors,
        })
    }
}

/// xorshift64*: a seeded generator that gives the same numbers on every machine, so
/// the same seed gives the same adapters and the same training order.
pub struct Xorshift(u64);

impl Xorshift {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    #[allow(clippy::should_implement_trait)] // not an iterator: it never ends
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in [−1, 1), from the top 24 bits of the next draw.
    pub fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// A plain linear map as a `Module`, for the training head.
pub struct Dense {
    pub weight: Var, // out × in
    pub bias: Var,
}

impl Module for Dense {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight.as_tensor().t()?)?
            .broadcast_add(self.bias.as_tensor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small random BERT (2 layers, width 8, 2 heads) with Hugging Face's tensor names.
    fn tiny() -> candle_core::Result<(Bert, Config)> {
        let config = Config {
            hidden_size: 8,
            intermediate_size: 16,
            num_attention_heads: 2,
            num_hidden_layers: 2,
            layer_norm_eps: 1e-12,
            hidden_act: "gelu".into(),
        };
        let mut seed = 1u64;
        let mut random = |shape: &[usize]| {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.8
                })
                .collect();
            Tensor::from_vec(values, shape, &Device::Cpu)
        };
        let mut t = HashMap::new();
        t.insert(
            "embeddings.word_embeddings.weight".into(),
            random(&[20, 8])?,
        );
        t.insert(
            "embeddings.position_embeddings.weight".into(),
            random(&[16, 8])?,
        );
        t.insert(
            "embeddings.token_type_embeddings.weight".into(),
            random(&[2, 8])?,
        );
        let norm = |t: &mut HashMap<String, Tensor>, name: &str| -> candle_core::Result<()> {
            t.insert(
                format!("{name}.weight"),
                Tensor::ones(8, DType::F32, &Device::Cpu)?,
            );
            t.insert(
                format!("{name}.bias"),
                Tensor::zeros(8, DType::F32, &Device::Cpu)?,
            );
            Ok(())
        };
        norm(&mut t, "embeddings.LayerNorm")?;
        for layer in 0..2 {
            for (target, (out, inp)) in
                TARGETS
                    .iter()
                    .zip([(8, 8), (8, 8), (8, 8), (8, 8), (16, 8), (8, 16)])
            {
                let name = format!("encoder.layer.{layer}.{target}");
                t.insert(format!("{name}.weight"), random(&[out, inp])?);
                t.insert(format!("{name}.bias"), random(&[out])?);
            }
            norm(
                &mut t,
                &format!("encoder.layer.{layer}.attention.output.LayerNorm"),
            )?;
            norm(&mut t, &format!("encoder.layer.{layer}.output.LayerNorm"))?;
        }
        Ok((Bert::load(t, &config)?, config))
    }

    fn max_difference(a: &Tensor, b: &Tensor) -> candle_core::Result<f32> {
        (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
    }

    #[test]
    fn training_with_adapters_matches_the_merged_model_and_reaches_them() -> candle_core::Result<()>
    {
        let (bert, _) = tiny()?;
        let ids = Tensor::new(&[[1u32, 5, 7, 2, 0], [1, 9, 3, 11, 2]], &Device::Cpu)?;
        let mask = Tensor::new(&[[1u32, 1, 1, 1, 0], [1, 1, 1, 1, 1]], &Device::Cpu)?;
        let bias = mask_bias(&mask)?;
        let x = bert.embed_tokens(&ids)?;

        // Adapters with B set to something non-zero, so they change the output.
        let mut adapter = Adapter::fresh(&bert, 1, 2, 4.0, 3)?;
        for (name, tensor) in adapter.tensors.iter_mut() {
            if name.ends_with(".b") {
                *tensor = (tensor.ones_like()? * 0.05)?;
            }
        }
        let loras = adapter.loras()?;
        let trained = bert.run(x.clone(), &bias, 0..1, None)?;
        let trained = bert.run(trained, &bias, 1..2, Some(&loras))?;
        let mut merged = bert.clone();
        merged.merge(&adapter)?;
        let fast = merged.forward(&ids, &mask)?;
        assert!(max_difference(&trained, &fast)? < 1e-4);
        // …and the adapters do change it.
        assert!(max_difference(&bert.forward(&ids, &mask)?, &fast)? > 1e-3);

        // The loss reaches every adapter, and no weight of the frozen model.
        let loss = pool(&trained, &mask)?.sum_all()?;
        let grads = loss.backward()?;
        for lora in loras.iter().flatten() {
            let grad = grads
                .get(lora.a.as_tensor())
                .ok_or_else(|| candle_core::Error::Msg("no gradient for A".into()))?;
            assert!(grad.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0);
        }
        Ok(())
    }

    #[test]
    fn the_differentiable_path_equals_the_fast_one() -> candle_core::Result<()> {
        let (bert, _) = tiny()?;
        let ids = Tensor::new(&[[1u32, 4, 6, 2]], &Device::Cpu)?;
        let mask = Tensor::new(&[[1u32, 1, 1, 1]], &Device::Cpu)?;
        let zero = Adapter::fresh(&bert, 2, 2, 4.0, 9)?; // B = 0: no change
        let slow = bert.run(
            bert.embed_tokens(&ids)?,
            &mask_bias(&mask)?,
            0..2,
            Some(&zero.loras()?),
        )?;
        assert!(max_difference(&slow, &bert.forward(&ids, &mask)?)? < 1e-4);
        Ok(())
    }

    #[test]
    fn a_model_missing_a_tensor_is_refused_by_name() -> candle_core::Result<()> {
        let config = Config {
            hidden_size: 8,
            intermediate_size: 16,
            num_attention_heads: 2,
            num_hidden_layers: 1,
            layer_norm_eps: 1e-12,
            hidden_act: "gelu".into(),
        };
        let error = Bert::load(HashMap::new(), &config)
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("embeddings.token_type_embeddings.weight")));
        Ok(())
    }
}
