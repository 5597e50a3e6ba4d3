//! Ticket events on one machine (issue #12): the SQLite outbox, written in
//! each ticket's transaction, drained by the same dispatcher the `dispatch`
//! Lambda uses, to the destinations of the rules file.

use std::sync::Arc;

use tokio::sync::watch;
use triage_core::routing::Routing;
use triage_destinations::HttpDestinations;
use triage_dispatch::Dispatcher;
use triage_secrets::SecretResolver;
use triage_sqlite::{SqliteDb, SqliteStore};

use crate::app::{self, AppError};
use crate::output::Printer;

/// The outbox and its dispatcher.
pub struct LocalEvents {
    store: SqliteStore,
    names: Vec<String>,
    dispatcher: Dispatcher<HttpDestinations>,
}

impl LocalEvents {
    /// Events of the tickets in `db`, delivered to `routing`'s destinations.
    /// `None` without an embedded store (DynamoDB tickets: their events
    /// leave through the table's stream, in AWS).
    pub async fn compose(
        db: Option<&SqliteDb>,
        sqlite_tickets: bool,
        routing: &Routing,
        resolver: &SecretResolver,
    ) -> Result<Option<LocalEvents>, AppError> {
        let Some(db) = db.filter(|_| sqlite_tickets) else {
            return Ok(None);
        };
        let destinations = app::destinations(routing, resolver).await?;
        let mut names: Vec<String> = routing
            .destinations()
            .iter()
            .map(|d| d.name.clone())
            .collect();
        names.sort();
        Ok(Some(LocalEvents {
            store: db.store(),
            names,
            dispatcher: Dispatcher::new(routing.clone(), destinations),
        }))
    }

    /// The destinations' names, for the start-up line.
    pub fn destination_names(&self) -> &[String] {
        &self.names
    }

    /// Events waiting (pending, dead).
    pub async fn counts(&self) -> (u64, u64) {
        match self.store.outbox_counts().await {
            Ok(c) => (c.pending, c.dead),
            Err(_) => (0, 0),
        }
    }

    /// Drain the outbox until `stop` turns true, one printed line per
    /// delivery.
    pub async fn run(self: Arc<Self>, printer: Arc<Printer>, mut stop: watch::Receiver<bool>) {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        triage_dispatch::run(
            &self.store,
            &self.dispatcher,
            crate::runtime::now_ms,
            |line| printer.delivery(line),
            stopped,
        )
        .await;
    }
}
