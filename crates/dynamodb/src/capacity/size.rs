//! Item sizes and the units they cost, by AWS's published rules (see the
//! parent module).

use aws_sdk_dynamodb::types::AttributeValue;

use super::Item;

/// Bytes in the unit of write capacity (1 KB).
const WRITE_UNIT_BYTES: usize = 1024;
/// Bytes in the unit of read capacity (4 KB).
const READ_UNIT_BYTES: usize = 4096;

/// The size of `item` as DynamoDB counts it for capacity (see the module
/// docs): attribute names' UTF-8 bytes plus their values' sizes.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Write request units for an item of `bytes`: 1 per 1 KB, rounded up, at
/// least 1 (a write of an empty or missing item still costs 1).
pub fn write_units(bytes: usize) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as u64
}

/// Read request units, in half-units, for reading `bytes`: 2 per 4 KB
/// (rounded up) when strongly `consistent`, 1 when eventually consistent;
/// at least one 4 KB block (a missing item costs the minimum).
pub fn read_half_units(bytes: usize, consistent: bool) -> u64 {
    let blocks = bytes.div_ceil(READ_UNIT_BYTES).max(1) as u64;
    if consistent { 2 * blocks } else { blocks }
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Null(_) | AttributeValue::Bool(_) => 1,
        AttributeValue::L(items) => 3 + items.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// A number's size: 1 byte per two significant digits, plus 1. Leading and
/// trailing zeros are trimmed (across the decimal point: `0012.500` has the
/// digits `125`); the sign, the decimal point and an exponent (`-1.50E3`:
/// the digits `15`) are not counted. Zero has no significant digit: 1 byte.
fn number_size(n: &str) -> usize {
    let mantissa = n.trim().split(['e', 'E']).next().unwrap_or_default();
    let digits = mantissa
        .trim_start_matches(['+', '-'])
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|&d| d == b'0')
        .collect::<Vec<u8>>();
    let significant = digits.len() - digits.iter().rev().take_while(|&&d| d == b'0').count();
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::capacity::test_support::{item, n, s};
    use aws_sdk_dynamodb::primitives::Blob;

    #[test]
    fn scalar_sizes() {
        // "pk" 2 + "abc" 3.
        assert_eq!(item_size(&item(&[("pk", s("abc"))])), 5);
        // UTF-8 bytes, not chars: "é" is 2, "名前" is 6.
        assert_eq!(item_size(&item(&[("名前", s("é"))])), 8);
        // Binary: raw bytes. "b" 1 + 4.
        assert_eq!(
            item_size(&item(&[(
                "b",
                AttributeValue::B(Blob::new(vec![0, 1, 2, 3]))
            )])),
            5
        );
        // Null and Bool: 1 byte each. "z" 1 + 1, "ok" 2 + 1.
        assert_eq!(
            item_size(&item(&[
                ("z", AttributeValue::Null(true)),
                ("ok", AttributeValue::Bool(false))
            ])),
            5
        );
        // Several attributes add up; the empty item is 0.
        assert_eq!(item_size(&item(&[("a", s("x")), ("bb", s("yy"))])), 6);
        assert_eq!(item_size(&Item::new()), 0);
    }

    #[test]
    fn number_sizes_count_significant_digits() {
        // 1 byte per two significant digits, plus 1.
        assert_eq!(number_size("1"), 2);
        assert_eq!(number_size("12"), 2);
        assert_eq!(number_size("123"), 3);
        assert_eq!(number_size("1234567890123"), 8);
        // Leading and trailing zeros trimmed, across the decimal point: 125.
        assert_eq!(number_size("0012.500"), 3);
        assert_eq!(number_size("100"), 2);
        assert_eq!(number_size("0.001"), 2);
        assert_eq!(number_size("1.05"), 3);
        // Sign and exponent not counted: digits 1 and 15.
        assert_eq!(number_size("-1e3"), 2);
        assert_eq!(number_size("-1.50E-3"), 2);
        assert_eq!(number_size("+42"), 2);
        // Zero: no significant digit.
        assert_eq!(number_size("0"), 1);
        assert_eq!(number_size("-0.000"), 1);
        // Attribute name counted too: "n" 1 + 3.
        assert_eq!(item_size(&item(&[("n", n("0012.500"))])), 4);
    }

    #[test]
    fn set_sizes_are_the_sum_of_their_elements() {
        // "ss" 2 + (1 + 2 + 3).
        let ss = AttributeValue::Ss(vec!["a".into(), "bb".into(), "ccc".into()]);
        assert_eq!(item_size(&item(&[("ss", ss)])), 8);
        // "ns" 2 + (2 + 3 + 1): "12", "123", "0".
        let ns = AttributeValue::Ns(vec!["12".into(), "123".into(), "0".into()]);
        assert_eq!(item_size(&item(&[("ns", ns)])), 8);
        // "bs" 2 + (3 + 0).
        let bs = AttributeValue::Bs(vec![Blob::new(vec![1, 2, 3]), Blob::new(vec![])]);
        assert_eq!(item_size(&item(&[("bs", bs)])), 5);
    }

    #[test]
    fn lists_and_maps_count_overhead_per_element() {
        // Empty: "l" 1 + 3.
        assert_eq!(item_size(&item(&[("l", AttributeValue::L(vec![]))])), 4);
        assert_eq!(
            item_size(&item(&[("m", AttributeValue::M(HashMap::new()))])),
            4
        );
        // "l" 1 + 3 + ("ab" 2 + 1) + (Bool 1 + 1).
        let l = AttributeValue::L(vec![s("ab"), AttributeValue::Bool(true)]);
        assert_eq!(item_size(&item(&[("l", l.clone())])), 9);
        // "m" 1 + 3 + ("k" 1 + "xyz" 3 + 1) + ("num" 3 + 2 + 1).
        let m = AttributeValue::M(item(&[("k", s("xyz")), ("num", n("7"))]));
        assert_eq!(item_size(&item(&[("m", m.clone())])), 15);
        // Nested: "outer" 5 + 3 + ("list" 4 + 8 + 1) + ("inner" 5 + 14 + 1),
        // the list's value being 3 + ("ab" 2 + 1) + (Null 1 + 1) = 8 and the
        // map's 3 + ("k" 1 + 3 + 1) + ("num" 3 + 2 + 1) = 14.
        let nested = AttributeValue::M(item(&[
            (
                "list",
                AttributeValue::L(vec![s("ab"), AttributeValue::Null(true)]),
            ),
            ("inner", m),
        ]));
        assert_eq!(item_size(&item(&[("outer", nested)])), 5 + 3 + 13 + 20);
        // A list of lists: "ll" 2 + 3 + (8 + 1), the inner list [ab, true]
        // being 3 + 3 + 2.
        let ll = AttributeValue::L(vec![l]);
        assert_eq!(item_size(&item(&[("ll", ll)])), 2 + 3 + 8 + 1);
    }

    #[test]
    fn units_round_up_with_a_minimum() {
        assert_eq!(write_units(0), 1);
        assert_eq!(write_units(1), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(write_units(3000), 3);
        assert_eq!(read_half_units(0, true), 2);
        assert_eq!(read_half_units(0, false), 1);
        assert_eq!(read_half_units(4096, true), 2);
        assert_eq!(read_half_units(4097, true), 4);
        assert_eq!(read_half_units(4097, false), 2);
        assert_eq!(read_half_units(10_000, false), 3);
    }
}
