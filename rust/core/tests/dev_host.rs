//! The device layer on the Linux host platform: dispatch, destroy,
//! incarnations, clients, unload rules and error paths.
//!
//! The kernel services (make_dev, selinfo, taskqueue) are a mock that
//! records what devref asked of it, so each test can assert what a FreeBSD
//! kernel would have seen.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use devref_core::dev::*;
mod support;
use support::*;

// ---------------------------------------------------------------------------
// Allocation accounting, for the "no leak on any error path" tests.

struct Counting;

thread_local! {
    /// Allocations minus frees made by this thread.  Per thread, so that
    /// the test harness's own threads (starting the next test, capturing
    /// output) do not count; the leak test does all its work on one thread.
    static LIVE: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

fn live() -> isize {
    LIVE.with(|c| c.get())
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same layout contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        let _ = LIVE.try_with(|c| c.set(c.get() - 1));
        // SAFETY: p came from alloc above.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

// ---------------------------------------------------------------------------
// A test client.

#[derive(Default)]
struct ClientLog {
    opens: AtomicUsize,
    closes: Mutex<Vec<usize>>,
    purges: AtomicUsize,
    fail_open: AtomicBool,
    next_priv: AtomicUsize,
    /// Run inside the purge hook (a client that destroys from there).
    on_purge: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
}

#[derive(Clone)]
struct TestClient(Arc<ClientLog>);

impl ClientOps for TestClient {
    fn name(&self) -> &str {
        "test"
    }
    fn open(&self, _softc: usize, _oflags: i32, _td: usize) -> Result<usize, Errno> {
        if self.0.fail_open.load(Ordering::SeqCst) {
            return Err(EPERM);
        }
        self.0.opens.fetch_add(1, Ordering::SeqCst);
        Ok(self.0.next_priv.fetch_add(1, Ordering::SeqCst) + 1)
    }
    fn close(&self, _softc: usize, priv_: usize) {
        self.0.closes.lock().unwrap().push(priv_);
    }
    fn purge(&self, _softc: usize) {
        let n = self.0.purges.fetch_add(1, Ordering::SeqCst);
        assert!(n < 100, "the purge hook recursed");
        if let Some(f) = self.0.on_purge.lock().unwrap().as_ref() {
            f();
        }
    }
}

type Dr = Devref<Mock, TestClient>;
type N = Node<Mock, TestClient>;

fn setup() -> (Arc<Dr>, Arc<World>) {
    let (k, w) = Mock::new();
    (Devref::new(k).expect("devref"), w)
}

/// An open "file": the handle devref published as its cdevpriv.
struct File(usize);

fn open(n: &N) -> Result<File, Errno> {
    open_raw(n).map(File)
}

fn close(_n: &N, f: File) {
    // SAFETY: the handle came from open and is released once.
    unsafe { N::release_handle(f.0 as *mut Handle<N>) }
}

fn call<'a>(n: &'a N, h: *const Handle<N>) -> Option<Call<'a, Mock, TestClient>> {
    // SAFETY: the tests pass handles of files they still hold.
    unsafe { n.call(h) }
}

fn handle(f: &File) -> *const Handle<N> {
    f.0 as *const Handle<N>
}

/// Hold a call on file `f` in another thread (see support::hold_call).
fn hold(n: &Arc<N>, f: &File) -> (std::sync::mpsc::Sender<()>, thread::JoinHandle<()>) {
    hold_call(n, f.0)
}

// ---------------------------------------------------------------------------

#[test]
fn calls_reach_the_client_until_destroy_then_none_does() {
    let _s = serial();
    let (dr, w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let n = dr.create(&c, b"ring0", Mode::Pcpu, PERMS, 7).unwrap();
    assert_eq!(w.made.load(Ordering::SeqCst), 1);

    let f = open(&n).unwrap();
    {
        let c = call(&n, handle(&f)).expect("alive device takes calls");
        assert_eq!(c.softc, 7);
        assert_eq!(c.priv_, 1);
    }
    dr.destroy(&n, SEC).unwrap();
    assert!(
        call(&n, handle(&f)).is_none(),
        "a destroyed device must not reach the client"
    );
    assert_eq!(open(&n).err(), Some(dead::OPEN));
    assert_eq!(
        (dead::OPEN, dead::READ, dead::WRITE, dead::IOCTL),
        (ENXIO, EIO, EIO, ENXIO)
    );
    assert_eq!(dead::POLL, POLLHUP);
    assert_eq!(dead::KQFILTER, ENXIO);
    // The file's client state was released by destroy, exactly once.
    assert_eq!(*log.closes.lock().unwrap(), vec![1]);
    close(&n, f);
    assert_eq!(log.closes.lock().unwrap().len(), 1);
    // pcpu: the node stays (a tombstone), never destroy_dev'd.
    assert_eq!(w.destroyed_nodes.load(Ordering::SeqCst), 0);
    assert_eq!(
        w.events_live.load(Ordering::SeqCst),
        0,
        "seldrain'd lists are freed"
    );
}

#[test]
fn destroy_with_idle_open_files_returns_at_once() {
    let _s = serial();
    let (dr, _w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let n = dr.create(&c, b"idle", Mode::Pcpu, PERMS, 0).unwrap();
    let files: Vec<File> = (0..10_000).map(|_| open(&n).unwrap()).collect();
    assert_eq!(n.stats().open_files, 10_000);
    let t = Instant::now();
    // A zero timeout: nothing is running, so nothing needs waiting for.
    dr.destroy(&n, Some(0))
        .expect("idle files never delay destroy");
    let took = t.elapsed();
    assert_eq!(
        log.closes.lock().unwrap().len(),
        10_000,
        "every file's state released"
    );
    assert_eq!(n.stats().open_files, 0);
    for f in files {
        close(&n, f);
    }
    assert_eq!(
        log.closes.lock().unwrap().len(),
        10_000,
        "no double release"
    );
    eprintln!("destroy with 10000 idle files: {took:?}");
}

#[test]
fn destroy_waits_for_a_running_call_and_is_woken_when_it_leaves() {
    let _s = serial();
    let (dr, _w) = setup();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    let n = dr.create(&c, b"busy", Mode::Pcpu, PERMS, 0).unwrap();
    let f = open(&n).unwrap();
    let left = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let h = handle(&f) as usize;
    let n2 = n.clone();
    let left2 = left.clone();
    let t = thread::spawn(move || {
        let call = unsafe { n2.call(h as *const Handle<N>) }.unwrap();
        tx.send(()).unwrap();
        thread::sleep(Duration::from_millis(200));
        left2.store(true, Ordering::SeqCst);
        drop(call);
    });
    rx.recv().unwrap();
    let start = Instant::now();
    dr.destroy(&n, Some(10_000_000_000)).unwrap();
    assert!(
        left.load(Ordering::SeqCst),
        "destroy returned while a call was inside"
    );
    let took = start.elapsed();
    // Woken by the leave; the latency itself is measured by `make bench`
    // (a timing assert here would flake on a loaded machine).
    assert!(took < Duration::from_secs(5), "took {took:?}");
    t.join().unwrap();
    close(&n, f);
}

#[test]
fn destroy_wakes_a_sleeping_call_with_enxio_and_runs_the_purge_hook() {
    let _s = serial();
    let (dr, _w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let n = dr.create(&c, b"sleepy", Mode::Pcpu, PERMS, 0).unwrap();
    let f = open(&n).unwrap();
    let h = handle(&f) as usize;
    let n2 = n.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = thread::spawn(move || {
        let _call = unsafe { n2.call(h as *const Handle<N>) }.unwrap();
        let ticket = n2.sleep_ticket();
        tx.send(()).unwrap();
        n2.sleep(ticket, None) // forever, unless woken
    });
    rx.recv().unwrap();
    thread::sleep(Duration::from_millis(20));
    dr.destroy(&n, SEC)
        .expect("the sleeper must be woken and leave");
    assert_eq!(t.join().unwrap(), ENXIO);
    assert_eq!(
        log.purges.load(Ordering::SeqCst),
        1,
        "the client's purge hook ran"
    );
    // A sleep attempted after the close fails at once.
    assert_eq!(n.sleep(n.sleep_ticket(), None), ENXIO);
    close(&n, f);
}

#[test]
fn sleep_and_wakeup_between_calls() {
    let _s = serial();
    let (dr, _w) = setup();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    let n = dr.create(&c, b"wake", Mode::Pcpu, PERMS, 0).unwrap();
    // A wakeup between taking the ticket and sleeping is not lost.
    let ticket = n.sleep_ticket();
    n.wakeup();
    assert_eq!(n.sleep(ticket, SEC), 0);
    // Timeout answers EWOULDBLOCK like msleep.
    assert_eq!(n.sleep(n.sleep_ticket(), Some(1_000_000)), EWOULDBLOCK);
    dr.destroy(&n, SEC).unwrap();
}

#[test]
fn a_destroy_that_times_out_tears_nothing_down_and_a_later_one_completes() {
    let _s = serial();
    let (dr, w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let n = dr.create(&c, b"stuck", Mode::Pcpu, PERMS, 0).unwrap();
    let idle = open(&n).unwrap();
    let f = open(&n).unwrap();
    let (release, t) = hold(&n, &f);
    assert_eq!(dr.destroy(&n, Some(20_000_000)), Err(ETIMEDOUT));
    assert!(
        log.closes.lock().unwrap().is_empty(),
        "nothing released after a failed destroy"
    );
    assert_eq!(n.stats().open_files, 2);
    assert_eq!(
        w.events_live.load(Ordering::SeqCst),
        1,
        "poll lists still there"
    );
    assert!(call(&n, handle(&idle)).is_none(), "the device stays closed");
    assert_eq!(n.stats().failed_drains, 1);
    drop(release);
    t.join().unwrap();
    dr.destroy(&n, SEC)
        .expect("the second destroy finishes the job");
    assert_eq!(log.closes.lock().unwrap().len(), 2);
    assert_eq!(w.events_live.load(Ordering::SeqCst), 0);
    close(&n, idle);
    close(&n, f);
}

#[test]
fn unregister_destroys_every_device_and_fails_cleanly_when_a_call_stays() {
    let _s = serial();
    let (dr, w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let a = dr.create(&c, b"a", Mode::Pcpu, PERMS, 0).unwrap();
    let b = dr.create(&c, b"b", Mode::Counted, PERMS, 0).unwrap();
    let fa = open(&a).unwrap();
    let fb = open(&b).unwrap();
    let (stuck, t) = hold(&b, &fb);
    assert_eq!(dr.unregister(&c, Some(20_000_000)), Err(ETIMEDOUT));
    assert_eq!(dr.clients(), 1, "the client stays registered");
    assert_eq!(dr.prepare_unload(), Err(EBUSY));
    assert!(w
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("client stays registered")));
    drop(stuck);
    t.join().unwrap();
    dr.unregister(&c, SEC)
        .expect("once the call left, unregister completes");
    assert_eq!(dr.clients(), 0);
    assert_eq!(
        w.destroyed_nodes.load(Ordering::SeqCst),
        1,
        "the counted node went to destroy_dev"
    );
    assert!(
        w.nodes.lock().unwrap().contains("a"),
        "the pcpu node stays (eternal)"
    );
    assert_eq!(log.closes.lock().unwrap().len(), 2);
    assert_eq!(dr.unregister(&c, SEC), Err(EINVAL), "twice is an error");
    // devref itself: an eternal node was published, so it stays resident.
    assert_eq!(dr.prepare_unload(), Err(EBUSY));
    close(&a, fa);
    close(&b, fb);
}

#[test]
fn devref_unloads_when_only_counted_devices_were_made() {
    let _s = serial();
    let (dr, _w) = setup();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    dr.create(&c, b"c0", Mode::Counted, PERMS, 0).unwrap();
    assert_eq!(dr.prepare_unload(), Err(EBUSY));
    dr.unregister(&c, SEC).unwrap();
    assert_eq!(dr.prepare_unload(), Ok(()));
    assert_eq!(
        dr.register(TestClient(Arc::new(ClientLog::default())))
            .err(),
        Some(ENXIO)
    );
}

#[test]
fn an_old_incarnations_descriptor_never_reaches_the_new_client() {
    let _s = serial();
    let (dr, _w) = setup();
    let log1 = Arc::new(ClientLog::default());
    let log2 = Arc::new(ClientLog::default());
    let c1 = dr.register(TestClient(log1.clone())).unwrap();
    let n = dr.create(&c1, b"reborn", Mode::Pcpu, PERMS, 1).unwrap();
    let old = open(&n).unwrap();
    dr.unregister(&c1, SEC).unwrap();

    let c2 = dr.register(TestClient(log2.clone())).unwrap();
    let n2 = dr.create(&c2, b"reborn", Mode::Pcpu, PERMS, 2).unwrap();
    assert!(Arc::ptr_eq(&n, &n2), "the tombstone is reused");
    assert_eq!(n2.stats().incarnation, 2);
    assert!(
        call(&n2, handle(&old)).is_none(),
        "old descriptor gets the dead answers"
    );
    let new = open(&n2).unwrap();
    let c = call(&n2, handle(&new)).unwrap();
    assert_eq!(c.softc, 2);
    drop(c);
    assert_eq!(log2.opens.load(Ordering::SeqCst), 1);
    close(&n2, old);
    assert!(
        log2.closes.lock().unwrap().is_empty(),
        "closing the old file never calls the new client"
    );
    close(&n2, new);
    assert_eq!(*log2.closes.lock().unwrap(), vec![1]);
}

#[test]
fn reuse_with_other_permissions_or_mode_is_eexist() {
    let _s = serial();
    let (dr, _w) = setup();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    let n = dr.create(&c, b"perm", Mode::Pcpu, PERMS, 0).unwrap();
    assert_eq!(
        dr.create(&c, b"perm", Mode::Pcpu, PERMS, 0).err(),
        Some(EEXIST),
        "live name"
    );
    dr.destroy(&n, SEC).unwrap();
    let other = Perms {
        uid: 0,
        gid: 0,
        mode: 0o666,
    };
    assert_eq!(
        dr.create(&c, b"perm", Mode::Pcpu, other, 0).err(),
        Some(EEXIST)
    );
    assert_eq!(
        dr.create(&c, b"perm", Mode::Counted, PERMS, 0).err(),
        Some(EEXIST)
    );
    assert!(dr.create(&c, b"perm", Mode::Pcpu, PERMS, 0).is_ok());
}

#[test]
fn bad_input_is_refused() {
    let _s = serial();
    let (dr, _w) = setup();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    for bad in [
        &b""[..],
        b"../x",
        b"a//b",
        b"/a",
        b"a/",
        b"sp ace",
        b"x\0y",
        &[b'a'; 64],
    ] {
        assert_eq!(
            dr.create(&c, bad, Mode::Pcpu, PERMS, 0).err(),
            Some(EINVAL),
            "{bad:?}"
        );
    }
    let bad_perms = Perms {
        uid: 0,
        gid: 0,
        mode: 0o10000,
    };
    assert_eq!(
        dr.create(&c, b"ok", Mode::Pcpu, bad_perms, 0).err(),
        Some(EINVAL)
    );
    let other = Devref::new(Mock::new().0).unwrap();
    let stranger = other
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    assert_eq!(
        dr.create(&stranger, b"ok", Mode::Pcpu, PERMS, 0).err(),
        Some(EINVAL)
    );
    assert_eq!(dr.unregister(&stranger, SEC), Err(EINVAL));
}

#[test]
fn destroy_from_inside_its_own_call_is_deferred() {
    let _s = serial();
    let (dr, w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let n = dr.create(&c, b"self", Mode::Pcpu, PERMS, 0).unwrap();
    let f = open(&n).unwrap();
    {
        let _c = call(&n, handle(&f)).unwrap();
        assert_eq!(dr.destroy(&n, SEC), Err(EINPROGRESS));
        assert!(call(&n, handle(&f)).is_none(), "closed at once");
        assert_eq!(dr.unregister(&c, SEC), Err(EDEADLK));
    }
    // The deferred job finishes once the call has left.
    w.join_deferred();
    assert!(w.logged("self: destroyed"));
    assert_eq!(log.closes.lock().unwrap().len(), 1);
    close(&n, f);
}

#[test]
fn a_file_closed_while_destroy_drains_is_released_once() {
    let _s = serial();
    let (dr, _w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let n = dr.create(&c, b"race", Mode::Pcpu, PERMS, 0).unwrap();
    let f = open(&n).unwrap();
    let g = open(&n).unwrap();
    let (release, t) = hold(&n, &g);
    let dr2 = dr.clone();
    let n2 = n.clone();
    let d = thread::spawn(move || dr2.destroy(&n2, SEC));
    // Wait until destroy has closed the gate, then close the file.
    while call(&n, handle(&f)).is_some() {
        thread::yield_now();
    }
    close(&n, f);
    drop(release);
    t.join().unwrap();
    d.join().unwrap().unwrap();
    assert_eq!(
        log.closes.lock().unwrap().len(),
        2,
        "each file released exactly once"
    );
    close(&n, g);
    assert_eq!(log.closes.lock().unwrap().len(), 2);
}

#[test]
fn error_paths_leak_nothing() {
    let _s = serial();
    // Warm up lazily allocated host state (thread slots, membarrier).
    {
        let (dr, _w) = setup();
        let c = dr
            .register(TestClient(Arc::new(ClientLog::default())))
            .unwrap();
        let n = dr.create(&c, b"warm", Mode::Counted, PERMS, 0).unwrap();
        let f = open(&n).unwrap();
        dr.unregister(&c, SEC).unwrap();
        close(&n, f);
    }
    let before = live();
    {
        let (dr, w) = setup();
        let log = Arc::new(ClientLog::default());
        let c = dr.register(TestClient(log.clone())).unwrap();
        // make_dev failure.
        w.fail_make_dev.store(true, Ordering::SeqCst);
        assert_eq!(
            dr.create(&c, b"x", Mode::Counted, PERMS, 0).err(),
            Some(ENOMEM)
        );
        w.fail_make_dev.store(false, Ordering::SeqCst);
        // Duplicate and bad names.
        let n = dr.create(&c, b"x", Mode::Counted, PERMS, 0).unwrap();
        assert_eq!(
            dr.create(&c, b"x", Mode::Counted, PERMS, 0).err(),
            Some(EEXIST)
        );
        assert_eq!(
            dr.create(&c, b"../x", Mode::Counted, PERMS, 0).err(),
            Some(EINVAL)
        );
        // The client refuses an open.
        log.fail_open.store(true, Ordering::SeqCst);
        assert_eq!(open(&n).err(), Some(EPERM));
        log.fail_open.store(false, Ordering::SeqCst);
        // Publishing the handle fails (devfs_set_cdevpriv): undone.
        assert_eq!(n.open(0, 0, |_| Err(EBUSY)), Err(EBUSY));
        assert_eq!(
            *log.closes.lock().unwrap(),
            vec![1],
            "the client's open was undone"
        );
        assert_eq!(n.stats().open_files, 0);
        // A normal open left open across unregister (counted: destroy_dev
        // would run the destructor; here the test does).
        let f = open(&n).unwrap();
        dr.unregister(&c, SEC).unwrap();
        close(&n, f);
        assert_eq!(w.events_live.load(Ordering::SeqCst), 0);
        drop(n);
    }
    let after = live();
    assert_eq!(before, after, "allocations leaked on error paths");
}

#[test]
fn sysctl_views_list_devices_tombstones_and_clients() {
    let _s = serial();
    let (dr, _w) = setup();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    let a = dr.create(&c, b"live", Mode::Pcpu, PERMS, 0).unwrap();
    let t = dr.create(&c, b"tomb", Mode::Pcpu, PERMS, 0).unwrap();
    dr.destroy(&t, SEC).unwrap();
    let f = open(&a).unwrap();
    for _ in 0..5 {
        drop(call(&a, handle(&f)).unwrap());
    }
    let mut seen = Vec::new();
    dr.for_each_node(|n| {
        seen.push((
            n.name.as_str().to_string(),
            n.client,
            n.stats.alive,
            n.stats.calls,
        ))
    });
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("live".into(), Some(c.id), true, 6),
            ("tomb".into(), None, false, 0)
        ]
    );
    let mut clients = Vec::new();
    dr.for_each_client(|c, s| clients.push((c.ops.name().to_string(), s.id, s.devices)));
    assert_eq!(clients, vec![("test".to_string(), c.id, 1)]);
    close(&a, f);
}

#[test]
fn a_counted_name_being_destroyed_is_not_reused_as_a_tombstone() {
    let _s = serial();
    let (dr, _w) = setup();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    let n = dr.create(&c, b"cnt", Mode::Counted, PERMS, 0).unwrap();
    let f = open(&n).unwrap();
    let (release, t) = hold(&n, &f);
    assert_eq!(dr.destroy(&n, Some(10_000_000)), Err(ETIMEDOUT));
    assert_eq!(
        dr.create(&c, b"cnt", Mode::Counted, PERMS, 0).err(),
        Some(EEXIST)
    );
    drop(release);
    t.join().unwrap();
    dr.destroy(&n, SEC).unwrap();
    let n2 = dr
        .create(&c, b"cnt", Mode::Counted, PERMS, 0)
        .expect("a fresh node once destroyed");
    assert!(!Arc::ptr_eq(&n, &n2));
    close(&n, f);
}

#[test]
fn no_device_is_created_for_a_client_that_is_unregistering() {
    let _s = serial();
    let (dr, _w) = setup();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    let n = dr.create(&c, b"u0", Mode::Pcpu, PERMS, 0).unwrap();
    let f = open(&n).unwrap();
    let (release, t) = hold(&n, &f);
    let dr2 = dr.clone();
    let c2 = c.clone();
    let u = thread::spawn(move || dr2.unregister(&c2, SEC));
    // Wait until the unregister has closed u0, then try to create.
    while call(&n, handle(&f)).is_some() {
        thread::yield_now();
    }
    assert_eq!(
        dr.create(&c, b"u1", Mode::Pcpu, PERMS, 0).err(),
        Some(ENXIO)
    );
    drop(release);
    t.join().unwrap();
    u.join().unwrap().unwrap();
    close(&n, f);
}

#[test]
fn notify_after_close_touches_nothing() {
    let _s = serial();
    let (dr, w) = setup();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    let n = dr.create(&c, b"nt", Mode::Pcpu, PERMS, 0).unwrap();
    n.notify();
    assert_eq!(w.wakes.load(Ordering::SeqCst), 1);
    dr.destroy(&n, SEC).unwrap();
    let after_destroy = w.wakes.load(Ordering::SeqCst);
    assert_eq!(
        after_destroy, 2,
        "destroy wakes pollers once, after closing"
    );
    n.notify();
    assert_eq!(w.wakes.load(Ordering::SeqCst), after_destroy);
}

/// A client whose close destroys its own device (from the teardown).
struct SelfDestroying {
    log: Arc<ClientLog>,
    target: Arc<std::sync::OnceLock<(Arc<Dr2>, Arc<N2>)>>,
    result: Arc<Mutex<Option<Errno>>>,
}

type Dr2 = Devref<Mock, SelfDestroying>;
type N2 = Node<Mock, SelfDestroying>;

impl ClientOps for SelfDestroying {
    fn name(&self) -> &str {
        "selfdestroy"
    }
    fn open(&self, _s: usize, _o: i32, _td: usize) -> Result<usize, Errno> {
        Ok(1)
    }
    fn close(&self, _s: usize, p: usize) {
        self.log.closes.lock().unwrap().push(p);
        if let Some((dr, n)) = self.target.get() {
            *self.result.lock().unwrap() = Some(dr.destroy(n, SEC).err().unwrap_or(0));
        }
    }
    fn purge(&self, _s: usize) {}
}

#[test]
fn a_destroy_from_the_clients_close_during_teardown_defers_instead_of_deadlocking() {
    let _s = serial();
    let (k, w) = Mock::new();
    let dr: Arc<Dr2> = Devref::new(k).unwrap();
    let target = Arc::new(std::sync::OnceLock::new());
    let result = Arc::new(Mutex::new(None));
    let ops = SelfDestroying {
        log: Arc::new(ClientLog::default()),
        target: target.clone(),
        result: result.clone(),
    };
    let c = dr.register(ops).unwrap();
    let n = dr.create(&c, b"sd", Mode::Pcpu, PERMS, 0).unwrap();
    let mut got = 0usize;
    n.open(0, 0, |h| {
        got = h as usize;
        Ok(())
    })
    .unwrap();
    let _ = target.set((dr.clone(), n.clone()));
    // The teardown calls close, which calls destroy on the same device.
    dr.destroy(&n, SEC).expect("the outer destroy completes");
    assert_eq!(*result.lock().unwrap(), Some(EINPROGRESS));
    w.join_deferred();
    // SAFETY: the handle from the open above, released once.
    unsafe { N2::release_handle(got as *mut Handle<N2>) };
}

#[test]
fn missing_ops_answer_like_devfs() {
    let _s = serial();
    assert_eq!(
        (missing::READ, missing::WRITE, missing::IOCTL),
        (ENODEV, ENODEV, ENODEV)
    );
    assert_eq!(missing::poll(POLLIN | POLLOUT), POLLIN | POLLOUT);
    assert_eq!(
        missing::poll(POLLHUP),
        0,
        "standard but not ready-able: nothing"
    );
    assert_eq!(missing::poll(0x1000), POLLNVAL, "outside POLLSTANDARD");
    // sys/poll.h: POLLIN|POLLPRI|POLLOUT|POLLRDNORM|POLLRDBAND|POLLWRBAND|
    // POLLERR|POLLHUP|POLLNVAL.  POLLEXTEND (0x0200) is not standard.
    assert_eq!(POLLSTANDARD, 0x01ff);
    assert_eq!(
        missing::poll(0x0200),
        POLLNVAL,
        "POLLEXTEND is not standard"
    );
}

#[test]
fn a_sleep_ended_by_a_restartable_signal_answers_erestart() {
    let _s = serial();
    let (k, _w) = Mock::new();
    let p = k.p.clone();
    let dr: Arc<Dr> = Devref::new(k).unwrap();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .unwrap();
    let n = dr.create(&c, b"restart", Mode::Pcpu, PERMS, 0).unwrap();
    for (restart, want) in [(true, ERESTART), (false, EINTR)] {
        let n2 = n.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = thread::spawn(move || {
            let ticket = n2.sleep_ticket();
            tx.send(()).unwrap();
            n2.sleep(ticket, None)
        });
        rx.recv().unwrap();
        let got = loop {
            if restart {
                p.interrupt_restart();
            } else {
                p.interrupt();
            }
            thread::sleep(Duration::from_millis(5));
            if t.is_finished() {
                break t.join().unwrap();
            }
        };
        p.clear_interrupt();
        // SA_RESTART: the client's op passes ERESTART up and the system
        // call restarts; without it, EINTR.
        assert_eq!(got, want);
    }
    dr.destroy(&n, SEC).unwrap();
}

#[test]
fn a_destroy_from_the_purge_hook_is_deferred_not_recursive() {
    let _s = serial();
    let (dr, w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let n = dr.create(&c, b"purgy", Mode::Pcpu, PERMS, 0).unwrap();
    let f = open(&n).unwrap();
    let inner = Arc::new(Mutex::new(Vec::new()));
    {
        let (dr2, n2, c2, inner2) = (dr.clone(), n.clone(), c.clone(), inner.clone());
        *log.on_purge.lock().unwrap() = Some(Box::new(move || {
            let d = dr2.destroy(&n2, SEC);
            let u = dr2.unregister(&c2, SEC);
            inner2.lock().unwrap().push((d, u));
        }));
    }
    dr.destroy(&n, SEC).expect("the outer destroy completes");
    assert_eq!(
        *inner.lock().unwrap(),
        vec![(Err(EINPROGRESS), Err(EDEADLK))],
        "inside the purge: destroy deferred, unregister refused"
    );
    assert_eq!(log.purges.load(Ordering::SeqCst), 1, "purged once");
    assert!(w.logged("purgy: destroy from inside its own purge hook: deferred"));
    w.join_deferred();
    assert_eq!(log.closes.lock().unwrap().len(), 1, "released once");
    *log.on_purge.lock().unwrap() = None;
    close(&n, f);
    dr.unregister(&c, SEC).unwrap();
}

#[test]
fn no_teardown_overlaps_a_purge_hook_still_running() {
    // The purge hook queues a destroy (deferred: it runs inside its own
    // device) and then dawdles before it unregisters.  The deferred job
    // must not tear the device down meanwhile (it once did, under load:
    // the hook's unregister then found the node gone and answered 0, and
    // a client freed its text while its hook ran).
    let _s = serial();
    let (dr, w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let n = dr.create(&c, b"dawdle", Mode::Pcpu, PERMS, 0).unwrap();
    let f = open(&n).unwrap();
    let inner = Arc::new(Mutex::new(Vec::new()));
    {
        let (dr2, n2, c2, inner2, log2) =
            (dr.clone(), n.clone(), c.clone(), inner.clone(), log.clone());
        *log.on_purge.lock().unwrap() = Some(Box::new(move || {
            let d = dr2.destroy(&n2, SEC);
            thread::sleep(Duration::from_millis(100));
            let closed = log2.closes.lock().unwrap().len();
            let u = dr2.unregister(&c2, SEC);
            inner2.lock().unwrap().push((d, closed, u));
        }));
    }
    dr.destroy(&n, SEC).expect("the outer destroy completes");
    assert_eq!(
        *inner.lock().unwrap(),
        vec![(Err(EINPROGRESS), 0, Err(EDEADLK))],
        "inside the purge: nothing torn down, unregister refused"
    );
    w.join_deferred();
    assert_eq!(
        log.closes.lock().unwrap().len(),
        1,
        "released once, after the hook"
    );
    *log.on_purge.lock().unwrap() = None;
    close(&n, f);
    dr.unregister(&c, SEC).unwrap();
}

#[test]
fn a_deferred_destroy_waits_in_slices_and_requeues_itself() {
    let _s = serial();
    let (dr, w) = setup();
    w.hold_defer.store(true, Ordering::SeqCst);
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let n = dr.create(&c, b"slices", Mode::Pcpu, PERMS, 0).unwrap();
    let stuck = open(&n).unwrap();
    let f = open(&n).unwrap();
    let (release, t) = hold(&n, &stuck);
    {
        let _c = call(&n, handle(&f)).unwrap();
        assert_eq!(dr.destroy(&n, SEC), Err(EINPROGRESS));
    }
    // One slice: the stuck call is still inside, so the job gives the
    // queue back and re-queues itself, quietly.
    let start = Instant::now();
    assert_eq!(w.run_held(), 1);
    assert!(start.elapsed() >= Duration::from_nanos(DEFERRED_SLICE_NS / 2));
    assert_eq!(w.held.lock().unwrap().len(), 1, "re-queued");
    assert!(!w.logged("gave up"), "a slice is not a give-up");
    assert!(log.closes.lock().unwrap().is_empty());
    drop(release);
    t.join().unwrap();
    assert_eq!(w.run_held(), 1);
    assert!(w.held.lock().unwrap().is_empty(), "done: not re-queued");
    assert!(w.logged("slices: destroyed"));
    assert_eq!(log.closes.lock().unwrap().len(), 2);
    close(&n, stuck);
    close(&n, f);
}

#[test]
fn a_failed_unload_after_prepare_takes_registrations_again() {
    let _s = serial();
    let (dr, _w) = setup();
    assert_eq!(dr.prepare_unload(), Ok(()));
    assert_eq!(
        dr.register(TestClient(Arc::new(ClientLog::default())))
            .err(),
        Some(ENXIO),
        "refused while unloading"
    );
    // A later MOD_UNLOAD step failed (sysctl_ctx_free, a closing file).
    dr.abort_unload();
    let c = dr
        .register(TestClient(Arc::new(ClientLog::default())))
        .expect("devref is usable again");
    dr.unregister(&c, SEC).unwrap();
}

#[test]
fn a_destroy_from_the_kqueue_filter_is_refused_not_deadlocked() {
    let _s = serial();
    let (dr, w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(TestClient(log.clone())).unwrap();
    let n = dr.create(&c, b"filter", Mode::Pcpu, PERMS, 0).unwrap();
    let f = open(&n).unwrap();
    {
        // What the shim's f_event does around the client's poll op.
        let (k, _) = Mock::new();
        let mut m = 0;
        k.mark_call(&mut m, n.filter_cookie());
        assert_eq!(dr.destroy(&n, SEC), Err(EDEADLK));
        assert_eq!(dr.unregister(&c, SEC), Err(EDEADLK));
        k.unmark_call(&mut m);
    }
    assert!(w.logged("filter: destroy from the client's poll op run as a kqueue filter refused"));
    assert!(call(&n, handle(&f)).is_some(), "nothing was closed");
    assert_eq!(log.purges.load(Ordering::SeqCst), 0);
    close(&n, f);
    dr.unregister(&c, SEC).unwrap();
}
