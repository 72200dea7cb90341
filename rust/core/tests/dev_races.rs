//! Races in the device layer, forced with the mock's hook: a thread
//! pauses right after it released a chosen lock (`hook_after`), and the
//! test acts in that window once the thread got there (`wait_hook`).
//! Each test was first written to show a bug found in review; it now
//! asserts the fixed behaviour.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use devref_core::dev::*;

mod support;
use support::*;

#[derive(Default)]
struct ClientLog {
    opens: AtomicUsize,
    closes: AtomicUsize,
    in_close: AtomicBool,
    block_close: AtomicBool,
    purges: Mutex<Vec<usize>>,
}
#[derive(Clone)]
struct C(Arc<ClientLog>);
impl ClientOps for C {
    fn name(&self) -> &str {
        "t"
    }
    fn open(&self, _s: usize, _o: i32, _td: usize) -> Result<usize, Errno> {
        self.0.opens.fetch_add(1, Ordering::SeqCst);
        Ok(1)
    }
    fn close(&self, _s: usize, _p: usize) {
        self.0.in_close.store(true, Ordering::SeqCst);
        while self.0.block_close.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(1));
        }
        self.0.closes.fetch_add(1, Ordering::SeqCst);
        self.0.in_close.store(false, Ordering::SeqCst);
    }
    fn purge(&self, s: usize) {
        self.0.purges.lock().unwrap().push(s);
    }
}
type Dr = Devref<Mock, C>;
type N = Node<Mock, C>;
const P: Perms = PERMS;

fn setup() -> (Arc<Dr>, Arc<World>) {
    let (k, w) = Mock::new();
    (Devref::new(k).unwrap(), w)
}

fn open(n: &N) -> Result<usize, Errno> {
    open_raw(n)
}

/// A create that passed its registration check before an unregister began:
/// the unregister waits for it, then destroys what it made.  No device of
/// an unregistered client stays.
#[test]
fn an_unregister_waits_for_a_create_in_flight_and_destroys_its_device() {
    let _s = serial();
    let (dr, w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(C(log.clone())).unwrap();
    let (dr2, c2) = (dr.clone(), c.clone());
    let t = thread::spawn(move || {
        // The registration check is the first registry lock.
        hook_after("Registry", 1, 300);
        dr2.create(&c2, b"late", Mode::Counted, P, 0)
    });
    wait_hook();
    assert_eq!(dr.unregister(&c, SEC), Ok(()));
    let n = t.join().unwrap().expect("the create itself completed");
    assert!(
        !w.nodes.lock().unwrap().contains("late"),
        "its cdev was destroyed by the unregister"
    );
    assert!(!n.stats().alive);
    assert_eq!(open(&n).err(), Some(ENXIO));
    assert_eq!(
        log.opens.load(Ordering::SeqCst),
        0,
        "the client was never called"
    );
    assert_eq!(dr.unregister(&c, SEC), Err(EINVAL));
}

/// The same race caught after the create's attach, before its make_dev.
#[test]
fn an_unregister_during_a_creates_make_dev_leaves_no_cdev() {
    let _s = serial();
    let (dr, w) = setup();
    let c = dr.register(C(Arc::new(ClientLog::default()))).unwrap();
    let (dr2, c2) = (dr.clone(), c.clone());
    let t = thread::spawn(move || {
        // new_dead takes Inner once; revive (attach) is the 2nd.
        hook_after("lifecycle::Inner", 2, 300);
        dr2.create(&c2, b"late2", Mode::Counted, P, 0)
    });
    wait_hook();
    assert_eq!(dr.unregister(&c, SEC), Ok(()));
    let n = t.join().unwrap().expect("the create itself completed");
    assert!(
        !w.nodes.lock().unwrap().contains("late2"),
        "no cdev outlives the unregister"
    );
    assert!(!n.stats().alive);
    assert!(dr.node_arc(n.cookie()).is_none());
}

/// Client 1 destroyed its device from inside a call (the deferred job is
/// held, not run), then unregistered; client 2 revived the name.  Returns
/// the kernel's record and the revived node.
fn revived_with_a_held_deferred_destroy() -> (Arc<World>, Arc<N>) {
    let (dr, w) = setup();
    w.hold_defer.store(true, Ordering::SeqCst);
    let c1 = dr.register(C(Arc::new(ClientLog::default()))).unwrap();
    let n = dr.create(&c1, b"r", Mode::Pcpu, P, 1).unwrap();
    let f = open(&n).unwrap();
    {
        // SAFETY: f is a live handle of n.
        let _call = unsafe { n.call(f as *const Handle<N>) }.unwrap();
        assert_eq!(dr.destroy(&n, SEC), Err(EINPROGRESS));
    }
    dr.unregister(&c1, SEC).unwrap();
    let c2 = dr.register(C(Arc::new(ClientLog::default()))).unwrap();
    let n2 = dr.create(&c2, b"r", Mode::Pcpu, P, 2).unwrap();
    assert!(Arc::ptr_eq(&n, &n2));
    (w, n2)
}

/// A deferred destroy is bound to the incarnation it was asked for: a
/// tombstone revived before the job runs is left alone.
#[test]
fn a_deferred_destroy_leaves_a_later_incarnation_alone() {
    let _s = serial();
    let (w, n2) = revived_with_a_held_deferred_destroy();
    assert_eq!(w.run_held(), 1);
    assert!(
        n2.stats().alive,
        "client 2's device survives client 1's deferred destroy"
    );
    assert!(open(&n2).is_ok());
}

/// unregister does not return while a teardown (here the deferred job's)
/// is still calling the client's dro_close.
#[test]
fn unregister_waits_for_a_teardown_still_calling_the_client() {
    let _s = serial();
    let (dr, _w) = setup();
    let log = Arc::new(ClientLog::default());
    let c = dr.register(C(log.clone())).unwrap();
    let n = dr.create(&c, b"d", Mode::Pcpu, P, 0).unwrap();
    let f = open(&n).unwrap();
    log.block_close.store(true, Ordering::SeqCst);
    {
        // SAFETY: f is a live handle of n.
        let _call = unsafe { n.call(f as *const Handle<N>) }.unwrap();
        assert_eq!(dr.destroy(&n, SEC), Err(EINPROGRESS));
    } // the call leaves; the deferred job drains and tears down
    while !log.in_close.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    let l2 = log.clone();
    let unblock = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        l2.block_close.store(false, Ordering::SeqCst);
    });
    assert_eq!(dr.unregister(&c, Some(5_000_000_000)), Ok(()));
    assert!(
        !log.in_close.load(Ordering::SeqCst),
        "unregister returned while dro_close ran"
    );
    assert_eq!(log.closes.load(Ordering::SeqCst), 1);
    unblock.join().unwrap();
}

/// A slow second destroy of one life must not close the next life, nor
/// run the old client's purge with the new softc.
#[test]
fn a_slow_second_destroy_does_not_touch_the_next_incarnation() {
    let _s = serial();
    let (dr, _w) = setup();
    let log1 = Arc::new(ClientLog::default());
    let c1 = dr.register(C(log1.clone())).unwrap();
    let n = dr.create(&c1, b"s", Mode::Pcpu, P, 111).unwrap();
    let f = open(&n).unwrap();
    // Hold a call so that destroy A stays Closing.
    let (go_tx, holder) = hold_call(&n, f);
    assert_eq!(dr.destroy(&n, Some(1_000_000)), Err(ETIMEDOUT)); // now Closing
    let (drb, nb) = (dr.clone(), n.clone());
    let b = thread::spawn(move || {
        // Pause destroy B right after its first lifecycle lock.
        hook_after("lifecycle::Inner", 1, 300);
        drb.destroy(&nb, SEC)
    });
    wait_hook();
    drop(go_tx);
    holder.join().unwrap();
    dr.destroy(&n, SEC).unwrap(); // A finishes: Dead
    let c2 = dr.register(C(Arc::new(ClientLog::default()))).unwrap();
    let n2 = dr.create(&c2, b"s", Mode::Pcpu, P, 222).unwrap();
    assert!(n2.stats().alive);
    assert_eq!(b.join().unwrap(), Ok(()), "B's life was destroyed: done");
    // The first destroy and A's retry each purge (as destroy_devl calls
    // d_purge every round); B's stale destroy purges nothing.
    assert_eq!(
        *log1.purges.lock().unwrap(),
        vec![111, 111],
        "only purges of the old softc"
    );
    assert!(n2.stats().alive, "the new incarnation is untouched");
    assert!(open(&n2).is_ok(), "and takes calls");
    assert_eq!(
        n2.sleep(n2.sleep_ticket(), Some(1_000_000)),
        EWOULDBLOCK,
        "its sleepers are not closing"
    );
}

/// Two creates of one new name: one wins and publishes; the other is
/// EEXIST (a node still being created is not a tombstone).
#[test]
fn two_creates_of_one_new_name_publish_once() {
    let _s = serial();
    let (dr, w) = setup();
    let c = dr.register(C(Arc::new(ClientLog::default()))).unwrap();
    let (dr2, c2) = (dr.clone(), c.clone());
    let t = thread::spawn(move || {
        hook_after("Registry", 1, 300);
        dr2.create(&c2, b"twice", Mode::Pcpu, P, 1)
    });
    wait_hook();
    let second = dr.create(&c, b"twice", Mode::Pcpu, P, 2);
    let first = t.join().unwrap();
    let (ok, err) = match (first, second) {
        (Ok(n), Err(e)) | (Err(e), Ok(n)) => (n, e),
        (a, b) => panic!(
            "exactly one create must win: {:?} / {:?}",
            a.is_ok(),
            b.is_ok()
        ),
    };
    assert_eq!(err, EEXIST);
    assert!(
        w.nodes.lock().unwrap().contains("twice"),
        "the winner's cdev exists"
    );
    assert!(
        dr.node_arc(ok.cookie()).is_some(),
        "and its node is in the table"
    );
    assert!(ok.stats().alive);
}

/// An unregister that checked a node belongs to its client, then paused:
/// meanwhile that life was destroyed and another client revived the name.
/// The unregister acts on the life it saw, never on the new one.
#[test]
fn an_unregister_never_destroys_another_clients_revived_device() {
    let _s = serial();
    let (dr, _w) = setup();
    let a = dr.register(C(Arc::new(ClientLog::default()))).unwrap();
    let n = dr.create(&a, b"x", Mode::Pcpu, P, 1).unwrap();
    let (dr2, a2) = (dr.clone(), a.clone());
    let u = thread::spawn(move || {
        // The first node-state lock on this thread is destroy_all_of's
        // look at the node's client.
        hook_after("NodeState", 1, 300);
        dr2.unregister(&a2, SEC)
    });
    wait_hook();
    assert_eq!(dr.destroy(&n, SEC), Ok(()));
    let b = dr.register(C(Arc::new(ClientLog::default()))).unwrap();
    let nb = dr.create(&b, b"x", Mode::Pcpu, P, 2).unwrap();
    assert!(Arc::ptr_eq(&n, &nb));
    assert_eq!(u.join().unwrap(), Ok(()));
    assert!(
        nb.stats().alive,
        "client B's device survives client A's unregister"
    );
}

/// Two unregisters of one client, the first failing while the second still
/// scans: creates stay refused until every unregister is done.
#[test]
fn a_failed_unregister_does_not_reopen_creates_under_another() {
    let _s = serial();
    let (dr, w) = setup();
    let a = dr.register(C(Arc::new(ClientLog::default()))).unwrap();
    let n = dr.create(&a, b"a", Mode::Pcpu, P, 0).unwrap();
    let f = open(&n).unwrap();
    let (go_tx, holder) = hold_call(&n, f);
    let (dr2, a2) = (dr.clone(), a.clone());
    let u2 = thread::spawn(move || dr2.unregister(&a2, Some(5_000_000_000)));
    // Let u2 start waiting on the held call.
    while n.stats().alive {
        thread::yield_now();
    }
    assert_eq!(dr.unregister(&a, Some(1_000_000)), Err(ETIMEDOUT));
    assert_eq!(
        dr.create(&a, b"b", Mode::Counted, P, 0).err(),
        Some(ENXIO),
        "u2 still runs"
    );
    drop(go_tx);
    holder.join().unwrap();
    assert_eq!(u2.join().unwrap(), Ok(()));
    assert_eq!(dr.clients(), 0);
    assert!(!w.nodes.lock().unwrap().contains("b"));
}

/// A create whose make_dev fails does not call the client's purge (nobody
/// could ever have been inside that device).
#[test]
fn a_failed_make_dev_does_not_purge() {
    let _s = serial();
    let (dr, w) = setup();
    let log = Arc::new(ClientLog::default());
    let a = dr.register(C(log.clone())).unwrap();
    w.fail_make_dev.store(true, Ordering::SeqCst);
    assert_eq!(dr.create(&a, b"m", Mode::Counted, P, 7).err(), Some(ENOMEM));
    assert!(
        log.purges.lock().unwrap().is_empty(),
        "purges: {:?}",
        log.purges.lock().unwrap()
    );
}

/// A stale deferred destroy (its life already over) says nothing.
#[test]
fn a_stale_deferred_destroy_logs_no_destroy() {
    let _s = serial();
    let (w, _n2) = revived_with_a_held_deferred_destroy();
    w.log.lock().unwrap().clear();
    w.run_held();
    let l = w.log.lock().unwrap().clone();
    assert!(!l.iter().any(|s| s.contains("destroyed")), "log: {:?}", l);
}
