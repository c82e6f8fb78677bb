//! Which orders fail: spread evenly by a counter, so a run of N orders has exactly
//! `floor(N x share)` picked, the same ones every time.

/// Whether the order numbered `sequence` (from 0, in the order they are counted) is
/// picked when `share` of them should be: it is when its number carries the running
/// count `floor(n x share)` over a whole number.
pub(crate) fn picked(sequence: u64, share: f64) -> bool {
    let count = |n: u64| (n as f64 * share).floor();
    count(sequence + 1) > count(sequence)
}

#[cfg(test)]
mod tests {
    use super::picked;

    fn picked_among(n: u64, share: f64) -> usize {
        (0..n).filter(|&sequence| picked(sequence, share)).count()
    }

    #[test]
    fn exactly_the_share_of_a_run_is_picked() {
        for (n, share, expected) in [
            (20, 0.5, 10),
            (250, 0.1, 25),
            (10_000, 0.25, 2_500),
            (7, 1.0 / 3.0, 2),
            (9, 0.9, 8),
            (100, 0.0, 0),
            (100, 1.0, 100),
        ] {
            assert_eq!(picked_among(n, share), expected, "{n} x {share}");
        }
    }

    #[test]
    fn picks_are_spread_out() {
        let half: Vec<bool> = (0..6).map(|sequence| picked(sequence, 0.5)).collect();
        assert_eq!(half, [false, true, false, true, false, true]);
        assert!((0..100).all(|sequence| !picked(sequence, 0.0)));
        assert!((0..100).all(|sequence| picked(sequence, 1.0)));
    }
}
