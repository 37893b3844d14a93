//! The answer to a message that shows a crisis: warm, short, and useful right away.

use super::detect::{Assessment, RiskCategory};
use crate::crisis::CrisisLine;

/// The opening line for the most urgent category seen.
fn opening(assessment: &Assessment) -> &'static str {
    match assessment.categories.first() {
        Some(RiskCategory::MedicalEmergency) => {
            "This sounds like it could be a medical emergency. Please call your local emergency \
             number (911 in the US and Canada, 999 in the UK, 112 in the EU) or get someone near \
             you to call now."
        }
        Some(RiskCategory::SuicidalIdeation) => {
            "I'm really glad you told me. It sounds like you're carrying so much pain right now, \
             and you don't have to carry it alone. Your life matters."
        }
        Some(RiskCategory::SelfHarm) => {
            "Thank you for trusting me with this. You deserve care and kindness, especially from \
             yourself, and there are people who can help right now."
        }
        Some(RiskCategory::HarmToOthers) => {
            "It sounds like you're feeling an intensity that scares you. Before anything else, \
             please put some distance between yourself and anything you could use to hurt \
             someone, and reach out to one of these lines now."
        }
        Some(RiskCategory::Abuse) => {
            "I'm so sorry this is happening to you. It is not your fault, and you deserve to be \
             safe. If you are in danger right now, please call your local emergency number."
        }
        None => "I'm here with you.",
    }
}

/// A Markdown reply: an opening that fits what was said, the crisis lines for the
/// person's region, and the two things the app offers right away.
pub fn crisis_reply(assessment: &Assessment, lines: &[&CrisisLine]) -> String {
    let mut reply = String::from(opening(assessment));
    reply.push_str("\n\n**You can talk to someone right now, for free:**\n");
    for line in lines {
        let how = match line.how.as_str() {
            "web" => "visit",
            other => other,
        };
        reply.push_str(&format!(
            "- **{}** — {} **{}** ({})\n",
            line.name, how, line.contact, line.hours
        ));
    }
    reply.push_str(
        "\nIf you'd like, we can also make a **safety plan** together — your warning signs, \
         things that help, people you can reach, and your reasons to keep going — or try a \
         short **grounding exercise** like 5-4-3-2-1 or box breathing.\n\n\
         I'm an AI, not a crisis counsellor, but I'm here and I'll keep listening.",
    );
    reply
}
