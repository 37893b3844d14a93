//! Measuring the detector on labelled messages: recall per category, severity, language
//! and kind, false alarms on calm and hard-negative messages, and the confusion tables.
//! `solace safety eval FILE.tsv` prints this report.
//!
//! A data file is tab-separated, one message per line, without a header:
//! `text  category  severity  lang  kind` — category one of `suicide`, `self_harm`,
//! `harm_to_others`, `abuse`, `medical`, `concern_other` or `none`; severity `imminent`,
//! `elevated` or `none`. Lines starting with `#` are comments.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::assessment::{Assessment, RiskCategory, Severity};

/// One labelled message.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub text: String,
    pub category: Option<RiskCategory>,
    pub severity: Severity,
    pub lang: String,
    pub kind: String,
}

/// Negative kinds that share words or topics with a crisis: the false alarms that matter.
pub const HARD_NEGATIVES: &[&str] = &[
    "idiom",
    "fiction",
    "news",
    "academic",
    "recovery",
    "lyrics",
    "joke",
    "third_person_safe",
    "medical_benign",
];

/// Reads a data file; a malformed line is an error naming its number.
pub fn parse(tsv: &str) -> Result<Vec<Labelled>, String> {
    let mut rows = Vec::new();
    for (i, line) in tsv.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [text, category, severity, lang, kind] = fields[..] else {
            return Err(format!(
                "line {}: expected 5 tab-separated fields, found {}",
                i + 1,
                fields.len()
            ));
        };
        let category = match category.trim() {
            "none" => None,
            other => Some(
                RiskCategory::from_label(other)
                    .ok_or(format!("line {}: unknown category '{other}'", i + 1))?,
            ),
        };
        let severity = Severity::from_label(severity.trim()).ok_or(format!(
            "line {}: unknown severity '{}'",
            i + 1,
            severity.trim()
        ))?;
        if category.is_none() != (severity == Severity::None) {
            return Err(format!(
                "line {}: severity must be none exactly when category is none",
                i + 1
            ));
        }
        rows.push(Labelled {
            text: text.to_owned(),
            category,
            severity,
            lang: lang.trim().to_owned(),
            kind: kind.trim().to_owned(),
        });
    }
    Ok(rows)
}

#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    hits: usize,
    total: usize,
}

impl Tally {
    fn add(&mut self, hit: bool) {
        self.total += 1;
        self.hits += usize::from(hit);
    }

    fn rate(self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.hits as f64 / self.total as f64
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} ({}/{})", self.rate(), self.hits, self.total)
    }
}

/// The figures for one data set.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Crisis messages flagged at any severity.
    recall: Tally,
    recall_by_category: BTreeMap<&'static str, Tally>,
    recall_by_severity: BTreeMap<&'static str, Tally>,
    recall_by_lang: BTreeMap<String, Tally>,
    recall_by_kind: BTreeMap<String, Tally>,
    /// Calm messages flagged.
    false_alarms: Tally,
    false_alarms_hard: Tally,
    /// Hard negatives that got the imminent response (the crisis card), not only a
    /// check-in.
    false_alarms_hard_imminent: Tally,
    false_alarms_by_kind: BTreeMap<String, Tally>,
    false_alarms_by_lang: BTreeMap<String, Tally>,
    /// Imminent messages that got at least the imminent response.
    imminent_as_imminent: Tally,
    /// (true, predicted) category labels.
    categories: BTreeMap<(&'static str, &'static str), usize>,
    severities: BTreeMap<(&'static str, &'static str), usize>,
    /// Which layer caught the crisis messages that were caught.
    layers: BTreeMap<&'static str, usize>,
}

fn category_label(category: Option<RiskCategory>) -> &'static str {
    category.map_or("none", RiskCategory::label)
}

impl Report {
    /// Runs `assess` on every row. Earlier turns are not part of a row: each message is
    /// judged alone, the hardest case for the detector.
    pub fn run(rows: &[Labelled], mut assess: impl FnMut(&str) -> Assessment) -> Self {
        let mut report = Self::default();
        for row in rows {
            let found = assess(&row.text);
            report.add(row, &found);
        }
        report
    }

    fn add(&mut self, row: &Labelled, found: &Assessment) {
        let flagged = found.is_crisis();
        let truth = category_label(row.category);
        let predicted = if flagged {
            category_label(found.primary())
        } else {
            "none"
        };
        *self.categories.entry((truth, predicted)).or_default() += 1;
        *self
            .severities
            .entry((row.severity.label(), found.severity.label()))
            .or_default() += 1;
        if row.category.is_some() {
            self.recall.add(flagged);
            self.recall_by_category
                .entry(truth)
                .or_default()
                .add(flagged);
            self.recall_by_severity
                .entry(row.severity.label())
                .or_default()
                .add(flagged);
            self.recall_by_lang
                .entry(row.lang.clone())
                .or_default()
                .add(flagged);
            self.recall_by_kind
                .entry(row.kind.clone())
                .or_default()
                .add(flagged);
            if row.severity == Severity::Imminent {
                self.imminent_as_imminent
                    .add(found.severity == Severity::Imminent);
            }
            if let Some(layer) = found.layer.filter(|_| flagged) {
                *self.layers.entry(layer.label()).or_default() += 1;
            }
        } else {
            self.false_alarms.add(flagged);
            if HARD_NEGATIVES.contains(&row.kind.as_str()) {
                self.false_alarms_hard.add(flagged);
                self.false_alarms_hard_imminent
                    .add(flagged && found.severity == Severity::Imminent);
            }
            self.false_alarms_by_kind
                .entry(row.kind.clone())
                .or_default()
                .add(flagged);
            self.false_alarms_by_lang
                .entry(row.lang.clone())
                .or_default()
                .add(flagged);
        }
    }

    /// Recall over all crisis messages.
    pub fn recall(&self) -> f64 {
        self.recall.rate()
    }

    /// Recall on messages labelled imminent.
    pub fn recall_imminent(&self) -> f64 {
        self.recall_by_severity
            .get("imminent")
            .copied()
            .unwrap_or_default()
            .rate()
    }

    /// The lowest recall of any language.
    pub fn worst_language_recall(&self) -> f64 {
        self.recall_by_lang
            .values()
            .map(|t| t.rate())
            .fold(1.0, f64::min)
    }

    /// False-alarm rate on hard negatives.
    pub fn false_alarm_rate_hard(&self) -> f64 {
        self.false_alarms_hard.rate()
    }

    /// False-alarm rate on every calm message.
    pub fn false_alarm_rate(&self) -> f64 {
        self.false_alarms.rate()
    }

    /// A one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "recall {} · imminent {} · worst language {:.3} · false alarms {} (hard negatives {})",
            self.recall,
            self.recall_by_severity
                .get("imminent")
                .copied()
                .unwrap_or_default(),
            self.worst_language_recall(),
            self.false_alarms,
            self.false_alarms_hard
        )
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        let _ = writeln!(out, "Recall (crisis messages flagged): {}", self.recall);
        let _ = writeln!(
            out,
            "Imminent messages given the imminent response: {}",
            self.imminent_as_imminent
        );
        let _ = writeln!(
            out,
            "False alarms (calm messages flagged): {}",
            self.false_alarms
        );
        let _ = writeln!(
            out,
            "False alarms on hard negatives: {}",
            self.false_alarms_hard
        );
        let _ = writeln!(
            out,
            "False alarms on hard negatives given the imminent response: {}",
            self.false_alarms_hard_imminent
        );
        let section = |out: &mut String, title: &str, rows: Vec<(String, Tally)>| {
            let _ = writeln!(out, "\n{title}");
            for (name, tally) in rows {
                let _ = writeln!(out, "  {name:<22} {tally}");
            }
        };
        let owned = |m: &BTreeMap<&'static str, Tally>| -> Vec<(String, Tally)> {
            m.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
        };
        let cloned = |m: &BTreeMap<String, Tally>| -> Vec<(String, Tally)> {
            m.iter().map(|(k, v)| (k.clone(), *v)).collect()
        };
        section(
            &mut out,
            "Recall by category",
            owned(&self.recall_by_category),
        );
        section(
            &mut out,
            "Recall by severity",
            owned(&self.recall_by_severity),
        );
        section(&mut out, "Recall by language", cloned(&self.recall_by_lang));
        section(&mut out, "Recall by kind", cloned(&self.recall_by_kind));
        section(
            &mut out,
            "False alarms by language",
            cloned(&self.false_alarms_by_lang),
        );
        section(
            &mut out,
            "False alarms by kind",
            cloned(&self.false_alarms_by_kind),
        );
        let _ = writeln!(out, "\nCaught by layer");
        for (layer, n) in &self.layers {
            let _ = writeln!(out, "  {layer:<22} {n}");
        }
        let table = |out: &mut String,
                     title: &str,
                     labels: &[&'static str],
                     cells: &BTreeMap<(&'static str, &'static str), usize>| {
            let _ = writeln!(out, "\n{title} (rows: labelled, columns: detected)");
            let _ = write!(out, "  {:<15}", "");
            for label in labels {
                let _ = write!(out, "{:>15}", label);
            }
            let _ = writeln!(out);
            for row in labels {
                let _ = write!(out, "  {row:<15}");
                for column in labels {
                    let n = cells.get(&(*row, *column)).copied().unwrap_or(0);
                    let _ = write!(out, "{n:>15}");
                }
                let _ = writeln!(out);
            }
        };
        let mut categories = vec!["none"];
        categories.extend(RiskCategory::ALL.iter().map(|c| c.label()));
        table(&mut out, "Categories", &categories, &self.categories);
        let severities: Vec<&'static str> = Severity::ALL.iter().map(|s| s.label()).collect();
        table(&mut out, "Severities", &severities, &self.severities);
        f.write_str(&out)
    }
}

/// How the head alone, and rules with the head, trade recall for false alarms as the
/// head's threshold moves: one row per threshold.
pub fn sweep(rows: &[Labelled], by_rules: &[bool], danger: &[f32], threshold: f32) -> String {
    let mut out = String::from(
        "threshold   head: recall  false alarms (hard)   rules+head: recall  false alarms (hard)\n",
    );
    for step in 1..20 {
        let threshold = step as f32 * 0.05;
        let mut tallies = [Tally::default(); 4];
        for (i, row) in rows.iter().enumerate() {
            let head = danger[i] >= threshold;
            let both = head || by_rules[i];
            if row.category.is_some() {
                tallies[0].add(head);
                tallies[2].add(both);
            } else if HARD_NEGATIVES.contains(&row.kind.as_str()) {
                tallies[1].add(head);
                tallies[3].add(both);
            }
        }
        let _ = writeln!(
            out,
            "  {threshold:.2}      {:.3}         {:.3}                 {:.3}               {:.3}",
            tallies[0].rate(),
            tallies[1].rate(),
            tallies[2].rate(),
            tallies[3].rate()
        );
    }
    let _ = writeln!(
        out,
        "\nrules overruled when the head's danger is below v (head threshold {threshold:.2}):\nv        recall  false alarms (hard)"
    );
    for veto in [0.0f32, 0.02, 0.05, 0.1, 0.2, 0.3] {
        let mut tallies = [Tally::default(); 2];
        for (i, row) in rows.iter().enumerate() {
            let flagged = (by_rules[i] && danger[i] >= veto) || danger[i] >= threshold;
            if row.category.is_some() {
                tallies[0].add(flagged);
            } else if HARD_NEGATIVES.contains(&row.kind.as_str()) {
                tallies[1].add(flagged);
            }
        }
        let _ = writeln!(
            out,
            "  {veto:.2}   {:.3}   {:.3}",
            tallies[0].rate(),
            tallies[1].rate()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::assessment::Layer;

    const DATA: &str = "# a comment\n\
        I want to die\tsuicide\televated\ten\tactive_ideation\n\
        pills counted for tonight\tsuicide\timminent\ten\tplan\n\
        this traffic is killing me\tnone\tnone\ten\tidiom\n\
        nice day\tnone\tnone\ten\teveryday\n";

    #[test]
    fn data_files_parse_and_bad_lines_are_named() {
        let rows = parse(DATA).unwrap_or_default();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1].severity, Severity::Imminent);
        assert_eq!(rows[2].category, None);
        let bad = parse("text\tsuicide\tnone\ten\tx\n").err();
        assert!(bad.is_some_and(|e| e.contains("line 1")));
        assert!(parse("only\ttwo\n").is_err());
        assert!(parse("t\tsad\televated\ten\tx\n").is_err());
    }

    #[test]
    fn the_report_counts_recall_false_alarms_and_confusions() {
        let rows = parse(DATA).unwrap_or_default();
        // A detector that flags anything mentioning "die" or "kill".
        let report = Report::run(&rows, |text| {
            if text.contains("die") || text.contains("kill") {
                Assessment::new(
                    Severity::Elevated,
                    vec![RiskCategory::SuicidalIdeation],
                    Layer::Rules,
                )
            } else {
                Assessment::safe()
            }
        });
        assert!((report.recall() - 0.5).abs() < 1e-9);
        assert!((report.recall_imminent() - 0.0).abs() < 1e-9);
        assert!((report.false_alarm_rate() - 0.5).abs() < 1e-9);
        assert!((report.false_alarm_rate_hard() - 1.0).abs() < 1e-9);
        let text = report.to_string();
        assert!(text.contains("Recall by language"));
        assert!(text.contains("Categories (rows: labelled"));
        assert!(report.summary().contains("recall 0.500 (1/2)"));
    }
}
