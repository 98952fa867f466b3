//! Random first PINs: digits from the operating system's random source, never a PIN a person
//! would guess first.

use super::ProvisionError;
use crate::pin::Pin;
use crypto_glue::rand::rngs::SysRng;
use crypto_glue::rand::TryRng;
use zeroize::Zeroizing;

/// A random PIN of `length` digits that the key (minimum `key_min` code points) will accept
/// and that is not weak (see [`is_weak`]).
pub fn random_digits(length: u32, key_min: u32) -> Result<Pin, ProvisionError> {
    let length = length as usize;
    let mut digits = Zeroizing::new(String::with_capacity(length));
    // Weak PINs are a tiny share of all PINs of 4 digits or more, so a handful of draws is
    // plenty; the bound only turns a broken random source into an error instead of a hang.
    for _ in 0..1000 {
        digits.clear();
        while digits.len() < length {
            let mut bytes = Zeroizing::new([0u8; 32]);
            SysRng
                .try_fill_bytes(bytes.as_mut())
                .map_err(|e| ProvisionError::Random(e.to_string()))?;
            // Bytes of 250 and above are dropped so that every digit is equally likely.
            for b in bytes.iter().filter(|&&b| b < 250) {
                if digits.len() == length {
                    break;
                }
                digits.push(char::from(b'0' + b % 10));
            }
        }
        if !is_weak(&digits) {
            let pin = Pin::new(digits.as_str());
            if pin.check_policy(key_min).is_ok() {
                return Ok(pin);
            }
            return Err(ProvisionError::Random(format!(
                "a PIN of {length} digits is refused by a key whose minimum is {key_min}"
            )));
        }
    }
    Err(ProvisionError::Random(
        "the random source keeps producing weak PINs; it is not random".into(),
    ))
}

/// PINs a person (or an attacker with a list) tries first: one digit repeated, a run up or
/// down (wrapping, as on a keypad: 7890123), a short pattern repeated (121212, 123123), or
/// too few different digits for the length.
pub fn is_weak(digits: &str) -> bool {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    if d.len() < 2 {
        return true;
    }
    let step = |a: u8, b: u8| (10 + b - a) % 10;
    let first_step = step(d[0], d[1]);
    if (first_step == 1 || first_step == 9 || first_step == 0)
        && d.windows(2).all(|w| step(w[0], w[1]) == first_step)
    {
        return true;
    }
    for period in 1..=d.len() / 2 {
        if d.len().is_multiple_of(period) && d.iter().enumerate().all(|(i, x)| *x == d[i % period])
        {
            return true;
        }
    }
    let mut seen = [false; 10];
    for x in &d {
        seen[(*x as usize) % 10] = true;
    }
    let distinct = seen.iter().filter(|s| **s).count();
    distinct < (d.len() / 2).clamp(2, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obvious_pins_are_weak() {
        for weak in [
            "0000", "111111", "123456", "654321", "7890123", "121212", "123123", "11112222",
            "12341234",
        ] {
            assert!(is_weak(weak), "{weak} should be weak");
        }
    }

    #[test]
    fn ordinary_pins_are_not_weak() {
        for ok in ["4938", "493817", "80246135", "1379"] {
            assert!(!is_weak(ok), "{ok} should be acceptable");
        }
    }

    #[test]
    fn random_pins_have_the_length_and_are_never_weak_or_repeated() {
        let pins: Vec<String> = (0..200)
            .map(|_| random_digits(8, 6).unwrap().as_str().to_string())
            .collect();
        for p in &pins {
            assert_eq!(p.len(), 8);
            assert!(p.bytes().all(|b| b.is_ascii_digit()));
            assert!(!is_weak(p));
        }
        let mut unique = pins.clone();
        unique.sort();
        unique.dedup();
        // 200 draws from 10^8 values: a repeat means the source is not random.
        assert_eq!(unique.len(), pins.len());
    }

    #[test]
    fn every_digit_turns_up() {
        let all: String = (0..50)
            .map(|_| random_digits(6, 4).unwrap().as_str().to_string())
            .collect();
        for c in '0'..='9' {
            assert!(all.contains(c), "digit {c} never drawn in 300 digits");
        }
    }

    #[test]
    fn too_short_for_the_key_is_an_error() {
        assert!(random_digits(4, 6).is_err());
    }
}
