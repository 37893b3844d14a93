//! Checks on what the model says before it reaches a person: no diagnoses, no medication
//! doses, no pretending to be human or a clinician, and nothing about how to self-harm.

use serde::Serialize;

use super::text::{clauses, Phrase};

/// A rule the model's text broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Violation {
    /// Named a condition the person "has".
    Diagnosis,
    /// Told someone how much of a medicine to take.
    MedicationDose,
    /// Claimed to be a person or a licensed professional.
    ClaimsToBeHuman,
    /// Described a way to hurt oneself.
    SelfHarmMethod,
}

static DIAGNOSIS: &[Phrase] = &[
    Phrase("you * have|suffer|got * depression|bipolar|bpd|adhd|ptsd|ocd|schizophrenia|psychosis|anorexia|bulimia|autism|borderline|dementia"),
    Phrase("youve got|developed * depression|bipolar|bpd|adhd|ptsd|ocd|schizophrenia|psychosis|anorexia|bulimia|autism|borderline|dementia"),
    Phrase("you are suffering * depression|bipolar|bpd|adhd|ptsd|ocd|schizophrenia|psychosis|anorexia|bulimia"),
    Phrase("you have|got * anxiety|eating|personality|mood|panic disorder"),
    Phrase("you are|youre * clinically depressed"),
    Phrase("you are * bipolar|schizophrenic|psychotic|narcissist|autistic|anorexic|bulimic"),
    Phrase("youre * bipolar|schizophrenic|psychotic|narcissist|autistic|anorexic|bulimic"),
    Phrase("my diagnosis is"),
    Phrase("i * diagnose you"),
    Phrase("this is * clear case of"),
    Phrase("you * meet the criteria"),
];

static DOSING: &[Phrase] = &[
    Phrase("take|try|increase|double|reduce|lower|raise|up|start * mg|milligrams|ml|microgram~|mcg"),
    Phrase("increase|double|reduce|lower|raise|change|adjust|stop|skip * your|the dose|dosage|medication|meds"),
    Phrase("take * pills|tablets|capsules * a|per|every day|night|hours"),
];

static HUMAN: &[Phrase] = &[
    Phrase("im|am * human|person"),
    Phrase("im|am not * ai|bot|robot|machine|program|chatbot"),
    Phrase("as a human|person"),
    Phrase("im|am * licensed|certified|qualified|registered|real therapist|psychologist|psychiatrist|counsellor|counselor|doctor|clinician|nurse"),
    Phrase("im|am your therapist|psychologist|psychiatrist|doctor|counsellor|counselor"),
    Phrase("as your therapist|psychologist|doctor|counsellor|counselor"),
];

static METHOD: &[Phrase] = &[
    Phrase("lethal|fatal|deadly dose|amount"),
    Phrase("how to|way to|ways to * kill yourself|overdose|hang|cut"),
    Phrase("tie|tying * noose"),
    Phrase("painless|quickest|easiest|surest * way|ways|method|methods"),
    Phrase("most effective * way|ways|method|methods * die|overdose|kill"),
    Phrase("cut * deeper|vertically|along"),
    Phrase("jump from * height|bridge|building|roof"),
    Phrase("enough * pills|tablets * to die|kill|overdose"),
];

/// Every rule the text breaks, in the order above.
pub fn check(text: &str) -> Vec<Violation> {
    let clauses = clauses(text);
    let any = |phrases: &[Phrase]| {
        clauses
            .iter()
            .any(|tokens| phrases.iter().any(|p| !p.find(tokens).is_empty()))
    };
    let mut found = Vec::new();
    if any(DIAGNOSIS) {
        found.push(Violation::Diagnosis);
    }
    if any(DOSING) {
        found.push(Violation::MedicationDose);
    }
    if any(HUMAN) {
        found.push(Violation::ClaimsToBeHuman);
    }
    if any(METHOD) {
        found.push(Violation::SelfHarmMethod);
    }
    found
}

/// What is said instead of a reply that broke a rule. Method information is never passed
/// on in any form; the caller answers that case with the crisis reply.
pub fn replacement(violation: Violation) -> &'static str {
    match violation {
        Violation::Diagnosis => {
            "I'm not able to diagnose anything — I'm an AI, not a clinician. What you're \
             describing sounds really hard, and a doctor or licensed therapist could help you \
             understand it properly. Would you like to talk about how it's been affecting you?"
        }
        Violation::MedicationDose => {
            "I can't give advice about medication or doses — please check with your doctor or \
             pharmacist, who know your situation. I'm glad to keep talking about how you're \
             feeling in the meantime."
        }
        Violation::ClaimsToBeHuman => {
            "I should be clear: I'm an AI, not a person and not a licensed therapist. I'm here \
             to listen and support you as well as I can."
        }
        Violation::SelfHarmMethod => {
            "I can't help with that. If you're thinking about hurting yourself, please reach \
             out to a crisis line now — you deserve support from a real person."
        }
    }
}
