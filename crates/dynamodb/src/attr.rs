//! A small `serde_json::Value` <-> `AttributeValue` converter, used to store
//! a [`Ticket`] as top-level attributes with nested maps and lists.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};
use triage_core::ports::StoreError;
use triage_core::ticket::Ticket;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// JSON -> DynamoDB: objects become `M`, arrays `L`, numbers `N`.
pub(crate) fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(to_attr).collect()),
        Value::Object(o) => {
            AttributeValue::M(o.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

/// DynamoDB -> JSON. `None` for binary values, which tickets never hold.
pub(crate) fn from_attr(a: &AttributeValue) -> Option<Value> {
    Some(match a {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(l) => Value::Array(l.iter().map(from_attr).collect::<Option<_>>()?),
        AttributeValue::M(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Some((k.clone(), from_attr(v)?)))
                .collect::<Option<Map<_, _>>>()?,
        ),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(
            ns.iter()
                .map(|n| parse_number(n).map(Value::Number))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

fn parse_number(n: &str) -> Option<Number> {
    if let Ok(i) = n.parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = n.parse::<u64>() {
        return Some(Number::from(u));
    }
    n.parse::<f64>().ok().and_then(Number::from_f64)
}

/// A ticket as an item: every `Ticket` field as a top-level attribute of the
/// same name, plus `pk`.
pub(crate) fn ticket_to_item(pk: String, ticket: &Ticket) -> Result<Item, StoreError> {
    let value = serde_json::to_value(ticket)
        .map_err(|_| StoreError::Rejected(format!("ticket {}: not serialisable", ticket.id)))?;
    let Value::Object(fields) = value else {
        return Err(StoreError::Rejected(format!(
            "ticket {}: not a JSON object",
            ticket.id
        )));
    };
    let mut item: Item = fields
        .iter()
        .map(|(k, v)| (k.clone(), to_attr(v)))
        .collect();
    item.insert("pk".to_string(), AttributeValue::S(pk));
    Ok(item)
}

/// The ticket stored in an item. Attributes that are not `Ticket` fields
/// (`pk`) are ignored.
pub(crate) fn item_to_ticket(item: &Item) -> Option<Ticket> {
    serde_json::from_value(item_to_json(item)?).ok()
}

/// An item's attributes (`pk` ignored) as one JSON object, for reading
/// any serde type from it (e.g. the projection of a ticket threading reads).
pub(crate) fn item_to_json(item: &Item) -> Option<Value> {
    let fields = item
        .iter()
        .filter(|(k, _)| k.as_str() != "pk")
        .map(|(k, v)| Some((k.clone(), from_attr(v)?)))
        .collect::<Option<Map<_, _>>>()?;
    Some(Value::Object(fields))
}

/// A string attribute.
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// An integer attribute.
pub(crate) fn get_i64(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips() {
        let v = json!({
            "s": "x", "empty": "", "n": -3, "big": u64::MAX, "f": 1.5, "b": true,
            "null": null, "l": [1, "a", {"k": []}], "m": {"inner": {"x": 1}}
        });
        let a = to_attr(&v);
        assert_eq!(from_attr(&a), Some(v));
    }

    #[test]
    fn priority_and_status_are_stored_by_name_and_unknown_names_do_not_read() {
        use triage_core::ticket::{Priority, TicketStatus};
        let mut t = triage_testkit::contract::sample_ticket("g", "m1", None, 1);
        t.priority = Priority::High;
        let mut item = ticket_to_item("ticket#t".into(), &t).unwrap();
        assert_eq!(item["priority"], AttributeValue::S("high".into()));
        assert_eq!(item["status"], AttributeValue::S("new".into()));
        assert_eq!(item_to_ticket(&item), Some(t));
        assert_eq!(
            item_to_ticket(&item).map(|t| (t.priority, t.status)),
            Some((Priority::High, TicketStatus::New))
        );
        for (field, value) in [
            ("priority", "urgent"),
            ("priority", "normal"),
            ("status", "open"),
        ] {
            let mut bad = item.clone();
            bad.insert(field.into(), AttributeValue::S(value.into()));
            assert_eq!(item_to_ticket(&bad), None, "{field}={value}");
        }
        item.insert("priority".into(), AttributeValue::N("2".into()));
        assert_eq!(item_to_ticket(&item), None);
    }

    #[test]
    fn numbers_are_n_strings() {
        assert_eq!(to_attr(&json!(42)), AttributeValue::N("42".into()));
        assert_eq!(from_attr(&AttributeValue::N("nope".into())), None);
    }
}
