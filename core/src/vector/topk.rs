//! A bounded, deterministic top-k accumulator that merges scores batch by batch.
//!
//! Order: similarities descending, distances ascending; equal scores by lower row index;
//! NaN scores rank after every number (among themselves by lower index). The order is a
//! total order on (score, index), so results never depend on batch sizes or threads.

use core::cmp::Ordering;

/// Compares two (score, index) entries: `Less` means `a` ranks before (is better than) `b`.
#[inline]
pub fn rank_cmp(similarity: bool, a: (f64, u64), b: (f64, u64)) -> Ordering {
    match (a.0.is_nan(), b.0.is_nan()) {
        (true, true) => a.1.cmp(&b.1),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            let by_score = if similarity {
                b.0.partial_cmp(&a.0)
            } else {
                a.0.partial_cmp(&b.0)
            };
            by_score.unwrap_or(Ordering::Equal).then(a.1.cmp(&b.1))
        }
    }
}

/// Running top-k of (score, row index) pairs; push scores in any order, in any batches.
#[derive(Clone, Debug)]
pub struct TopK {
    k: usize,
    similarity: bool,
    /// Binary heap with the worst kept entry at the root.
    heap: Vec<(f64, u64)>,
}

/// The final result of a top-k search: best first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopKResult {
    /// Row indices (logical ids), best first.
    pub indices: Vec<u64>,
    /// Their scores.
    pub scores: Vec<f64>,
}

impl TopK {
    /// An empty accumulator keeping the `k` best entries (`similarity` = descending order).
    /// `k == 0` keeps nothing; the search layer rejects it before getting here.
    pub fn new(k: usize, similarity: bool) -> TopK {
        TopK {
            k,
            similarity,
            heap: Vec::with_capacity(k.min(1 << 16)),
        }
    }

    /// The `k` this accumulator keeps.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of entries kept so far (at most `k`).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing has been kept yet.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// True once `k` entries are kept (later entries must beat `worst`).
    #[inline]
    pub fn is_full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// The worst kept entry, if any.
    #[inline]
    pub fn worst(&self) -> Option<(f64, u64)> {
        self.heap.first().copied()
    }

    /// True if an entry with score `bound` could still be kept, i.e. it is not strictly worse
    /// than the worst kept score. A NaN bound or a NaN worst answers true (decided by `push`).
    #[inline]
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(a < b)` is deliberately true for NaN
    pub fn may_accept(&self, bound: f64) -> bool {
        match self.heap.first() {
            Some(&(w, _)) if self.heap.len() >= self.k => {
                if self.similarity {
                    !(bound < w)
                } else {
                    !(bound > w)
                }
            }
            _ => self.k > 0,
        }
    }

    /// Offers one entry; keeps it if it ranks among the best `k` so far.
    #[inline]
    pub fn push(&mut self, score: f64, index: u64) {
        let e = (score, index);
        if self.heap.len() < self.k {
            self.heap.push(e);
            self.sift_up(self.heap.len() - 1);
        } else if self.k > 0 && rank_cmp(self.similarity, e, self.heap[0]) == Ordering::Less {
            self.heap[0] = e;
            self.sift_down(0);
        }
    }

    /// Offers `scores[i]` with index `offset + i` for every i.
    pub fn push_scores(&mut self, scores: &[f64], offset: u64) {
        self.push_each(scores, |i| offset + i as u64);
    }

    /// Offers `scores[i]` with index `ids[i]` for every i (ids supplied by the caller, e.g.
    /// logical row numbers that skip dropped rows). Panics if the lengths differ.
    pub fn push_scores_with_ids(&mut self, scores: &[f64], ids: &[u64]) {
        assert_eq!(scores.len(), ids.len(), "one id per score");
        self.push_each(scores, |i| ids[i]);
    }

    /// Offers `scores[i]` with index `offset + i` for every i whose bit `i % 64` of
    /// `allowed[i / 64]` is set (the others are never offered). The mask is read only for
    /// scores that pass the full heap's threshold, so mostly-allowed chunks cost about as
    /// much as `push_scores`. Panics if `allowed` has fewer than `scores.len()` bits.
    pub fn push_scores_masked(&mut self, scores: &[f64], allowed: &[u64], offset: u64) {
        assert!(allowed.len() * 64 >= scores.len(), "one bit per score");
        self.push_each_where(
            scores,
            |i| (allowed[i / 64] >> (i % 64)) & 1 != 0,
            |i| offset + i as u64,
        );
    }

    /// Offers every score with index `id(i)`. Once the heap is full, a tight loop skips the
    /// scores strictly worse than the worst kept one (exactly those `may_accept` rejects; a
    /// NaN worst skips nothing), so only candidates reach `push`.
    #[inline]
    fn push_each(&mut self, scores: &[f64], id: impl Fn(usize) -> u64) {
        self.push_each_where(scores, |_| true, id);
    }

    /// [`TopK::push_each`] for the scores `keep(i)` allows; `keep` is asked only about scores
    /// that pass the skip loop, so a filter costs nothing for the many that do not.
    #[inline]
    fn push_each_where(
        &mut self,
        scores: &[f64],
        keep: impl Fn(usize) -> bool,
        id: impl Fn(usize) -> u64,
    ) {
        if self.k == 0 {
            return;
        }
        let n = scores.len();
        let mut i = 0;
        while i < n {
            if self.heap.len() >= self.k {
                let w = self.heap[0].0;
                if self.similarity {
                    while i < n && scores[i] < w {
                        i += 1;
                    }
                } else {
                    while i < n && scores[i] > w {
                        i += 1;
                    }
                }
                if i == n {
                    break;
                }
            }
            if keep(i) {
                self.push(scores[i], id(i));
            }
            i += 1;
        }
    }

    /// Merges another accumulator's entries (e.g. from another thread or batch).
    pub fn merge(&mut self, other: &TopK) {
        for &(s, i) in &other.heap {
            self.push(s, i);
        }
    }

    /// The kept entries, best first.
    pub fn into_sorted(self) -> TopKResult {
        let sim = self.similarity;
        let mut v = self.heap;
        v.sort_unstable_by(|a, b| rank_cmp(sim, *a, *b));
        TopKResult {
            indices: v.iter().map(|e| e.1).collect(),
            scores: v.iter().map(|e| e.0).collect(),
        }
    }

    #[inline]
    fn worse(&self, a: usize, b: usize) -> bool {
        rank_cmp(self.similarity, self.heap[a], self.heap[b]) == Ordering::Greater
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let p = (i - 1) / 2;
            if self.worse(i, p) {
                self.heap.swap(i, p);
                i = p;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && self.worse(r, l) { r } else { l };
            if self.worse(c, i) {
                self.heap.swap(c, i);
                i = c;
            } else {
                break;
            }
        }
    }
}
