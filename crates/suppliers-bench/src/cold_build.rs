//! Section 11 (issue 25): a crate on `suppliers` without default features builds cold in
//! at most 1.3 times the time of one on the three client crates. `cargo xtask bench`
//! builds both and passes their wall times in (`--cold-build-secs`,
//! `--cold-build-baseline-secs`): a build needs cargo and a fresh target directory, not
//! this process. This makes their row.

use anyhow::{Result, ensure};

use crate::report::{Row, Target, median, median_ratio};

/// Issue 25's bound on the facade's cold build against the three clients': a time, so
/// lower is better.
pub const TARGET: f64 = 1.3;

/// The row of section 11 from each trial's wall times in seconds, `facade[i]` and
/// `clients[i]` built one after the other.
pub fn row(facade: &[f64], clients: &[f64]) -> Result<Row> {
    ensure!(
        !facade.is_empty() && facade.len() == clients.len(),
        "cold builds: {} of the facade's crate against {} of the clients', one of each a trial",
        facade.len(),
        clients.len()
    );
    let ratio = median_ratio(facade, clients);
    Ok(Row {
        section: 11,
        measure: "cold build of a crate on `suppliers` without default features (s)".into(),
        sdk: format!("{:.1}", median(facade)),
        baseline: format!("{:.1} (the three client crates)", median(clients)),
        ratio: Some(ratio),
        target: Some(Target::new(format!("<= {TARGET:.1}"), ratio <= TARGET)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_is_the_median_of_each_trials_own_and_lower_is_better() {
        let row = row(&[70.0, 72.0], &[60.0, 61.0]).unwrap();
        assert_eq!(row.section, 11);
        assert_eq!(
            (row.sdk.as_str(), row.baseline.as_str()),
            ("71.0", "60.5 (the three client crates)")
        );
        let ratio = row.ratio.unwrap();
        assert!(
            (ratio - (70.0 / 60.0 + 72.0 / 61.0) / 2.0).abs() < 1e-12,
            "{ratio}"
        );
        assert_eq!(row.target, Some(Target::new("<= 1.3", true)));
        let slow = super::row(&[80.0], &[60.0]).unwrap();
        assert_eq!(slow.target, Some(Target::new("<= 1.3", false)));
    }

    #[test]
    fn trials_come_in_pairs() {
        assert!(row(&[70.0, 72.0], &[60.0]).is_err());
        assert!(row(&[], &[]).is_err());
    }
}
