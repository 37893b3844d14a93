//! Crisis lines by region.
//!
//! The safety layer answers a person in crisis with lines that work where they are,
//! so the directory is keyed by ISO 3166-1 alpha-2 region codes and always ends with
//! an international fallback that covers every other country.

use serde::{Deserialize, Serialize};

/// One way to reach a human in a crisis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrisisLine {
    /// Region codes (ISO 3166-1 alpha-2, upper case) this line serves; empty means everywhere.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Name people will recognise.
    pub name: String,
    /// What to dial or text, exactly as a person would type it.
    pub contact: String,
    /// How to reach it: "call", "text", "call or text", "web".
    pub how: String,
    /// When it is staffed.
    pub hours: String,
    /// Where to read more.
    pub url: String,
}

impl CrisisLine {
    fn serves(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r.eq_ignore_ascii_case(region))
    }

    fn is_international(&self) -> bool {
        self.regions.is_empty()
    }
}

/// The set of crisis lines a deployment offers.
#[derive(Debug, Clone)]
pub struct CrisisDirectory {
    lines: Vec<CrisisLine>,
}

impl Default for CrisisDirectory {
    fn default() -> Self {
        Self {
            lines: default_lines(),
        }
    }
}

impl CrisisDirectory {
    /// Builds a directory from a deployment's own list.
    pub fn new(lines: Vec<CrisisLine>) -> Self {
        Self { lines }
    }

    /// Reads a deployment's list from JSON (an array of lines). It must contain at least
    /// one line for everywhere (no `regions`), so nobody is ever shown an empty list.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let mut lines: Vec<CrisisLine> =
            serde_json::from_str(json).map_err(|e| format!("not a list of crisis lines: {e}"))?;
        for line in &mut lines {
            for region in &mut line.regions {
                if region.len() != 2 || !region.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(format!(
                        "'{region}' (for {}) is not a two-letter region code",
                        line.name
                    ));
                }
                *region = region.to_ascii_uppercase();
            }
        }
        if !lines.iter().any(CrisisLine::is_international) {
            return Err(
                "add at least one line without regions (such as findahelpline.com) for everyone else"
                    .into(),
            );
        }
        Ok(Self { lines })
    }

    /// Every line, in the order they should be shown.
    pub fn all(&self) -> &[CrisisLine] {
        &self.lines
    }

    /// Lines for one region followed by the international fallbacks.
    ///
    /// An unknown or missing region still gets the fallbacks, because a person in
    /// crisis must never be shown an empty list.
    pub fn for_region(&self, region: Option<&str>) -> Vec<&CrisisLine> {
        let local = self
            .lines
            .iter()
            .filter(|line| region.is_some_and(|r| line.serves(r)));
        let international = self.lines.iter().filter(|line| line.is_international());
        local.chain(international).collect()
    }
}

fn default_lines() -> Vec<CrisisLine> {
    vec![
        CrisisLine {
            regions: vec!["US".into()],
            name: "988 Suicide & Crisis Lifeline".into(),
            contact: "988".into(),
            how: "call or text".into(),
            hours: "24/7".into(),
            url: "https://988lifeline.org".into(),
        },
        CrisisLine {
            regions: vec!["CA".into()],
            name: "9-8-8 Suicide Crisis Helpline".into(),
            contact: "988".into(),
            how: "call or text".into(),
            hours: "24/7".into(),
            url: "https://988.ca".into(),
        },
        CrisisLine {
            regions: vec!["GB".into(), "IE".into()],
            name: "Samaritans".into(),
            contact: "116 123".into(),
            how: "call".into(),
            hours: "24/7".into(),
            url: "https://www.samaritans.org".into(),
        },
        CrisisLine {
            regions: vec!["AU".into()],
            name: "Lifeline Australia".into(),
            contact: "13 11 14".into(),
            how: "call".into(),
            hours: "24/7".into(),
            url: "https://www.lifeline.org.au".into(),
        },
        CrisisLine {
            regions: vec!["NZ".into()],
            name: "Need to talk? 1737".into(),
            contact: "1737".into(),
            how: "call or text".into(),
            hours: "24/7".into(),
            url: "https://1737.org.nz".into(),
        },
        CrisisLine {
            regions: vec![],
            name: "Find A Helpline".into(),
            contact: "findahelpline.com".into(),
            how: "web".into(),
            hours: "Directory of free, confidential lines in 130+ countries".into(),
            url: "https://findahelpline.com".into(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_visitors_see_988_first_and_the_international_directory_last() {
        let directory = CrisisDirectory::default();
        let lines = directory.for_region(Some("us"));
        assert_eq!(lines.first().map(|l| l.contact.as_str()), Some("988"));
        assert_eq!(
            lines.last().map(|l| l.contact.as_str()),
            Some("findahelpline.com")
        );
    }

    #[test]
    fn uk_and_irish_visitors_see_samaritans() {
        let directory = CrisisDirectory::default();
        for region in ["GB", "IE"] {
            let lines = directory.for_region(Some(region));
            assert!(lines.iter().any(|l| l.contact == "116 123"), "{region}");
        }
    }

    #[test]
    fn unknown_or_missing_region_still_gets_a_line() {
        let directory = CrisisDirectory::default();
        for region in [None, Some("ZZ")] {
            let lines = directory.for_region(region);
            assert_eq!(lines.len(), 1);
            assert_eq!(lines[0].url, "https://findahelpline.com");
        }
    }

    #[test]
    fn a_deployment_can_bring_its_own_list_with_a_line_for_everyone() {
        let own = CrisisDirectory::from_json(
            r#"[{"regions": ["de"], "name": "TelefonSeelsorge", "contact": "0800 111 0 111",
                 "how": "call", "hours": "24/7", "url": "https://www.telefonseelsorge.de"},
                {"name": "Find A Helpline", "contact": "findahelpline.com", "how": "web",
                 "hours": "always", "url": "https://findahelpline.com"}]"#,
        );
        let lines = own.as_ref().map(|d| d.for_region(Some("DE")).len());
        assert_eq!(lines.ok(), Some(2));
        let no_fallback = CrisisDirectory::from_json(
            r#"[{"regions": ["DE"], "name": "x", "contact": "1", "how": "call", "hours": "", "url": ""}]"#,
        );
        assert!(no_fallback.is_err_and(|e| e.contains("without regions")));
        let bad_region = CrisisDirectory::from_json(
            r#"[{"regions": ["DEU"], "name": "x", "contact": "1", "how": "call", "hours": "", "url": ""}]"#,
        );
        assert!(bad_region.is_err());
        assert!(CrisisDirectory::from_json("{}").is_err());
    }

    #[test]
    fn lines_serialize_with_their_contact_details() {
        let directory = CrisisDirectory::default();
        let json = serde_json::to_value(directory.all()).unwrap_or_default();
        assert_eq!(json[0]["contact"], "988");
        assert_eq!(json[0]["regions"][0], "US");
    }
}
