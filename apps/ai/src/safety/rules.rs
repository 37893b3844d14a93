//! The first layer of crisis detection: phrases a person writes, in six languages.
//!
//! Phrases, not single words: "this traffic is killing me" is not a crisis, "I want to
//! kill myself" is. A phrase after a negation in the same clause ("I would never hurt
//! myself") does not count, unless the phrase carries its own negation ("I don't want to
//! live"). Questions about means — heights, lethal doses — count on their own when they
//! are unmistakable, and otherwise when the conversation already shows distress. Each
//! phrase carries a severity (C-SSRS: a wish or thought is elevated; a plan, means,
//! preparation or a time is imminent), and a clause about someone else ("my brother
//! wants to kill himself") is worry for them, not danger to the writer.
//!
//! Rules are precise but cannot foresee every way of saying something; the learned
//! layer (`learned.rs`) and the conversation layer catch what they miss.

use super::assessment::{Assessment, Layer, RiskCategory, Severity};
use super::text::{clauses, Phrase};

struct Rule {
    category: RiskCategory,
    severity: Severity,
    phrase: Phrase,
    /// The phrase already says "not" ("don't want to live"), so a negation before it
    /// does not cancel it.
    self_negated: bool,
    /// Words right after the match that make it harmless ("cut myself *shaving*").
    unless_followed_by: &'static [&'static str],
}

/// How urgent a phrase of each category is unless the rule says otherwise.
const fn usual_severity(category: RiskCategory) -> Severity {
    match category {
        RiskCategory::HarmToOthers | RiskCategory::MedicalEmergency => Severity::Imminent,
        _ => Severity::Elevated,
    }
}

const fn rule(category: RiskCategory, phrase: &'static str) -> Rule {
    Rule {
        category,
        severity: usual_severity(category),
        phrase: Phrase(phrase),
        self_negated: false,
        unless_followed_by: &[],
    }
}

/// A phrase that means intent, a plan, preparation or means: imminent on its own.
const fn imminent(category: RiskCategory, phrase: &'static str) -> Rule {
    Rule {
        severity: Severity::Imminent,
        ..rule(category, phrase)
    }
}

/// A phrase that means thoughts, not intent.
const fn elevated(category: RiskCategory, phrase: &'static str) -> Rule {
    Rule {
        severity: Severity::Elevated,
        ..rule(category, phrase)
    }
}

const fn negated(category: RiskCategory, phrase: &'static str) -> Rule {
    Rule {
        category,
        severity: usual_severity(category),
        phrase: Phrase(phrase),
        self_negated: true,
        unless_followed_by: &[],
    }
}

const fn unless(
    category: RiskCategory,
    phrase: &'static str,
    followed_by: &'static [&'static str],
) -> Rule {
    Rule {
        category,
        severity: usual_severity(category),
        phrase: Phrase(phrase),
        self_negated: false,
        unless_followed_by: followed_by,
    }
}

use RiskCategory::{
    Abuse, ConcernForOther, HarmToOthers, MedicalEmergency, SelfHarm, SuicidalIdeation,
};

const ACCIDENTS: &[&str] = &[
    "shaving",
    "cooking",
    "accidentally",
    "by",
    "while",
    "on",
    "opening",
    "chopping",
    "slicing",
    "at",
    "in",
    "when",
    "ironing",
    "baking",
];

const HURT_ACCIDENTS: &[&str] = &[
    "at",
    "in",
    "while",
    "playing",
    "lifting",
    "running",
    "skiing",
    "falling",
    "by",
    "when",
    "on",
    "during",
    "accidentally",
];

static RULES: &[Rule] = &[
    // Suicidal ideation, said outright.
    rule(SuicidalIdeation, "kill~ myself"),
    rule(SuicidalIdeation, "someone|somebody|please|just kill me"),
    rule(SuicidalIdeation, "want|wish * to be killed"),
    rule(SuicidalIdeation, "kms"),
    unless(
        SuicidalIdeation,
        "suicid~",
        &["squad", "prevention", "awareness", "hotline", "rates", "statistics", "bomber"],
    ),
    rule(SuicidalIdeation, "end|ending|take|taking my life"),
    rule(SuicidalIdeation, "end|ending|take|taking my own life"),
    rule(SuicidalIdeation, "end|ending it all"),
    rule(SuicidalIdeation, "want to * die"),
    imminent(SuicidalIdeation, "going|ready|plan|planning to * die"),
    unless(SuicidalIdeation, "wanna|gonna * die", &["laughing"]),
    rule(SuicidalIdeation, "wish|wished * was|were dead"),
    rule(SuicidalIdeation, "wish * never been born"),
    rule(SuicidalIdeation, "better off dead"),
    rule(SuicidalIdeation, "better off without me"),
    negated(SuicidalIdeation, "hope|wish * never|not|dont wake up"),
    negated(SuicidalIdeation, "dont|never want to wake up"),
    negated(SuicidalIdeation, "dont|no|longer want to live|exist"),
    negated(SuicidalIdeation, "do not want to live|exist"),
    negated(SuicidalIdeation, "dont|longer want to be alive"),
    negated(SuicidalIdeation, "not sure * want to live"),
    negated(SuicidalIdeation, "not sure * want to be alive"),
    negated(SuicidalIdeation, "dont think * can go on"),
    negated(SuicidalIdeation, "no reason|point to live|living|continue"),
    negated(SuicidalIdeation, "no reason|point in living"),
    negated(SuicidalIdeation, "cant|cannot go on"),
    negated(SuicidalIdeation, "cant|cannot keep going"),
    negated(SuicidalIdeation, "cant|cannot do this anymore"),
    rule(SuicidalIdeation, "see no way out"),
    negated(SuicidalIdeation, "dont|cant see a|any way out"),
    rule(SuicidalIdeation, "tired|sick of living"),
    rule(SuicidalIdeation, "tired|sick of being alive"),
    rule(SuicidalIdeation, "tired|sick of life"),
    rule(SuicidalIdeation, "want|need it all to stop|end"),
    rule(SuicidalIdeation, "want|need everything to stop|end"),
    rule(SuicidalIdeation, "want|wish to disappear forever"),
    imminent(SuicidalIdeation, "goodbye letter|note"),
    imminent(SuicidalIdeation, "this is goodbye"),
    imminent(SuicidalIdeation, "giving away my things|stuff|belongings"),
    rule(SuicidalIdeation, "nobody would miss me"),
    rule(SuicidalIdeation, "no one would miss me"),
    rule(SuicidalIdeation, "world would be better without me"),
    rule(SuicidalIdeation, "burden to everyone"),
    rule(SuicidalIdeation, "unalive myself"),
    // Spanish, French, German, Portuguese, Italian.
    rule(SuicidalIdeation, "quiero|quisiera morir~|morirme"),
    rule(SuicidalIdeation, "matarme|suicidarme"),
    rule(SuicidalIdeation, "quitarme la vida"),
    negated(SuicidalIdeation, "no quiero vivir"),
    rule(SuicidalIdeation, "veux|voudrais mourir"),
    rule(SuicidalIdeation, "me suicider|tuer"),
    rule(SuicidalIdeation, "en|den finir"),
    rule(SuicidalIdeation, "will|mochte|moechte sterben"),
    rule(SuicidalIdeation, "mich umbringen"),
    rule(SuicidalIdeation, "selbstmord~"),
    rule(SuicidalIdeation, "mir das leben nehmen"),
    rule(SuicidalIdeation, "quero morrer"),
    rule(SuicidalIdeation, "me matar"),
    rule(SuicidalIdeation, "tirar minha vida"),
    rule(SuicidalIdeation, "voglio morire"),
    rule(SuicidalIdeation, "uccidermi"),
    rule(SuicidalIdeation, "togliermi la vita"),
    // Means, unmistakable on their own.
    imminent(SuicidalIdeation, "lethal|fatal|deadly dose|amount"),
    imminent(SuicidalIdeation, "how many * pills|tablets * kill|die|fatal|lethal"),
    imminent(SuicidalIdeation, "pills|tablets * take to die|overdose"),
    imminent(SuicidalIdeation, "how many * pills|tablets * to overdose"),
    imminent(SuicidalIdeation, "tie|tying a noose"),
    imminent(SuicidalIdeation, "painless way|ways to die|go"),
    imminent(SuicidalIdeation, "quickest|easiest|best way|ways to die"),
    // Self-harm.
    unless(SelfHarm, "cut|cutting|cuts myself", ACCIDENTS),
    unless(SelfHarm, "burn|burning|burned myself", ACCIDENTS),
    unless(SelfHarm, "hurt|hurting|harm|harming myself", HURT_ACCIDENTS),
    rule(SelfHarm, "cut|cutting|burn|burned|burning|hurt|hurting myself on|deliberately|intentionally purpose"),
    rule(SelfHarm, "cut|cutting|burn|burned|burning|hurt|hurting myself deliberately|intentionally"),
    rule(SelfHarm, "self harm~"),
    rule(SelfHarm, "selfharm~"),
    rule(SelfHarm, "hit|hitting|punch|punching myself"),
    rule(SelfHarm, "starve|starving myself"),
    rule(SelfHarm, "make myself bleed"),
    rule(SelfHarm, "want|need to feel pain"),
    rule(SelfHarm, "relapsed * cutting|selfharm|harm"),
    rule(SelfHarm, "hacerme dano"),
    rule(SelfHarm, "autolesion~"),
    rule(SelfHarm, "me corto"),
    rule(SelfHarm, "me faire du mal"),
    rule(SelfHarm, "me scarifier"),
    rule(SelfHarm, "scarification"),
    rule(SelfHarm, "mich ritzen"),
    rule(SelfHarm, "ritze mich"),
    rule(SelfHarm, "selbstverletz~"),
    rule(SelfHarm, "me cortar"),
    rule(SelfHarm, "automutila~"),
    // Harm to others.
    unless(
        HarmToOthers,
        "want|going|plan|planning|about to kill|hurt|stab|shoot him|her|them|someone|somebody|people",
        &["time"],
    ),
    rule(HarmToOthers, "gonna|wanna|will|ill kill|hurt|stab|shoot him|her|them|someone|somebody|people"),
    rule(HarmToOthers, "to|gonna|wanna|will|ill kill|hurt|stab|shoot my wife|husband|partner|boss|baby|child|kids|mom|dad|brother|sister|neighbor|neighbour"),
    rule(HarmToOthers, "make them|him|her pay with|by"),
    elevated(HarmToOthers, "thoughts of hurting|harming|killing my|someone|others|people"),
    rule(HarmToOthers, "shoot up the|my school|office|work"),
    rule(HarmToOthers, "bring a gun|knife to school|work"),
    // Abuse.
    unless(Abuse, "he|she|they|partner|husband|wife|boyfriend|girlfriend|dad|father|mom|mother|stepdad|stepmom|uncle|brother hits|beats|chokes|kicks|slaps|strangles|burns me", &["at", "in", "to", "by"]),
    unless(Abuse, "he|she|they|partner|husband|wife|boyfriend|girlfriend|dad|father|mom|mother|stepdad|stepmom|uncle|brother hit|beat|choked|kicked|slapped|strangled|burned me", &["at", "in", "to", "by"]),
    rule(Abuse, "being abused"),
    rule(Abuse, "being hurt at home"),
    rule(Abuse, "abusing|abused me"),
    imminent(Abuse, "threatened to kill|hurt me"),
    rule(Abuse, "not safe at home"),
    rule(Abuse, "afraid|scared to go home"),
    rule(Abuse, "wont let me leave"),
    rule(Abuse, "touches|touched me inappropriately"),
    rule(Abuse, "touches|touched me when"),
    rule(Abuse, "raped|molested"),
    rule(Abuse, "sexually assaulted|abused"),
    rule(Abuse, "me pega|golpea|maltrata"),
    rule(Abuse, "me frappe|bat"),
    rule(Abuse, "schlagt|schlaegt mich"),
    rule(Abuse, "me bate"),
    // Someone else at risk.
    rule(ConcernForOther, "kill~|hurt~|harm~|cut~|unalive himself|herself|themselves|themself"),
    rule(ConcernForOther, "end|ending|take|taking his|her|their life|own life"),
    rule(ConcernForOther, "he|she|they|friend|brother|sister|son|daughter|mom|dad * is|seems|sounds|been * suicidal"),
    rule(ConcernForOther, "he|she|they * wants|talks|talking|keeps * to die|about dying|about suicide|about ending it"),
    rule(ConcernForOther, "quiere matarse|suicidarse"),
    rule(ConcernForOther, "veut se tuer|suicider"),
    rule(ConcernForOther, "will sich umbringen|toeten"),
    rule(ConcernForOther, "vuole uccidersi|suicidarsi"),
    rule(ConcernForOther, "quer se matar|suicidar"),
    // Medical emergency.
    rule(MedicalEmergency, "took|swallowed|taken * too many"),
    rule(MedicalEmergency, "took|swallowed|taken * whole bottle|pack|box"),
    rule(MedicalEmergency, "took|swallowed|taken all my pills|meds|tablets"),
    rule(MedicalEmergency, "overdos~"),
    rule(MedicalEmergency, "cant|cannot breathe"),
    rule(MedicalEmergency, "chest pain~|hurts"),
    rule(MedicalEmergency, "bleeding a lot"),
    rule(MedicalEmergency, "wont stop bleeding"),
    rule(MedicalEmergency, "bleeding heavily"),
    rule(MedicalEmergency, "having a seizure|stroke"),
    rule(MedicalEmergency, "having a heart attack"),
    rule(MedicalEmergency, "passed out"),
    rule(MedicalEmergency, "keep passing out"),
    rule(MedicalEmergency, "drank bleach|poison"),
];

/// Words that cancel a phrase when they come shortly before it in the same clause.
/// ("can't" is not one: "I can't stop thinking about killing myself" is no denial.)
const NEGATORS: &[&str] = &[
    "never", "not", "dont", "doesnt", "didnt", "wont", "wouldnt", "shouldnt", "isnt", "arent",
    "no", "nor", "stopped", "quit", "nunca", "jamas", "jamais", "pas", "ne", "nicht", "nie",
    "kein", "keine", "nao", "non", "mai",
];

/// A subject starts a new statement: in "I don't know why I want to die" the "don't" belongs
/// to "know", not to "want to die".
const SUBJECTS: &[&str] = &[
    "i", "im", "ive", "id", "ill", "yo", "je", "ich", "eu", "io", "you", "he", "she", "they",
];

/// How many words before a phrase a negation may stand.
const NEGATION_WINDOW: usize = 4;

fn negated_before(tokens: &[String], start: usize) -> bool {
    tokens[..start]
        .iter()
        .rev()
        .take(NEGATION_WINDOW)
        .take_while(|t| !SUBJECTS.contains(&t.as_str()))
        .any(|t| NEGATORS.contains(&t.as_str()))
}

/// Questions about means that are ordinary on their own ("what bridges are tallest here?")
/// but alarming after someone said they are in pain.
static MEANS: &[Phrase] = &[
    Phrase("bridge~|building~|roof~|cliff~|tower~"),
    Phrase("how high|tall|far"),
    Phrase("fall|jump|drop from"),
    Phrase("tallest|highest"),
    Phrase("buy|get * gun|rope|pills"),
    Phrase("how many * pills|tablets"),
    Phrase("train~ * tracks|times|crossing|station"),
    Phrase("rope strong enough"),
];

/// Signs that someone is struggling, which make a later question about means alarming.
static DISTRESS: &[Phrase] = &[
    Phrase("hopeless|worthless|pointless|empty|numb|alone|lonely|miserable|desperate|exhausted"),
    Phrase("sad|depressed|broken|crying|heartbroken|devastated"),
    Phrase("hate myself"),
    Phrase("cant cope|take"),
    Phrase("give|giving up"),
    Phrase("nothing matters"),
    Phrase("nobody|noone cares"),
    Phrase("no one cares"),
    Phrase("lost everything"),
    Phrase("triste|deprimid~|desesper~|epuise|deprime|traurig|verzweifelt|sozinh~|solo|sola"),
];

fn contains_any(clauses: &[Vec<String>], phrases: &[Phrase]) -> bool {
    clauses
        .iter()
        .any(|tokens| phrases.iter().any(|p| !p.find(tokens).is_empty()))
}

/// Words that make a thought a plan: a time, a decision, something already under way.
const INTENT: &[&str] = &[
    "tonight",
    "today",
    "tomorrow",
    "now",
    "gonna",
    "going",
    "ready",
    "decided",
    "planned",
    "plan",
    "planning",
    "hoy",
    "manana",
    "ahora",
    "soir",
    "demain",
    "maintenant",
    "heute",
    "morgen",
    "jetzt",
    "stasera",
    "domani",
    "oggi",
    "adesso",
    "hoje",
    "amanha",
    "agora",
];

/// Someone other than the writer, and the writer themselves: a clause that names only
/// the former is about someone else ("my brother wants to die").
const THIRD_PERSON: &[&str] = &[
    "he",
    "she",
    "hes",
    "shes",
    "they",
    "theyre",
    "friend",
    "brother",
    "sister",
    "son",
    "daughter",
    "mom",
    "mum",
    "mother",
    "dad",
    "father",
    "husband",
    "wife",
    "partner",
    "boyfriend",
    "girlfriend",
    "roommate",
    "cousin",
    "amigo",
    "amiga",
    "hermano",
    "hermana",
    "hijo",
    "hija",
    "ami",
    "amie",
    "frere",
    "soeur",
    "fils",
    "fille",
    "freund",
    "freundin",
    "bruder",
    "schwester",
    "sohn",
    "tochter",
    "amico",
    "amica",
    "fratello",
    "sorella",
    "figlio",
    "figlia",
    "irmao",
    "irma",
    "filho",
    "filha",
];
const FIRST_PERSON: &[&str] = &[
    "i", "im", "ive", "id", "ill", "me", "myself", "yo", "je", "ich", "io", "eu", "mich",
];

fn about_someone_else(tokens: &[String]) -> bool {
    let has = |words: &[&str]| tokens.iter().any(|t| words.contains(&t.as_str()));
    has(THIRD_PERSON) && !has(FIRST_PERSON)
}

/// Assesses one message by its phrases, given the person's earlier messages in this
/// conversation (most recent last), which only ever raise the level, never lower it.
pub fn assess(message: &str, earlier: &[&str]) -> Assessment {
    let clauses = clauses(message);
    let mut categories = Vec::new();
    let mut severity = Severity::None;
    for tokens in &clauses {
        let intent = tokens.iter().any(|t| INTENT.contains(&t.as_str()));
        let someone_else = about_someone_else(tokens);
        for rule in RULES {
            let hit = rule.phrase.find(tokens).into_iter().any(|(start, end)| {
                let cancelled = !rule.self_negated && negated_before(tokens, start);
                let harmless = tokens
                    .get(end)
                    .is_some_and(|next| rule.unless_followed_by.contains(&next.as_str()));
                !cancelled && !harmless
            });
            if !hit {
                continue;
            }
            let category = match rule.category {
                SuicidalIdeation | SelfHarm if someone_else => ConcernForOther,
                category => category,
            };
            // A time or a decision turns a thought into a plan; a wish not to be here
            // ("hope I don't wake up tomorrow") stays a wish.
            let level = if intent && !rule.self_negated && category != ConcernForOther {
                Severity::Imminent
            } else {
                rule.severity
            };
            severity = severity.max(level);
            categories.push(category);
        }
    }
    if !categories.contains(&SuicidalIdeation) && contains_any(&clauses, MEANS) {
        let distressed = contains_any(&clauses, DISTRESS)
            || earlier.iter().rev().take(6).any(|turn| {
                contains_any(&clauses_of(turn), DISTRESS) || assess(turn, &[]).is_crisis()
            });
        if distressed {
            categories.push(SuicidalIdeation);
            severity = Severity::Imminent;
        }
    }
    Assessment::new(severity, categories, Layer::Rules)
}

/// Phrases that show distress: the conversation layer uses them to read a question
/// about heights or pills in the light of what came before.
pub fn shows_distress(message: &str) -> bool {
    contains_any(&clauses(message), DISTRESS)
}

/// A question about means (heights, pills, rope, trains), harmless alone.
pub fn asks_about_means(message: &str) -> bool {
    contains_any(&clauses(message), MEANS)
}

fn clauses_of(text: &str) -> Vec<Vec<String>> {
    clauses(text)
}
