//! Delta debugging: shrink an input while a predicate (the same finding still
//! reproduces) holds.

/// Removes chunks of `input`, halving the chunk size down to single bytes, keeping
/// every removal after which `still_fails` holds. Makes at most `budget` attempts.
/// The result is 1-minimal when the budget suffices: removing any single byte
/// makes the failure go away.
pub fn minimize(
    input: &[u8],
    budget: usize,
    mut still_fails: impl FnMut(&[u8]) -> bool,
) -> Vec<u8> {
    let mut current = input.to_vec();
    let mut attempts = 0usize;
    if current.is_empty() {
        return current;
    }
    // The empty input is the smallest of all.
    attempts += 1;
    if still_fails(&[]) {
        return Vec::new();
    }
    let mut chunk = (current.len() / 2).max(1);
    loop {
        let mut removed_any = false;
        let mut start = 0usize;
        while start < current.len() {
            if attempts >= budget {
                return current;
            }
            let end = (start + chunk).min(current.len());
            let mut candidate = Vec::with_capacity(current.len() - (end - start));
            candidate.extend_from_slice(&current[..start]);
            candidate.extend_from_slice(&current[end..]);
            attempts += 1;
            if still_fails(&candidate) {
                current = candidate;
                removed_any = true;
            } else {
                start += chunk;
            }
        }
        if !removed_any {
            if chunk == 1 {
                return current;
            }
            chunk /= 2;
        } else {
            chunk = chunk.min((current.len() / 2).max(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinks_to_the_planted_shape() {
        // Fails when 13..=16 bytes long and starting with '#'.
        let fails = |d: &[u8]| (13..=16).contains(&d.len()) && d.first() == Some(&b'#');
        let result = minimize(b"#abcdefghijklmno", 10_000, fails);
        assert_eq!(result.len(), 13);
        assert_eq!(result[0], b'#');
    }

    #[test]
    fn keeps_the_needed_bytes() {
        let fails = |d: &[u8]| d.windows(3).any(|w| w == b"bug");
        let result = minimize(b"xxxxxxxxxxbxxugxxxxbugxxxxxx", 10_000, fails);
        assert_eq!(result, b"bug");
    }

    #[test]
    fn respects_the_budget() {
        let mut calls = 0;
        let _ = minimize(&[1u8; 1000], 10, |_| {
            calls += 1;
            false
        });
        assert!(calls <= 10);
    }
}
