//! Solace's library: short psychoeducation notes the team writes and reviews
//! (`apps/ai/data/knowledge/`: grounding, breathing, panic, sleep, worry, loneliness, low
//! mood, self-compassion, grief, stress, getting help, supporting a friend), built into
//! the binary. A message is matched against them the way memory is — the same embedder,
//! the same vectors — and the closest note, when it is close enough, is given to the model
//! to draw on and name; the reply's `done` event says which note it was.

use super::{similarity, EmbedError, Embedder};

/// A note as written: `# Title`, a `topics:` line, the text, a `sources:` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub slug: &'static str,
    pub title: String,
    pub topics: String,
    pub body: String,
    pub sources: String,
}

macro_rules! notes {
    ($($slug:literal),* $(,)?) => {
        &[$(($slug, include_str!(concat!("../../data/knowledge/", $slug, ".md")))),*]
    };
}

/// The notes built into the binary, by slug.
const FILES: &[(&str, &str)] = notes!(
    "grounding-5-4-3-2-1",
    "slow-breathing",
    "panic-attacks",
    "sleep-basics",
    "worry-time",
    "loneliness",
    "behavioural-activation",
    "self-compassion",
    "grief",
    "work-stress-burnout",
    "getting-professional-help",
    "supporting-a-friend",
);

/// Reads a note's file; `None` when it lacks its title.
pub fn parse(slug: &'static str, text: &str) -> Option<Note> {
    let mut lines = text.lines();
    let title = lines.next()?.strip_prefix("# ")?.trim().to_owned();
    let mut topics = String::new();
    let mut sources = String::new();
    let mut body = Vec::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("topics:") {
            topics = rest.trim().to_owned();
        } else if let Some(rest) = line.strip_prefix("sources:") {
            sources = rest.trim().to_owned();
        } else {
            body.push(line);
        }
    }
    Some(Note {
        slug,
        title,
        topics,
        body: body.join("\n").trim().to_owned(),
        sources,
    })
}

/// Every built-in note.
pub fn notes() -> Vec<Note> {
    FILES
        .iter()
        .filter_map(|(slug, text)| parse(slug, text))
        .collect()
}

/// The notes with their vectors: each note is read as its title and topics, and as each
/// piece of its text; a message's closeness to a note is its closeness to the nearest.
pub struct Library {
    notes: Vec<Note>,
    /// (note index, vector), several per note.
    vectors: Vec<(usize, Vec<f32>)>,
    model: String,
}

impl Library {
    /// Embeds the built-in notes with `embedder` (a second at most, once at start-up).
    pub async fn build(embedder: &dyn Embedder) -> Result<Self, EmbedError> {
        Self::of(notes(), embedder).await
    }

    pub async fn of(notes: Vec<Note>, embedder: &dyn Embedder) -> Result<Self, EmbedError> {
        let mut owners = Vec::new();
        let mut texts = Vec::new();
        for (i, note) in notes.iter().enumerate() {
            owners.push(i);
            texts.push(format!("{}. {}", note.title, note.topics));
            for piece in super::chunks(&note.body) {
                owners.push(i);
                texts.push(piece.to_owned());
            }
        }
        let vectors = embedder.embed(&texts).await?;
        Ok(Self {
            notes,
            vectors: owners.into_iter().zip(vectors).collect(),
            model: embedder.model_id().to_owned(),
        })
    }

    /// The embedding model the vectors came from (a query must come from the same).
    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn len(&self) -> usize {
        self.notes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }

    /// The note closest to `query`, with its score, when at least `floor` close.
    pub fn find(&self, query: &[f32], floor: f32) -> Option<(&Note, f32)> {
        let (note, score) = self
            .vectors
            .iter()
            .filter(|(_, v)| v.len() == query.len())
            .map(|(i, v)| (*i, similarity(v, query)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        (score >= floor).then(|| (&self.notes[note], score))
    }
}

/// The system message that offers the model a note to draw on.
pub fn library_prompt(note: &Note) -> String {
    format!(
        "A note from Solace's library may help here. Use it only if it fits what the \
person needs right now; if you draw on it, mention it by its title (\"{}\"), keep it \
brief and in your own words, and never present it as a diagnosis.\n\n{}",
        note.title, note.body
    )
}

/// How well the library answers labelled messages (`text`, note slug or `none`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LibraryScore {
    /// Messages a note fits, and how many were offered that note.
    pub fitting: usize,
    pub right: usize,
    /// …offered another note.
    pub wrong: usize,
    /// Messages no note fits, and how many were offered one anyway.
    pub unfitting: usize,
    pub offered: usize,
}

impl LibraryScore {
    /// Scores labelled messages given their vectors (same order).
    pub fn run(library: &Library, labels: &[&str], vectors: &[Vec<f32>], floor: f32) -> Self {
        let mut score = Self::default();
        for (label, vector) in labels.iter().zip(vectors) {
            let found = library.find(vector, floor).map(|(note, _)| note.slug);
            if *label == "none" {
                score.unfitting += 1;
                score.offered += usize::from(found.is_some());
            } else {
                score.fitting += 1;
                score.right += usize::from(found == Some(label));
                score.wrong += usize::from(found.is_some_and(|f| f != *label));
            }
        }
        score
    }
}

impl std::fmt::Display for LibraryScore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = |n: usize, of: usize| n as f64 / of.max(1) as f64;
        write!(
            f,
            "right note {:.3} ({}/{}), another note {:.3}, a note offered where none fits {:.3} ({}/{})",
            rate(self.right, self.fitting),
            self.right,
            self.fitting,
            rate(self.wrong, self.fitting),
            rate(self.offered, self.unfitting),
            self.offered,
            self.unfitting
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_note_has_a_title_topics_text_and_sources() {
        let notes = notes();
        assert_eq!(notes.len(), FILES.len());
        for note in &notes {
            assert!(!note.title.is_empty(), "{}", note.slug);
            assert!(note.topics.contains(','), "{}", note.slug);
            assert!(note.body.split_whitespace().count() > 80, "{}", note.slug);
            assert!(!note.sources.is_empty(), "{}", note.slug);
            assert!(!note.body.contains("topics:") && !note.body.contains("sources:"));
        }
    }

    #[test]
    fn a_note_without_a_title_is_left_out() {
        assert_eq!(parse("x", "no title here"), None);
        let note = parse("x", "# T\ntopics: a, b\n\nText.\nsources: S").unwrap();
        assert_eq!((note.title.as_str(), note.body.as_str()), ("T", "Text."));
    }

    #[tokio::test]
    async fn the_closest_note_is_found_above_the_floor_only() {
        let fake = crate::testing::FakeUpstream::start().await.unwrap();
        let url = url::Url::parse(&fake.base_url()).unwrap();
        let embedder = super::super::OpenAiEmbedder::new(&url, None, "fake").unwrap();
        let library = Library::build(&embedder).await.unwrap();
        assert_eq!(library.model(), "openai:fake");
        let query = embedder
            .embed(&["panic attack, heart pounding, can't breathe".into()])
            .await
            .unwrap()
            .remove(0);
        let (note, score) = library.find(&query, 0.1).unwrap();
        assert_eq!(note.slug, "panic-attacks");
        assert!(library.find(&query, score + 0.01).is_none());
        assert!(
            library.find(&[1.0], -1.0).is_none(),
            "another model's vector"
        );
        assert!(library_prompt(note).contains(&format!("(\"{}\")", note.title)));
    }
}
