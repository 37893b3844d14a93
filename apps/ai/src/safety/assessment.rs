//! What the safety layer concludes about a message: what kind of danger, how urgent,
//! and which layer saw it. Never the message itself: an assessment may be logged and
//! counted, the words that led to it never are.

use serde::{Deserialize, Serialize};

/// What kind of danger a message suggests.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskCategory {
    SuicidalIdeation,
    SelfHarm,
    HarmToOthers,
    Abuse,
    MedicalEmergency,
    /// The person is worried about someone else who may be at risk.
    ConcernForOther,
}

impl RiskCategory {
    pub const ALL: [Self; 6] = [
        Self::SuicidalIdeation,
        Self::SelfHarm,
        Self::HarmToOthers,
        Self::Abuse,
        Self::MedicalEmergency,
        Self::ConcernForOther,
    ];

    /// The short label used in data sets and reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::SuicidalIdeation => "suicide",
            Self::SelfHarm => "self_harm",
            Self::HarmToOthers => "harm_to_others",
            Self::Abuse => "abuse",
            Self::MedicalEmergency => "medical",
            Self::ConcernForOther => "concern_other",
        }
    }

    /// Reads a short label (`suicide`) or the API name (`suicidal_ideation`).
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| {
            c.label() == label
                || serde_json::to_value(c)
                    .ok()
                    .is_some_and(|v| v.as_str() == Some(label))
        })
    }
}

/// How urgent the danger is, after the Columbia screener (C-SSRS): a wish to be dead or
/// thoughts of suicide without intent are `Elevated`; intent, a plan, preparation, an
/// attempt, questions about lethal means, a medical emergency or a threat with intent
/// are `Imminent`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    None,
    Elevated,
    Imminent,
}

impl Severity {
    pub const ALL: [Self; 3] = [Self::None, Self::Elevated, Self::Imminent];

    pub fn label(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Elevated => "elevated",
            Self::Imminent => "imminent",
        }
    }

    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.label() == label)
    }
}

/// Which layer of the detector raised the alarm (the first that did, in this order).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SafetyLayer))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Hand-written phrases in six languages: fast and precise.
    Rules,
    /// Sentence embeddings with a trained classification head, in-process.
    Learned,
    /// The person's last few messages read together.
    Conversation,
    /// A language model asked to classify the message, beside the reply.
    Judge,
}

impl Layer {
    /// Every layer, in the order they run.
    pub const ALL: [Self; 4] = [Self::Rules, Self::Learned, Self::Conversation, Self::Judge];

    pub fn label(self) -> &'static str {
        match self {
            Self::Rules => "rules",
            Self::Learned => "learned",
            Self::Conversation => "conversation",
            Self::Judge => "judge",
        }
    }
}

/// The outcome for one message.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Assessment {
    pub severity: Severity,
    /// Every category seen, most urgent first; empty when there is no sign of danger.
    pub categories: Vec<RiskCategory>,
    /// The layer that raised the alarm; `None` when nothing did.
    pub layer: Option<Layer>,
}

/// What the supporter does about an assessment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SafetyResponse))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// An ordinary supportive reply.
    Support,
    /// A warm reply that asks directly and gently about safety, resources visible.
    CheckIn,
    /// How to help someone else who may be at risk, with the lines.
    HelpThem,
    /// Crisis lines first, without waiting for a model.
    Crisis,
}

impl Response {
    /// A stable name for traces and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Support => "support",
            Self::CheckIn => "check_in",
            Self::HelpThem => "help_them",
            Self::Crisis => "crisis",
        }
    }
}

impl Assessment {
    /// No sign of danger.
    pub fn safe() -> Self {
        Self::default()
    }

    pub fn new(severity: Severity, mut categories: Vec<RiskCategory>, layer: Layer) -> Self {
        categories.sort();
        categories.dedup();
        if categories.is_empty() || severity == Severity::None {
            return Self::safe();
        }
        Self {
            severity,
            categories,
            layer: Some(layer),
        }
    }

    pub fn is_crisis(&self) -> bool {
        self.severity > Severity::None
    }

    /// The category the response is about. Danger to the person themselves comes before
    /// worry about someone else; a medical emergency before everything.
    pub fn primary(&self) -> Option<RiskCategory> {
        if self.categories.contains(&RiskCategory::MedicalEmergency)
            && self.severity == Severity::Imminent
        {
            return Some(RiskCategory::MedicalEmergency);
        }
        self.categories.first().copied()
    }

    /// Keeps the more serious of two assessments; categories are merged when both see
    /// danger, and the layer that saw it first stays.
    pub fn merge(self, other: Self) -> Self {
        if !other.is_crisis() {
            return self;
        }
        if !self.is_crisis() {
            return other;
        }
        let mut categories = self.categories;
        categories.extend(other.categories);
        categories.sort();
        categories.dedup();
        Self {
            severity: self.severity.max(other.severity),
            categories,
            layer: self.layer,
        }
    }

    /// The graded response: imminent danger → crisis lines first; someone else at risk →
    /// how to help them; elevated → ask about safety; otherwise an ordinary reply.
    pub fn response(&self) -> Response {
        match (self.severity, self.primary()) {
            (Severity::None, _) | (_, None) => Response::Support,
            (_, Some(RiskCategory::ConcernForOther)) => Response::HelpThem,
            (Severity::Imminent, _) => Response::Crisis,
            (Severity::Elevated, _) => Response::CheckIn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_back_in_both_spellings() {
        for category in RiskCategory::ALL {
            assert_eq!(RiskCategory::from_label(category.label()), Some(category));
        }
        assert_eq!(
            RiskCategory::from_label("suicidal_ideation"),
            Some(RiskCategory::SuicidalIdeation)
        );
        assert_eq!(RiskCategory::from_label("sad"), None);
        assert_eq!(Severity::from_label("imminent"), Some(Severity::Imminent));
    }

    #[test]
    fn responses_follow_severity_and_whom_the_danger_concerns() {
        use RiskCategory::*;
        let of = |severity, categories: &[RiskCategory]| {
            Assessment::new(severity, categories.to_vec(), Layer::Rules).response()
        };
        assert_eq!(
            of(Severity::Imminent, &[SuicidalIdeation]),
            Response::Crisis
        );
        assert_eq!(
            of(Severity::Elevated, &[SuicidalIdeation]),
            Response::CheckIn
        );
        assert_eq!(
            of(Severity::Elevated, &[ConcernForOther]),
            Response::HelpThem
        );
        assert_eq!(
            of(Severity::Imminent, &[ConcernForOther]),
            Response::HelpThem
        );
        assert_eq!(
            of(Severity::Imminent, &[SuicidalIdeation, ConcernForOther]),
            Response::Crisis
        );
        assert_eq!(of(Severity::None, &[SelfHarm]), Response::Support);
        assert_eq!(of(Severity::Elevated, &[]), Response::Support);
    }

    #[test]
    fn merging_keeps_the_worse_and_the_first_layer() {
        let rules = Assessment::new(
            Severity::Elevated,
            vec![RiskCategory::SelfHarm],
            Layer::Rules,
        );
        let learned = Assessment::new(
            Severity::Imminent,
            vec![RiskCategory::SuicidalIdeation],
            Layer::Learned,
        );
        let merged = rules.merge(learned);
        assert_eq!(merged.severity, Severity::Imminent);
        assert_eq!(
            merged.categories,
            vec![RiskCategory::SuicidalIdeation, RiskCategory::SelfHarm]
        );
        assert_eq!(merged.layer, Some(Layer::Rules));
        assert_eq!(
            Assessment::safe().merge(Assessment::safe()),
            Assessment::safe()
        );
    }
}
