//! The user hash (spec §1): `be32(md5(expand(format, username)))`, 0 → 1.
//!
//! The director keys every piece of user state by this 32-bit value, never by
//! the name, so two names with the same hash are one user to it. Callers hash
//! each user once and keep the value.

use md5::{Digest, Md5};
use std::fmt;

/// One piece of a parsed `director_username_hash` template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(Vec<u8>),
    Var { var: Var, lower: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Var {
    /// `%u` / `%{user}`: the full username.
    User,
    /// `%n` / `%{username}`: the part before the first `@`.
    Name,
    /// `%d` / `%{domain}`: the part after the first `@` (empty without `@`).
    Domain,
}

/// A parsed `director_username_hash` setting (default `%Lu`).
///
/// Lowercasing is ASCII-only, as C `tolower()` in the "C" locale the director
/// runs in: bytes ≥ 0x80 are left unchanged (spec §1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashFormat {
    text: String,
    parts: Vec<Part>,
}

/// A `director_username_hash` value that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid username hash format {text:?}: {reason} \
     (expected text with %u, %n, %d, %{{user}}, %{{username}}, %{{domain}}, optionally with the L modifier, e.g. %Lu)"
)]
pub struct HashFormatError {
    /// The rejected format text.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Default for HashFormat {
    fn default() -> Self {
        HashFormat::parse("%Lu").expect("default format parses")
    }
}

impl fmt::Display for HashFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for HashFormat {
    type Err = HashFormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashFormat::parse(s)
    }
}

impl HashFormat {
    /// Parses a template such as `%Lu`, `%u`, `%Ln` or `%{domain}/%Ln`.
    pub fn parse(text: &str) -> Result<Self, HashFormatError> {
        let err = |reason: &str| HashFormatError {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let bytes = text.as_bytes();
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'%' {
                lit.push(bytes[i]);
                i += 1;
                continue;
            }
            i += 1;
            if bytes.get(i) == Some(&b'%') {
                lit.push(b'%');
                i += 1;
                continue;
            }
            let mut lower = false;
            if bytes.get(i) == Some(&b'L') {
                lower = true;
                i += 1;
            }
            let var = match bytes.get(i) {
                Some(b'u') => Var::User,
                Some(b'n') => Var::Name,
                Some(b'd') => Var::Domain,
                Some(b'{') => {
                    let end = text[i..].find('}').ok_or_else(|| err("unterminated %{"))?;
                    let name = &text[i + 1..i + end];
                    i += end;
                    match name {
                        "user" => Var::User,
                        "username" => Var::Name,
                        "domain" => Var::Domain,
                        _ => return Err(err(&format!("unknown variable %{{{name}}}"))),
                    }
                }
                Some(&c) => {
                    return Err(err(&format!("unknown variable %{}", c as char)));
                }
                None => return Err(err("format ends with %")),
            };
            i += 1;
            if !lit.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut lit)));
            }
            parts.push(Part::Var { var, lower });
        }
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        Ok(HashFormat {
            text: text.to_string(),
            parts,
        })
    }

    /// Hashes one username with this format.
    pub fn hash(&self, username: &[u8]) -> u32 {
        // Fast paths for the two formats Dovecot special-cases (and the
        // default): no intermediate buffer for names up to 256 bytes.
        if let [
            Part::Var {
                var: Var::User,
                lower,
            },
        ] = self.parts.as_slice()
        {
            if !*lower {
                return hash_bytes(username);
            }
            let mut buf = [0u8; 256];
            if username.len() <= buf.len() {
                let b = &mut buf[..username.len()];
                b.copy_from_slice(username);
                b.make_ascii_lowercase();
                return hash_bytes(b);
            }
        }
        let mut s = Vec::with_capacity(username.len());
        self.expand_into(username, &mut s);
        hash_bytes(&s)
    }

    /// Appends the expanded string that is hashed for `username`.
    pub fn expand_into(&self, username: &[u8], out: &mut Vec<u8>) {
        let at = username.iter().position(|&b| b == b'@');
        for part in &self.parts {
            match part {
                Part::Literal(l) => out.extend_from_slice(l),
                Part::Var { var, lower } => {
                    let value = match (var, at) {
                        (Var::User, _) => username,
                        (Var::Name, Some(p)) => &username[..p],
                        (Var::Name, None) => username,
                        (Var::Domain, Some(p)) => &username[p + 1..],
                        (Var::Domain, None) => &[][..],
                    };
                    let start = out.len();
                    out.extend_from_slice(value);
                    if *lower {
                        out[start..].make_ascii_lowercase();
                    }
                }
            }
        }
    }
}

/// `be32(md5(bytes))` with 0 mapped to 1: the user hash of an already
/// expanded string (spec §1 steps 2–4).
pub fn hash_bytes(bytes: &[u8]) -> u32 {
    let h = md5_be32(bytes);
    if h == 0 { 1 } else { h }
}

/// The first four MD5 digest bytes, big-endian. Also the ring point hash
/// (spec §2.1), where 0 is *not* remapped.
pub fn md5_be32(bytes: &[u8]) -> u32 {
    let d = Md5::digest(bytes);
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The user hash of `username` with the default format `%Lu`.
pub fn user_hash(username: &str) -> u32 {
    thread_local! {
        static DEFAULT: HashFormat = HashFormat::default();
    }
    DEFAULT.with(|f| f.hash(username.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Worked examples of spec §1, computed with python3 hashlib.
    #[test]
    fn spec_section_1_examples() {
        assert_eq!(user_hash("user1"), 617_210_206);
        assert_eq!(user_hash("User1"), 617_210_206);
        assert_eq!(user_hash("user2@example.com"), 2_874_385_041);
        assert_eq!(user_hash("USER2@Example.COM"), 2_874_385_041);
        let u = HashFormat::parse("%u").unwrap();
        assert_eq!(u.hash(b"User1"), 1_804_635_000);
        let ln = HashFormat::parse("%Ln").unwrap();
        assert_eq!(ln.hash(b"user2@example.com"), 2_119_751_227);
    }

    // test-mail-user-hash.c vectors quoted in spec §1 (format %u).
    #[test]
    fn dovecot_test_vectors() {
        let u = HashFormat::parse("%u").unwrap();
        assert_eq!(u.hash(b""), 3_558_706_393);
        assert_eq!(u.hash(b"testuser"), 1_570_531_526);
        assert_eq!(u.hash(b"testuser@domain"), 3_813_799_143);
    }

    #[test]
    fn lowercasing_is_ascii_only() {
        // "ÄBC" in UTF-8: C3 84 42 43. Only B and C are lowercased.
        // python3: md5(b'\xc3\x84bc').digest()[:4] -> 0xf04c5f71
        assert_eq!(user_hash("ÄBC"), hash_bytes("Äbc".as_bytes()));
        assert_ne!(user_hash("ÄBC"), user_hash("äbc"));
        assert_eq!(user_hash("ÄBC"), 0xf04c_5f71);
    }

    #[test]
    fn domain_and_templates() {
        let d = HashFormat::parse("%d").unwrap();
        assert_eq!(d.hash(b"a@example.com"), hash_bytes(b"example.com"));
        assert_eq!(d.hash(b"nodomain"), hash_bytes(b""));
        // python3: md5(b'example.com').digest()[:4] -> 0x5ababd60
        assert_eq!(d.hash(b"a@example.com"), 0x5aba_bd60);
        let t = HashFormat::parse("%{domain}/%L{username}").unwrap();
        let mut out = Vec::new();
        t.expand_into(b"Bob@ex.org", &mut out);
        assert_eq!(out, b"ex.org/bob");
        assert!(HashFormat::parse("%{nope}").is_err());
        let t = HashFormat::parse("x%{domain}-%Ln%%").unwrap();
        let mut out = Vec::new();
        t.expand_into(b"Bob@Ex.org", &mut out);
        assert_eq!(out, b"xEx.org-bob%");
        assert!(HashFormat::parse("%q").is_err());
        assert!(HashFormat::parse("%").is_err());
    }

    #[test]
    fn long_names_take_the_slow_path_identically() {
        let long = "A".repeat(300);
        assert_eq!(user_hash(&long), hash_bytes("a".repeat(300).as_bytes()));
    }

    #[test]
    fn ring_point_examples() {
        // spec §2.1
        assert_eq!(md5_be32(b"10.0.0.1-0"), 1_014_535_201);
        assert_eq!(md5_be32(b"10.0.0.3-2"), 619_628_603);
    }
}
