//! devref's Linux host platform: the same gate that runs in the FreeBSD
//! kernel, on Linux threads (tests, stress, benchmarks).
//!
//! * **Slots are per thread.**  Userland has no no-migration section, so a
//!   slot belongs to a thread instead of a CPU: every gate has a boxed array
//!   of [`MAX_THREADS`] cache-padded slots, and each thread takes a slot
//!   index from a global allocator at its first use of any gate (a
//!   `thread_local`), and gives it back when it exits (the index is then
//!   reused; the allocator's mutex orders the old owner's stores before the
//!   new owner's).  More than [`MAX_THREADS`] threads using gates *at the
//!   same time* is a hard limit: the `MAX_THREADS + 1`-th panics with a
//!   clear message (host only: the kernel platform has one slot per CPU).
//!   A thread must not use a gate from a thread-local destructor that runs
//!   after its slot was released (it panics then too).
//! * **Barrier** = a `SeqCst` fence, `membarrier(MEMBARRIER_CMD_PRIVATE_
//!   EXPEDITED)` (the process registers once, at the first
//!   [`HostPlatform::new`]), then an acquire load of every slot's
//!   `in_entry` until it reads false (spin, then yield).  The fast path's
//!   `entry_fence` is then only a compiler fence, as in the kernel.
//!   **Fallback**: if the kernel lacks private expedited membarrier (or
//!   seccomp refuses it), or `DEVREF_HOST_FENCE=seqcst` is set, or the
//!   platform is made with [`HostPlatform::with_seqcst_fences`], the
//!   platform uses a real `fence(SeqCst)` on *both* sides (entry and
//!   barrier): correct by the C++/Rust memory model alone (the
//!   store-buffering litmus with two SeqCst fences), at the cost of one
//!   full fence (`mfence`/`lock`-prefixed op) per enter and per leave.  The
//!   mode is fixed per platform value, so the two sides of one gate always
//!   agree.
//! * **Lock** = `std::sync::Mutex` + `Condvar`; waits handle spurious
//!   wakeups and use `wait_timeout` for deadlines.  [`HostPlatform::interrupt`]
//!   simulates a signal (PCATCH) so that interrupted drains are testable.
//! * **Clock** = `Instant` (monotonic), ns since the first use.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{fence, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use devref_core::platform::{Platform, Slot, WaitOutcome};

/// How many threads may use gates at the same time (slots per gate).
pub const MAX_THREADS: usize = 256;

// ---------------------------------------------------------------------------
// Per-thread slot indices.

struct SlotAlloc {
    free: Vec<usize>,
    next: usize,
}

static SLOT_ALLOC: Mutex<SlotAlloc> = Mutex::new(SlotAlloc {
    free: Vec::new(),
    next: 0,
});

fn lock_ignoring_poison<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A thread's slot index, given back to the allocator when the thread exits.
struct ThreadSlot(usize);

impl ThreadSlot {
    fn acquire() -> ThreadSlot {
        let mut a = lock_ignoring_poison(&SLOT_ALLOC);
        if let Some(i) = a.free.pop() {
            return ThreadSlot(i);
        }
        if a.next < MAX_THREADS {
            let i = a.next;
            a.next += 1;
            return ThreadSlot(i);
        }
        drop(a);
        panic!(
            "devref-host: more than MAX_THREADS ({MAX_THREADS}) threads use gates at the same \
             time; the host platform has one slot per live thread"
        );
    }
}

impl Drop for ThreadSlot {
    fn drop(&mut self) {
        // Forget the cached copy first: a later use on this thread must not
        // write a slot that another thread may be given.
        let _ = SLOT_INDEX.try_with(|c| c.set(usize::MAX));
        lock_ignoring_poison(&SLOT_ALLOC).free.push(self.0);
    }
}

thread_local! {
    /// The index, cached where reading it is one thread-pointer-relative
    /// load (const-initialised, no destructor: no lazy-init check).
    /// `usize::MAX`: not allocated yet, or already given back.
    static SLOT_INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Owns the index; its destructor gives it back at thread exit.
    static THREAD_SLOT: ThreadSlot = ThreadSlot::acquire();
}

/// This thread's slot index (allocated at first use).
#[inline]
pub fn current_slot_index() -> usize {
    let i = SLOT_INDEX.with(Cell::get);
    if i != usize::MAX {
        return i;
    }
    first_slot_index()
}

#[cold]
#[inline(never)]
fn first_slot_index() -> usize {
    let i = THREAD_SLOT
        .try_with(|s| s.0)
        .unwrap_or_else(|_| panic!("devref-host: gate used after this thread's slot was released"));
    SLOT_INDEX.with(|c| c.set(i));
    i
}

/// One slot on its own pair of cache lines (the adjacent-line prefetcher
/// pulls lines in pairs on x86).
#[repr(align(128))]
#[derive(Default)]
pub struct PaddedSlot(pub Slot);

/// One gate's slots on the host: one per possible live thread.
pub struct HostSlots(Box<[PaddedSlot]>);

// ---------------------------------------------------------------------------
// membarrier.

const MEMBARRIER_CMD_QUERY: libc::c_int = 0;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

fn membarrier(cmd: libc::c_int) -> libc::c_long {
    // SAFETY: membarrier(2) takes (cmd, flags, cpu_id) by value and touches
    // no user memory; any failure is reported through the return value.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            cmd,
            0 as libc::c_uint,
            0 as libc::c_int,
        )
    }
}

/// Register this process for private expedited membarrier, once.  True if
/// the barrier is usable.
fn membarrier_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        if std::env::var_os("DEVREF_HOST_FENCE").is_some_and(|v| v == "seqcst") {
            return false;
        }
        let mask = membarrier(MEMBARRIER_CMD_QUERY);
        let want = libc::c_long::from(
            MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
        );
        if mask < 0 || mask & want != want {
            return false;
        }
        membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    })
}

// ---------------------------------------------------------------------------
// Simulated signals.

struct LockSync {
    m: Mutex<()>,
    cv: Condvar,
}

struct SigState {
    /// `Interrupted` or `Restart`, for the next wait that consumes it.
    pending: Option<WaitOutcome>,
    next_id: u64,
    waiters: Vec<(u64, Arc<LockSync>)>,
}

struct Signals {
    st: Mutex<SigState>,
}

impl Signals {
    fn register(&self, s: &Arc<LockSync>) -> u64 {
        let mut st = lock_ignoring_poison(&self.st);
        let id = st.next_id;
        st.next_id = st.next_id.wrapping_add(1);
        st.waiters.push((id, Arc::clone(s)));
        id
    }

    fn unregister(&self, id: u64) {
        lock_ignoring_poison(&self.st)
            .waiters
            .retain(|(i, _)| *i != id);
    }

    fn take_pending(&self) -> Option<WaitOutcome> {
        lock_ignoring_poison(&self.st).pending.take()
    }
}

struct Registration<'a> {
    sig: &'a Signals,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.sig.unregister(self.id);
    }
}

// ---------------------------------------------------------------------------
// The lock.

/// A mutex holding a `T`, with a condition variable.  The mutex itself
/// guards `()` so that [`HostPlatform::interrupt`] can take it (to wake a
/// waiter without losing the wakeup) without knowing `T`.
pub struct HostLock<T> {
    sync: Arc<LockSync>,
    val: UnsafeCell<T>,
}

// SAFETY: `val` is only accessed with `sync.m` held (with_lock, wait_until),
// exactly like `std::sync::Mutex<T>`, which is Sync when T: Send.
unsafe impl<T: Send> Sync for HostLock<T> {}

// ---------------------------------------------------------------------------
// The platform.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FenceMode {
    /// entry_fence = compiler fence; barrier = membarrier + flag scan.
    Membarrier,
    /// entry_fence = fence(SeqCst); barrier = fence(SeqCst) + flag scan.
    SeqCst,
}

/// The Linux host platform.  Cheap to clone (clones share the simulated
/// signal state, so a test can keep a clone to [`interrupt`] a drain).
///
/// [`interrupt`]: HostPlatform::interrupt
#[derive(Clone)]
pub struct HostPlatform {
    mode: FenceMode,
    sig: Arc<Signals>,
}

impl Default for HostPlatform {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for HostPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostPlatform")
            .field("mode", &self.mode)
            .finish()
    }
}

fn clock_base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

impl HostPlatform {
    /// The membarrier platform, or the SeqCst-fence fallback where
    /// membarrier is unavailable (see the crate doc).
    pub fn new() -> Self {
        let mode = if membarrier_available() {
            FenceMode::Membarrier
        } else {
            FenceMode::SeqCst
        };
        Self::with_mode(mode)
    }

    /// The fallback platform (a `fence(SeqCst)` on both sides), whatever the
    /// kernel supports.
    pub fn with_seqcst_fences() -> Self {
        Self::with_mode(FenceMode::SeqCst)
    }

    fn with_mode(mode: FenceMode) -> Self {
        let _ = clock_base();
        HostPlatform {
            mode,
            sig: Arc::new(Signals {
                st: Mutex::new(SigState {
                    pending: None,
                    next_id: 0,
                    waiters: Vec::new(),
                }),
            }),
        }
    }

    /// Whether this platform's barrier is membarrier (else the fallback).
    pub fn uses_membarrier(&self) -> bool {
        self.mode == FenceMode::Membarrier
    }

    /// Simulate a signal to the threads waiting (or about to wait) on this
    /// platform's locks: like a pending signal with PCATCH, the next
    /// [`Platform::wait_until`] whose condition is false returns
    /// `Interrupted` (one waiter consumes it).  Must not be called with one
    /// of this platform's locks held.
    pub fn interrupt(&self) {
        self.signal(WaitOutcome::Interrupted)
    }

    /// As [`HostPlatform::interrupt`], for a signal whose handler has
    /// SA_RESTART: the wait returns `Restart`.
    pub fn interrupt_restart(&self) {
        self.signal(WaitOutcome::Restart)
    }

    fn signal(&self, why: WaitOutcome) {
        let waiters: Vec<Arc<LockSync>> = {
            let mut st = lock_ignoring_poison(&self.sig.st);
            st.pending = Some(why);
            st.waiters.iter().map(|(_, w)| Arc::clone(w)).collect()
        };
        for w in waiters {
            // Taking the mutex orders us after a waiter that checked
            // `pending` and is going to sleep: it is asleep once we get it.
            drop(lock_ignoring_poison(&w.m));
            w.cv.notify_all();
        }
    }

    /// Drop a simulated signal that no wait consumed.
    pub fn clear_interrupt(&self) {
        lock_ignoring_poison(&self.sig.st).pending = None;
    }
}

// SAFETY: pin returns the calling thread's own slot (a per-thread index
// that no live thread shares; reuse is ordered by SLOT_ALLOC's mutex);
// entry_fence + barrier forbid the store-buffering outcome: either
// membarrier (a full barrier on every running thread of the process,
// landing between two instructions of any section, which the compiler
// fence keeps in program order) or SeqCst fences on both sides; the barrier
// then waits for every in_entry to read false with acquire loads.  The lock
// is a mutex + condvar whose wait releases the mutex atomically and
// re-checks the condition after every wakeup.
unsafe impl Platform for HostPlatform {
    type Slots = HostSlots;
    type Lock<T: Send> = HostLock<T>;

    fn slots_new(&self) -> Option<HostSlots> {
        let mut v = Vec::new();
        v.try_reserve_exact(MAX_THREADS).ok()?;
        v.resize_with(MAX_THREADS, PaddedSlot::default);
        Some(HostSlots(v.into_boxed_slice()))
    }

    #[inline]
    fn pin<'a>(&self, slots: &'a HostSlots) -> &'a Slot {
        // Indices are < MAX_THREADS by construction (the allocator refuses
        // more); the mask keeps a bounds-check branch off the fast path.
        const _: () = assert!(MAX_THREADS.is_power_of_two());
        let i = current_slot_index() & (MAX_THREADS - 1);
        match slots.0.get(i) {
            Some(p) => &p.0,
            None => panic!("devref-host: slot index {i} out of range"),
        }
    }

    #[inline]
    fn unpin(&self) {}

    #[inline]
    fn entry_fence(&self) {
        match self.mode {
            FenceMode::Membarrier => std::sync::atomic::compiler_fence(Ordering::SeqCst),
            FenceMode::SeqCst => fence(Ordering::SeqCst),
        }
    }

    fn barrier(&self, slots: &HostSlots) {
        // Orders the closer's relaxed store of the closing flag before the
        // membarrier (or stands in for it in the fallback).
        fence(Ordering::SeqCst);
        if self.mode == FenceMode::Membarrier {
            let r = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
            if r != 0 {
                // The entries only have a compiler fence: without the
                // barrier the protocol is unsound, so stop here (host only).
                panic!(
                    "devref-host: membarrier(PRIVATE_EXPEDITED) failed after registration: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        for p in slots.0.iter() {
            let mut spins = 0u32;
            while p.0.in_entry.load(Ordering::Acquire) {
                if spins < 128 {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }

    fn for_each_slot(&self, slots: &HostSlots, f: &mut dyn FnMut(&Slot)) {
        for p in slots.0.iter() {
            f(&p.0);
        }
    }

    fn lock_new<T: Send>(&self, _name: &'static str, v: T) -> Option<HostLock<T>> {
        Some(HostLock {
            sync: Arc::new(LockSync {
                m: Mutex::new(()),
                cv: Condvar::new(),
            }),
            val: UnsafeCell::new(v),
        })
    }

    fn with_lock<T: Send, R>(&self, l: &HostLock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        let _g = lock_ignoring_poison(&l.sync.m);
        // SAFETY: we hold l.sync.m, which guards every access to l.val, and
        // the reference does not outlive the guard (f returns first).
        f(unsafe { &mut *l.val.get() })
    }

    fn wait_until<T: Send>(
        &self,
        l: &HostLock<T>,
        deadline_ns: Option<u64>,
        done: &mut dyn FnMut(&mut T) -> bool,
    ) -> WaitOutcome {
        // Register before checking `pending` (under the mutex, below), so an
        // interrupt either is seen by that check or finds us registered.
        let _reg = Registration {
            sig: &self.sig,
            id: self.sig.register(&l.sync),
        };
        let mut g = lock_ignoring_poison(&l.sync.m);
        loop {
            // SAFETY: we hold l.sync.m (g), which guards l.val; the
            // reference ends before g is given to the condvar.
            if done(unsafe { &mut *l.val.get() }) {
                return WaitOutcome::Done;
            }
            if let Some(why) = self.sig.take_pending() {
                return why;
            }
            match deadline_ns {
                None => g = l.sync.cv.wait(g).unwrap_or_else(PoisonError::into_inner),
                Some(d) => {
                    let now = self.now_ns();
                    if now >= d {
                        return WaitOutcome::TimedOut;
                    }
                    g = match l.sync.cv.wait_timeout(g, Duration::from_nanos(d - now)) {
                        Ok((g, _)) => g,
                        Err(e) => e.into_inner().0,
                    };
                }
            }
        }
    }

    fn notify_all<T: Send>(&self, l: &HostLock<T>) {
        l.sync.cv.notify_all();
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(clock_base().elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}
