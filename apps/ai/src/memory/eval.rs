//! Measuring retrieval on written scenarios (`apps/ai/data/memory/`): a person's earlier
//! turns, a later message that depends on one of them, and which ones hold the fact.
//! `solace memory eval FILE` prints, per embedder, how often a relevant item is the
//! first found, among the first five (what the prompt gets), and among the first five
//! above the similarity floor (what the product would really recall).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde::Deserialize;

use super::similarity;

/// One scenario as written.
#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub id: String,
    pub language: String,
    pub earlier: Vec<Turn>,
    pub later: String,
    pub relevant: Vec<usize>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Turn {
    pub role: String,
    pub text: String,
}

/// Reads a JSON-lines file of scenarios; a malformed line is an error naming it.
pub fn read(path: &Path) -> Result<Vec<Scenario>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let scenario: Scenario = serde_json::from_str(line)
                .map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))?;
            if scenario
                .relevant
                .iter()
                .any(|&r| r >= scenario.earlier.len())
            {
                return Err(format!(
                    "{} line {}: a relevant index is out of range",
                    path.display(),
                    i + 1
                ));
            }
            Ok(scenario)
        })
        .collect()
}

/// How one retriever did.
#[derive(Debug, Default, Clone)]
pub struct Score {
    pub scenarios: usize,
    /// A relevant item ranked first.
    pub first: usize,
    /// A relevant item among the first five.
    pub top5: usize,
    /// A relevant item among the first five and above the similarity floor.
    pub recalled: usize,
    /// Sum of 1 / rank of the first relevant item.
    reciprocal: f64,
}

impl Score {
    fn add(&mut self, rank: usize, above_floor: bool) {
        self.scenarios += 1;
        self.first += usize::from(rank == 1);
        self.top5 += usize::from(rank <= 5);
        self.recalled += usize::from(rank <= 5 && above_floor);
        self.reciprocal += 1.0 / rank as f64;
    }

    fn rate(n: usize, of: usize) -> f64 {
        if of == 0 {
            0.0
        } else {
            n as f64 / of as f64
        }
    }

    pub fn top5_rate(&self) -> f64 {
        Self::rate(self.top5, self.scenarios)
    }

    fn line(&self) -> String {
        format!(
            "top-1 {:.3}  top-5 {:.3} ({}/{})  recalled {:.3}  MRR {:.3}",
            Self::rate(self.first, self.scenarios),
            self.top5_rate(),
            self.top5,
            self.scenarios,
            Self::rate(self.recalled, self.scenarios),
            self.reciprocal / self.scenarios.max(1) as f64
        )
    }
}

/// A retriever's report: overall and per language.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub name: String,
    pub overall: Score,
    pub by_language: BTreeMap<String, Score>,
}

impl Report {
    /// Scores `vectors`: one unit vector per earlier item and one for the later message,
    /// per scenario, in order (`(earlier, later)`).
    ///
    /// `pooled`: each later message is searched among every scenario's earlier items (a
    /// memory of hundreds of items, most of them another life's distractors), not only its
    /// own scenario's.
    pub fn run(
        name: &str,
        scenarios: &[Scenario],
        vectors: &[(Vec<Vec<f32>>, Vec<f32>)],
        floor: f32,
        pooled: bool,
    ) -> Self {
        let mut report = Self {
            name: name.to_owned(),
            ..Self::default()
        };
        for (at, (scenario, (_, later))) in scenarios.iter().zip(vectors).enumerate() {
            // (scenario, item) pairs searched; the relevant ones are this scenario's.
            let searched: Vec<(usize, usize, &Vec<f32>)> = vectors
                .iter()
                .enumerate()
                .filter(|(other, _)| pooled || *other == at)
                .flat_map(|(other, (earlier, _))| {
                    earlier
                        .iter()
                        .enumerate()
                        .map(move |(item, v)| (other, item, v))
                })
                .collect();
            let mut ranked: Vec<(usize, f32)> = searched
                .iter()
                .map(|(other, item, v)| {
                    // Another scenario's item can never be relevant here.
                    let id = if *other == at { *item } else { usize::MAX };
                    (id, similarity(v, later))
                })
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let (rank, score) = ranked
                .iter()
                .enumerate()
                .find(|(_, (item, _))| scenario.relevant.contains(item))
                .map_or((ranked.len() + 1, f32::MIN), |(at, (_, s))| (at + 1, *s));
            let above_floor = score >= floor;
            report.overall.add(rank, above_floor);
            report
                .by_language
                .entry(scenario.language.clone())
                .or_default()
                .add(rank, above_floor);
        }
        report
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = format!("{}\n  all      {}\n", self.name, self.overall.line());
        for (language, score) in &self.by_language {
            let _ = writeln!(out, "  {language:<8} {}", score.line());
        }
        f.write_str(&out)
    }
}

/// A lexical baseline: lower-cased words of three letters or more, counted into 4,096
/// hashed buckets, as unit vectors (what keyword search would find; comparable across
/// calls, so it can be pooled like the encoders' vectors).
pub fn word_vectors(texts: &[&str]) -> Vec<Vec<f32>> {
    const BUCKETS: u32 = 4096;
    texts
        .iter()
        .map(|text| {
            let mut v = vec![0.0f32; BUCKETS as usize];
            for word in text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.chars().count() >= 3)
            {
                let hash = word.to_lowercase().bytes().fold(2_166_136_261u32, |h, b| {
                    (h ^ u32::from(b)).wrapping_mul(16_777_619)
                });
                v[(hash % BUCKETS) as usize] += 1.0;
            }
            super::unit(v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(relevant: usize) -> Scenario {
        Scenario {
            id: "x".into(),
            language: "en".into(),
            earlier: (0..6)
                .map(|i| Turn {
                    role: "user".into(),
                    text: i.to_string(),
                })
                .collect(),
            later: String::new(),
            relevant: vec![relevant],
        }
    }

    #[test]
    fn ranks_are_counted_from_the_first_relevant_item() {
        // Item i has similarity 1 - i/10 to the later message: item 0 ranks first.
        let earlier: Vec<Vec<f32>> = (0..6)
            .map(|i| {
                let s = 1.0 - i as f32 / 10.0;
                vec![s, (1.0 - s * s).sqrt()]
            })
            .collect();
        let vectors = vec![(earlier.clone(), vec![1.0, 0.0]); 2];
        let report = Report::run("t", &[scenario(0), scenario(5)], &vectors, 0.95, false);
        assert_eq!(report.overall.scenarios, 2);
        assert_eq!(report.overall.first, 1);
        assert_eq!(report.overall.top5, 1, "rank 6 is outside the first five");
        assert_eq!(report.overall.recalled, 1);
        let floor_too_high = Report::run("t", &[scenario(0)], &vectors[..1], 1.5, false);
        assert_eq!(floor_too_high.overall.recalled, 0);
        // Pooled, the other scenario's (identical) items rank alongside: scenario 0's
        // relevant item ties with its twin, scenario 5's drops further.
        let pooled = Report::run("t", &[scenario(0), scenario(5)], &vectors, 0.95, true);
        assert_eq!(pooled.overall.top5, 1);
        assert!(pooled.overall.reciprocal < report.overall.reciprocal);
        assert_eq!(floor_too_high.overall.recalled, 0);
        assert!(report.to_string().contains("top-5 0.500 (1/2)"));
    }

    #[test]
    fn the_word_baseline_matches_shared_words_only() {
        let v = word_vectors(&["my sister Dana", "Dana called", "the weather"]);
        assert!(similarity(&v[0], &v[1]) > 0.0);
        assert_eq!(similarity(&v[0], &v[2]), 0.0);
    }

    #[test]
    fn the_shipped_scenarios_are_well_formed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/memory");
        let dev = read(&dir.join("scenarios-dev.jsonl")).unwrap();
        let test = read(&dir.join("scenarios-test.jsonl")).unwrap();
        assert!(
            dev.len() >= 10 && test.len() >= 40,
            "{} {}",
            dev.len(),
            test.len()
        );
        assert!(test
            .iter()
            .all(|s| !s.relevant.is_empty() && s.earlier.len() >= 10));
    }
}
