//! Tier detection, the cached active table, the `NUMPACK_SIMD` override and `capabilities()`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering};

use numpack_core::vector::{Kernels, scalar};

/// A kernel tier, from the portable baseline up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Portable code, any CPU.
    Scalar,
    /// x86_64 AVX2 + FMA + F16C.
    Avx2,
    /// x86_64 AVX-512 F/BW/VL (VNNI, VPOPCNTDQ used when present).
    Avx512,
    /// x86_64 AVX-512 plus AMX-BF16 tiles (multi-query search over a bfloat16 copy).
    Amx,
    /// aarch64 Advanced SIMD.
    Neon,
    /// aarch64 SVE (vector-length agnostic, via inline assembly).
    Sve,
}

/// Why a requested tier could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimdError {
    /// The name is not scalar, avx2, avx512, amx, neon, sve or auto.
    UnknownTier(String),
    /// The tier exists but this CPU (or architecture) cannot run it.
    Unavailable(Tier),
}

impl std::fmt::Display for SimdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimdError::UnknownTier(s) => write!(
                f,
                "unknown simd tier {s:?} (expected scalar, avx2, avx512, amx, neon, sve or auto)"
            ),
            SimdError::Unavailable(t) => {
                write!(f, "simd tier {} is not available on this cpu", t.name())
            }
        }
    }
}

impl std::error::Error for SimdError {}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 6] = [
        Tier::Scalar,
        Tier::Avx2,
        Tier::Avx512,
        Tier::Amx,
        Tier::Neon,
        Tier::Sve,
    ];

    /// Lower-case name as accepted by `NUMPACK_SIMD`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Scalar => "scalar",
            Tier::Avx2 => "avx2",
            Tier::Avx512 => "avx512",
            Tier::Amx => "amx",
            Tier::Neon => "neon",
            Tier::Sve => "sve",
        }
    }

    /// Parses a tier name (case-insensitive); `auto` and the empty string give `None`.
    pub fn parse(s: &str) -> Result<Option<Tier>, SimdError> {
        let l = s.trim().to_ascii_lowercase();
        if l.is_empty() || l == "auto" {
            return Ok(None);
        }
        Tier::ALL
            .into_iter()
            .find(|t| t.name() == l)
            .map(Some)
            .ok_or(SimdError::UnknownTier(s.to_string()))
    }

    /// Whether this CPU can run the tier.
    pub fn is_available(self) -> bool {
        match self {
            Tier::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Tier::Avx2 => super::x86_avx2::is_available(),
            #[cfg(target_arch = "x86_64")]
            Tier::Avx512 => super::x86_avx512::is_available(),
            #[cfg(target_arch = "x86_64")]
            Tier::Amx => super::x86_amx::is_available(),
            #[cfg(target_arch = "aarch64")]
            Tier::Neon => super::aarch64_neon::is_available(),
            #[cfg(target_arch = "aarch64")]
            Tier::Sve => super::aarch64_sve::is_available(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The tier one step down on the same architecture.
    fn lower(self) -> Tier {
        match self {
            Tier::Amx => Tier::Avx512,
            Tier::Avx512 => Tier::Avx2,
            Tier::Sve => Tier::Neon,
            _ => Tier::Scalar,
        }
    }
}

/// Every available tier, lowest first.
pub fn available_tiers() -> Vec<Tier> {
    Tier::ALL.into_iter().filter(|t| t.is_available()).collect()
}

fn build(t: Tier) -> Option<Kernels> {
    match t {
        Tier::Scalar => Some(scalar()),
        #[cfg(target_arch = "x86_64")]
        Tier::Avx2 => super::x86_avx2::new(),
        #[cfg(target_arch = "x86_64")]
        Tier::Avx512 => super::x86_avx512::new(),
        #[cfg(target_arch = "x86_64")]
        Tier::Amx => super::x86_amx::new(),
        #[cfg(target_arch = "aarch64")]
        Tier::Neon => super::aarch64_neon::new(),
        #[cfg(target_arch = "aarch64")]
        Tier::Sve => super::aarch64_sve::new(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The kernel table of one tier (built once, kept for the process), or `None` if unavailable.
pub fn tier_kernels(t: Tier) -> Option<&'static Kernels> {
    static TABLES: [OnceLock<Option<Kernels>>; 6] = [const { OnceLock::new() }; 6];
    TABLES[t as usize].get_or_init(|| build(t)).as_ref()
}

static ACTIVE: AtomicPtr<Kernels> = AtomicPtr::new(std::ptr::null_mut());
static CHOICE: OnceLock<(Tier, Option<String>, Option<String>)> = OnceLock::new();

/// The initial choice: (tier, raw NUMPACK_SIMD value, note about an override that was not honoured).
fn initial_choice() -> &'static (Tier, Option<String>, Option<String>) {
    CHOICE.get_or_init(|| {
        let best = *available_tiers().last().unwrap_or(&Tier::Scalar);
        let raw = std::env::var("NUMPACK_SIMD").ok();
        let Some(v) = raw.clone() else {
            return (best, None, None);
        };
        match Tier::parse(&v) {
            Ok(None) => (best, raw, None),
            Ok(Some(mut t)) => {
                let want = t;
                while !t.is_available() {
                    t = t.lower();
                }
                let note = (t != want).then(|| {
                    format!(
                        "NUMPACK_SIMD={v}: {} not available, using {}",
                        want.name(),
                        t.name()
                    )
                });
                (t, raw, note)
            }
            Err(e) => (best, raw, Some(format!("{e}; using {}", best.name()))),
        }
    })
}

/// The active kernel table: chosen on the first call (detection + `NUMPACK_SIMD`), then cached.
#[inline]
pub fn kernels() -> &'static Kernels {
    let p = ACTIVE.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: ACTIVE only ever holds pointers to tables inside `tier_kernels`' statics,
        // which live for the whole process and are never mutated after initialisation.
        return unsafe { &*p };
    }
    let t = initial_choice().0;
    let k = tier_kernels(t).unwrap_or_else(|| tier_kernels(Tier::Scalar).expect("scalar tier"));
    let _ = ACTIVE.compare_exchange(
        std::ptr::null_mut(),
        k as *const Kernels as *mut Kernels,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    // SAFETY: as above; the pointer is either ours or another thread's equally static table.
    unsafe { &*ACTIVE.load(Ordering::Acquire) }
}

/// Forces a tier for every later `kernels()` call in this process (tests, benchmarks).
pub fn set_tier(t: Tier) -> Result<(), SimdError> {
    let k = tier_kernels(t).ok_or(SimdError::Unavailable(t))?;
    ACTIVE.store(k as *const Kernels as *mut Kernels, Ordering::Release);
    Ok(())
}

/// What this CPU offers and what runs.
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// `x86_64`, `aarch64`, ...
    pub arch: &'static str,
    /// Detected CPU features relevant to the kernels, as (name, present).
    pub features: Vec<(&'static str, bool)>,
    /// Tiers this CPU can run, lowest first.
    pub available: Vec<Tier>,
    /// The tier `kernels()` currently returns.
    pub active: Tier,
    /// The raw `NUMPACK_SIMD` value, if set.
    pub requested: Option<String>,
    /// Why the request was not honoured exactly, if it was not.
    pub note: Option<String>,
    /// SVE vector length in bytes (0 when there is no SVE).
    pub sve_vector_bytes: usize,
}

impl std::fmt::Display for Capabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let av: Vec<&str> = self.available.iter().map(|t| t.name()).collect();
        let feats: Vec<&str> = self.features.iter().filter(|f| f.1).map(|f| f.0).collect();
        write!(
            f,
            "{}: active {} (available: {}; features: {})",
            self.arch,
            self.active.name(),
            av.join(", "),
            feats.join(" ")
        )?;
        if let Some(n) = &self.note {
            write!(f, "; {n}")?;
        }
        Ok(())
    }
}

fn tier_of(k: &Kernels) -> Tier {
    Tier::ALL
        .into_iter()
        .find(|t| t.name() == k.name)
        .unwrap_or(Tier::Scalar)
}

/// Detected features, available tiers and the active tier.
pub fn capabilities() -> Capabilities {
    let active = tier_of(kernels());
    let (_, requested, note) = initial_choice().clone();
    #[allow(unused_mut)]
    let mut features: Vec<(&'static str, bool)> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! f {
            ($($n:tt),*) => { $( features.push(($n, is_x86_feature_detected!($n))); )* };
        }
        f!(
            "avx2",
            "fma",
            "f16c",
            "popcnt",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vnni",
            "avx512vpopcntdq",
            "avx512bf16",
            "avx512fp16"
        );
        features.push(("amx-bf16", super::x86_amx::is_available()));
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! f {
            ($($n:tt),*) => { $( features.push(($n, std::arch::is_aarch64_feature_detected!($n))); )* };
        }
        f!("neon", "fp16", "dotprod", "sve", "sve2");
    }
    #[cfg(target_arch = "aarch64")]
    let sve_vector_bytes = super::aarch64_sve::vector_bytes();
    #[cfg(not(target_arch = "aarch64"))]
    let sve_vector_bytes = 0;
    Capabilities {
        arch: std::env::consts::ARCH,
        features,
        available: available_tiers(),
        active,
        requested,
        note,
        sve_vector_bytes,
    }
}
