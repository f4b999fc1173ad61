//! ISO 8601 / RFC 3339 date-time formatting for `EXT-X-PROGRAM-DATE-TIME`, without a date crate.

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, proleptic Gregorian calendar).
///
/// ```
/// assert_eq!(weir_hls::format_program_date_time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
/// ```
pub fn format_program_date_time(unix_ms: i64) -> String {
    const DAY_MS: i64 = 86_400_000;
    let (year, month, day) = civil_from_days(unix_ms.div_euclid(DAY_MS));
    let ms = unix_ms.rem_euclid(DAY_MS);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The (year, month, day) of the day `days` after 1970-01-01, by Howard Hinnant's
/// `civil_from_days` algorithm (eras of 400 years starting on March 1st).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year (from March 1st), 0..=365
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(format_program_date_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_program_date_time(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_program_date_time(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format_program_date_time(951_868_799_999),
            "2000-02-29T23:59:59.999Z"
        );
        assert_eq!(
            format_program_date_time(1_709_164_800_000),
            "2024-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format_program_date_time(4_102_444_800_000),
            "2100-01-01T00:00:00.000Z"
        );
        assert_eq!(
            format_program_date_time(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        // Extremes do not panic.
        format_program_date_time(i64::MAX);
        format_program_date_time(i64::MIN);
    }

    fn is_leap(y: i64) -> bool {
        (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
    }

    #[test]
    fn matches_naive_day_counting() {
        // Walk day by day from 1900-01-01 to 2400-12-31 and compare.
        let (mut y, mut m, mut d) = (1900i64, 1u32, 1u32);
        let start = -25_567i64; // 1900-01-01
        for days in start..start + 182_987 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let len = match m {
                2 if is_leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        assert_eq!((y, m, d), (2401, 1, 1));
    }
}
