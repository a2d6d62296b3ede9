//! Money as integers. Prices are held in pico-USD per token (1 pico-USD = 1e-12 USD), so a price
//! quoted in USD per million tokens with up to six decimals is exact: $2.50 / 1M tokens is
//! 2_500_000 pico-USD per token. Costs are pico-USD in a `u128`; nothing here uses floats.

/// Pico-USD in one US dollar.
pub const PICO_PER_USD: u128 = 1_000_000_000_000;
/// Pico-USD in one micro-USD (the unit of the cost metric).
pub const PICO_PER_MICRO: u128 = 1_000_000;
/// Largest accepted price: $1,000,000 per million tokens.
const MAX_PRICE_PICO: u64 = 1_000_000 * 1_000_000;

/// Parses a price in USD per million tokens, written as a decimal (`"2.5"`, `"0.075"`, `"10"`),
/// into pico-USD per token. At most six decimals, no sign, no exponent.
pub fn parse_usd_per_million(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !digits_ok(whole) || !digits_ok(frac) {
        return Err(format!("`{text}` is not a non-negative decimal number"));
    }
    if frac.len() > 6 {
        return Err(format!("`{text}` has more than 6 decimals"));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?
    };
    let mut frac_val: u64 = 0;
    for i in 0..6 {
        let d = frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
        frac_val = frac_val * 10 + d;
    }
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(frac_val))
        .filter(|p| *p <= MAX_PRICE_PICO)
        .ok_or_else(|| format!("`{text}` is above the maximum of 1000000 USD per million tokens"))
}

/// Parses a price in USD per token written as a decimal number, optionally with an exponent
/// (`"2.5e-06"`, `"0.000003"`, `"1E-7"`, as JSON numbers print), into pico-USD per token. The
/// conversion is done on the decimal digits, never through a float; digits below one pico-USD
/// (1e-12 USD) are rounded half up, so float artefacts such as `6.000000000000001e-06` give the
/// intended whole number. No sign is accepted: a negative price is an error.
pub fn parse_usd_per_token(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a non-negative decimal number");
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative"));
    }
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !digits_ok(whole) || !digits_ok(frac) {
        return Err(bad());
    }
    let (negative, exponent) = match exponent.strip_prefix('-') {
        Some(e) => (true, e),
        None => (false, exponent.strip_prefix('+').unwrap_or(exponent)),
    };
    if exponent.is_empty() || !digits_ok(exponent) {
        return Err(bad());
    }
    let exponent: i64 = exponent.parse().map_err(|_| bad())?;
    let exponent = if negative { -exponent } else { exponent };
    // The value is 0.DIGITS × 10^point; in pico-USD the point moves twelve places right.
    let digits: Vec<u8> = whole
        .bytes()
        .chain(frac.bytes())
        .map(|b| b - b'0')
        .collect();
    let leading = digits.iter().take_while(|d| **d == 0).count();
    let digits = digits.get(leading..).unwrap_or_default();
    if digits.is_empty() {
        return Ok(0);
    }
    let whole_len = i64::try_from(whole.len()).map_err(|_| bad())?;
    let leading = i64::try_from(leading).map_err(|_| bad())?;
    let int_digits = whole_len - leading + exponent.saturating_add(12);
    let too_large =
        || format!("`{text}` is above the maximum of 1 USD per token (1000000 per million)");
    // MAX_PRICE_PICO has 13 digits; a number with more integer digits is larger.
    if int_digits > 13 {
        return Err(too_large());
    }
    let mut pico: u64 = 0;
    for i in 0..int_digits.max(0) {
        let d = usize::try_from(i).ok().and_then(|i| digits.get(i)).copied();
        pico = pico * 10 + u64::from(d.unwrap_or(0));
    }
    let next = usize::try_from(int_digits)
        .ok()
        .and_then(|i| digits.get(i))
        .copied();
    if next.is_some_and(|d| d >= 5) {
        pico += 1;
    }
    if pico > MAX_PRICE_PICO {
        return Err(too_large());
    }
    Ok(pico)
}

/// Nano-USD in one US dollar (the unit of budgets).
pub const NANO_PER_USD: u64 = 1_000_000_000;

/// Parses a non-negative decimal (`"12.5"`, `3`) into an integer scaled by 10^`decimals`:
/// `parse_scaled("12.5", 3)` is 12500. More decimals than that, a sign or an exponent is an
/// error; the result must fit in a u64.
pub fn parse_scaled(text: &str, decimals: u32) -> Result<u64, String> {
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !digits_ok(whole) || !digits_ok(frac) {
        return Err(format!("`{text}` is not a non-negative decimal number"));
    }
    if frac.len() > decimals as usize {
        return Err(format!("`{text}` has more than {decimals} decimals"));
    }
    let too_large = || format!("`{text}` is too large");
    let mut v: u64 = 0;
    for b in whole.bytes().chain(frac.bytes()) {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or_else(too_large)?;
    }
    for _ in frac.len()..decimals as usize {
        v = v.checked_mul(10).ok_or_else(too_large)?;
    }
    Ok(v)
}

/// Pico-USD to nano-USD, rounded up (a budget never undercounts a cost).
pub fn pico_to_nano_ceil(pico: u128) -> u64 {
    u64::try_from(pico.div_ceil(1000)).unwrap_or(u64::MAX)
}

/// Formats pico-USD as a plain decimal USD string with no trailing zeros: `1250000000` → `"0.00125"`.
pub fn format_usd(pico: u128) -> String {
    let whole = pico / PICO_PER_USD;
    let frac = pico % PICO_PER_USD;
    if frac == 0 {
        return whole.to_string();
    }
    let mut out = format!("{whole}.{frac:012}");
    let kept = out.trim_end_matches('0').len();
    out.truncate(kept);
    out
}

/// Carries sub-micro-USD remainders so that a stream of small costs adds up exactly in a
/// micro-USD counter: the counter never drifts by more than one micro-USD per carrier.
#[derive(Debug, Default, Clone)]
pub struct MicroCarry {
    remainder_pico: u128,
}

impl MicroCarry {
    /// Adds `pico` and returns the whole micro-USD now due.
    pub fn add(&mut self, pico: u128) -> u64 {
        let total = self.remainder_pico.saturating_add(pico);
        self.remainder_pico = total % PICO_PER_MICRO;
        u64::try_from(total / PICO_PER_MICRO).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_decimals_are_exact() {
        assert_eq!(parse_scaled("12.5", 9), Ok(12_500_000_000));
        assert_eq!(parse_scaled("0.000000001", 9), Ok(1));
        assert_eq!(parse_scaled("3", 3), Ok(3000));
        assert!(parse_scaled("0.0000000001", 9).is_err());
        assert!(parse_scaled("-1", 9).is_err());
        assert!(parse_scaled("1e3", 9).is_err());
        assert!(
            parse_scaled("99999999999", 9).is_err(),
            "past u64 in nano-USD"
        );
        assert_eq!(pico_to_nano_ceil(1001), 2);
        assert_eq!(pico_to_nano_ceil(1000), 1);
    }
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn parses_decimal_prices_exactly() {
        assert_eq!(parse_usd_per_million("2.50"), Ok(2_500_000));
        assert_eq!(parse_usd_per_million("0.075"), Ok(75_000));
        assert_eq!(parse_usd_per_million("10"), Ok(10_000_000));
        assert_eq!(parse_usd_per_million(".5"), Ok(500_000));
        assert_eq!(parse_usd_per_million("0.000001"), Ok(1));
        assert_eq!(parse_usd_per_million("0"), Ok(0));
    }

    #[test]
    fn rejects_bad_prices() {
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "0.0000001",
            "abc",
            "1.2.3",
            "2000000",
            " 1 2",
        ] {
            assert!(
                parse_usd_per_million(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn parses_per_token_prices_with_exponents() {
        // USD per token as LiteLLM's JSON prints them: 2.5e-06 USD is $2.50 per million.
        assert_eq!(parse_usd_per_token("2.5e-06"), Ok(2_500_000));
        assert_eq!(parse_usd_per_token("2.5e-6"), Ok(2_500_000));
        assert_eq!(parse_usd_per_token("2.5E-6"), Ok(2_500_000));
        assert_eq!(parse_usd_per_token("0.0000025"), Ok(2_500_000));
        assert_eq!(parse_usd_per_token("25e-7"), Ok(2_500_000));
        assert_eq!(parse_usd_per_token("0.00025e-2"), Ok(2_500_000));
        assert_eq!(parse_usd_per_token("3.75e-06"), Ok(3_750_000));
        assert_eq!(parse_usd_per_token("1.25e-07"), Ok(125_000));
        assert_eq!(parse_usd_per_token("7.5e-05"), Ok(75_000_000));
        assert_eq!(parse_usd_per_token("0"), Ok(0));
        assert_eq!(parse_usd_per_token("0.0"), Ok(0));
        assert_eq!(parse_usd_per_token("0e5"), Ok(0));
        assert_eq!(parse_usd_per_token("1e-12"), Ok(1));
        assert_eq!(parse_usd_per_token("1"), Ok(1_000_000_000_000));
        assert_eq!(parse_usd_per_token("1.0"), Ok(1_000_000_000_000));
        assert_eq!(parse_usd_per_token("1e+0"), Ok(1_000_000_000_000));
        assert_eq!(parse_usd_per_token("1e-400"), Ok(0));
        // Sub-pico digits round half up: float artefacts land on the intended price.
        assert_eq!(parse_usd_per_token("6.000000000000001e-06"), Ok(6_000_000));
        assert_eq!(parse_usd_per_token("2.4999999999999998e-06"), Ok(2_500_000));
        assert_eq!(parse_usd_per_token("1.5e-12"), Ok(2));
        assert_eq!(parse_usd_per_token("1.4e-12"), Ok(1));
        assert_eq!(parse_usd_per_token("4e-13"), Ok(0));
    }

    #[test]
    fn rejects_bad_per_token_prices() {
        for bad in [
            "",
            ".",
            "e5",
            "1e",
            "1e-",
            "1e+-2",
            "-2.5e-06",
            "-0",
            "abc",
            "1.2.3",
            "1e5.5",
            "0x10",
            "NaN",
            "inf",
            "1.000001",
            "2",
            "1e1",
            "1e99999999999999999999",
        ] {
            assert!(
                parse_usd_per_token(bad).is_err(),
                "{bad} should be rejected"
            );
        }
        assert!(parse_usd_per_token("-1e-6")
            .unwrap_err()
            .contains("negative"));
    }

    #[test]
    fn formats_without_float_artefacts() {
        assert_eq!(format_usd(0), "0");
        // 0.1 + 0.2 USD: the classic float artefact is 0.30000000000000004.
        assert_eq!(format_usd(PICO_PER_USD / 10 + 2 * PICO_PER_USD / 10), "0.3");
        assert_eq!(format_usd(1_250_000_000), "0.00125");
        assert_eq!(format_usd(3 * PICO_PER_USD + 1), "3.000000000001");
    }

    #[test]
    fn micro_carry_adds_up_exactly() {
        let mut carry = MicroCarry::default();
        // 0.4 micro-USD, ten times: 4 micro-USD in total, emitted as whole micros.
        let emitted: u64 = (0..10).map(|_| carry.add(400_000)).sum();
        assert_eq!(emitted, 4);
        assert_eq!(carry.add(2_500_000), 2);
        assert_eq!(carry.add(500_000), 1);
    }
}
