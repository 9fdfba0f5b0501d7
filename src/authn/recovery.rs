//! Recovery codes: ten single-use codes shown once, stored as SHA-256
//! hashes (each has 50 random bits; failed tries count toward the lockout).

use super::secret;

/// How many codes a user gets at a time.
pub const COUNT: usize = 10;
/// Unambiguous characters (no 0/o, 1/l/i).
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// Ten new codes, `xxxxx-xxxxx`.
pub fn generate() -> Vec<String> {
    (0..COUNT)
        .map(|_| {
            let mut bytes = [0u8; 10];
            let _ = aws_lc_rs::rand::fill(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET.get(usize::from(*b) % ALPHABET.len()).copied().unwrap_or(b'x')))
                .collect();
            let (a, b) = chars.split_at(5);
            format!("{a}-{b}")
        })
        .collect()
}

/// The stored form of a code as the user typed it (case and dashes ignored).
pub fn hash(code: &str) -> String {
    let normalized: String = code.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    secret::hash(&normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_typing_variants_match() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), COUNT);
        assert_eq!(hash(&codes[0]), hash(&codes[0].to_uppercase().replace('-', " ")));
    }
}
