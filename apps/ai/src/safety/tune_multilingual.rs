//! Tuning the multilingual encoder for the task: low-rank adapters on the top of USE
//! multilingual v3 (its pooling projection and six dense layers, `multilingual::TUNABLE`)
//! trained with a small danger/category/severity classifier, as `tune.rs` does for the
//! BERT encoder. Everything below the top is computed once per message; an epoch is then
//! a few seconds. The epoch with the lowest validation danger loss is kept, and the
//! adapters are merged into the weights when the encoder loads.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::Module;
use serde::Serialize;

use super::bert::{Dense, Xorshift};
use super::eval::Labelled;
use super::learned::LearnedError;
use super::multilingual::{self, Adapter, LowRank, Multilingual, Summed, TUNABLE};
use super::tune::{
    danger_weights, shuffled, task_loss, train_adapters, Split, Trainable, OUTPUTS, POOL_SCALE,
};

/// Settings of a tuning run; the defaults made the shipped adapters.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Settings {
    pub rank: usize,
    pub alpha: f64,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub head_learning_rate: f64,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rank: 8,
            alpha: 16.0,
            epochs: 8,
            batch: 32,
            learning_rate: 1e-3,
            head_learning_rate: 1e-2,
            seed: 0x5afe_5eed,
        }
    }
}

/// The tuned adapters and the record of the run.
pub struct Tuned {
    pub adapter: Adapter,
    pub record: serde_json::Value,
}

struct Model<'a> {
    encoder: &'a Multilingual,
    lora: HashMap<String, (Var, Var)>,
    scale: f64,
    head: Dense,
    danger_weights: [f32; 2],
}

impl Model<'_> {
    fn loss(
        &self,
        summed: &[Summed],
        rows: &[Labelled],
        indices: &[usize],
    ) -> candle_core::Result<(Tensor, f32)> {
        let lora: LowRank = self
            .lora
            .iter()
            .map(|(k, (a, b))| (k.clone(), (a.as_tensor().clone(), b.as_tensor().clone())))
            .collect();
        let batch: Vec<&Summed> = indices.iter().map(|&i| &summed[i]).collect();
        let z = (self.encoder.top(&batch, Some((&lora, self.scale)))? * POOL_SCALE)?;
        task_loss(&self.head.forward(&z)?, rows, indices, self.danger_weights)
    }

    fn snapshot(&self, settings: &Settings) -> candle_core::Result<Adapter> {
        let mut tensors = HashMap::new();
        for (target, (a, b)) in &self.lora {
            tensors.insert(format!("{target}.a"), a.as_tensor().copy()?);
            tensors.insert(format!("{target}.b"), b.as_tensor().copy()?);
        }
        Ok(Adapter {
            rank: settings.rank,
            alpha: settings.alpha,
            tensors,
        })
    }
}

fn all_summed(
    encoder: &Multilingual,
    rows: &[Labelled],
    mut progress: impl FnMut(usize),
) -> candle_core::Result<Vec<Summed>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(encoder.summed(&row.text)?);
        if out.len() % 256 == 0 || out.len() == rows.len() {
            progress(out.len());
        }
    }
    Ok(out)
}

/// Trains the adapters. `progress` gets (what, done, total).
pub fn tune(
    encoder: &Multilingual,
    train: &[Labelled],
    validation: &[Labelled],
    settings: Settings,
    mut progress: impl FnMut(&str, usize, usize),
) -> Result<Tuned, LearnedError> {
    let train_summed = all_summed(encoder, train, |done| {
        progress("tune: encoder (train)", done, train.len())
    })?;
    let validation_summed = all_summed(encoder, validation, |done| {
        progress("tune: encoder (validation)", done, validation.len())
    })?;
    // Seeded initialisation: a uniform in ±1/√in, b zeros (the tuning starts from the
    // encoder as published).
    let mut random = Xorshift::new(settings.seed);
    let mut lora = HashMap::new();
    for target in TUNABLE {
        let (inp, out) = encoder.shape(target)?;
        let bound = (1.0 / inp as f32).sqrt();
        let a: Vec<f32> = (0..inp * settings.rank)
            .map(|_| random.uniform() * bound)
            .collect();
        lora.insert(
            target.to_owned(),
            (
                Var::from_tensor(&Tensor::from_vec(a, (inp, settings.rank), &Device::Cpu)?)?,
                Var::zeros((settings.rank, out), DType::F32, &Device::Cpu)?,
            ),
        );
    }
    let model = Model {
        encoder,
        scale: settings.alpha / settings.rank as f64,
        head: Dense {
            weight: Var::zeros((OUTPUTS, multilingual::DIM), DType::F32, &Device::Cpu)?,
            bias: Var::zeros(OUTPUTS, DType::F32, &Device::Cpu)?,
        },
        danger_weights: danger_weights(train),
        lora,
    };
    // The adapters in a fixed order, so the optimizer's work is the same every run.
    let adapter_vars: Vec<Var> = TUNABLE
        .iter()
        .filter_map(|t| model.lora.get(*t))
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    let (epochs, kept, adapter) = train_adapters(
        Trainable {
            adapters: adapter_vars,
            head: &model.head,
            learning_rate: settings.learning_rate,
            head_learning_rate: settings.head_learning_rate,
            epochs: settings.epochs,
        },
        |epoch| {
            shuffled(train.len(), settings.seed.wrapping_add(epoch as u64))
                .chunks(settings.batch.max(1))
                .map(<[usize]>::to_vec)
                .collect()
        },
        |split, indices| match split {
            Split::Train => model.loss(&train_summed, train, indices),
            Split::Validation => model.loss(&validation_summed, validation, indices),
        },
        (validation.len(), 256),
        || model.snapshot(&settings),
        &mut progress,
    )?;
    Ok(Tuned {
        adapter,
        record: serde_json::json!({
            "encoder": multilingual::MODEL_NAME,
            "targets": TUNABLE,
            "settings": settings,
            "epochs": epochs,
            "kept_epoch": kept,
            "rule": "the epoch with the lowest danger loss on the validation set",
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real encoder (CI always has it; `make test` provides it).
    fn encoder() -> Option<Multilingual> {
        let dir = std::env::var_os("SAFETY_MULTILINGUAL_DIR")?;
        Some(Multilingual::load(std::path::Path::new(&dir)).expect("the encoder loads"))
    }

    fn random_adapter(encoder: &Multilingual) -> candle_core::Result<Adapter> {
        let mut random = Xorshift::new(42);
        let mut next = move || (random.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        let mut tensors = HashMap::new();
        for target in TUNABLE {
            let (inp, out) = encoder.shape(target)?;
            let a: Vec<f32> = (0..inp * 4).map(|_| next() * 0.1).collect();
            let b: Vec<f32> = (0..4 * out).map(|_| next() * 0.1).collect();
            tensors.insert(
                format!("{target}.a"),
                Tensor::from_vec(a, (inp, 4), &Device::Cpu)?,
            );
            tensors.insert(
                format!("{target}.b"),
                Tensor::from_vec(b, (4, out), &Device::Cpu)?,
            );
        }
        Ok(Adapter {
            rank: 4,
            alpha: 8.0,
            tensors,
        })
    }

    #[test]
    fn the_training_path_equals_the_merged_encoder_and_the_loss_reaches_every_adapter(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let Some(encoder) = encoder() else {
            assert!(
                std::env::var("CI").is_err(),
                "SAFETY_MULTILINGUAL_DIR must be set in CI"
            );
            return Ok(());
        };
        let adapter = random_adapter(&encoder)?;
        let texts = [
            "Ich will nicht mehr leben",
            "what a lovely morning",
            "¿dónde?",
        ];
        let summed: Vec<Summed> = texts
            .iter()
            .map(|t| encoder.summed(t))
            .collect::<candle_core::Result<_>>()?;
        let batch: Vec<&Summed> = summed.iter().collect();
        let lora: LowRank = TUNABLE
            .iter()
            .map(|t| {
                let a = adapter.tensors[&format!("{t}.a")].clone();
                let b = adapter.tensors[&format!("{t}.b")].clone();
                ((*t).to_owned(), (a, b))
            })
            .collect();
        let training = encoder.top(&batch, Some((&lora, adapter.alpha / adapter.rank as f64)))?;
        let mut merged = encoder.clone();
        merged.merge(&adapter)?;
        let served = merged.embed(&texts)?;
        let training = training.to_vec2::<f32>()?;
        for (a, b) in training.iter().zip(&served) {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!(dot > 0.9999, "{dot}");
        }
        // The adapters change the vectors (so the test above is not vacuous).
        let plain = encoder.embed(&texts)?;
        let dot: f32 = plain[0].iter().zip(&served[0]).map(|(x, y)| x * y).sum();
        assert!(dot < 0.999, "{dot}");

        // A loss through the training path reaches every adapter.
        let vars: HashMap<String, (Var, Var)> = lora
            .iter()
            .map(|(k, (a, b))| Ok((k.clone(), (Var::from_tensor(a)?, Var::from_tensor(b)?))))
            .collect::<candle_core::Result<_>>()?;
        let as_tensors: LowRank = vars
            .iter()
            .map(|(k, (a, b))| (k.clone(), (a.as_tensor().clone(), b.as_tensor().clone())))
            .collect();
        let out = encoder.top(&batch, Some((&as_tensors, 2.0)))?;
        let grads = out.sum_all()?.backward()?;
        for (target, (a, b)) in &vars {
            for var in [a, b] {
                let grad = grads.get(var.as_tensor()).expect("a gradient");
                assert!(grad.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0, "{target}");
            }
        }
        Ok(())
    }
}
