//! DynamoDB capacity units computed from item sizes, and a [`Meter`] that
//! counts them for every call made through a client it builds.
//!
//! moto (the local AWS server of the tests) answers `ConsumedCapacity` with
//! fixed placeholders, so units are computed here with AWS's published
//! rules (Developer Guide, "Capacity unit consumption" and the read/write
//! capacity mode pages):
//!
//! - **Item size** ([`item_size`]): the sum over top-level attributes of the
//!   name's UTF-8 bytes plus the value's size. String: UTF-8 bytes. Number:
//!   1 byte per two significant digits (leading and trailing zeros trimmed;
//!   sign, decimal point and any exponent not counted) plus 1 byte. Binary:
//!   raw bytes. Null and Bool: 1 byte. List and Map: 3 bytes, plus each
//!   element's size plus 1 byte per element (a map element also counts its
//!   key's UTF-8 bytes). Sets: the sum of their elements' sizes.
//! - **Writes** ([`write_units`]): 1 write request unit (WRU) per 1 KB
//!   (1024 bytes), rounded up, at least 1; transactional writes twice that
//!   per item. PutItem counts the larger of the new item and the one it
//!   replaces, UpdateItem the larger of the item before and after, DeleteItem
//!   the deleted item; a write whose condition fails still consumes the
//!   existing item's size (at least 1 unit).
//! - **Reads** ([`read_half_units`]): a strongly consistent read is 1 read
//!   request unit (RRU) per 4 KB rounded up, an eventually consistent read
//!   half that; a read of a missing item still costs the minimum (1 or 0.5).
//!   Read units are kept as half-units (integers) to stay exact.
//!
//! # The meter
//!
//! [`Meter::client`] builds a client whose configuration carries an SDK
//! interceptor; every call made through it adds its units to the meter with
//! no change to the code making the calls. To know the sizes AWS charges
//! for, the interceptor changes what some requests ask back (no extra cost
//! in DynamoDB; the caller's own choice is kept when it made one):
//!
//! - PutItem and DeleteItem: `ReturnValues = ALL_OLD` (the replaced or
//!   deleted item); UpdateItem: `ReturnValues = ALL_NEW` (the item after).
//! - PutItem, UpdateItem, DeleteItem: `ReturnValuesOnConditionCheckFailure =
//!   ALL_OLD`, so a failed condition reports the existing item.
//!
//! What each operation adds:
//!
//! | operation | units |
//! |---|---|
//! | PutItem | WRU of max(new item, replaced item) |
//! | UpdateItem | WRU of the item after the update (see approximations) |
//! | DeleteItem | WRU of the deleted item (1 when there was none) |
//! | conditional failure of the three | WRU of the existing item (min 1) |
//! | GetItem | RRU of the item, consistency as requested |
//! | BatchGetItem | each returned item rounded separately; each requested key neither returned nor unprocessed (missing) at the minimum |
//! | Query, Scan | RRU of the sum of the returned items' sizes |
//! | TransactWriteItems | 2 × WRU per item, also when cancelled |
//! | TransactGetItems | 2 × strongly consistent RRU per item |
//! | BatchWriteItem | WRU per processed request |
//! | anything else | a call, no units |
//!
//! `calls` counts the requests DynamoDB answered (each attempt of a retried
//! call that got an answer, throttling errors included, which consume no
//! units). Nothing the meter does fails or alters the outcome of a call.
//!
//! # Approximations
//!
//! - UpdateItem: only the item after the update is seen (`ALL_NEW`), so an
//!   update that shrinks an item is counted at the smaller size. When the
//!   caller asked for `ALL_OLD` the item before is counted instead; for
//!   `UPDATED_OLD`/`UPDATED_NEW` only the returned attributes are counted (an
//!   under-count).
//! - TransactWriteItems: a Put counts its new item (the item it replaces is
//!   not known); an Update, Delete or ConditionCheck counts 2 (as if its item
//!   were at most 1 KB). A cancelled transaction counts the same units, raised
//!   to the size of any existing item its cancellation reasons report.
//! - BatchWriteItem: a DeleteRequest counts 1 (the deleted item's size is not
//!   returned), a PutRequest its new item.
//! - Reads with a projection (`ProjectionExpression`, `AttributesToGet`) or a
//!   Query/Scan filter: AWS charges for the whole item read (all evaluated
//!   items for Query/Scan), but only what is returned is seen here, so items
//!   over 4 KB (or filtered out) are under-counted.
//! - Global secondary indexes, streams and TTL deletes are not counted.

mod meter;
mod size;

pub use meter::{Meter, Usage};
pub use size::{item_size, read_half_units, write_units};

/// An item: attribute name -> value.
type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

#[cfg(test)]
#[path = "meter_moto_tests.rs"]
mod meter_moto_tests;

#[cfg(test)]
mod test_support {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::Item;

    pub(super) fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_string())
    }

    pub(super) fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.to_string())
    }

    pub(super) fn item(attrs: &[(&str, AttributeValue)]) -> Item {
        attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}
