//! The vector engine's error type.

use core::fmt;

use super::{ElementType, Metric};

/// Everything that can go wrong in a vector-engine call; each variant is a caller mistake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VectorError {
    /// `k` was 0; a top-k search needs at least one result slot.
    ZeroK,
    /// There are no candidate rows to search or compare against.
    EmptyCandidates,
    /// There are no query rows (a multi-query call got zero queries).
    EmptyQueries,
    /// Two vectors, or a query and the candidate rows, have different lengths.
    DimensionMismatch {
        /// The length the call expected (usually the candidates' row length).
        expected: usize,
        /// The length it got.
        found: usize,
    },
    /// A flat buffer's length is not `rows × dim`.
    BadShape {
        /// Number of elements in the buffer.
        len: usize,
        /// Number of rows claimed.
        rows: usize,
        /// Row length claimed.
        dim: usize,
    },
    /// The metric is not defined for this element type (e.g. `hamming` on float32).
    UnsupportedDtype {
        /// The requested metric.
        metric: Metric,
        /// The element type of the vectors.
        dtype: ElementType,
    },
    /// The metric name is not one of the names or aliases `Metric::parse` accepts.
    UnknownMetric(String),
    /// Elements of this dtype cannot be searched as this element type (bool and complex never
    /// can; other numbers only as their own type or float64).
    Unsearchable {
        /// The dtype of the elements (NumPy name).
        dtype: &'static str,
        /// The element type they were to be read as.
        as_type: ElementType,
    },
    /// A list of logical row ids does not have one id per row.
    IdsLengthMismatch {
        /// Number of rows in the batch.
        rows: usize,
        /// Number of ids supplied.
        ids: usize,
    },
    /// A row filter names a row that does not exist (negative, or at least the row count).
    FilterIndexOutOfRange {
        /// The index given.
        index: i64,
        /// Number of candidate rows.
        rows: u64,
    },
    /// A boolean row mask does not have one entry per candidate row.
    FilterMaskLength {
        /// Number of mask entries.
        len: u64,
        /// Number of candidate rows.
        rows: u64,
    },
    /// A row filter built for one row count was used on candidates with another.
    FilterRowsMismatch {
        /// The row count the filter was built for.
        filter: u64,
        /// The candidates' row count.
        rows: u64,
    },
    /// A bfloat16 copy (`NormCache::with_bf16_copy`) was asked of candidates that are not
    /// float32.
    CopyNeedsFloat32 {
        /// The candidates' element type.
        dtype: ElementType,
    },
}

impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VectorError::ZeroK => write!(f, "k must be at least 1"),
            VectorError::EmptyCandidates => write!(f, "no candidate vectors"),
            VectorError::EmptyQueries => write!(f, "no query vectors"),
            VectorError::DimensionMismatch { expected, found } => {
                write!(f, "dimension mismatch: expected {expected}, found {found}")
            }
            VectorError::BadShape { len, rows, dim } => {
                write!(f, "buffer of {len} elements is not {rows} rows of {dim}")
            }
            VectorError::UnsupportedDtype { metric, dtype } => {
                write!(
                    f,
                    "metric {} is not defined for {}",
                    metric.name(),
                    dtype.name()
                )
            }
            VectorError::UnknownMetric(name) => write!(f, "unknown metric {name:?}"),
            VectorError::CopyNeedsFloat32 { dtype } => write!(
                f,
                "a bfloat16 copy is kept of float32 candidates only, not {}",
                dtype.name()
            ),
            VectorError::Unsearchable { dtype, as_type } => {
                write!(
                    f,
                    "{dtype} vectors cannot be searched as {}",
                    as_type.name()
                )
            }
            VectorError::IdsLengthMismatch { rows, ids } => {
                write!(f, "{ids} row ids given for {rows} rows")
            }
            VectorError::FilterIndexOutOfRange { index, rows } => {
                write!(f, "filter index {index} is out of range for {rows} rows")
            }
            VectorError::FilterMaskLength { len, rows } => {
                write!(f, "filter mask has {len} entries for {rows} rows")
            }
            VectorError::FilterRowsMismatch { filter, rows } => {
                write!(
                    f,
                    "filter was built for {filter} rows, the candidates have {rows}"
                )
            }
        }
    }
}

impl std::error::Error for VectorError {}
