//! Graded answers to a message that shows danger: warm, short, and useful right away.
//!
//! - imminent danger → `crisis_reply`: the lines first, without waiting for a model;
//! - someone else at risk → `help_them_reply`: how to help them, and the lines;
//! - elevated risk → a reply that asks directly and gently about safety: the model's,
//!   guided by `check_in_instruction`, or `check_in_reply` when there is no model (or a
//!   late alarm replaces what the model said). Safe-messaging rules hold throughout: no
//!   method detail, hope and help-seeking first, "died by suicide", never "committed".

use super::assessment::{Assessment, RiskCategory};
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
        Some(RiskCategory::ConcernForOther) => {
            "It sounds like someone you care about may be in danger right now. If they might act \
             on it or are hurt, call your local emergency number and stay with them if it is safe \
             to do so."
        }
        None => "I'm here with you.",
    }
}

/// A Markdown reply: an opening that fits what was said, the crisis lines for the
/// person's region, and the two things the app offers right away.
pub fn crisis_reply(assessment: &Assessment, lines: &[&CrisisLine]) -> String {
    let mut reply = String::from(opening(assessment));
    reply.push_str("\n\n**You can talk to someone right now, for free:**\n");
    reply.push_str(&line_list(lines));
    reply.push_str(
        "\nIf you'd like, we can also make a **safety plan** together — your warning signs, \
         things that help, people you can reach, and your reasons to keep going — or try a \
         short **grounding exercise** like 5-4-3-2-1 or box breathing.\n\n\
         I'm an AI, not a crisis counsellor, but I'm here and I'll keep listening.",
    );
    reply
}

/// Lines as a Markdown list.
fn line_list(lines: &[&CrisisLine]) -> String {
    let mut list = String::new();
    for line in lines {
        let how = match line.how.as_str() {
            "web" => "visit",
            other => other,
        };
        list.push_str(&format!(
            "- **{}** — {} **{}** ({})\n",
            line.name, how, line.contact, line.hours
        ));
    }
    list
}

/// Worry about someone else: what helps (the #BeThe1To steps), and the lines they or
/// the writer can call.
pub fn help_them_reply(lines: &[&CrisisLine]) -> String {
    let mut reply = String::from(
        "It means a lot that you're looking out for them. A few things help most:\n\n\
         1. **Ask them directly**, kindly: \"Are you thinking about killing yourself?\" Asking \
         does not put the idea in their head — it shows you can hear the answer.\n\
         2. **Listen** without judging or arguing; let them talk.\n\
         3. **Help keep them safe**: if they have thought of a way, help put distance between \
         them and it (pills, weapons), and stay with them if they are in danger now.\n\
         4. **Connect them** with a line below, and offer to call with them.\n\
         5. **Follow up** in the days after.\n\n\
         If they are hurt or about to act, call your local emergency number now.\n\n\
         **Lines you or they can reach right now:**\n",
    );
    reply.push_str(&line_list(lines));
    reply.push_str("\nSupporting someone through this is heavy. How are you holding up yourself?");
    reply
}

/// Elevated risk, said without a model: ask directly and gently, with the lines in view.
pub fn check_in_reply(assessment: &Assessment, lines: &[&CrisisLine]) -> String {
    let question = match assessment.primary() {
        Some(RiskCategory::SelfHarm) => {
            "Thank you for telling me. I'd like to understand how you are right now: are you \
             thinking about hurting yourself today, or have you already?"
        }
        Some(RiskCategory::HarmToOthers) => {
            "Thank you for being honest about thoughts that scare you — having them doesn't make \
             you a bad person. Can I ask: do you feel you might act on them, or is anyone in \
             danger right now?"
        }
        Some(RiskCategory::Abuse) => {
            "I'm really sorry this has been happening. It isn't your fault. Are you safe right \
             now, where you are?"
        }
        _ => {
            "I'm really glad you told me, and I want to make sure I understand. Are you having \
             thoughts of ending your life? Whatever the answer, you can tell me — and are you \
             safe right now?"
        }
    };
    let mut reply = String::from(question);
    reply.push_str(
        "\n\nIf it ever feels like too much, you can talk to someone right now, for free:\n",
    );
    reply.push_str(&line_list(lines));
    reply.push_str("\nI'm an AI, not a counsellor, but I'm here and I'm listening.");
    reply
}

/// What the model is told when a message shows elevated risk: ask directly and gently.
pub fn check_in_instruction(assessment: &Assessment) -> &'static str {
    match assessment.primary() {
        Some(RiskCategory::Abuse) => {
            "Safety note for this turn: the person may be describing abuse. Believe them, say \
             it is not their fault, and gently ask whether they are safe right now. Do not \
             suggest confronting the person who hurts them. Keep it short and warm."
        }
        Some(RiskCategory::HarmToOthers) => {
            "Safety note for this turn: the person mentions thoughts of harming someone. Stay \
             calm and non-judgemental, and ask directly whether they feel they might act on \
             them and whether anyone is in danger now. Keep it short and warm."
        }
        _ => {
            "Safety note for this turn: the person may be at risk of suicide or self-harm. \
             Respond with warmth, reflect what they said, and ask directly and gently whether \
             they are having thoughts of ending their life or hurting themselves, and whether \
             they are safe right now. Never describe methods. Mention that crisis lines are \
             shown on screen. Keep it short."
        }
    }
}
