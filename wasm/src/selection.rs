//! Row selections as JS passes them, turned into a core [`Selection`] (what it reads is planned
//! by the core: `ArrayLayout::plan`).

use numpack_core::Selection;

use crate::error::{JsResult, value_error};

/// Builds a selection from the flat form the JS layer sends: `kind` 0 = all rows,
/// 1 = `indices`, 2 = slice `start:stop:step` (missing bounds are `undefined`), 3 = a boolean
/// mask sent as one 0/1 per row in `indices` (its length is checked by the core).
pub fn from_parts(
    kind: u8,
    indices: Option<Vec<i64>>,
    start: Option<f64>,
    stop: Option<f64>,
    step: Option<f64>,
) -> JsResult<Selection> {
    match kind {
        0 => Ok(Selection::All),
        1 => Ok(Selection::Indices(indices.unwrap_or_default())),
        3 => Ok(Selection::Mask(
            indices
                .unwrap_or_default()
                .into_iter()
                .map(|v| v != 0)
                .collect(),
        )),
        2 => Ok(Selection::Slice {
            start: bound(start)?,
            stop: bound(stop)?,
            step: bound(step)?.unwrap_or(1),
        }),
        _ => Err(value_error(format!("unknown selection kind {kind}"))),
    }
}

/// A slice bound: an integral number (beyond int64 clamped to it: no array has that many rows,
/// so the slice means the same), or none.
fn bound(v: Option<f64>) -> JsResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(f) if f.is_finite() && f.fract() == 0.0 => Ok(Some(f as i64)), // `as` saturates
        Some(f) => Err(value_error(format!("slice bound {f} is not an integer"))),
    }
}
