//! Worker threads that persist across calls: created on first use, parked on a condition
//! variable between jobs, woken per call. A job is `tasks` numbered pieces of work; the caller
//! takes pieces too, helpers claim the rest, and the caller returns when every piece is done.
//!
//! One job runs at a time. A call that finds the pool busy (another Python thread searching, or
//! a nested call from a worker) runs its pieces on scoped threads instead, so calls never wait
//! on each other and never deadlock. A panic in a piece resumes on the caller.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};

/// At most this many helper threads are ever created.
const MAX_HELPERS: usize = 255;
/// Spins before a parked helper or the waiting caller sleeps (a short call's wake-up is then
/// a cache-line change, not a futex round trip).
const SPINS: u32 = 1 << 14;

type Panic = Box<dyn Any + Send>;

/// The work of one call, shared with the helpers that join it.
struct Job {
    /// The caller's `Fn(usize)`, lifetime erased; only called for claimed pieces `< tasks`.
    work: *const (dyn Fn(usize) + Sync),
    tasks: usize,
    /// Helpers allowed to join (the rest go back to sleep).
    seats: AtomicUsize,
    next: AtomicUsize,
    done: AtomicUsize,
    panic: Mutex<Option<Panic>>,
    /// The caller sleeps here (after spinning) until the last piece is done.
    idle: Mutex<()>,
    all_done: Condvar,
}

// SAFETY: `work` points at a `Sync` closure that the caller keeps alive until every piece is
// done (`run` waits for `done == tasks` before returning), and pieces are only run after
// being claimed below `tasks`, so no helper dereferences it after that.
unsafe impl Send for Job {}
// SAFETY: as above; the other fields are atomics and a mutex.
unsafe impl Sync for Job {}

impl Job {
    /// Claims and runs pieces until none are left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.tasks {
                return;
            }
            // SAFETY: piece `i < tasks` is claimed and not done, so the caller is still
            // waiting in `run` and the closure is alive.
            let f = unsafe { &*self.work };
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(i))) {
                lock(&self.panic).get_or_insert(p);
            }
            if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.tasks {
                let _g = lock(&self.idle);
                self.all_done.notify_all();
            }
        }
    }

    fn finished(&self) -> bool {
        self.done.load(Ordering::Acquire) >= self.tasks
    }
}

/// What the helpers wait on: the current job and a generation counter.
struct Board {
    job: Option<Arc<Job>>,
    generation: u64,
    helpers: usize,
}

struct Pool {
    /// Held by the one caller whose job is running.
    submit: Mutex<()>,
    board: Mutex<Board>,
    wake: Condvar,
    /// Bumped after each job is posted (helpers spin on it before parking).
    posted: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        submit: Mutex::new(()),
        board: Mutex::new(Board {
            job: None,
            generation: 0,
            helpers: 0,
        }),
        wake: Condvar::new(),
        posted: AtomicUsize::new(0),
    })
}

impl Pool {
    /// A helper's life: wait for a new generation, join its job if a seat is free, repeat.
    fn helper(&'static self) {
        let mut seen = 0u64;
        loop {
            let mut spins = 0;
            while self.posted.load(Ordering::Acquire) as u64 == seen && spins < SPINS {
                std::hint::spin_loop();
                spins += 1;
            }
            let job = {
                let mut b = lock(&self.board);
                while b.generation == seen {
                    b = self.wake.wait(b).unwrap_or_else(PoisonError::into_inner);
                }
                seen = b.generation;
                b.job.clone()
            };
            if let Some(job) = job {
                let seat = job
                    .seats
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| s.checked_sub(1));
                if seat.is_ok() {
                    job.work();
                }
            }
        }
    }

    /// Makes sure at least `n` helpers exist (fewer if threads cannot be created).
    fn grow(&'static self, n: usize) -> usize {
        let mut b = lock(&self.board);
        while b.helpers < n.min(MAX_HELPERS) {
            let spawned = std::thread::Builder::new()
                .name("numpack-worker".into())
                .spawn(move || self.helper());
            if spawned.is_err() {
                break;
            }
            b.helpers += 1;
        }
        b.helpers.min(n)
    }
}

/// Runs `work(i)` for every `i < tasks` on the caller and up to `threads - 1` pooled helpers;
/// returns when all are done. A piece's panic resumes here after the others finish.
pub(crate) fn run(tasks: usize, threads: usize, work: &(dyn Fn(usize) + Sync)) {
    if tasks <= 1 || threads <= 1 {
        (0..tasks).for_each(work);
        return;
    }
    let p = pool();
    let _guard = match p.submit.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => return run_scoped(tasks, threads, work),
    };
    let helpers = p.grow((threads - 1).min(tasks - 1));
    // SAFETY (lifetime erasure): see `Job`; this function does not return before every piece
    // is done, and helpers only call `work` for claimed pieces.
    let erased: *const (dyn Fn(usize) + Sync + '_) = work;
    let erased: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(erased) };
    let job = Arc::new(Job {
        work: erased,
        tasks,
        seats: AtomicUsize::new(helpers),
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        panic: Mutex::new(None),
        idle: Mutex::new(()),
        all_done: Condvar::new(),
    });
    {
        let mut b = lock(&p.board);
        b.job = Some(job.clone());
        b.generation += 1;
        p.posted.fetch_add(1, Ordering::Release);
        p.wake.notify_all();
    }
    job.work();
    let mut spins = 0u32;
    while !job.finished() && spins < SPINS {
        std::hint::spin_loop();
        spins += 1;
    }
    let mut g = lock(&job.idle);
    while !job.finished() {
        g = job.all_done.wait(g).unwrap_or_else(PoisonError::into_inner);
    }
    drop(g);
    lock(&p.board).job = None;
    if let Some(panic) = lock(&job.panic).take() {
        resume_unwind(panic);
    }
}

/// `run` on freshly scoped threads (the pool is busy with another caller's job).
fn run_scoped(tasks: usize, threads: usize, work: &(dyn Fn(usize) + Sync)) {
    let next = AtomicUsize::new(0);
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= tasks {
                break;
            }
            work(i);
        }
    };
    std::thread::scope(|sc| {
        let handles: Vec<_> = (1..threads.min(tasks)).map(|_| sc.spawn(worker)).collect();
        worker();
        for h in handles {
            if let Err(p) = h.join() {
                resume_unwind(p);
            }
        }
    });
}
