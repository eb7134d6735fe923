//! The writer-lock protocol (core/src/lock.rs, docs/FORMAT.md §5) over a model folder: files
//! and links in a map, a fake clock that sleeping advances, a table of running and zombie pids,
//! and a hook that plays the other processes between two polls.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Duration;

use numpack_core::Error;
use numpack_core::lock::{
    self, DEFER_MAX, GARBLED_GRACE, LOCK_FILE, LockFs, Os, OsError, SLOT, WANT_FILE, WANT_FRESH,
    WRITER_FILE,
};

const ME: u32 = 4000;
const OTHER: i32 = 4001;
const DEAD: i32 = 4002;
const ZOMBIE: i32 = 4003;

#[derive(Clone, Debug, PartialEq)]
enum Entry {
    Link(Vec<u8>),
    File(Vec<u8>),
}

/// What the other processes do while a waiter sleeps.
type Others = Box<dyn FnMut(&Model)>;

/// A store folder and the processes around it.
struct Model {
    files: RefCell<BTreeMap<String, (Entry, Duration)>>,
    clock: Cell<Duration>,
    runtime: &'static str,
    read_only: bool,
    no_symlinks: bool,
    /// Runs at each sleep (the other processes).
    on_sleep: RefCell<Others>,
    /// Replaces a marker just moved aside by a breaker before it reads it (a race lost).
    swap_aside: RefCell<Option<Entry>>,
}

fn err(code: &str) -> OsError {
    OsError {
        code: code.into(),
        message: code.into(),
    }
}

impl Model {
    fn new(runtime: &'static str) -> Model {
        Model {
            files: RefCell::default(),
            clock: Cell::new(Duration::from_secs(100)),
            runtime,
            read_only: false,
            no_symlinks: false,
            on_sleep: RefCell::new(Box::new(|_| {})),
            swap_aside: RefCell::default(),
        }
    }
    fn put(&self, name: &str, e: Entry) {
        self.files
            .borrow_mut()
            .insert(name.into(), (e, self.clock.get()));
    }
    fn get(&self, name: &str) -> Option<Entry> {
        self.files.borrow().get(name).map(|(e, _)| e.clone())
    }
    fn names(&self) -> Vec<String> {
        self.files.borrow().keys().cloned().collect()
    }
    fn create(&self, name: &str, e: Entry) -> Os<()> {
        if self.read_only {
            return Err(err("EACCES"));
        }
        if self.files.borrow().contains_key(name) {
            return Err(err("EEXIST"));
        }
        self.put(name, e);
        Ok(())
    }
    fn elapsed(&self) -> Duration {
        self.clock.get() - Duration::from_secs(100)
    }
}

impl LockFs for Model {
    fn symlink(&self, target: &str, name: &str) -> Os<()> {
        if self.no_symlinks {
            Err(err("EPERM"))
        } else {
            self.create(name, Entry::Link(target.into()))
        }
    }
    fn read_link(&self, name: &str) -> Os<Vec<u8>> {
        if name.ends_with(".stale")
            && let Some(e) = self.swap_aside.take()
        {
            self.put(name, e);
        }
        match self.get(name) {
            Some(Entry::Link(t)) => Ok(t),
            Some(Entry::File(_)) => Err(err("EINVAL")),
            None => Err(err("ENOENT")),
        }
    }
    fn read(&self, name: &str, max: usize) -> Os<Vec<u8>> {
        match self.get(name) {
            Some(Entry::File(b)) => Ok(b[..b.len().min(max)].to_vec()),
            _ => Err(err("ENOENT")),
        }
    }
    fn create_new(&self, name: &str, data: &[u8]) -> Os<()> {
        self.create(name, Entry::File(data.into()))
    }
    fn rename(&self, from: &str, to: &str) -> Os<()> {
        let e = self
            .files
            .borrow_mut()
            .remove(from)
            .ok_or_else(|| err("ENOENT"))?;
        self.files.borrow_mut().insert(to.into(), e);
        Ok(())
    }
    fn hard_link(&self, from: &str, to: &str) -> Os<()> {
        let e = self.get(from).ok_or_else(|| err("ENOENT"))?;
        self.create(to, e)
    }
    fn remove(&self, name: &str) -> Os<()> {
        self.files
            .borrow_mut()
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| err("ENOENT"))
    }
    fn age(&self, name: &str) -> Os<Option<Duration>> {
        Ok(self
            .files
            .borrow()
            .get(name)
            .map(|(_, t)| self.clock.get() - *t))
    }
    fn touch(&self, name: &str) -> Os<()> {
        let mut files = self.files.borrow_mut();
        files
            .get_mut(name)
            .map(|f| f.1 = self.clock.get())
            .ok_or_else(|| err("ENOENT"))
    }
    fn display(&self, name: &str) -> String {
        format!("/s/{name}")
    }
    fn pid(&self) -> u32 {
        ME
    }
    fn signal_zero(&self, pid: i32) -> bool {
        [ME as i32, OTHER, ZOMBIE].contains(&pid)
    }
    fn system(&self, path: &str, link: bool) -> String {
        match (path, link) {
            ("/proc/sys/kernel/random/boot_id", false) => "boot-1\n".into(),
            ("/proc/self/ns/pid", true) => "pid:[42]".into(),
            (p, false) if p == format!("/proc/{ZOMBIE}/stat") => {
                format!("{ZOMBIE} (a (b) c) Z 1 2")
            }
            (p, false) if p == format!("/proc/{OTHER}/stat") => format!("{OTHER} (node) S 1 2"),
            _ => String::new(),
        }
    }
    fn host(&self) -> String {
        "h ost".into()
    }
    fn timeout_env(&self) -> Option<String> {
        Some("0.2".into())
    }
    fn now(&self) -> Duration {
        self.clock.get()
    }
    fn sleep(&self, d: Duration) {
        self.clock.set(self.clock.get() + d);
        (self.on_sleep.borrow_mut())(self);
    }
    fn seed(&self) -> u32 {
        7
    }
    fn runtime(&self) -> &'static str {
        self.runtime
    }
    fn sole_in_process(&self) -> bool {
        self.runtime == "rs"
    }
}

/// Our id, computed here from its definition (FNV-1a-64 of `host \n boot_id \n pidns`, low 48 bits).
fn our_id() -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in "h ost\nboot-1\npid:[42]".bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{:012x}", h & 0xffff_ffff_ffff)
}

fn link(pid: i32, id: &str) -> Entry {
    Entry::Link(format!("npk1 js {pid} 0000abcd {id} elsewhere").into())
}

fn locked(r: numpack_core::Result<Option<lock::Marker>>) -> String {
    match r {
        Err(Error::Locked(msg)) => msg,
        other => panic!("not Locked: {other:?}"),
    }
}

#[test]
fn records_slots_and_timeouts_follow_the_format() {
    let h = lock::parse_holder("npk1 js 5 0000abcd 0123456789ab host-1").unwrap();
    assert_eq!(
        (
            h.runtime.as_str(),
            h.pid,
            h.token.as_str(),
            h.id.as_str(),
            h.host.as_deref()
        ),
        ("js", 5, "0000abcd", "0123456789ab", Some("host-1"))
    );
    assert_eq!(lock::parse_holder("npk1 rs 5 t i").unwrap().host, None);
    for bad in [
        "",
        "npk1",
        "npk2 js 5 t i",
        "npk1 js 0 t i",
        "npk1 js -3 t i",
        "npk1 js +3 t i",
        "npk1 js x t i",
        "npk1 js 5 t i h extra",
        "npk1  5 t i",
    ] {
        assert_eq!(lock::parse_holder(bad), None, "{bad}");
    }
    let s = lock::slot("npk1 rs 5 t i");
    assert_eq!(
        (s.len(), s[SLOT - 1], &s[..13], s[13]),
        (SLOT, b'\n', &b"npk1 rs 5 t i"[..], b' ')
    );
    assert_eq!(lock::slot_holder(&s).unwrap().0, "npk1 rs 5 t i");
    assert_eq!(lock::slot_holder(&lock::idle_slot()), None);
    assert_eq!(
        lock::idle_slot(),
        *format!("{}\n", " ".repeat(63)).as_bytes()
    );
    assert_eq!(lock::fnv1a(b"numpack"), 0xc08c_a166_09b0_e80e);
    let t = |v: Option<&str>| lock::parse_timeout(v);
    assert_eq!(
        (t(None), t(Some("")), t(Some("-1")), t(Some("x"))),
        (
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(60)
        )
    );
    assert_eq!(
        (
            t(Some(" 0 ")),
            t(Some("0.25")),
            t(Some("inf")),
            t(Some("Infinity"))
        ),
        (
            Duration::ZERO,
            Duration::from_millis(250),
            Duration::MAX,
            Duration::MAX
        )
    );
}

#[test]
fn a_node_writer_takes_and_releases_its_own_marker_only() {
    let m = Model::new("js");
    let mine = lock::take_marker(&m, true, None).unwrap().unwrap();
    let Some(Entry::Link(target)) = m.get(WRITER_FILE) else {
        panic!("no link marker")
    };
    assert_eq!(target, mine.record.as_bytes());
    let words: Vec<&str> = mine.record.split(' ').collect();
    assert_eq!(
        (words[0], words[1], words[2], words[4], words[5]),
        ("npk1", "js", "4000", our_id().as_str(), "h_ost")
    );
    assert!(
        mine.record.len() <= 59 && words[3].len() == 8,
        "{}",
        mine.record
    );
    lock::release_marker(&m, &mine);
    assert!(m.names().is_empty());
    // A marker someone else put in its place is left alone.
    let mine = lock::take_marker(&m, true, None).unwrap().unwrap();
    m.put(WRITER_FILE, link(OTHER, &our_id()));
    lock::release_marker(&m, &mine);
    assert_eq!(m.get(WRITER_FILE), Some(link(OTHER, &our_id())));
    // Without symlinks the marker is a regular file holding the record.
    let m = Model {
        no_symlinks: true,
        ..Model::new("js")
    };
    let mine = lock::take_marker(&m, true, None).unwrap().unwrap();
    assert_eq!(
        m.get(WRITER_FILE),
        Some(Entry::File(mine.record.clone().into()))
    );
    // A read-only folder: no marker, no error.
    let m = Model {
        read_only: true,
        ..Model::new("js")
    };
    assert_eq!(lock::take_marker(&m, true, None).unwrap(), None);
}

#[test]
fn a_live_marker_makes_a_writer_wait_then_fail_and_a_removed_one_lets_it_go() {
    let m = Model::new("js");
    m.put(WRITER_FILE, link(OTHER, &our_id()));
    let msg = locked(lock::take_marker(&m, true, None));
    assert!(
        m.elapsed() >= Duration::from_millis(200) && m.elapsed() < Duration::from_millis(260),
        "{:?}",
        m.elapsed()
    );
    assert!(msg.contains(&format!("/s/.numpack.writer is held by pid {OTHER} (Node) on this host; waited 0.2 s (NUMPACK_LOCK_TIMEOUT)")), "{msg}");
    assert!(msg.ends_with("delete that file"), "{msg}");
    assert_eq!(
        m.names(),
        [WRITER_FILE],
        "the want file is gone, the marker untouched"
    );
    // Its owner releases it after 50 ms: the waiter goes on at its next poll.
    let m = Model::new("rs");
    m.put(WRITER_FILE, link(OTHER, &our_id()));
    *m.on_sleep.borrow_mut() = Box::new(|m: &Model| {
        assert!(m.get(WANT_FILE).is_some(), "a waiter claims the want file");
        if m.elapsed() >= Duration::from_millis(50)
            && m.get(WRITER_FILE) == Some(link(OTHER, &our_id()))
        {
            m.remove(WRITER_FILE).unwrap();
        }
    });
    let mine = lock::take_marker(&m, false, Some(Duration::from_secs(5)))
        .unwrap()
        .unwrap();
    assert!(
        m.elapsed() >= Duration::from_millis(50) && m.elapsed() < Duration::from_millis(60),
        "{:?}",
        m.elapsed()
    );
    assert_eq!(m.names(), [WRITER_FILE]);
    lock::release_marker(&m, &mine);
}

#[test]
fn dead_zombie_and_own_ended_markers_are_broken_live_and_foreign_ones_are_not() {
    for (runtime, pid, id, broken) in [
        ("js", DEAD, our_id(), true),
        ("js", ZOMBIE, our_id(), true),
        ("rs", ME as i32, our_id(), true), // our pid, a token no hold of ours has
        ("js", ME as i32, our_id(), false), // another worker thread of ours may hold it
        ("js", OTHER, our_id(), false),
        ("js", DEAD, "0123456789ab".to_string(), false),
    ] {
        let m = Model::new(runtime);
        m.put(WRITER_FILE, link(pid, &id));
        let got = lock::take_marker(&m, false, Some(Duration::from_millis(30)));
        if broken {
            let mine = got.unwrap().unwrap();
            assert_eq!(
                m.names(),
                [WRITER_FILE],
                "no aside copy left ({runtime} {pid})"
            );
            lock::release_marker(&m, &mine);
        } else {
            let msg = locked(got);
            assert_eq!(
                m.get(WRITER_FILE),
                Some(link(pid, &id)),
                "{runtime} {pid} {id}"
            );
            if pid == DEAD {
                assert!(msg.contains("on another host, boot or pid namespace (host elsewhere), so it is never removed automatically"), "{msg}");
            }
        }
    }
}

#[test]
fn a_marker_without_a_record_is_stale_only_once_old() {
    let m = Model::new("js");
    m.put(WRITER_FILE, Entry::File(Vec::new())); // its writer may be about to fill it
    let msg = locked(lock::take_marker(
        &m,
        false,
        Some(Duration::from_millis(30)),
    ));
    assert!(
        msg.contains("held by a writer whose record cannot be read"),
        "{msg}"
    );
    m.clock.set(m.clock.get() + GARBLED_GRACE);
    let mine = lock::take_marker(&m, false, Some(Duration::ZERO))
        .unwrap()
        .unwrap();
    lock::release_marker(&m, &mine);
    assert!(m.names().is_empty());
}

#[test]
fn a_breaker_puts_back_a_marker_that_replaced_the_stale_one() {
    // Between our verdict and our rename, another breaker removed the stale marker and a live
    // writer created its own: what we moved aside is not what we judged, so it goes back.
    let m = Model::new("js");
    m.put(WRITER_FILE, link(DEAD, &our_id()));
    let live = link(OTHER, &our_id());
    *m.swap_aside.borrow_mut() = Some(live.clone());
    let msg = locked(lock::take_marker(
        &m,
        false,
        Some(Duration::from_millis(20)),
    ));
    assert!(
        m.swap_aside.borrow().is_none() && msg.contains(&format!("pid {OTHER} (Node)")),
        "{msg}"
    );
    assert_eq!(m.names(), [WRITER_FILE]);
    assert_eq!(m.get(WRITER_FILE), Some(live));
}

#[test]
fn a_node_writer_defers_to_a_live_native_writer_in_the_slot() {
    let slot = |pid: i32, id: &str| {
        Entry::File(lock::slot(&format!("npk1 rs {pid} 0000abcd {id} elsewhere")).to_vec())
    };
    let m = Model::new("js");
    m.put(LOCK_FILE, slot(OTHER, &our_id()));
    let msg = locked(lock::take_marker(&m, true, None));
    assert!(msg.contains(&format!("/s/.numpack.lock names a native writer held by pid {OTHER} (native/Python) on this host")), "{msg}");
    assert!(
        msg.ends_with("truncate that file (do not delete it)"),
        "{msg}"
    );
    assert_eq!(
        m.names(),
        [LOCK_FILE],
        "it withdrew its marker and its want file"
    );
    m.put(LOCK_FILE, slot(OTHER, "0123456789ab"));
    assert!(
        locked(lock::take_marker(&m, true, Some(Duration::ZERO)))
            .contains("never removed automatically")
    );
    // A dead (or zombie) native writer's record is left over: ignored, and left as it is.
    for pid in [DEAD, ZOMBIE] {
        m.put(LOCK_FILE, slot(pid, &our_id()));
        let mine = lock::take_marker(&m, true, Some(Duration::ZERO))
            .unwrap()
            .unwrap();
        lock::release_marker(&m, &mine);
        assert_eq!(m.get(LOCK_FILE), Some(slot(pid, &our_id())));
    }
    m.put(LOCK_FILE, Entry::File(lock::idle_slot().to_vec()));
    assert!(
        lock::take_marker(&m, true, Some(Duration::ZERO))
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_native_writer_announces_then_withdraws_while_a_node_marker_lives() {
    let m = Model::new("rs");
    let writes = RefCell::new(Vec::<Vec<u8>>::new());
    let write = |s: &[u8]| {
        writes.borrow_mut().push(s.to_vec());
        true
    };
    let record = lock::announce(&m, &write, None).unwrap().unwrap().record;
    assert_eq!(
        *writes.borrow(),
        [lock::slot(&record).to_vec()],
        "one pwrite, no file made"
    );
    assert!(
        m.names().is_empty() && record.starts_with("npk1 rs 4000 "),
        "{record}"
    );
    // A live Node marker: withdraw at once, wait, announce again once it is gone.
    writes.borrow_mut().clear();
    m.put(WRITER_FILE, link(OTHER, &our_id()));
    *m.on_sleep.borrow_mut() = Box::new(|m: &Model| {
        if m.elapsed() >= Duration::from_millis(30) {
            let _ = m.remove(WRITER_FILE);
        }
    });
    let record = lock::announce(&m, &write, Some(Duration::from_secs(1)))
        .unwrap()
        .unwrap()
        .record;
    let w = writes.borrow();
    assert!(w.len() >= 3 && w.len() % 2 == 1, "{}", w.len());
    for pair in w[..w.len() - 1].chunks(2) {
        assert_eq!(
            pair,
            [lock::slot(&record).to_vec(), lock::idle_slot().to_vec()]
        );
    }
    assert_eq!(w.last().unwrap(), &lock::slot(&record).to_vec());
    drop(w);
    // A timeout leaves the idle slot; a dead one's marker is broken; an unwritable slot says so.
    writes.borrow_mut().clear();
    *m.on_sleep.borrow_mut() = Box::new(|_| {});
    m.put(WRITER_FILE, link(OTHER, &our_id()));
    assert!(matches!(
        lock::announce(&m, &write, Some(Duration::from_millis(5))),
        Err(Error::Locked(_))
    ));
    assert_eq!(writes.borrow().last().unwrap(), &lock::idle_slot().to_vec());
    m.put(WRITER_FILE, link(DEAD, &our_id()));
    assert!(
        lock::announce(&m, &write, Some(Duration::ZERO))
            .unwrap()
            .is_some()
    );
    assert!(m.names().is_empty(), "broken, no aside copy");
    assert_eq!(lock::announce(&m, &|_| false, None).unwrap(), None);
}

#[test]
fn a_newcomer_defers_to_a_fresh_want_file_and_clears_an_abandoned_one() {
    let m = Model::new("js");
    m.put(WANT_FILE, Entry::File(b"other".to_vec()));
    let mine = lock::take_marker(&m, true, Some(Duration::from_secs(5)))
        .unwrap()
        .unwrap();
    assert!(
        m.elapsed() >= DEFER_MAX && m.elapsed() < DEFER_MAX + Duration::from_millis(5),
        "{:?}",
        m.elapsed()
    );
    lock::release_marker(&m, &mine);
    assert_eq!(
        m.get(WANT_FILE),
        Some(Entry::File(b"other".to_vec())),
        "not ours to remove"
    );
    // An abandoned want file: no deferring, and a waiter clears it, then claims its own.
    m.clock.set(m.clock.get() + WANT_FRESH);
    let t = m.elapsed();
    m.put(WRITER_FILE, link(OTHER, &our_id()));
    m.files.borrow_mut().get_mut(WANT_FILE).unwrap().1 = m.clock.get() - WANT_FRESH;
    let log = std::rc::Rc::new(RefCell::new(Vec::new()));
    let log2 = log.clone();
    *m.on_sleep.borrow_mut() = Box::new(move |m: &Model| log2.borrow_mut().push(m.get(WANT_FILE)));
    locked(lock::take_marker(&m, true, Some(Duration::from_millis(10))));
    let seen = log.borrow().clone();
    assert_eq!(seen[0], None, "cleared at the first wait");
    assert!(
        matches!(&seen[1], Some(Entry::File(t)) if t.len() == 8),
        "claimed at the next: {:?}",
        seen[1]
    );
    assert!(m.elapsed() - t < Duration::from_millis(15));
    assert_eq!(m.names(), [WRITER_FILE], "our want file went with the wait");
}
