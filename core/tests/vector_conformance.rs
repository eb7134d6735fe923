//! The portable scalar tier against the f64 reference: every metric × dtype × length 0..=600,
//! then top-k / multi-query / streaming / cdist.

use numpack_core::vector::{conformance, scalar};

#[test]
fn scalar_kernels_match_reference_all_lengths() {
    conformance::check_all_kernels(&scalar(), 600);
}

#[test]
fn scalar_search_matches_full_sort() {
    conformance::check_all_search(&scalar());
}
