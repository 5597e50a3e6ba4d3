//! [`Meter`]: an SDK interceptor adding up the units of every call made
//! through a client it builds (see the parent module for what it counts and
//! what it approximates).

use std::collections::HashMap;
use std::ops::Sub;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::delete_item::{
    DeleteItemError, DeleteItemInput, DeleteItemOutput,
};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::scan::{ScanInput, ScanOutput};
use aws_sdk_dynamodb::operation::transact_get_items::{
    TransactGetItemsInput, TransactGetItemsOutput,
};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput,
};
use aws_sdk_dynamodb::operation::update_item::{
    UpdateItemError, UpdateItemInput, UpdateItemOutput,
};
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{Error, Input, Output};
use aws_smithy_types::config_bag::{Storable, StoreReplace};

use super::Item;
use super::size::{item_size, read_half_units, write_units};

/// Units and calls counted by a [`Meter`] (or the difference of two
/// readings: `after - before`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Write request units.
    pub write_units: u64,
    /// Read request units, in halves (an eventually consistent 4 KB read is 1).
    pub read_half_units: u64,
    /// Requests DynamoDB answered.
    pub calls: u64,
}

impl Usage {
    /// Read request units (`read_half_units / 2`).
    pub fn read_units(&self) -> f64 {
        self.read_half_units as f64 / 2.0
    }
}

impl Sub for Usage {
    type Output = Usage;
    /// Field by field, saturating at 0.
    fn sub(self, rhs: Usage) -> Usage {
        Usage {
            write_units: self.write_units.saturating_sub(rhs.write_units),
            read_half_units: self.read_half_units.saturating_sub(rhs.read_half_units),
            calls: self.calls.saturating_sub(rhs.calls),
        }
    }
}

/// Counts the capacity units of every call made through the clients it
/// builds ([`Meter::client`]); read it with [`Meter::usage`].
#[derive(Debug, Default)]
pub struct Meter {
    write_units: AtomicU64,
    read_half_units: AtomicU64,
    calls: AtomicU64,
}

impl Meter {
    /// What has been counted so far.
    pub fn usage(&self) -> Usage {
        Usage {
            write_units: self.write_units.load(Ordering::Relaxed),
            read_half_units: self.read_half_units.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
        }
    }

    /// A DynamoDB client for `sdk` whose every call is counted by this
    /// meter (see the module docs for what each operation counts and what
    /// the meter asks DynamoDB to return).
    pub fn client(self: &Arc<Self>, sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(Metering {
                meter: Arc::clone(self),
            })
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    fn add(&self, write_units: u64, read_half_units: u64) {
        self.write_units.fetch_add(write_units, Ordering::Relaxed);
        self.read_half_units
            .fetch_add(read_half_units, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

/// The SDK interceptor behind [`Meter::client`].
#[derive(Debug)]
struct Metering {
    meter: Arc<Meter>,
}

/// What is known from a request before it is sent, kept in the request's
/// config bag for the response (the input is consumed by serialization).
#[derive(Debug, Clone, Default)]
enum Pending {
    Put {
        new_bytes: usize,
    },
    /// Counted from the returned attributes: the whole item after (`ALL_NEW`,
    /// set when the caller asked for none) or before (the caller's
    /// `ALL_OLD`), else only the updated attributes.
    Update,
    Delete,
    Get {
        consistent: bool,
    },
    /// Per table: consistent read, keys requested.
    BatchGet {
        tables: HashMap<String, (bool, usize)>,
    },
    /// Query or Scan.
    Items {
        consistent: bool,
    },
    /// Units per transaction item, in order.
    TransactWrite {
        units: Vec<u64>,
    },
    TransactGet,
    BatchWrite {
        units: u64,
    },
    #[default]
    Other,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Metering {
    fn name(&self) -> &'static str {
        "triage-dynamodb-capacity-meter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let pending = prepare(context.input_mut());
        cfg.interceptor_state().store_put(pending);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let fallback = Pending::Other;
        let pending = cfg.load::<Pending>().unwrap_or(&fallback);
        let (write, read) = match context.inner().output_or_error() {
            Some(Ok(output)) => output_units(pending, output),
            Some(Err(e)) => e
                .as_operation_error()
                .map(|e| error_units(pending, e))
                .unwrap_or_default(),
            None => (0, 0),
        };
        self.meter.add(write, read);
        Ok(())
    }
}

/// Ask for the item sizes the units depend on, and note what the input tells.
fn prepare(input: &mut Input) -> Pending {
    if let Some(put) = input.downcast_mut::<PutItemInput>() {
        if matches!(put.return_values, None | Some(ReturnValue::None)) {
            put.return_values = Some(ReturnValue::AllOld);
        }
        old_on_failure(&mut put.return_values_on_condition_check_failure);
        return Pending::Put {
            new_bytes: put.item.as_ref().map_or(0, item_size),
        };
    }
    if let Some(update) = input.downcast_mut::<UpdateItemInput>() {
        if matches!(update.return_values, None | Some(ReturnValue::None)) {
            update.return_values = Some(ReturnValue::AllNew);
        }
        old_on_failure(&mut update.return_values_on_condition_check_failure);
        return Pending::Update;
    }
    if let Some(delete) = input.downcast_mut::<DeleteItemInput>() {
        if matches!(delete.return_values, None | Some(ReturnValue::None)) {
            delete.return_values = Some(ReturnValue::AllOld);
        }
        old_on_failure(&mut delete.return_values_on_condition_check_failure);
        return Pending::Delete;
    }
    if let Some(get) = input.downcast_ref::<GetItemInput>() {
        return Pending::Get {
            consistent: get.consistent_read.unwrap_or(false),
        };
    }
    if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
        let tables = batch
            .request_items
            .iter()
            .flatten()
            .map(|(table, k)| {
                (
                    table.clone(),
                    (k.consistent_read.unwrap_or(false), k.keys.len()),
                )
            })
            .collect();
        return Pending::BatchGet { tables };
    }
    if let Some(query) = input.downcast_ref::<QueryInput>() {
        return Pending::Items {
            consistent: query.consistent_read.unwrap_or(false),
        };
    }
    if let Some(scan) = input.downcast_ref::<ScanInput>() {
        return Pending::Items {
            consistent: scan.consistent_read.unwrap_or(false),
        };
    }
    if let Some(tx) = input.downcast_ref::<TransactWriteItemsInput>() {
        let units = tx
            .transact_items
            .iter()
            .flatten()
            .map(|item| match &item.put {
                Some(put) => 2 * write_units(item_size(&put.item)),
                // Update, Delete, ConditionCheck: the item is not known.
                None => 2,
            })
            .collect();
        return Pending::TransactWrite { units };
    }
    if input.downcast_ref::<TransactGetItemsInput>().is_some() {
        return Pending::TransactGet;
    }
    if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
        return Pending::BatchWrite {
            units: batch_write_units(batch.request_items.as_ref()),
        };
    }
    Pending::Other
}

fn old_on_failure(v: &mut Option<ReturnValuesOnConditionCheckFailure>) {
    if matches!(v, None | Some(ReturnValuesOnConditionCheckFailure::None)) {
        *v = Some(ReturnValuesOnConditionCheckFailure::AllOld);
    }
}

fn batch_write_units(requests: Option<&HashMap<String, Vec<WriteRequest>>>) -> u64 {
    requests
        .into_iter()
        .flat_map(HashMap::values)
        .flatten()
        .map(|r| match &r.put_request {
            Some(put) => write_units(item_size(&put.item)),
            None => 1,
        })
        .sum()
}

fn size_of(item: Option<&Item>) -> usize {
    item.map_or(0, item_size)
}

/// (write units, read half-units) of a successful call.
fn output_units(pending: &Pending, output: &Output) -> (u64, u64) {
    match pending {
        Pending::Put { new_bytes } => output
            .downcast_ref::<PutItemOutput>()
            .map(|o| {
                (
                    write_units(size_of(o.attributes.as_ref()).max(*new_bytes)),
                    0,
                )
            })
            .unwrap_or_default(),
        Pending::Update => output
            .downcast_ref::<UpdateItemOutput>()
            .map(|o| (write_units(size_of(o.attributes.as_ref())), 0))
            .unwrap_or_default(),
        Pending::Delete => output
            .downcast_ref::<DeleteItemOutput>()
            .map(|o| (write_units(size_of(o.attributes.as_ref())), 0))
            .unwrap_or_default(),
        Pending::Get { consistent } => output
            .downcast_ref::<GetItemOutput>()
            .map(|o| (0, read_half_units(size_of(o.item.as_ref()), *consistent)))
            .unwrap_or_default(),
        Pending::BatchGet { tables } => output
            .downcast_ref::<BatchGetItemOutput>()
            .map(|o| (0, batch_get_half_units(tables, o)))
            .unwrap_or_default(),
        Pending::Items { consistent } => {
            let items = output
                .downcast_ref::<QueryOutput>()
                .map(|o| o.items.as_deref())
                .or_else(|| {
                    output
                        .downcast_ref::<ScanOutput>()
                        .map(|o| o.items.as_deref())
                });
            match items {
                Some(items) => {
                    let bytes = items.unwrap_or_default().iter().map(item_size).sum();
                    (0, read_half_units(bytes, *consistent))
                }
                None => (0, 0),
            }
        }
        Pending::TransactWrite { units } => (units.iter().sum(), 0),
        Pending::TransactGet => output
            .downcast_ref::<TransactGetItemsOutput>()
            .map(|o| {
                let half = o
                    .responses
                    .iter()
                    .flatten()
                    .map(|r| 2 * read_half_units(size_of(r.item.as_ref()), true))
                    .sum();
                (0, half)
            })
            .unwrap_or_default(),
        Pending::BatchWrite { units } => output
            .downcast_ref::<BatchWriteItemOutput>()
            .map(|o| {
                let unprocessed = batch_write_units(o.unprocessed_items.as_ref());
                (units.saturating_sub(unprocessed), 0)
            })
            .unwrap_or_default(),
        Pending::Other => (0, 0),
    }
}

fn batch_get_half_units(tables: &HashMap<String, (bool, usize)>, o: &BatchGetItemOutput) -> u64 {
    tables
        .iter()
        .map(|(table, &(consistent, requested))| {
            let returned = o.responses.as_ref().and_then(|r| r.get(table));
            let unprocessed = o
                .unprocessed_keys
                .as_ref()
                .and_then(|u| u.get(table))
                .map_or(0, |k| k.keys.len());
            let found: u64 = returned
                .into_iter()
                .flatten()
                .map(|item| read_half_units(item_size(item), consistent))
                .sum();
            let n_returned = returned.map_or(0, Vec::len);
            let missing = requested.saturating_sub(n_returned + unprocessed) as u64;
            found + missing * read_half_units(0, consistent)
        })
        .sum()
}

/// (write units, read half-units) of a call that failed with a modelled
/// error: only failed conditions and cancelled transactions consume.
fn error_units(pending: &Pending, error: &Error) -> (u64, u64) {
    let existing = match pending {
        Pending::Put { .. } => match error.downcast_ref::<PutItemError>() {
            Some(PutItemError::ConditionalCheckFailedException(e)) => Some(e.item()),
            _ => None,
        },
        Pending::Update => match error.downcast_ref::<UpdateItemError>() {
            Some(UpdateItemError::ConditionalCheckFailedException(e)) => Some(e.item()),
            _ => None,
        },
        Pending::Delete => match error.downcast_ref::<DeleteItemError>() {
            Some(DeleteItemError::ConditionalCheckFailedException(e)) => Some(e.item()),
            _ => None,
        },
        Pending::TransactWrite { units } => {
            return match error.downcast_ref::<TransactWriteItemsError>() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    let reasons = e.cancellation_reasons();
                    let total = units
                        .iter()
                        .enumerate()
                        .map(|(i, &u)| {
                            let seen = reasons
                                .get(i)
                                .and_then(|r| r.item.as_ref())
                                .map_or(0, |item| 2 * write_units(item_size(item)));
                            u.max(seen)
                        })
                        .sum();
                    (total, 0)
                }
                _ => (0, 0),
            };
        }
        _ => None,
    };
    match existing {
        Some(item) => (write_units(size_of(item)), 0),
        None => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_subtracts_and_halves() {
        let a = Usage {
            write_units: 10,
            read_half_units: 7,
            calls: 4,
        };
        let b = Usage {
            write_units: 3,
            read_half_units: 2,
            calls: 1,
        };
        assert_eq!(
            a - b,
            Usage {
                write_units: 7,
                read_half_units: 5,
                calls: 3
            }
        );
        assert_eq!((a - b).read_units(), 2.5);
        assert_eq!(b - a, Usage::default());
    }
}
