//! Password hashing and checking with argon2id (the `argon2` crate); the
//! parameters of a check come from the PHC string itself.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

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

#[cfg(test)]
mod tests {
    use super::*;

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
