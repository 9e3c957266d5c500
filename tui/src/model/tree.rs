//! The room tree flattened into rows: the shared `voiced_client::mirror`.

pub use voiced_client::mirror::{Row, RowKind, rows};
