//! Ed25519 verification with exactly `ed25519-dalek`'s `verify_strict` rule, one point
//! decompression cheaper.
//!
//! Every task credential Gatehouse has not seen yet costs one signature check, and the
//! whole of that cost was `verify_strict`. It decompresses the signature's `R` for one
//! reason: to refuse a small-order `R`. But a signature is accepted only when `R`'s bytes
//! equal the canonical encoding of the recomputed point `R' = [s]B − [k]A`, and then `R`
//! *is* `R'`; so asking whether `R'` has small order (three doublings) answers the same
//! question without the decompression (a field exponentiation, about a fifth of the
//! check). An `R` that is not a point, or not canonically encoded, can never equal a
//! canonical encoding and is refused as before. Everything else — a canonical `s`
//! (`s < ℓ`), a key of large order, `k = SHA-512(R ‖ A ‖ M) mod ℓ`, the recomputation with
//! the variable-time double-base multiplication, the byte comparison — is the same
//! primitive from `curve25519-dalek` that `verify_strict` calls. The tests below, a
//! property test and the `token` fuzz target hold the two to the same verdict.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest as _, Sha512};

/// Whether `signature` is `key`'s Ed25519 signature of `message` under the strict rule:
/// the verdict of `key.verify_strict(message, signature)`.
pub(super) fn verify_strict(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    let (r_bytes, s_bytes) = signature.split_at(32);
    let Some(s) = canonical_scalar(s_bytes) else {
        return false;
    };
    if key.is_weak() {
        return false;
    }
    let k = challenge(r_bytes, key.as_bytes(), message);
    let recomputed = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-key.to_edwards(), &s);
    recomputed.compress().as_bytes() == r_bytes && !recomputed.is_small_order()
}

/// `s` when its 32 little-endian bytes are below the group order ℓ; a larger `s` would
/// make the signature malleable.
fn canonical_scalar(bytes: &[u8]) -> Option<Scalar> {
    let bytes: [u8; 32] = bytes.try_into().ok()?;
    Scalar::from_canonical_bytes(bytes).into()
}

/// RFC 8032 §5.1.7 step 2: `k = SHA-512(R ‖ A ‖ M)`, reduced mod ℓ.
fn challenge(r_bytes: &[u8], key_bytes: &[u8; 32], message: &[u8]) -> Scalar {
    let mut hash = Sha512::new();
    hash.update(r_bytes);
    hash.update(key_bytes);
    hash.update(message);
    Scalar::from_bytes_mod_order_wide(&hash.finalize().into())
}

#[cfg(test)]
mod tests {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use ed25519_dalek::{Signature, Signer as _, SigningKey};
    use proptest::prelude::*;

    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
            .collect()
    }

    /// Both verdicts, asserted equal, returned.
    fn verdict(key_bytes: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(key_bytes) else {
            return false;
        };
        let dalek = key
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok();
        let ours = verify_strict(&key, message, signature);
        assert_eq!(
            ours, dalek,
            "key {key_bytes:02x?} signature {signature:02x?}"
        );
        ours
    }

    #[test]
    fn rfc_8032_test_vectors_verify_and_their_neighbours_do_not() {
        // RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte).
        let vectors = [
            (
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (key, message, signature) in vectors {
            let key: [u8; 32] = hex(key).try_into().unwrap();
            let message = hex(message);
            let signature: [u8; 64] = hex(signature).try_into().unwrap();
            assert!(verdict(&key, &message, &signature));
            let mut other = message.clone();
            other.push(0);
            assert!(!verdict(&key, &other, &signature));
            for bit in [0, 255, 256, 511] {
                let mut flipped = signature;
                flipped[bit / 8] ^= 1 << (bit % 8);
                assert!(!verdict(&key, &message, &flipped), "bit {bit}");
            }
        }
    }

    #[test]
    fn a_non_canonical_s_is_refused_although_it_satisfies_the_equation() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let message = b"header.claims";
        let mut signature = key.sign(message).to_bytes();
        // s + ℓ: the same scalar mod ℓ, so the group equation still holds.
        let mut carry = 0_u16;
        for (byte, order_byte) in signature[32..].iter_mut().zip(GROUP_ORDER) {
            let sum = u16::from(*byte) + u16::from(order_byte) + carry;
            *byte = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0, "s + ℓ fits 32 bytes for this key");
        assert!(!verdict(
            key.verifying_key().as_bytes(),
            message,
            &signature
        ));
    }

    #[test]
    fn small_order_keys_and_small_order_r_are_refused() {
        let message = b"anything";
        for torsion in EIGHT_TORSION {
            let encoded = torsion.compress().to_bytes();
            // A small-order key with R = [−k]A and s = 0 satisfies the cofactorless equation.
            if let Ok(key) = VerifyingKey::from_bytes(&encoded) {
                for r in EIGHT_TORSION {
                    let mut signature = [0_u8; 64];
                    signature[..32].copy_from_slice(r.compress().as_bytes());
                    assert!(!verdict(key.as_bytes(), message, &signature));
                }
            }
        }
        // A genuine key, and R = a small-order point with s chosen so that the equation
        // holds: R = [s]B − [k]A cannot be arranged without the secret, so check instead
        // that a small-order R with any s is refused.
        let key = SigningKey::from_bytes(&[9; 32]).verifying_key();
        for r in EIGHT_TORSION {
            for s in [Scalar::ZERO, Scalar::ONE] {
                let mut signature = [0_u8; 64];
                signature[..32].copy_from_slice(r.compress().as_bytes());
                signature[32..].copy_from_slice(s.as_bytes());
                assert!(!verdict(key.as_bytes(), message, &signature));
            }
        }
    }

    #[test]
    fn the_identity_as_r_is_refused_even_when_the_equation_holds() {
        // With the secret scalar a: R = identity, k = H(R ‖ A ‖ M), s = k·a gives
        // [s]B − [k]A = identity = R. Cofactorless verification would accept it; the
        // strict rule refuses R of small order.
        let key = SigningKey::from_bytes(&[5; 32]);
        let message = b"forged";
        let identity = EdwardsPoint::default().compress().to_bytes();
        let k = challenge(&identity, key.verifying_key().as_bytes(), message);
        let s = k * key.to_scalar();
        let mut signature = [0_u8; 64];
        signature[..32].copy_from_slice(&identity);
        signature[32..].copy_from_slice(s.as_bytes());
        let recomputed = EdwardsPoint::vartime_double_scalar_mul_basepoint(
            &k,
            &-key.verifying_key().to_edwards(),
            &s,
        );
        assert_eq!(
            recomputed.compress().to_bytes(),
            identity,
            "the equation holds"
        );
        assert!(!verdict(
            key.verifying_key().as_bytes(),
            message,
            &signature
        ));
    }

    #[test]
    fn an_r_that_is_no_point_or_not_canonical_is_refused() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let message = b"m";
        let signature = key.sign(message).to_bytes();
        // y = p + t for t < 19 (y ≥ p: never canonical), with either sign bit, and R = all
        // ones; then another genuine point.
        let mut candidates: Vec<[u8; 32]> = Vec::new();
        for t in 0..19_u8 {
            for sign in [0, 0x80] {
                let mut r = [0xff_u8; 32];
                r[0] = 0xed + t;
                r[31] = 0x7f | sign;
                candidates.push(r);
            }
        }
        let genuine_r = CompressedEdwardsY(signature[..32].try_into().unwrap())
            .decompress()
            .unwrap();
        candidates.push((ED25519_BASEPOINT_POINT + genuine_r).compress().to_bytes());
        for r in candidates {
            let mut changed = signature;
            changed[..32].copy_from_slice(&r);
            assert!(!verdict(key.verifying_key().as_bytes(), message, &changed));
        }
    }

    /// ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const GROUP_ORDER: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Genuine signatures, and the same with one bit flipped in the message, in R or
        /// in s, or with R or s replaced outright: always `verify_strict`'s verdict.
        #[test]
        fn agrees_with_verify_strict(
            seed in any::<[u8; 32]>(),
            message in proptest::collection::vec(any::<u8>(), 0..200),
            change in 0_usize..5,
            bit in 0_usize..512,
            replacement in any::<[u8; 32]>(),
        ) {
            let key = SigningKey::from_bytes(&seed);
            let mut message = message;
            let mut signature = key.sign(&message).to_bytes();
            match change {
                0 => {}
                1 if !message.is_empty() => {
                    let at = bit % message.len();
                    message[at] ^= 1;
                }
                1 | 2 => signature[bit / 8] ^= 1 << (bit % 8),
                3 => signature[..32].copy_from_slice(&replacement),
                _ => signature[32..].copy_from_slice(&replacement),
            }
            let accepted = verdict(key.verifying_key().as_bytes(), &message, &signature);
            prop_assert_eq!(accepted, change == 0);
        }
    }
}
