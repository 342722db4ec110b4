//! Password hashing and checking with argon2id (the `argon2` crate); the
//! parameters of a check come from the PHC string itself.
//!
//! The verify pool's workers check with a [`Verifier`], which keeps the
//! argon2 work memory (19 MiB at the default cost) from one check to the
//! next instead of allocating it anew each time, so a storm of logins costs
//! at most one such buffer per worker, not whatever the allocator keeps.

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The parameters `stxchat passwd` hashes with: the argon2 crate's defaults
/// (argon2id, 19 MiB, 2 passes, 1 lane; OWASP's recommendation).
pub fn default_params() -> Params {
    Params::default()
}

/// Tiny parameters (8 KiB, one pass) for tests: fast, never for real use.
pub fn cheap_params() -> Params {
    // 8 KiB and one pass are within argon2's allowed ranges.
    Params::new(8, 1, 1, None).unwrap_or_default()
}

/// `password` hashed with argon2id and a random salt, as a PHC string.
pub fn hash_password(
    password: &str,
    params: &Params,
) -> Result<String, argon2::password_hash::Error> {
    // 16 random bytes from rand's thread generator (a CSPRNG seeded by the OS).
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
}

/// Whether `password` matches the PHC string `phc` (false if `phc` does not parse).
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// Most argon2 work memory a [`Verifier`] keeps between checks: 64 MiB
/// (a users-file entry asking for more is checked with memory of its own,
/// freed afterwards).
pub const MAX_KEPT_BLOCKS: usize = 64 * 1024 * 1024 / Block::SIZE;

/// Checks passwords against PHC strings, reusing its argon2 work memory.
#[derive(Default)]
pub struct Verifier {
    blocks: Vec<Block>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("kept_bytes", &(self.blocks.len() * Block::SIZE))
            .finish()
    }
}

impl Verifier {
    /// A verifier holding no memory yet.
    pub fn new() -> Self {
        Verifier::default()
    }

    /// Bytes of work memory kept for the next check.
    pub fn kept_bytes(&self) -> usize {
        self.blocks.len() * Block::SIZE
    }

    /// Whether `password` matches the PHC string `phc`, as
    /// [`verify_password`] answers (false if `phc` does not parse or names
    /// an algorithm, version or parameters argon2 does not accept).
    pub fn verify(&mut self, phc: &str, password: &str) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
            return false;
        };
        let version = match hash.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
        };
        let Ok(params) = Params::try_from(&hash) else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let count = params.block_count();
        if count > MAX_KEPT_BLOCKS {
            return verify_password(phc, password);
        }
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::default());
        }
        let argon2 = Argon2::new(algorithm, version, params);
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = &mut out[..expected.len()];
        if argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                out,
                &mut self.blocks[..count],
            )
            .is_err()
        {
            return false;
        }
        // `Output`'s equality is constant-time.
        Output::new(out).is_ok_and(|computed| computed == expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_agrees_with_verify_password_and_keeps_its_memory() {
        let mut v = Verifier::new();
        let params = Params::new(64, 2, 1, None).unwrap();
        let phc = hash_password("s3cret", &params).unwrap();
        assert!(v.verify(&phc, "s3cret"));
        assert_eq!(v.kept_bytes(), 64 * 1024);
        assert!(!v.verify(&phc, "s3cret "));
        assert!(!v.verify(&phc, ""));
        // A cheaper entry reuses the same memory; a costlier one grows it.
        let cheap = hash_password("other", &cheap_params()).unwrap();
        assert!(v.verify(&cheap, "other"));
        assert_eq!(v.kept_bytes(), 64 * 1024);
        let big = hash_password("big", &Params::new(256, 1, 2, None).unwrap()).unwrap();
        assert!(v.verify(&big, "big") && verify_password(&big, "big"));
        assert_eq!(v.kept_bytes(), 256 * 1024);
        // The verifier still answers the first entry rightly.
        assert!(v.verify(&phc, "s3cret"));
    }

    #[test]
    fn the_verifier_refuses_what_does_not_parse() {
        let mut v = Verifier::new();
        let phc = hash_password("pw", &cheap_params()).unwrap();
        for bad in [
            "garbage",
            "",
            "$argon2id$v=19$m=8,t=1,p=1$",
            &phc.replace("argon2id", "scrypt"),
            &phc.replace("v=19", "v=7"),
            &phc.replace("m=8", "m=1"),
            &phc[..phc.len() - 4],
        ] {
            assert!(!v.verify(bad, "pw"), "{bad}");
            assert_eq!(v.verify(bad, "pw"), verify_password(bad, "pw"), "{bad}");
        }
        // Other argon2 variants in a users file are checked as such.
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, cheap_params())
            .hash_password(b"pw", &SaltString::encode_b64(&[7u8; 16]).unwrap())
            .unwrap()
            .to_string();
        assert!(v.verify(&argon2i, "pw") && !v.verify(&argon2i, "pW"));
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash_password("s3cret", &cheap_params()).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(verify_password(&phc, "s3cret"));
        assert!(!verify_password(&phc, "s3cret "));
        assert!(!verify_password(&phc, ""));
        assert!(!verify_password("garbage", "s3cret"));
        let other = hash_password("s3cret", &cheap_params()).unwrap();
        assert_ne!(phc, other, "salted");
    }
}
