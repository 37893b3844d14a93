//! Training the learned layer's head, reproducibly: `solace safety train`.
//!
//! Reads `train.tsv` and `validation.tsv`, embeds every message with the embedding
//! model, fits the head from zero weights (full-batch, fixed order: the same inputs
//! give the same bytes), then picks the alarm threshold on the validation set: the
//! lowest threshold at which rules and head together raise no more than
//! `TARGET_FALSE_ALARMS` on its hard negatives. The held-out set is never read here.

use std::borrow::Cow;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::assessment::{Assessment, Severity};
use super::eval::{Labelled, HARD_NEGATIVES};
use super::learned::{
    self, AdapterCard, DangerKinds, Embedder, Example, Head, HeadCard, LearnedError, Scores,
    TrainSettings, TunedCard,
};
use super::multilingual::{self, Multilingual};
use super::rules;
use super::tune::TuneSettings;

/// The false-alarm rate on validation hard negatives the head may add to the rules' at
/// its alarm threshold.
pub const TARGET_FALSE_ALARMS: f64 = 0.02;
/// The share of validation crises all layers must still catch at the check-in
/// threshold, which is otherwise as high (as few false alarms) as it can be: above the
/// 0.95 target, because validation is the harder set.
pub const TARGET_CHECK_IN_RECALL: f64 = 0.97;
/// The check-in threshold is never lower than the one at which all layers keep false
/// alarms on validation hard negatives within this: a check-in costs one gentle
/// question, a miss far more, but not without limit.
pub const TARGET_CHECK_IN_FALSE_ALARMS: f64 = 0.10;
/// The share of validation messages at elevated risk that may be read as imminent (and
/// so get the crisis card rather than the check-in) at the imminent threshold.
pub const TARGET_SEVERITY_OVERCALL: f64 = 0.15;
/// The head overrules a rule below this P(danger) (on validation, rules overruled below
/// 0.3 lost no crisis the head did not catch and half their false alarms).
pub const OVERRULE_BELOW: f32 = 0.3;

/// What a training run reads.
pub struct TrainingData<'a> {
    pub train: &'a [Labelled],
    pub validation: &'a [Labelled],
    /// SHA-256 of the two files, recorded in the head's card.
    pub train_sha256: String,
    pub validation_sha256: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Embeds texts in batches of 32 with `embed` (vectors of `dim` numbers), reporting
/// progress as (done, total). The vectors are kept in the temporary folder under a hash
/// of the texts (and the model's identity), so training again on the same data does
/// not embed it again.
pub fn embed_all(
    embed: impl Fn(&[&str]) -> Result<Vec<Vec<f32>>, LearnedError>,
    dim: usize,
    model_key: &str,
    texts: &[&str],
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Vec<f32>>, LearnedError> {
    let mut hasher = Sha256::new();
    hasher.update(model_key.as_bytes());
    for text in texts {
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    let key: String = hasher
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    let cache = std::env::temp_dir().join(format!("solace-safety-embeddings-{key}.f32"));
    if let Ok(bytes) = std::fs::read(&cache) {
        if bytes.len() == texts.len() * dim * 4 {
            progress(texts.len(), texts.len());
            return Ok(bytes
                .chunks_exact(dim * 4)
                .map(|row| {
                    row.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect()
                })
                .collect());
        }
    }
    let mut out = Vec::with_capacity(texts.len());
    for batch in texts.chunks(32) {
        out.extend(embed(batch)?);
        progress(out.len(), texts.len());
    }
    let bytes: Vec<u8> = out.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
    if let Err(error) = std::fs::write(&cache, bytes) {
        tracing::warn!(%error, "could not keep the embeddings for the next run");
    }
    Ok(out)
}

/// Trains heads with each L2 penalty in `L2_CHOICES` and keeps, among those that catch
/// the target share of validation crises at their thresholds, the one with the fewest
/// false alarms on validation hard negatives (else the one that catches the most;
/// ties: the stronger penalty).
pub const L2_CHOICES: [f32; 5] = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

/// Trains a head. It reads n-grams and the vectors of the encoders given (with the
/// SHA-256 of each one's weights): the BERT encoder, the multilingual one, both or
/// neither (kept for comparison: how much each adds). With tune settings the BERT
/// encoder's top layers are tuned first (`tune.rs`) and the head reads the tuned
/// embeddings. With `by_kind` the danger head tells apart the kinds of message in the
/// training data (see `DangerKinds`) rather than danger from calm alone.
pub fn train(
    data: &TrainingData<'_>,
    embedder: Option<(&Embedder, String)>,
    multilingual: Option<(&Multilingual, String)>,
    settings: TrainSettings,
    tune: Option<TuneSettings>,
    by_kind: bool,
    mut progress: impl FnMut(&str, usize, usize),
) -> Result<Head, LearnedError> {
    let mut adapter = None;
    let mut tuning = serde_json::Value::Null;
    let embedder = match (embedder, tune) {
        (Some((plain, sha)), Some(tune)) => {
            let tuned = super::tune::tune(plain, data.train, data.validation, tune, &mut progress)?;
            // The card records the SHA-256 of the file `Head::save` writes: the same bytes.
            let bytes = safetensors::serialize(&tuned.adapter.tensors, None)
                .map_err(|e| LearnedError::Model(e.to_string()))?;
            let adapter_sha = sha256_hex(&bytes);
            let model = Cow::Owned(plain.clone().with_adapter(&tuned.adapter)?);
            adapter = Some((
                AdapterCard {
                    layers: tuned.adapter.layers.clone(),
                    rank: tuned.adapter.rank,
                    alpha: tuned.adapter.alpha,
                    sha256: adapter_sha.clone(),
                },
                tuned.adapter,
            ));
            tuning = tuned.record;
            Some((model, format!("{sha}+{adapter_sha}"), sha))
        }
        (Some((plain, sha)), None) => Some((Cow::Borrowed(plain), sha.clone(), sha)),
        (None, _) => None,
    };
    // The multilingual encoder, tuned the same way when tuning is asked for.
    let mut multilingual_adapter = None;
    let mut multilingual_tuning = serde_json::Value::Null;
    let multilingual: Option<(Cow<'_, Multilingual>, String, String)> = match (multilingual, tune) {
        (Some((plain, sha)), Some(_)) => {
            let tuned = super::tune_multilingual::tune(
                plain,
                data.train,
                data.validation,
                super::tune_multilingual::Settings::default(),
                &mut progress,
            )?;
            let bytes = safetensors::serialize(&tuned.adapter.tensors, None)
                .map_err(|e| LearnedError::Model(e.to_string()))?;
            let adapter_sha = sha256_hex(&bytes);
            let mut merged = plain.clone();
            merged.merge(&tuned.adapter)?;
            multilingual_tuning = tuned.record;
            multilingual_adapter = Some((
                TunedCard {
                    rank: tuned.adapter.rank,
                    alpha: tuned.adapter.alpha,
                    sha256: adapter_sha.clone(),
                },
                tuned.adapter,
            ));
            Some((Cow::Owned(merged), format!("{sha}+{adapter_sha}"), sha))
        }
        (Some((plain, sha)), None) => Some((Cow::Borrowed(plain), sha.clone(), sha)),
        (None, _) => None,
    };
    let embed = |rows: &[Labelled], what: &str, progress: &mut dyn FnMut(&str, usize, usize)| {
        let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
        let mut vectors: Vec<Vec<f32>> = match &embedder {
            Some((e, key, _)) => embed_all(
                |t| e.embed(t),
                learned::DIM,
                key,
                &texts,
                |done, total| progress(what, done, total),
            )?,
            None => vec![Vec::new(); rows.len()],
        };
        if let Some((m, key, _)) = &multilingual {
            let what = format!("{what} (multilingual)");
            let more = embed_all(
                |t| m.embed(t),
                multilingual::DIM,
                key,
                &texts,
                |done, total| progress(&what, done, total),
            )?;
            for (row, more) in vectors.iter_mut().zip(more) {
                row.extend(more);
            }
        }
        let any = embedder.is_some() || multilingual.is_some();
        Ok::<_, LearnedError>(
            vectors
                .into_iter()
                .map(|v| any.then_some(v))
                .collect::<Vec<_>>(),
        )
    };
    let train_embeddings = embed(data.train, "train", &mut progress)?;
    let validation_embeddings = embed(data.validation, "validation", &mut progress)?;
    let card = HeadCard {
        embedding_model: embedder.as_ref().map(|_| learned::MODEL_REPO.to_owned()),
        embedding_sha256: embedder.as_ref().map(|(_, _, sha)| sha.clone()),
        multilingual_model: multilingual
            .as_ref()
            .map(|_| multilingual::MODEL_NAME.to_owned()),
        multilingual_sha256: multilingual.as_ref().map(|(_, _, sha)| sha.clone()),
        multilingual_adapter: multilingual_adapter.as_ref().map(|(card, _)| card.clone()),
        ngrams: true,
        danger_kinds: by_kind.then(|| {
            let seen: Vec<(&str, bool)> = data
                .train
                .iter()
                .map(|r| (r.kind.as_str(), r.category.is_some()))
                .collect();
            DangerKinds::of(&seen)
        }),
        threshold: 0.5,
        check_in_threshold: None,
        overrule_below: None,
        imminent_threshold: None,
        adapter: adapter.as_ref().map(|(card, _)| card.clone()),
        training: serde_json::json!({
            "tuning": tuning,
            "multilingual_tuning": multilingual_tuning,
            "train": { "file": "apps/ai/data/safety/train.tsv", "rows": data.train.len(), "sha256": data.train_sha256 },
            "validation": { "file": "apps/ai/data/safety/validation.tsv", "rows": data.validation.len(), "sha256": data.validation_sha256 },
            "settings": settings,
            "threshold_rule": format!("lowest threshold at which the head adds at most {TARGET_FALSE_ALARMS} false alarms on validation hard negatives to the rules"),
            "imminent_rule": format!("lowest P(imminent | danger) at which at most {TARGET_SEVERITY_OVERCALL} of the validation's elevated crises are read as imminent"),
            "check_in_rule": format!("highest threshold at which all layers catch at least {TARGET_CHECK_IN_RECALL} of validation crises, but not below the lowest at which they keep false alarms on validation hard negatives within {TARGET_CHECK_IN_FALSE_ALARMS}"),
            "command": "solace safety train",
        }),
    };
    let examples: Vec<Example> = data
        .train
        .iter()
        .zip(train_embeddings)
        .map(|(row, embedding)| Example {
            features: card.features(&row.text, embedding),
            category: row.category,
            severity: row.severity,
            kind: row.kind.clone(),
        })
        .collect();
    let by_rules: Vec<bool> = data
        .validation
        .iter()
        .map(|r| rules::assess(&r.text, &[]).is_crisis())
        .collect();
    // Round 6's calm short messages: a head that gives any of them the crisis card ranks
    // below every head that gives none (`solace safety train` checks the saved head
    // again through the whole detector, `Detector::carded_calm_openers`).
    let openers: Vec<Labelled> = super::detector::calm_openers();
    let opener_embeddings = embed(&openers, "calm openers", &mut progress)?;
    let opener_rules: Vec<Assessment> = openers
        .iter()
        .map(|r| rules::assess(&r.text, &[]))
        .collect();
    let mut best: Option<((bool, bool, usize, usize), Head)> = None;
    let mut tried = Vec::new();
    for (i, l2) in L2_CHOICES.into_iter().enumerate() {
        progress("fit", i, L2_CHOICES.len());
        let settings = TrainSettings { l2, ..settings };
        let mut head = learned::train(&examples, card.clone(), settings);
        let scores: Vec<Scores> = data
            .validation
            .iter()
            .zip(&validation_embeddings)
            .map(|(row, embedding)| head.score(&head.features(&row.text, embedding.clone())))
            .collect();
        head.card.overrule_below = Some(OVERRULE_BELOW);
        let rules_stand: Vec<bool> = by_rules
            .iter()
            .zip(&scores)
            .map(|(&rule, s)| rule && s.danger >= OVERRULE_BELOW)
            .collect();
        head.card.threshold = choose_threshold(data.validation, &rules_stand, &scores);
        head.card.imminent_threshold = Some(choose_imminent_threshold(data.validation, &scores));
        head.card.check_in_threshold = Some(choose_check_in_threshold(
            data.validation,
            &rules_stand,
            &scores,
            head.card.threshold,
        ));
        let flagged =
            |i: usize| rules_stand[i] || head.alarms(&scores[i]) || head.checks_in(&scores[i]);
        let crises = data.validation.iter().filter(|r| r.category.is_some());
        let caught = (0..data.validation.len())
            .filter(|&i| data.validation[i].category.is_some() && flagged(i))
            .count();
        let false_alarms = hard_negatives(data.validation)
            .into_iter()
            .filter(|&i| flagged(i))
            .count();
        let enough = caught as f64 >= TARGET_CHECK_IN_RECALL * crises.count() as f64;
        let carded_openers = openers
            .iter()
            .zip(&opener_embeddings)
            .zip(&opener_rules)
            .filter(|((row, embedding), by_rule)| {
                let s = head.score(&head.features(&row.text, (*embedding).clone()));
                gives_the_card(&head, &s, by_rule)
            })
            .count();
        // Better: no calm opener carded, then reaching the recall target, then fewer
        // false alarms, then more caught.
        let rank = (
            carded_openers == 0,
            enough,
            if enough {
                usize::MAX - false_alarms
            } else {
                caught
            },
            caught,
        );
        tried.push(serde_json::json!({ "l2": l2, "threshold": head.card.threshold, "check_in_threshold": head.card.check_in_threshold, "validation_crises_caught": caught, "validation_hard_negative_alarms": false_alarms, "calm_openers_carded": carded_openers }));
        if best.as_ref().is_none_or(|(top, _)| rank > *top) {
            head.card.training["settings"] = serde_json::json!(settings);
            best = Some((rank, head));
        }
    }
    progress("fit", L2_CHOICES.len(), L2_CHOICES.len());
    let (_, mut head) = best.ok_or_else(|| LearnedError::Model("nothing to train".into()))?;
    head.card.training["l2_search"] = serde_json::Value::Array(tried);
    head.adapter = adapter.map(|(_, adapter)| adapter);
    head.multilingual_adapter = multilingual_adapter.map(|(_, adapter)| adapter);
    Ok(head)
}

/// Whether the detector would give a message alone the crisis card, from the head's
/// scores and the rules' assessment (as `Detector::explain` combines them).
fn gives_the_card(head: &Head, scores: &Scores, by_rules: &Assessment) -> bool {
    let imminent = head.alarms(scores) && head.severity_of(scores.imminent) == Severity::Imminent;
    if by_rules.is_crisis() && !head.overrules(scores) {
        by_rules.severity == Severity::Imminent
            || (imminent && by_rules.categories.contains(&scores.category))
    } else {
        imminent
    }
}

/// The lowest threshold (in steps of 0.01) at which the head adds no more than the
/// target rate of false alarms on the validation hard negatives to those of the rules.
fn choose_threshold(rows: &[Labelled], by_rules: &[bool], scores: &[Scores]) -> f32 {
    let hard = hard_negatives(rows);
    let steps = (5..=95).map(|s| s as f32 / 100.0);
    let top = [0.97, 0.98, 0.99, 0.995, 0.999];
    for threshold in steps.chain(top) {
        let alarms = hard
            .iter()
            .filter(|&&i| !by_rules[i] && scores[i].danger >= threshold)
            .count();
        if hard.is_empty() || alarms as f64 / hard.len() as f64 <= TARGET_FALSE_ALARMS {
            return threshold;
        }
    }
    0.999
}

/// The check-in threshold (at most the alarm threshold, in steps of 0.01): the highest
/// at which rules and head together still catch the target share of validation
/// crises, but never below the lowest at which they keep false alarms on the
/// validation hard negatives within the check-in budget.
fn choose_check_in_threshold(
    rows: &[Labelled],
    rules_stand: &[bool],
    scores: &[Scores],
    alarm: f32,
) -> f32 {
    let hard = hard_negatives(rows);
    let crises: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].category.is_some())
        .collect();
    let share = |of: &[usize], threshold: f32| {
        let flagged = of
            .iter()
            .filter(|&&i| rules_stand[i] || scores[i].danger >= threshold)
            .count();
        flagged as f64 / of.len().max(1) as f64
    };
    let below_alarm = || {
        (5..=99)
            .map(|step| step as f32 / 100.0)
            .take_while(move |&t| t < alarm)
    };
    let within_budget = below_alarm()
        .find(|&t| share(&hard, t) <= TARGET_CHECK_IN_FALSE_ALARMS)
        .unwrap_or(alarm);
    let keeps_recall = below_alarm()
        .filter(|&t| share(&crises, t) >= TARGET_CHECK_IN_RECALL)
        .last()
        .unwrap_or(0.05);
    keeps_recall.max(within_budget).min(alarm)
}

/// The lowest P(imminent | danger) (in steps of 0.01) at which at most the target share
/// of the validation's elevated crises would be read as imminent.
fn choose_imminent_threshold(rows: &[Labelled], scores: &[Scores]) -> f32 {
    let elevated: Vec<f32> = rows
        .iter()
        .zip(scores)
        .filter(|(row, _)| row.category.is_some() && row.severity == Severity::Elevated)
        .map(|(_, s)| s.imminent)
        .collect();
    (5..=95)
        .map(|step| step as f32 / 100.0)
        .find(|&t| {
            let over = elevated.iter().filter(|&&p| p >= t).count();
            over as f64 <= TARGET_SEVERITY_OVERCALL * elevated.len() as f64
        })
        .unwrap_or(0.95)
}

/// The indices of the calm messages of a hard-negative kind.
fn hard_negatives(rows: &[Labelled]) -> Vec<usize> {
    (0..rows.len())
        .filter(|&i| {
            rows[i].severity == Severity::None && HARD_NEGATIVES.contains(&rows[i].kind.as_str())
        })
        .collect()
}

/// Reads a data file.
pub fn read_data(path: &Path) -> Result<(Vec<Labelled>, String), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text =
        String::from_utf8(bytes.clone()).map_err(|_| format!("{} is not UTF-8", path.display()))?;
    let rows = super::eval::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((rows, sha256_hex(&bytes)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::{Device, Tensor};

    #[test]
    fn the_hashed_adapter_bytes_are_the_bytes_written_to_disk(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let mut tensors = HashMap::new();
        tensors.insert(
            "layer.5.output.dense.b".to_owned(),
            Tensor::new(&[[0.5f32, -1.0]], &Device::Cpu)?,
        );
        tensors.insert(
            "layer.4.attention.self.query.a".to_owned(),
            Tensor::new(&[[2.0f32], [3.0]], &Device::Cpu)?,
        );
        let file = std::env::temp_dir().join(format!(
            "solace-adapter-test-{}.safetensors",
            std::process::id()
        ));
        candle_core::safetensors::save(&tensors, &file)?;
        let written = std::fs::read(&file)?;
        std::fs::remove_file(&file)?;
        assert_eq!(safetensors::serialize(&tensors, None)?, written);
        Ok(())
    }
}
