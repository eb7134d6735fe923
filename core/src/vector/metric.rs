//! Metric names, aliases and ranking direction.

use super::VectorError;

/// A similarity or distance between two vectors; exact definitions are in `docs/METRICS.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Inner product Σ aᵢbᵢ (a similarity: larger ranks first).
    Dot,
    /// Cosine similarity a·b / (‖a‖‖b‖), clamped to [-1, 1]; 0.0 when either vector is zero.
    Cosine,
    /// Euclidean distance √Σ(aᵢ−bᵢ)².
    L2,
    /// Squared Euclidean distance Σ(aᵢ−bᵢ)².
    L2sq,
    /// Number of differing bits, popcount(a XOR b), over uint8 bytes.
    Hamming,
    /// 1 − popcount(a AND b) / popcount(a OR b) over uint8 bytes; 0.0 when both are all-zero.
    Jaccard,
    /// Kullback–Leibler divergence Σ rel_entr(aᵢ, bᵢ) (natural log, no normalisation).
    Kl,
    /// Jensen–Shannon distance (square root of the divergence, natural log), inputs normalised to sum 1.
    Js,
}

impl Metric {
    /// Every metric, in table order (`Metric::index`).
    pub const ALL: [Metric; 8] = [
        Metric::Dot,
        Metric::Cosine,
        Metric::L2,
        Metric::L2sq,
        Metric::Hamming,
        Metric::Jaccard,
        Metric::Kl,
        Metric::Js,
    ];

    /// Number of metrics (length of per-metric kernel tables).
    pub const COUNT: usize = 8;

    /// Parses a metric name or upstream alias, case-insensitively and ignoring surrounding spaces.
    pub fn parse(name: &str) -> Result<Metric, VectorError> {
        let lower = name.trim().to_ascii_lowercase();
        let m = match lower.as_str() {
            "dot" | "dot_product" | "dotproduct" | "inner" | "inner_product" | "ip" => Metric::Dot,
            "cos" | "cosine" | "cosine_similarity" => Metric::Cosine,
            "l2" | "euclidean" | "l2_distance" => Metric::L2,
            "l2sq" | "l2_squared" | "squared_euclidean" | "sqeuclidean" => Metric::L2sq,
            "hamming" => Metric::Hamming,
            "jaccard" => Metric::Jaccard,
            "kl" | "kl_divergence" => Metric::Kl,
            "js" | "js_divergence" | "jensenshannon" | "js_distance" => Metric::Js,
            _ => return Err(VectorError::UnknownMetric(name.to_string())),
        };
        Ok(m)
    }

    /// The canonical lower-case name (`"cosine"`, `"l2sq"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Dot => "dot",
            Metric::Cosine => "cosine",
            Metric::L2 => "l2",
            Metric::L2sq => "l2sq",
            Metric::Hamming => "hamming",
            Metric::Jaccard => "jaccard",
            Metric::Kl => "kl",
            Metric::Js => "js",
        }
    }

    /// True for similarities (dot, cosine), ranked descending; false for distances, ranked ascending.
    pub fn is_similarity(self) -> bool {
        matches!(self, Metric::Dot | Metric::Cosine)
    }

    /// Position of this metric in `Metric::ALL` and in per-metric kernel tables.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl core::str::FromStr for Metric {
    type Err = VectorError;
    fn from_str(s: &str) -> Result<Metric, VectorError> {
        Metric::parse(s)
    }
}

impl core::fmt::Display for Metric {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
