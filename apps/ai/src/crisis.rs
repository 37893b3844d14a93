//! Crisis lines by region.
//!
//! The safety layer answers a person in crisis with lines that work where they are,
//! so the directory is keyed by ISO 3166-1 alpha-2 region codes and always ends with
//! an international fallback that covers every other country.

use serde::Serialize;

/// One way to reach a human in a crisis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrisisLine {
    /// Region codes (ISO 3166-1 alpha-2, upper case) this line serves; empty means everywhere.
    pub regions: Vec<&'static str>,
    /// Name people will recognise.
    pub name: &'static str,
    /// What to dial or text, exactly as a person would type it.
    pub contact: &'static str,
    /// How to reach it: "call", "text", "call or text", "web".
    pub how: &'static str,
    /// When it is staffed.
    pub hours: &'static str,
    /// Where to read more.
    pub url: &'static str,
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
            regions: vec!["US"],
            name: "988 Suicide & Crisis Lifeline",
            contact: "988",
            how: "call or text",
            hours: "24/7",
            url: "https://988lifeline.org",
        },
        CrisisLine {
            regions: vec!["CA"],
            name: "9-8-8 Suicide Crisis Helpline",
            contact: "988",
            how: "call or text",
            hours: "24/7",
            url: "https://988.ca",
        },
        CrisisLine {
            regions: vec!["GB", "IE"],
            name: "Samaritans",
            contact: "116 123",
            how: "call",
            hours: "24/7",
            url: "https://www.samaritans.org",
        },
        CrisisLine {
            regions: vec!["AU"],
            name: "Lifeline Australia",
            contact: "13 11 14",
            how: "call",
            hours: "24/7",
            url: "https://www.lifeline.org.au",
        },
        CrisisLine {
            regions: vec!["NZ"],
            name: "Need to talk? 1737",
            contact: "1737",
            how: "call or text",
            hours: "24/7",
            url: "https://1737.org.nz",
        },
        CrisisLine {
            regions: vec![],
            name: "Find A Helpline",
            contact: "findahelpline.com",
            how: "web",
            hours: "Directory of free, confidential lines in 130+ countries",
            url: "https://findahelpline.com",
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
        assert_eq!(lines.first().map(|l| l.contact), Some("988"));
        assert_eq!(lines.last().map(|l| l.contact), Some("findahelpline.com"));
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
    fn lines_serialize_with_their_contact_details() {
        let directory = CrisisDirectory::default();
        let json = serde_json::to_value(directory.all()).unwrap_or_default();
        assert_eq!(json[0]["contact"], "988");
        assert_eq!(json[0]["regions"][0], "US");
    }
}
