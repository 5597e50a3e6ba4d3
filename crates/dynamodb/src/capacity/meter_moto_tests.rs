//! The meter against moto: exact unit deltas for each kind of call. Needs
//! moto (AWS_ENDPOINT_URL) and fails without it.

use std::sync::Arc;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem};

use super::test_support::{item, n, s};
use super::{Item, Meter, Usage, item_size};

fn key(pk: &str) -> Item {
    item(&[("pk", s(pk))])
}

/// `f`'s calls through the metered client, as counted by the meter.
async fn delta<F: std::future::Future<Output = ()>>(meter: &Meter, f: F) -> Usage {
    let before = meter.usage();
    f.await;
    meter.usage() - before
}

fn usage(write_units: u64, read_half_units: u64, calls: u64) -> Usage {
    Usage {
        write_units,
        read_half_units,
        calls,
    }
}

#[tokio::test]
async fn the_meter_counts_calls_against_moto() {
    let meter = Arc::new(Meter::default());
    let client = meter.client(&triage_testkit::moto_config().await);
    let table = triage_testkit::create_dynamo_table(&client, "cap").await;
    let big = item(&[("pk", s("cap-1")), ("body", s(&"b".repeat(1500)))]);
    // "pk" 2 + 5 + "body" 4 + 1500.
    assert_eq!(item_size(&big), 1511);

    // A 1.5 KB put: 2 WRU.
    let d = delta(&meter, async {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(big.clone()))
            .send()
            .await
            .unwrap();
    })
    .await;
    assert_eq!(d, usage(2, 0, 1));

    // A put whose condition fails: the existing 1.5 KB item, 2 WRU.
    let d = delta(&meter, async {
        let e = client
            .put_item()
            .table_name(&table)
            .set_item(Some(key("cap-1")))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .unwrap_err();
        assert!(matches!(
            e.as_service_error(),
            Some(PutItemError::ConditionalCheckFailedException(_))
        ));
    })
    .await;
    assert_eq!(d, usage(2, 0, 1));

    // An update that grows it to 1511 + "extra" 5 + 700 = 2216 bytes: 3 WRU.
    let d = delta(&meter, async {
        let out = client
            .update_item()
            .table_name(&table)
            .set_key(Some(key("cap-1")))
            .update_expression("SET extra = :e")
            .expression_attribute_values(":e", s(&"e".repeat(700)))
            .send()
            .await
            .unwrap();
        assert_eq!(out.attributes.as_ref().map(item_size), Some(2216));
    })
    .await;
    assert_eq!(d, usage(3, 0, 1));

    // A strongly consistent read of 2216 bytes: 1 RRU.
    let d = delta(&meter, async {
        let out = client
            .get_item()
            .table_name(&table)
            .set_key(Some(key("cap-1")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert!(out.item.is_some());
    })
    .await;
    assert_eq!(d, usage(0, 2, 1));

    // A read of a missing item costs the minimum (eventually consistent: 0.5).
    let d = delta(&meter, async {
        let out = client
            .get_item()
            .table_name(&table)
            .set_key(Some(key("nope")))
            .send()
            .await
            .unwrap();
        assert!(out.item.is_none());
    })
    .await;
    assert_eq!(d, usage(0, 1, 1));

    // A small item with a number: "pk" 2 + 5 + "n" 1 + 3 = 11 bytes, 1 WRU.
    let small = item(&[("pk", s("cap-2")), ("n", n("0012.500"))]);
    assert_eq!(item_size(&small), 11);
    let d = delta(&meter, async {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(small.clone()))
            .send()
            .await
            .unwrap();
    })
    .await;
    assert_eq!(d, usage(1, 0, 1));

    // BatchGetItem, eventually consistent: 2 present + 1 missing key,
    // each rounded separately: 0.5 + 0.5 + 0.5 RRU.
    let d = delta(&meter, async {
        let keys = KeysAndAttributes::builder()
            .keys(key("cap-1"))
            .keys(key("cap-2"))
            .keys(key("cap-missing"))
            .build()
            .unwrap();
        let out = client
            .batch_get_item()
            .request_items(&table, keys)
            .send()
            .await
            .unwrap();
        assert_eq!(out.responses.unwrap()[&table].len(), 2);
    })
    .await;
    assert_eq!(d, usage(0, 3, 1));

    // The same, strongly consistent: twice as much.
    let d = delta(&meter, async {
        let keys = KeysAndAttributes::builder()
            .keys(key("cap-1"))
            .keys(key("cap-2"))
            .keys(key("cap-missing"))
            .consistent_read(true)
            .build()
            .unwrap();
        client
            .batch_get_item()
            .request_items(&table, keys)
            .send()
            .await
            .unwrap();
    })
    .await;
    assert_eq!(d, usage(0, 6, 1));

    // A query returning the 11-byte item: the minimum, 0.5 RRU.
    let d = delta(&meter, async {
        let out = client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :k")
            .expression_attribute_values(":k", s("cap-2"))
            .send()
            .await
            .unwrap();
        assert_eq!(out.count, 1);
    })
    .await;
    assert_eq!(d, usage(0, 1, 1));

    // A transaction of two small puts: 2 x 1 WRU each.
    let d = delta(&meter, async {
        let put = |pk: &str| {
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&table)
                        .set_item(Some(key(pk)))
                        .build()
                        .unwrap(),
                )
                .build()
        };
        client
            .transact_write_items()
            .transact_items(put("cap-3"))
            .transact_items(put("cap-4"))
            .send()
            .await
            .unwrap();
    })
    .await;
    assert_eq!(d, usage(4, 0, 1));

    // A cancelled transaction still counts its units.
    let d = delta(&meter, async {
        let put = TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&table)
                    .set_item(Some(key("cap-3")))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .unwrap(),
            )
            .build();
        let e = client
            .transact_write_items()
            .transact_items(put)
            .send()
            .await
            .unwrap_err();
        assert!(matches!(
            e.as_service_error(),
            Some(TransactWriteItemsError::TransactionCanceledException(_))
        ));
    })
    .await;
    assert_eq!(d, usage(2, 0, 1));

    // Replacing the 11-byte item with a 1.5 KB one: the larger, 2 WRU;
    // then replacing that with the 11-byte one again: still 2 WRU.
    let grown = item(&[("pk", s("cap-2")), ("body", s(&"b".repeat(1500)))]);
    for replacement in [grown, small] {
        let d = delta(&meter, async {
            client
                .put_item()
                .table_name(&table)
                .set_item(Some(replacement))
                .send()
                .await
                .unwrap();
        })
        .await;
        assert_eq!(d, usage(2, 0, 1));
    }

    // Deleting the 2216-byte item: 3 WRU; deleting a missing one: 1.
    for (pk, units) in [("cap-1", 3), ("cap-1", 1)] {
        let d = delta(&meter, async {
            client
                .delete_item()
                .table_name(&table)
                .set_key(Some(key(pk)))
                .send()
                .await
                .unwrap();
        })
        .await;
        assert_eq!(d, usage(units, 0, 1));
    }

    // An update whose condition fails on a missing item: the minimum, 1 WRU.
    let d = delta(&meter, async {
        client
            .update_item()
            .table_name(&table)
            .set_key(Some(key("cap-1")))
            .update_expression("SET extra = :e")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":e", s("x"))
            .send()
            .await
            .unwrap_err();
    })
    .await;
    assert_eq!(d, usage(1, 0, 1));
}
