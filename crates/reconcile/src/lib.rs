//! The `reconcile` Lambda as a library (issue #13): on a schedule, find
//! mail the provider has and the pipeline never saw, queue it for the
//! worker, and report the webhooks' health.
//!
//! # Layout
//! - [`config`]: the environment, read once and typed.
//! - [`handler`]: one scheduled run over the core's
//!   [`Reconciler`](triage_core::reconcile::service::Reconciler), its logs
//!   and metrics.
//!
//! The run itself (windows, cursors, what is known, what is queued) is the
//! core's; `triage reconcile` runs the same service locally.

pub mod config;
pub mod handler;

pub use config::ReconcileConfig;
pub use handler::{LambdaReconciler, run_once};
