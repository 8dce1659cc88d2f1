//! A real JIT's code (CinderX): [`classify`] names the call sequences of a code dump, [`shape`]
//! reduces functions to comparable shapes, [`counts`] reads exact executed-instruction counts,
//! and [`verify`] checks a dump against the guest's memory map and symbol tables.

pub mod classify;
pub mod counts;
pub mod shape;
pub mod verify;

/// A capstone immediate operand (`#0x1f`, `#31`, `#-8`; the `#` may be left off) as a 64-bit
/// two's-complement value, or `None` when it is not one.
pub(crate) fn parse_imm(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_prefix('#').unwrap_or(s);
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None => s.parse::<u64>().ok()?,
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::parse_imm;

    #[test]
    fn immediates_parse_as_capstone_prints_them() {
        assert_eq!(parse_imm("#0x1f"), Some(0x1f));
        assert_eq!(parse_imm(" #31 "), Some(31));
        assert_eq!(parse_imm("0x10"), Some(0x10));
        assert_eq!(parse_imm("#-8"), Some(8u64.wrapping_neg()));
        assert_eq!(parse_imm("#-0x10"), Some(16u64.wrapping_neg()));
        assert_eq!(parse_imm("x1"), None);
        assert_eq!(parse_imm("#"), None);
    }
}
