//! Sparse lexical features for the learned layer: hashed word unigrams and bigrams and
//! character 3–5-grams of the folded text. They let the classification head learn
//! spellings the English sentence-embedding model splits into meaningless pieces
//! ("quiero", "umbringen", "ammazzarmi"), typos and slang, in any of the languages.

use super::text::clauses;

/// Number of hash buckets: a power of two, so the bucket is a mask of the hash.
pub const BUCKETS: usize = 1 << 14;

/// FNV-1a: stable across runs, platforms and versions, which the saved head relies on.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hash ^= 0x1f;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn bucket(kind: &str, parts: &[&str]) -> u32 {
    let mut all = Vec::with_capacity(parts.len() + 1);
    all.push(kind);
    all.extend_from_slice(parts);
    // The mask keeps the value below BUCKETS (2^14), so the cast never truncates.
    (fnv1a(&all) as usize & (BUCKETS - 1)) as u32
}

/// The buckets a text touches with their weights, L2-normalised so long and short
/// messages weigh the same; sorted by bucket, each bucket once.
pub fn extract(text: &str) -> Vec<(u32, f32)> {
    let mut counts: std::collections::BTreeMap<u32, f32> = std::collections::BTreeMap::new();
    let mut add = |b: u32| *counts.entry(b).or_insert(0.0) += 1.0;
    for clause in clauses(text) {
        for (i, word) in clause.iter().enumerate() {
            add(bucket("w", &[word]));
            if let Some(next) = clause.get(i + 1) {
                add(bucket("b", &[word, next]));
            }
            let padded: Vec<char> = format!("<{word}>").chars().collect();
            for n in 3..=5 {
                for gram in padded.windows(n) {
                    let gram: String = gram.iter().collect();
                    add(bucket("c", &[&gram]));
                }
            }
        }
    }
    let norm = counts.values().map(|v| v * v).sum::<f32>().sqrt();
    if norm == 0.0 {
        return Vec::new();
    }
    counts.into_iter().map(|(b, v)| (b, v / norm)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_stable_normalised_and_fold_case_and_accents() {
        let a = extract("Quiero MORIR");
        assert_eq!(a, extract("quiero morír"));
        let norm: f32 = a.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(a.iter().all(|(b, _)| (*b as usize) < BUCKETS));
        assert!(extract("").is_empty());
        assert!(extract("🙂 ... !!").is_empty());
    }

    #[test]
    fn the_hash_never_changes() {
        // A saved head depends on these values; changing the hash silently breaks it.
        assert_eq!(fnv1a(&["w", "die"]), fnv1a(&["w", "die"]));
        assert_eq!(bucket("w", &["die"]), bucket("w", &["die"]));
        assert_eq!(fnv1a(&[""]), 0xcbf2_9ce4_8422_2325);
    }
}
