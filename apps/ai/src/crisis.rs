//! Crisis lines by region.
//!
//! The safety layer answers a person in crisis with lines that work where they are,
//! so the directory is keyed by ISO 3166-1 alpha-2 region codes and always ends with
//! an international fallback that covers every other country.

use serde::{Deserialize, Serialize};

/// One way to reach a human in a crisis.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrisisLine {
    /// Region codes (ISO 3166-1 alpha-2, upper case) this line serves; empty means everywhere.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
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
    /// What the line is for beyond suicide and emotional crisis: `emergency`, `abuse`
    /// (domestic and sexual violence), `children`. Empty for a general crisis line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
}

impl CrisisLine {
    fn serves(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r.eq_ignore_ascii_case(region))
    }

    fn is_international(&self) -> bool {
        self.regions.is_empty()
    }

    fn is_general(&self) -> bool {
        self.topics.is_empty()
    }

    fn covers(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
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

    /// General crisis lines for one region followed by the international fallbacks.
    ///
    /// An unknown or missing region still gets the fallbacks, because a person in
    /// crisis must never be shown an empty list.
    pub fn for_region(&self, region: Option<&str>) -> Vec<&CrisisLine> {
        self.matching(region, |line| line.is_general())
    }

    /// Lines for a topic (`emergency`, `abuse`, `children`): the region's, else the
    /// international ones for that topic.
    pub fn for_topic(&self, region: Option<&str>, topic: &str) -> Vec<&CrisisLine> {
        self.matching(region, |line| line.covers(topic))
    }

    /// The region's lines that are `wanted`, then the international ones — for a topic
    /// only when the region has none of its own.
    fn matching(
        &self,
        region: Option<&str>,
        wanted: impl Fn(&CrisisLine) -> bool,
    ) -> Vec<&CrisisLine> {
        let mut lines: Vec<&CrisisLine> = self
            .lines
            .iter()
            .filter(|line| wanted(line) && region.is_some_and(|r| line.serves(r)))
            .collect();
        if lines.is_empty() || lines.iter().all(|l| l.is_general()) {
            lines.extend(
                self.lines
                    .iter()
                    .filter(|line| wanted(line) && line.is_international()),
            );
        }
        lines
    }

    /// The lines a graded response shows: emergency numbers first for a medical
    /// emergency or any imminent danger to others, abuse and children's lines for abuse,
    /// then the general crisis lines. Never empty.
    pub fn for_assessment(
        &self,
        region: Option<&str>,
        assessment: &crate::safety::Assessment,
    ) -> Vec<&CrisisLine> {
        use crate::safety::{RiskCategory, Severity};
        let imminent = assessment.severity == Severity::Imminent;
        let has = |c| assessment.categories.contains(&c);
        let mut lines = Vec::new();
        if has(RiskCategory::MedicalEmergency)
            || (imminent && (has(RiskCategory::HarmToOthers) || has(RiskCategory::Abuse)))
        {
            lines.extend(self.for_topic(region, "emergency"));
        }
        if has(RiskCategory::Abuse) {
            lines.extend(self.for_topic(region, "abuse"));
            lines.extend(self.for_topic(region, "children"));
        }
        lines.extend(self.for_region(region));
        if imminent && !lines.iter().any(|l| l.covers("emergency")) {
            lines.extend(self.for_topic(region, "emergency"));
        }
        let mut seen = std::collections::HashSet::new();
        lines.retain(|l| seen.insert((l.name.as_str(), l.contact.as_str())));
        lines
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
            topics: vec![],
        },
        CrisisLine {
            regions: vec!["CA".into()],
            name: "9-8-8 Suicide Crisis Helpline".into(),
            contact: "988".into(),
            how: "call or text".into(),
            hours: "24/7".into(),
            url: "https://988.ca".into(),
            topics: vec![],
        },
        CrisisLine {
            regions: vec!["GB".into(), "IE".into()],
            name: "Samaritans".into(),
            contact: "116 123".into(),
            how: "call".into(),
            hours: "24/7".into(),
            url: "https://www.samaritans.org".into(),
            topics: vec![],
        },
        CrisisLine {
            regions: vec!["AU".into()],
            name: "Lifeline Australia".into(),
            contact: "13 11 14".into(),
            how: "call".into(),
            hours: "24/7".into(),
            url: "https://www.lifeline.org.au".into(),
            topics: vec![],
        },
        CrisisLine {
            regions: vec!["NZ".into()],
            name: "Need to talk? 1737".into(),
            contact: "1737".into(),
            how: "call or text".into(),
            hours: "24/7".into(),
            url: "https://1737.org.nz".into(),
            topics: vec![],
        },
        CrisisLine {
            regions: vec![],
            name: "Find A Helpline".into(),
            contact: "findahelpline.com".into(),
            how: "web".into(),
            hours: "Directory of free, confidential lines in 130+ countries".into(),
            url: "https://findahelpline.com".into(),
            topics: vec![],
        },
        topic_line(
            &["US", "CA"],
            "Emergency services",
            "911",
            "call",
            "",
            "emergency",
        ),
        topic_line(
            &["GB"],
            "Emergency services",
            "999",
            "call",
            "",
            "emergency",
        ),
        topic_line(
            &["IE"],
            "Emergency services",
            "112 or 999",
            "call",
            "",
            "emergency",
        ),
        topic_line(
            &["AU"],
            "Emergency services",
            "000",
            "call",
            "",
            "emergency",
        ),
        topic_line(
            &["NZ"],
            "Emergency services",
            "111",
            "call",
            "",
            "emergency",
        ),
        topic_line(
            &[],
            "Emergency services",
            "your local emergency number (112 in the EU)",
            "call",
            "",
            "emergency",
        ),
        topic_line(
            &["US"],
            "National Domestic Violence Hotline",
            "1-800-799-7233",
            "call",
            "https://www.thehotline.org",
            "abuse",
        ),
        topic_line(
            &["US", "CA"],
            "Childhelp National Child Abuse Hotline",
            "1-800-422-4453",
            "call or text",
            "https://www.childhelphotline.org",
            "children",
        ),
        topic_line(
            &["CA"],
            "Kids Help Phone",
            "1-800-668-6868",
            "call",
            "https://kidshelpphone.ca",
            "children",
        ),
        topic_line(
            &["GB"],
            "National Domestic Abuse Helpline",
            "0808 2000 247",
            "call",
            "https://www.nationaldahelpline.org.uk",
            "abuse",
        ),
        topic_line(
            &["GB"],
            "Childline",
            "0800 1111",
            "call",
            "https://www.childline.org.uk",
            "children",
        ),
        topic_line(
            &["IE"],
            "ISPCC Childline",
            "1800 66 66 66",
            "call",
            "https://www.childline.ie",
            "children",
        ),
        topic_line(
            &["AU"],
            "1800RESPECT",
            "1800 737 732",
            "call",
            "https://www.1800respect.org.au",
            "abuse",
        ),
        topic_line(
            &["AU"],
            "Kids Helpline",
            "1800 55 1800",
            "call",
            "https://kidshelpline.com.au",
            "children",
        ),
    ]
}

/// A 24/7 line for one topic (`emergency`, `abuse`, `children`).
fn topic_line(
    regions: &[&str],
    name: &str,
    contact: &str,
    how: &str,
    url: &str,
    topic: &str,
) -> CrisisLine {
    CrisisLine {
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        name: name.into(),
        contact: contact.into(),
        how: how.into(),
        hours: "24/7".into(),
        url: url.into(),
        topics: vec![topic.into()],
    }
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
    fn graded_responses_get_the_lines_for_their_danger() {
        use crate::safety::{Assessment, Layer, RiskCategory, Severity};
        let directory = CrisisDirectory::default();
        let of = |severity, category| {
            let assessment = Assessment::new(severity, vec![category], Layer::Rules);
            directory
                .for_assessment(Some("GB"), &assessment)
                .iter()
                .map(|l| l.contact.clone())
                .collect::<Vec<_>>()
        };
        let medical = of(Severity::Imminent, RiskCategory::MedicalEmergency);
        assert_eq!(medical.first().map(String::as_str), Some("999"));
        let abuse = of(Severity::Elevated, RiskCategory::Abuse);
        assert!(
            abuse.contains(&"0808 2000 247".to_owned()) && abuse.contains(&"0800 1111".to_owned())
        );
        assert!(!abuse.contains(&"999".to_owned()));
        let suicide = of(Severity::Elevated, RiskCategory::SuicidalIdeation);
        assert_eq!(suicide, vec!["116 123", "findahelpline.com"]);
        let imminent = of(Severity::Imminent, RiskCategory::SuicidalIdeation);
        assert_eq!(imminent, vec!["116 123", "findahelpline.com", "999"]);
        // Nowhere known: the international directory and the emergency fallback.
        let assessment = Assessment::new(
            Severity::Imminent,
            vec![RiskCategory::HarmToOthers],
            Layer::Rules,
        );
        let elsewhere = directory.for_assessment(Some("ZZ"), &assessment);
        assert!(elsewhere.iter().any(|l| l.contact.contains("112")));
        assert!(elsewhere.iter().any(|l| l.contact == "findahelpline.com"));
    }

    #[test]
    fn lines_serialize_with_their_contact_details() {
        let directory = CrisisDirectory::default();
        let json = serde_json::to_value(directory.all()).unwrap_or_default();
        assert_eq!(json[0]["contact"], "988");
        assert_eq!(json[0]["regions"][0], "US");
    }
}
