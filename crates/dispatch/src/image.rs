//! A ticket from a DynamoDB stream image (DynamoDB JSON: every value an
//! object with one type key, `S`, `N`, `BOOL`, `NULL`, `L`, `M`, `SS`,
//! `NS`), for the creation events the tickets table carries as a marker
//! ([`triage_core::events::CREATED_MARKER`]).

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use triage_core::ticket::Ticket;

/// The ticket an image holds; `Err` says why it holds none: a pointer
/// item, a value of a type tickets never hold, or a field a ticket cannot
/// have (a missing one, or a priority or status that names no known value).
pub fn ticket_of(image: &HashMap<String, Value>) -> Result<Ticket, String> {
    let fields = image
        .iter()
        .filter(|(k, _)| k.as_str() != "pk")
        .map(|(k, v)| match plain(v) {
            Some(v) => Ok((k.clone(), v)),
            None => Err(format!(
                "attribute `{k}` is not a DynamoDB JSON value tickets hold"
            )),
        })
        .collect::<Result<Map<_, _>, _>>()?;
    serde_json::from_value(Value::Object(fields)).map_err(|e| format!("not a ticket: {e}"))
}

/// One DynamoDB JSON value as plain JSON.
fn plain(v: &Value) -> Option<Value> {
    let (kind, inner) = v.as_object().filter(|o| o.len() == 1)?.iter().next()?;
    Some(match kind.as_str() {
        "S" => Value::String(inner.as_str()?.to_string()),
        "N" => Value::Number(number(inner.as_str()?)?),
        "BOOL" => Value::Bool(inner.as_bool()?),
        "NULL" => Value::Null,
        "L" => Value::Array(inner.as_array()?.iter().map(plain).collect::<Option<_>>()?),
        "M" => Value::Object(
            inner
                .as_object()?
                .iter()
                .map(|(k, v)| Some((k.clone(), plain(v)?)))
                .collect::<Option<_>>()?,
        ),
        "SS" => Value::Array(
            inner
                .as_array()?
                .iter()
                .map(|s| s.as_str().map(|s| Value::String(s.to_string())))
                .collect::<Option<_>>()?,
        ),
        "NS" => Value::Array(
            inner
                .as_array()?
                .iter()
                .map(|n| n.as_str().and_then(number).map(Value::Number))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

fn number(n: &str) -> Option<Number> {
    if let Ok(i) = n.parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = n.parse::<u64>() {
        return Some(Number::from(u));
    }
    n.parse::<f64>().ok().and_then(Number::from_f64)
}

/// A DynamoDB JSON image of a valid ticket (`t_1`, billing, medium, just
/// created), for this crate's tests.
#[cfg(test)]
pub(crate) fn sample_image() -> Value {
    serde_json::json!({
        "pk": {"S": "ticket#t_1"}, "id": {"S": "t_1"}, "grant_id": {"S": "g"},
        "message_id": {"S": "m1"}, "thread_id": {"NULL": true},
        "subject": {"S": "Refund"},
        "requester": {"M": {"email": {"S": "ann@example.com"}, "name": {"S": "Ann"}}},
        "to": {"L": []}, "cc": {"L": []}, "category": {"S": "billing"},
        "queue": {"S": "billing"}, "priority": {"S": "medium"}, "status": {"S": "new"},
        "received_at": {"N": "5"}, "created_at": {"N": "5"}, "last_message_at": {"N": "5"},
        "message_count": {"N": "1"}, "message_ids": {"L": [{"S": "m1"}]},
        "snippet": {"S": "Please refund"}, "attachments": {"L": []},
        "applied_rules": {"L": [{"M": {"rule": {"S": "billing"}, "decision": {"S": "queue=billing"}}}]},
        "thread_keys": {"L": []}, "last_event": {"S": triage_core::events::CREATED_MARKER}
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use triage_core::ticket::{Priority, TicketStatus};

    fn image(v: Value) -> HashMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn values_of_every_type_read_as_plain_json() {
        let v = json!({"M": {
            "s": {"S": "x"}, "n": {"N": "-3"}, "f": {"N": "1.5"}, "b": {"BOOL": true},
            "z": {"NULL": true}, "l": {"L": [{"N": "1"}, {"S": "a"}]},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}
        }});
        assert_eq!(
            plain(&v),
            Some(json!({"s": "x", "n": -3, "f": 1.5, "b": true, "z": null,
                        "l": [1, "a"], "ss": ["a", "b"], "ns": [1, 2]}))
        );
        assert_eq!(plain(&json!({"B": "AAAA"})), None);
        assert_eq!(plain(&json!({"S": "x", "N": "1"})), None);
        assert_eq!(plain(&json!({"N": "nope"})), None);
        assert_eq!(plain(&json!("bare")), None);
    }

    #[test]
    fn a_ticket_image_reads_back_and_a_pointer_is_not_a_ticket() {
        let t = image(sample_image());
        let ticket = ticket_of(&t).expect("a ticket");
        assert_eq!(ticket.id, "t_1");
        assert_eq!(ticket.requester.email, "ann@example.com");
        assert_eq!(ticket.applied_rules[0].rule, "billing");
        assert_eq!(
            (ticket.priority, ticket.status),
            (Priority::Medium, TicketStatus::New)
        );
        let pointer = image(json!({
            "pk": {"S": "thread#g#th"}, "ticket_id": {"S": "t_1"}, "kind": {"S": "thread"}
        }));
        assert!(ticket_of(&pointer).is_err());
    }

    #[test]
    fn an_image_with_an_unknown_priority_or_status_is_an_error() {
        let with = |field: &str, value: &str| {
            let mut v = image(sample_image());
            v.insert(field.to_string(), json!({"S": value}));
            ticket_of(&v)
        };
        assert!(with("priority", "high").is_ok());
        for (field, value) in [
            ("priority", "normal"),
            ("priority", "urgent"),
            ("priority", "High"),
            ("priority", ""),
            ("status", "open"),
            ("status", "closed"),
        ] {
            let e = with(field, value).expect_err(value);
            assert!(e.contains("unknown variant"), "{field}={value}: {e}");
        }
        let mut v = image(sample_image());
        v.insert("priority".into(), json!({"N": "3"}));
        assert!(ticket_of(&v).is_err());
        v.insert("priority".into(), json!({"B": "AAAA"}));
        assert!(ticket_of(&v).unwrap_err().contains("`priority`"));
    }
}
