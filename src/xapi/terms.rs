//! The keys of the term dictionary: every term a Statement is filed under (IFI, IRI,
//! verb id, registration, agent+verb pair) is stored once per store under a 128-bit
//! digest of it, and the index rows hold the dictionary id. The database computes the
//! same keys (`commonplace_term_key`, `commonplace_pair_key` in migration 0019), so the
//! server can look terms up by key and SQL can key what it derives (pairs inherited
//! through a StatementRef). A digest can still be tested against a candidate address,
//! so erasure deletes the person's keys (`store::erasure`).

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The key of a term text: the first 16 bytes of SHA-256 of its UTF-8 bytes.
pub fn term_key(text: &str) -> Uuid {
    first_16(Sha256::digest(text.as_bytes()).as_slice())
}

/// The key of an agent+verb pair: the first 16 bytes of SHA-256 of the verb's key bytes
/// followed by the agent's. Keyed from the two keys, not a text, so SQL can pair the
/// agents and verbs a Statement holds from their dictionary rows alone.
pub fn pair_key(verb: Uuid, agent: Uuid) -> Uuid {
    let mut digest = Sha256::new();
    digest.update(verb.as_bytes());
    digest.update(agent.as_bytes());
    first_16(digest.finalize().as_slice())
}

fn first_16(digest: &[u8]) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_key_is_the_head_of_its_sha256() {
        // sha256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 ...
        assert_eq!(
            term_key("abc").to_string(),
            "ba7816bf-8f01-cfea-4141-40de5dae2223"
        );
    }

    #[test]
    fn a_pair_key_depends_on_the_order_of_verb_and_agent() {
        let verb = term_key("http://adlnet.gov/expapi/verbs/completed");
        let agent = term_key("mailto:learner@example.com");
        assert_ne!(pair_key(verb, agent), pair_key(agent, verb));
        assert_ne!(pair_key(verb, agent), verb);
    }
}
