//! The queue envelope (see README, "Queue envelope v1").

/// One message ready for the queue: body plus attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Unique within one batch (SQS batch entry id).
    pub entry_id: String,
    /// The serialized envelope (JSON).
    pub body: String,
    /// SQS message attributes (all strings).
    pub attributes: Vec<(String, String)>,
}
