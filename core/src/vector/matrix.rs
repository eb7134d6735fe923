//! Borrowed row-major matrices and the row ids that go with a batch of rows.

use super::VectorError;

/// A borrowed row-major matrix: `rows` vectors of length `dim`, packed in `data`.
#[derive(Debug)]
pub struct Matrix<'a, T> {
    data: &'a [T],
    rows: usize,
    dim: usize,
}

impl<T> Clone for Matrix<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Matrix<'_, T> {}

impl<'a, T> Matrix<'a, T> {
    /// Views `data` as `rows × dim`; errors unless `data.len() == rows * dim` (checked, no overflow).
    pub fn new(data: &'a [T], rows: usize, dim: usize) -> Result<Self, VectorError> {
        match rows.checked_mul(dim) {
            Some(n) if n == data.len() => Ok(Matrix { data, rows, dim }),
            _ => Err(VectorError::BadShape {
                len: data.len(),
                rows,
                dim,
            }),
        }
    }

    /// Views `data` as rows of length `dim` (`dim == 0` needs empty `data` and gives 0 rows).
    pub fn from_flat(data: &'a [T], dim: usize) -> Result<Self, VectorError> {
        if dim == 0 {
            return Matrix::new(data, 0, 0);
        }
        if !data.len().is_multiple_of(dim) {
            return Err(VectorError::BadShape {
                len: data.len(),
                rows: data.len() / dim,
                dim,
            });
        }
        Ok(Matrix {
            data,
            rows: data.len() / dim,
            dim,
        })
    }

    /// Number of rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row length.
    #[inline]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The packed elements.
    #[inline]
    pub fn data(&self) -> &'a [T] {
        self.data
    }

    /// Row `i` (panics if out of range).
    #[inline]
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Rows `start..end` as a matrix (panics if out of range).
    #[inline]
    pub fn slice(&self, start: usize, end: usize) -> Matrix<'a, T> {
        assert!(start <= end && end <= self.rows, "row range out of bounds");
        Matrix {
            data: &self.data[start * self.dim..end * self.dim],
            rows: end - start,
            dim: self.dim,
        }
    }
}

/// The ids reported for the rows of a batch.
#[derive(Clone, Copy, Debug)]
pub enum RowIds<'a> {
    /// Row `i` of the batch has id `offset + i` (a contiguous range of logical rows).
    Offset(u64),
    /// Row `i` of the batch has id `ids[i]` (e.g. logical ids skipping dropped rows).
    List(&'a [u64]),
}

impl<'a> RowIds<'a> {
    /// The id of batch row `i`.
    #[inline]
    pub fn id(&self, i: usize) -> u64 {
        match self {
            RowIds::Offset(o) => o + i as u64,
            RowIds::List(l) => l[i],
        }
    }

    /// The ids of batch rows `start..`.
    #[inline]
    pub fn skip(&self, start: usize) -> RowIds<'a> {
        match *self {
            RowIds::Offset(o) => RowIds::Offset(o + start as u64),
            RowIds::List(l) => RowIds::List(&l[start..]),
        }
    }

    /// Errors unless a `List` has exactly `rows` ids.
    pub fn check(&self, rows: usize) -> Result<(), VectorError> {
        match self {
            RowIds::List(l) if l.len() != rows => {
                Err(VectorError::IdsLengthMismatch { rows, ids: l.len() })
            }
            _ => Ok(()),
        }
    }
}

/// One batch of candidate rows with their ids, as yielded by a `RowSource`.
#[derive(Clone, Copy, Debug)]
pub struct RowBatch<'a, T> {
    /// The rows.
    pub rows: Matrix<'a, T>,
    /// Their ids.
    pub ids: RowIds<'a>,
}

/// Something that yields candidate rows batch by batch (a store, a file, a stream).
pub trait RowSource<T> {
    /// The source's own error; vector-engine errors convert into it.
    type Error: From<VectorError>;
    /// The next batch, or `None` at the end. A batch may be borrowed from `self`.
    fn next_batch(&mut self) -> Result<Option<RowBatch<'_, T>>, Self::Error>;
}
