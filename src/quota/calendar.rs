//! UTC calendar windows: day and month numbers, and when the current one ends.

const DAY_S: u64 = 86_400;

/// Days since 1970-01-01 (UTC).
pub fn day(now_s: u64) -> u64 {
    now_s / DAY_S
}

/// Months since January 1970 (UTC).
pub fn month(now_s: u64) -> u64 {
    let (y, m, _) = civil(day(now_s));
    (y - 1970) * 12 + (m - 1)
}

/// Seconds from `now_s` to the next UTC midnight.
pub fn secs_to_next_day(now_s: u64) -> u64 {
    DAY_S - now_s % DAY_S
}

/// Seconds from `now_s` to the first second of the next UTC month.
pub fn secs_to_next_month(now_s: u64) -> u64 {
    let (y, m, _) = civil(day(now_s));
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) * DAY_S).saturating_sub(now_s)
}

/// (year, month 1–12, day 1–31) of a day number, by Howard Hinnant's `civil_from_days`
/// (<https://howardhinnant.github.io/date_algorithms.html#civil_from_days>), for days ≥ 0.
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Day number of a date (`days_from_civil` from the same page), for years ≥ 1970.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    // 2024-02-29T23:59:59Z = 1709251199 (a leap day), 2024-03-01T00:00:00Z = 1709251200.
    #[test]
    fn leap_day_rolls_into_march() {
        assert_eq!(day(1_709_251_199) + 1, day(1_709_251_200));
        assert_eq!(month(1_709_251_199) + 1, month(1_709_251_200));
        assert_eq!(month(1_709_251_199), (2024 - 1970) * 12 + 1);
        assert_eq!(secs_to_next_day(1_709_251_199), 1);
        assert_eq!(secs_to_next_month(1_709_251_199), 1);
        assert_eq!(secs_to_next_month(1_709_251_200), 31 * 86_400);
    }

    #[test]
    fn december_rolls_into_the_next_year() {
        // 2025-12-31T12:00:00Z = 1767182400; 2026-01-01T00:00:00Z = 1767225600.
        assert_eq!(secs_to_next_month(1_767_182_400), 43_200);
        assert_eq!(month(1_767_225_600), (2026 - 1970) * 12);
        assert_eq!(civil(day(1_767_225_600)), (2026, 1, 1));
        assert_eq!(days_from_civil(2026, 1, 1), day(1_767_225_600));
    }

    #[test]
    fn every_day_of_four_years_round_trips() {
        let start = days_from_civil(2023, 1, 1);
        for d in start..start + 4 * 366 {
            let (y, m, dd) = civil(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
