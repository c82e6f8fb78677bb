//! The table the bench prints: one row per measurement, the SDK against its baseline
//! from the same run, and the small statistics the rows are made of.

use std::fmt::Write as _;

/// One measurement against its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Which section of the bench (1-11).
    pub section: u8,
    /// What was measured, with its unit.
    pub measure: String,
    /// The SDK's figure.
    pub sdk: String,
    /// The baseline's figure, naming the baseline.
    pub baseline: String,
    /// SDK against baseline, where a ratio means something.
    pub ratio: Option<f64>,
    /// The target and whether this run met it.
    pub target: Option<Target>,
}

/// A target and whether it was met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The target as written in the issue, e.g. `>= 0.95`.
    pub text: String,
    /// Whether this run met it.
    pub met: bool,
    /// A count, not a timing: missing it is a bug, and fails the bench.
    pub required: bool,
}

impl Target {
    /// A timing target: reported, met or not.
    pub fn new(text: impl Into<String>, met: bool) -> Self {
        Self {
            text: text.into(),
            met,
            required: false,
        }
    }

    /// A deterministic target (request counts): the bench fails when it is missed.
    pub fn required(text: impl Into<String>, met: bool) -> Self {
        Self {
            required: true,
            ..Self::new(text, met)
        }
    }
}

/// Rows whose required target was missed.
pub fn failures(rows: &[Row]) -> Vec<&Row> {
    rows.iter()
        .filter(|row| row.target.as_ref().is_some_and(|t| t.required && !t.met))
        .collect()
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let header = ["#", "measure", "SDK", "baseline", "ratio", "target"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            [
                row.section.to_string(),
                row.measure.clone(),
                row.sdk.clone(),
                row.baseline.clone(),
                row.ratio.map_or_else(String::new, ratio),
                row.target.as_ref().map_or_else(String::new, |t| {
                    format!("{} {}", t.text, if t.met { "met" } else { "MISSED" })
                }),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[&str]| {
        out.push('|');
        for (cell, width) in row.iter().zip(widths) {
            let pad = width - cell.chars().count();
            let _ = write!(out, " {cell}{} |", " ".repeat(pad));
        }
        out.push('\n');
    };
    line(&mut out, &header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(
        &mut out,
        &rule.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    for row in &cells {
        line(
            &mut out,
            &row.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    out
}

/// A ratio to at least three decimals and two significant digits (one decimal at ten
/// and above): a near miss shows as one, and a tiny ratio is not printed as zero.
fn ratio(r: f64) -> String {
    if r >= 10.0 {
        return format!("{r:.1}");
    }
    if r <= 0.0 || !r.is_finite() {
        return format!("{r}");
    }
    let decimals = (1 - r.log10().floor() as i64).max(3) as usize;
    format!("{r:.decimals$}")
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    assert!(!values.is_empty(), "median of nothing");
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// The median of each trial's own ratio of `sdk` to `baseline` (trial `i` of each):
/// robust to the machine drifting between trials.
pub fn median_ratio(sdk: &[f64], baseline: &[f64]) -> f64 {
    let per_trial: Vec<f64> = sdk.iter().zip(baseline).map(|(s, b)| s / b).collect();
    median(&per_trial)
}

/// The `p`-th percentile (0-100) by nearest rank: a value that was observed.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    assert!(!values.is_empty(), "percentile of nothing");
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `12345.6` as `12,346`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&values, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
    }

    #[test]
    fn ratios_keep_two_significant_digits() {
        assert_eq!(ratio(0.9458), "0.946");
        assert_eq!(ratio(0.034), "0.034");
        assert_eq!(ratio(0.00048), "0.00048");
        assert_eq!(ratio(3.85), "3.850");
        assert_eq!(ratio(12.34), "12.3");
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(12345.6), "12,346");
        assert_eq!(thousands(1_000_000.0), "1,000,000");
    }

    #[test]
    fn the_table_is_aligned_and_says_when_a_target_is_missed() {
        let rows = [
            Row {
                section: 1,
                measure: "get order (req/s)".into(),
                sdk: "9,000".into(),
                baseline: "10,000".into(),
                ratio: Some(0.9),
                target: Some(Target::new(">= 0.95", false)),
            },
            Row {
                section: 6,
                measure: "codegen".into(),
                sdk: "1.2 s".into(),
                baseline: String::new(),
                ratio: None,
                target: None,
            },
        ];
        let table = markdown(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{table}");
        assert!(lines[2].contains("0.900") && lines[2].contains(">= 0.95 MISSED"));
        let empty: Vec<&str> = lines[3].split('|').skip(4).map(str::trim).collect();
        assert_eq!(
            empty,
            ["", "", "", ""],
            "no baseline, ratio or target: {table}"
        );
    }
}
