//! The mock kernel the device-layer tests share.
//!
//! It forwards the gate's platform to the host platform and records what
//! devref asks of the kernel (make_dev, destroy_dev, selinfo/knlist,
//! taskqueue, call marks, console), so a test can assert what a FreeBSD
//! kernel would have seen.  Its lock wrapper can also pause a thread right
//! after it released a chosen lock (`hook_after`), to force a race.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use devref_core::dev::*;

#[path = "../vm_model/mod.rs"]
pub mod vm_model;
use devref_core::platform::{AddOrder, Field, Platform, WaitOutcome};
use devref_host::HostPlatform;

/// What the kernel saw.
#[derive(Default)]
pub struct World {
    pub nodes: Mutex<HashSet<String>>,
    pub made: AtomicUsize,
    pub destroyed_nodes: AtomicUsize,
    pub events_live: AtomicUsize,
    pub wakes: AtomicUsize,
    pub drains: AtomicUsize,
    pub fail_make_dev: AtomicBool,
    pub log: Mutex<Vec<String>>,
    /// Hold deferred jobs in `held` instead of running them.
    pub hold_defer: AtomicBool,
    pub held: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
    /// Threads running deferred jobs; tests join them.
    pub threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl World {
    /// Join every deferred job's thread started so far.
    pub fn join_deferred(&self) {
        for t in std::mem::take(&mut *self.threads.lock().unwrap()) {
            t.join().unwrap();
        }
    }

    /// Run the held deferred jobs now, on this thread.
    pub fn run_held(&self) -> usize {
        let jobs = std::mem::take(&mut *self.held.lock().unwrap());
        let n = jobs.len();
        for j in jobs {
            j();
        }
        n
    }

    pub fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }
}

#[derive(Clone)]
pub struct Mock {
    pub p: HostPlatform,
    pub w: Arc<World>,
    /// The VM model the devices' regions live in (shared by clones).
    pub vm: vm_model::Model,
}

impl Mock {
    pub fn new() -> (Mock, Arc<World>) {
        let w = Arc::new(World::default());
        (
            Mock {
                p: HostPlatform::new(),
                w: w.clone(),
                vm: vm_model::Model::default(),
            },
            w,
        )
    }
}

pub struct MockEvents(Arc<World>);

impl Drop for MockEvents {
    fn drop(&mut self) {
        self.0.events_live.fetch_sub(1, Ordering::SeqCst);
    }
}

thread_local! {
    static INSIDE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// (lock type-name substring, nth such lock on this thread, pause ms)
    static HOOK: Cell<Option<(&'static str, usize, u64)>> = const { Cell::new(None) };
}

/// Set by a thread when its hook fires (just before it pauses).
static REACHED: AtomicBool = AtomicBool::new(false);

/// On this thread, pause `ms` right after releasing the `nth` lock whose
/// protected type's name contains `lock_type`.
pub fn hook_after(lock_type: &'static str, nth: usize, ms: u64) {
    REACHED.store(false, Ordering::SeqCst);
    HOOK.with(|h| h.set(Some((lock_type, nth, ms))));
}

/// Wait until a hooked thread is paused at its point.
pub fn wait_hook() {
    while !REACHED.swap(false, Ordering::SeqCst) {
        thread::yield_now();
    }
}

fn hook<T>() {
    HOOK.with(|h| {
        if let Some((sub, n, ms)) = h.get() {
            if std::any::type_name::<T>().contains(sub) {
                if n <= 1 {
                    h.set(None);
                    REACHED.store(true, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(ms));
                } else {
                    h.set(Some((sub, n - 1, ms)));
                }
            }
        }
    });
}

// SAFETY: every method forwards to the host platform (the hook only
// sleeps after a lock was released).
unsafe impl Platform for Mock {
    type Slots = <HostPlatform as Platform>::Slots;
    type Lock<T: Send> = <HostPlatform as Platform>::Lock<T>;
    fn slots_new(&self) -> Option<Self::Slots> {
        self.p.slots_new()
    }
    #[inline(always)]
    fn slot_add(&self, s: &Self::Slots, field: Field, delta: i64, order: AddOrder) {
        self.p.slot_add(s, field, delta, order)
    }
    #[inline(always)]
    fn after_add(&self) {
        self.p.after_add()
    }
    fn barrier(&self, s: &Self::Slots) {
        self.p.barrier(s)
    }
    fn for_each_slot(&self, s: &Self::Slots, f: &mut dyn FnMut(i64, u64)) {
        self.p.for_each_slot(s, f)
    }
    fn lock_new<T: Send>(&self, n: &'static str, v: T) -> Option<Self::Lock<T>> {
        self.p.lock_new(n, v)
    }
    fn with_lock<T: Send, R>(&self, l: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        let r = self.p.with_lock(l, f);
        hook::<T>();
        r
    }
    fn wait_until<T: Send>(
        &self,
        l: &Self::Lock<T>,
        d: Option<u64>,
        done: &mut dyn FnMut(&mut T) -> bool,
    ) -> WaitOutcome {
        self.p.wait_until(l, d, done)
    }
    fn notify_all<T: Send>(&self, l: &Self::Lock<T>) {
        self.p.notify_all(l)
    }
    fn now_ns(&self) -> u64 {
        self.p.now_ns()
    }
}

impl Kernel for Mock {
    type Cdev = String;
    type Events = MockEvents;
    type CallMark = usize;
    /// No C glue here: entries are marked by the Call itself.
    type EntryMark = usize;

    fn make_node(
        &self,
        name: &DevName,
        _m: Mode,
        _p: Perms,
        _cookie: usize,
    ) -> Result<String, Errno> {
        if self.w.fail_make_dev.load(Ordering::SeqCst) {
            return Err(ENOMEM);
        }
        let mut n = self.w.nodes.lock().unwrap();
        if !n.insert(name.as_str().to_string()) {
            return Err(EEXIST);
        }
        self.w.made.fetch_add(1, Ordering::SeqCst);
        Ok(name.as_str().to_string())
    }
    fn destroy_node(&self, cdev: String) {
        self.w.nodes.lock().unwrap().remove(&cdev);
        self.w.destroyed_nodes.fetch_add(1, Ordering::SeqCst);
    }
    fn events_new(&self) -> Option<MockEvents> {
        self.w.events_live.fetch_add(1, Ordering::SeqCst);
        Some(MockEvents(self.w.clone()))
    }
    fn events_wake(&self, _ev: &MockEvents) {
        self.w.wakes.fetch_add(1, Ordering::SeqCst);
    }
    fn events_drain(&self, ev: MockEvents) {
        self.w.drains.fetch_add(1, Ordering::SeqCst);
        drop(ev);
    }
    fn defer(&self, job: Box<dyn FnOnce() + Send>) {
        if self.w.hold_defer.load(Ordering::SeqCst) {
            self.w.held.lock().unwrap().push(job);
        } else {
            self.w.threads.lock().unwrap().push(thread::spawn(job));
        }
    }
    fn mark_entry(&self, node: usize) -> usize {
        let mut m = 0;
        self.mark_call(&mut m, node);
        m
    }
    fn unmark_entry(&self, m: &mut usize) {
        self.unmark_call(m)
    }
    fn mark_call(&self, m: &mut usize, node: usize) {
        INSIDE.with(|v| v.borrow_mut().push(node));
        *m = node;
    }
    fn unmark_call(&self, m: &mut usize) {
        INSIDE.with(|v| {
            let mut v = v.borrow_mut();
            if let Some(i) = v.iter().rposition(|&n| n == *m) {
                v.remove(i);
            }
        });
    }
    fn in_call(&self, node: usize) -> bool {
        INSIDE.with(|v| v.borrow().contains(&node))
    }
    fn log(&self, args: fmt::Arguments<'_>) {
        self.w.log.lock().unwrap().push(args.to_string());
    }
    type Vm = vm_model::Model;
    fn vm(&self) -> vm_model::Model {
        self.vm.clone()
    }
}

/// Tests that count allocations or use the hook run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wait (bounded) until `f` holds.
pub fn wait_for(what: &str, f: impl Fn() -> bool) {
    let t = std::time::Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

pub const PERMS: Perms = Perms {
    uid: 0,
    gid: 0,
    mode: 0o600,
};
pub const SEC: Option<u64> = Some(1_000_000_000);

/// Open a file on `n`: the handle devref published as its cdevpriv.
pub fn open_raw<C: ClientOps>(n: &Node<Mock, C>) -> Result<usize, Errno> {
    let mut got = 0usize;
    n.open(0, 0, |h| {
        got = h as usize;
        Ok(())
    })?;
    Ok(got)
}

/// Hold a call on handle `h` of `n` in another thread until the returned
/// sender is dropped (a call of this thread would make a destroy defer).
pub fn hold_call<C: ClientOps>(
    n: &Arc<Node<Mock, C>>,
    h: usize,
) -> (std::sync::mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (in_tx, in_rx) = std::sync::mpsc::channel::<()>();
    let n = n.clone();
    let t = thread::spawn(move || {
        // SAFETY: the tests pass handles of files they still hold.
        let call = unsafe { n.call(h as *const Handle<Node<Mock, C>>) }.expect("alive");
        in_tx.send(()).unwrap();
        let _ = go_rx.recv();
        drop(call);
    });
    in_rx.recv().unwrap();
    (go_tx, t)
}
