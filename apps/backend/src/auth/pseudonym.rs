//! Kind, memorable pseudonyms ("Bright Otter") for guests and for anyone who prefers
//! not to show their name in a room.

use argon2::password_hash::rand_core::{OsRng, RngCore};

use crate::db::Db;
use crate::error::Result;

/// Warm or calm qualities only: nothing that could read as a judgement of the person.
const ADJECTIVES: &[&str] = &[
    "Bright",
    "Calm",
    "Gentle",
    "Kind",
    "Warm",
    "Brave",
    "Quiet",
    "Steady",
    "Hopeful",
    "Patient",
    "Curious",
    "Cheerful",
    "Mellow",
    "Serene",
    "Tender",
    "Sunny",
    "Golden",
    "Silver",
    "Soft",
    "Bold",
    "Clever",
    "Friendly",
    "Generous",
    "Graceful",
    "Honest",
    "Humble",
    "Joyful",
    "Lively",
    "Loyal",
    "Merry",
    "Mindful",
    "Nimble",
    "Peaceful",
    "Playful",
    "Radiant",
    "Restful",
    "Sincere",
    "Thoughtful",
    "Tranquil",
    "Trusty",
    "Valiant",
    "Wise",
    "Wandering",
    "Dreamy",
    "Breezy",
    "Cosy",
    "Earnest",
    "Faithful",
    "Fearless",
    "Glowing",
    "Harmonious",
    "Jolly",
    "Luminous",
    "Modest",
    "Open",
    "Placid",
    "Resilient",
    "Rosy",
    "Snug",
    "Sparkling",
    "Spirited",
    "Starry",
    "Sturdy",
    "Sweet",
    "Twinkling",
    "Upbeat",
    "Vivid",
    "Willowy",
    "Zesty",
    "Amber",
    "Azure",
    "Coral",
    "Crimson",
    "Emerald",
    "Indigo",
    "Ivory",
    "Jade",
    "Lilac",
    "Misty",
    "Mossy",
    "Pearl",
    "Rustic",
    "Sage",
    "Scarlet",
    "Velvet",
    "Autumn",
    "Spring",
    "Summer",
    "Winter",
    "Morning",
    "Evening",
    "Moonlit",
    "Sunlit",
    "Dawn",
    "Meadow",
    "River",
    "Ocean",
    "Forest",
    "Mountain",
];

/// Animals people tend to find friendly.
const ANIMALS: &[&str] = &[
    "Otter",
    "Heron",
    "Finch",
    "Lynx",
    "Fox",
    "Panda",
    "Koala",
    "Dolphin",
    "Owl",
    "Robin",
    "Sparrow",
    "Swan",
    "Deer",
    "Rabbit",
    "Hedgehog",
    "Badger",
    "Beaver",
    "Bear",
    "Wren",
    "Lark",
    "Dove",
    "Crane",
    "Seal",
    "Whale",
    "Turtle",
    "Tortoise",
    "Penguin",
    "Puffin",
    "Kingfisher",
    "Hummingbird",
    "Butterfly",
    "Dragonfly",
    "Ladybird",
    "Bumblebee",
    "Squirrel",
    "Chipmunk",
    "Marmot",
    "Mole",
    "Hare",
    "Lamb",
    "Pony",
    "Alpaca",
    "Llama",
    "Camel",
    "Elephant",
    "Giraffe",
    "Zebra",
    "Gazelle",
    "Antelope",
    "Bison",
    "Moose",
    "Elk",
    "Reindeer",
    "Wolf",
    "Coyote",
    "Raccoon",
    "Possum",
    "Wombat",
    "Kangaroo",
    "Wallaby",
    "Platypus",
    "Quokka",
    "Sloth",
    "Capybara",
    "Tapir",
    "Lemur",
    "Gibbon",
    "Meerkat",
    "Mongoose",
    "Ferret",
    "Stoat",
    "Pelican",
    "Flamingo",
    "Ibis",
    "Stork",
    "Egret",
    "Plover",
    "Sandpiper",
    "Swallow",
    "Swift",
    "Starling",
    "Thrush",
    "Nightingale",
    "Magpie",
    "Jay",
    "Cardinal",
    "Bluebird",
    "Oriole",
    "Tanager",
    "Warbler",
    "Goldfinch",
    "Seahorse",
    "Starfish",
    "Manatee",
    "Narwhal",
    "Orca",
    "Walrus",
    "Salamander",
    "Gecko",
];

fn pick<'a>(words: &[&'a str]) -> &'a str {
    let index = (OsRng.next_u32() as usize) % words.len();
    words[index]
}

/// A random "Adjective Animal".
pub fn random() -> String {
    format!("{} {}", pick(ADJECTIVES), pick(ANIMALS))
}

/// A pseudonym no current user has. With about 9,500 pairs a few tries nearly always
/// succeed; after that a number keeps it unique however many people there are.
pub async fn unique(db: &Db) -> Result<String> {
    for attempt in 0..12 {
        let candidate = if attempt < 8 {
            random()
        } else {
            format!("{} {}", random(), 2 + OsRng.next_u32() % 998)
        };
        let taken = sqlx::query("SELECT 1 AS taken FROM users WHERE pseudonym = $1")
            .bind(candidate.clone())
            .fetch_optional(db.pool())
            .await?
            .is_some();
        if !taken {
            return Ok(candidate);
        }
    }
    Ok(format!(
        "{} {}",
        random(),
        crate::db::new_id()[..8].to_owned()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_an_adjective_and_an_animal() {
        for _ in 0..50 {
            let name = random();
            let (adjective, animal) = name.split_once(' ').unwrap_or_default();
            assert!(ADJECTIVES.contains(&adjective), "{name}");
            assert!(ANIMALS.contains(&animal), "{name}");
        }
    }

    #[test]
    fn word_lists_have_no_repeats() {
        for list in [ADJECTIVES, ANIMALS] {
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len());
        }
    }
}
