//! The room tree flattened into rows: the shared `voiced_client::tree`.

pub use voiced_client::tree::{Row, RowKind};
