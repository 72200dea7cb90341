//! What the protocol needs from a kernel.
//!
//! devref's logic is written once, against this trait, and runs on three
//! platforms: the FreeBSD kernel (devref.ko, through the C shim), the Linux
//! host (tests, stress, benchmarks) and loom (model checking).  The trait is
//! deliberately small: a one-instruction add on the current slot, a plain
//! asymmetric barrier, a way to visit every slot, a lock with an
//! interruptible timed wait, and a clock.
//!
//! A *slot* is one CPU's (kernel) or one thread's (host) copy of a gate's
//! counters.  The ordering argument that ties [`Platform::slot_add`] and
//! [`Platform::barrier`] together is in docs/design.md, section 3: the
//! barrier gives every CPU a point before which its adds are visible to the
//! drainer and after which it sees the closing flag, and each add is one
//! instruction, so it lies wholly on one side of that point.

use crate::sync::{AtomicI64, AtomicU64};

/// One gate's counters on one slot.  Never reset: only sums mean anything.
///
/// All-zero bytes are a valid, empty `Slot`: a platform may hand out zeroed
/// per-CPU memory (`uma_zalloc_pcpu(..., M_ZERO)`) as slots.  The kernel
/// platform's asm adds to `count` at offset 0 and `enters` at offset 8.
#[repr(C)]
#[derive(Default)]
pub struct Slot {
    /// Enters − leaves − undos that ran on this slot (wrapping; may be
    /// negative: a call can enter on one CPU and leave on another).
    pub count: AtomicI64,
    /// Calls admitted on this slot (wrapping); `Gate::calls` sums them.
    pub enters: AtomicU64,
}

impl Slot {
    /// An empty slot (the same as all-zero bytes).
    pub fn new() -> Self {
        Self::default()
    }
}

/// Which counter of the current slot [`Platform::slot_add`] changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// [`Slot::count`].
    Count,
    /// [`Slot::enters`].
    Enters,
}

/// The memory ordering a [`Platform::slot_add`] must give (in the C11
/// model; on x86 both are the same plain instruction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOrder {
    /// No ordering (the enter's +1, `enters`, the undo under the lock).
    Relaxed,
    /// Release: the leave's −1, so that a sum reading it (with acquire)
    /// sees everything the call did.
    Release,
}

/// Why a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The condition became true.
    Done,
    /// The deadline passed first.
    TimedOut,
    /// A signal arrived (PCATCH on FreeBSD: msleep returned EINTR).
    Interrupted,
    /// A signal arrived whose handler asks for the system call to be
    /// restarted (FreeBSD: msleep returned ERESTART, the handler has
    /// SA_RESTART).  A sleep on behalf of a system call passes it up so the
    /// call restarts; devref's own waits treat it as [`Interrupted`].
    ///
    /// [`Interrupted`]: WaitOutcome::Interrupted
    Restart,
}

/// Deliberately broken gate variants, for the loom tests only (each must be
/// rejected by loom).  A platform selects one with [`Platform::MUTANT`];
/// outside `cfg(loom)` the gate never looks at it (the checks compile to
/// nothing).  Broken *platforms* (no barrier, a two-instruction add,
/// relaxed counts) live in the loom test itself.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// The protocol as designed.
    None,
    /// The drain trusts a wakeup instead of summing again.
    NoResum,
    /// Every load and store of the closing flag is relaxed.
    RelaxedClosing,
    /// The refused entry's undo runs without the lock.
    UndoOutsideLock,
    /// The drain sums the slots without holding the lock.
    SumOutsideLock,
    /// A leave that sees the gate closing does not wake the drainer.
    LeaveNoWake,
    /// Reopen does not wake the drainers.
    ReopenNoWake,
}

/// The kernel services the protocol is built on.
///
/// # Safety
///
/// Implementations must provide exactly the guarantees documented on each
/// method; the gate's correctness argument (docs/design.md, section 3)
/// rests on them: [`Platform::slot_add`] is indivisible on its slot, and
/// [`Platform::barrier`] gives every slot the point P of (B1)/(B2).
pub unsafe trait Platform: Send + Sync + 'static {
    /// One [`Slot`] per CPU (kernel) or per thread (host), for one gate.
    type Slots: Send + Sync;

    /// A lock protecting a `T`, with a wait queue attached to it.
    type Lock<T: Send>: Send + Sync;

    /// loom only: the broken variant this platform asks the gate for.
    #[doc(hidden)]
    const MUTANT: Mutant = Mutant::None;

    /// Allocate a slot set whose sums start at zero.  `None` when memory
    /// (or, on the host, a gate index) is short.
    fn slots_new(&self) -> Option<Self::Slots>;

    /// Add `delta` to `field` of the slot of the CPU (thread) the caller
    /// runs on, as **one indivisible step on that slot**: one instruction
    /// in the kernel (`add`/`sub` relative to `%gs`, like `zpcpu_add`),
    /// which an interrupt or a preemption cannot split, so no critical
    /// section and no pinning.  Callable from any thread, at any time; it
    /// is not atomic against other CPUs and need not be (only the slot's
    /// CPU writes it; the drainer reads).  `order` is the C11 ordering the
    /// store must have ([`AddOrder::Release`] for the leave's −1).  Never
    /// sleeps, never blocks.
    fn slot_add(&self, slots: &Self::Slots, field: Field, delta: i64, order: AddOrder);

    /// Run one fast-path step that is not an add (a load of the closing
    /// flag) as one instruction of the CPU the caller is on.  Every real
    /// platform just runs it; the loom platform holds the current CPU's
    /// lock around it, to model an instruction that an IPI cannot split.
    #[inline(always)]
    fn step<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }

    /// The fast path's ordering point between its add and its load of the
    /// closing flag.  Empty (a compiler fence at most) on every platform
    /// whose barrier interrupts the fast path (FreeBSD's IPI, membarrier,
    /// loom's CPU locks); a `fence(SeqCst)` on the host fallback that has
    /// no such barrier.
    #[inline(always)]
    fn after_add(&self) {}

    /// The asymmetric barrier.  Called by the drainer with the gate's lock
    /// held, after its relaxed store of the closing flag.  On return, for
    /// every CPU (thread) *c* there is a point P(c) in *c*'s instruction
    /// stream such that (B1) whatever happens before an instruction *c* ran
    /// before P(c) happens before this return, and (B2) every load of the
    /// closing flag *c* runs after P(c) sees the drainer's store.  FreeBSD:
    /// `cpus_fence_seq_cst()` (a rendezvous IPI with a fence on every CPU);
    /// host: `membarrier(PRIVATE_EXPEDITED)`.  `quiesce_all_critical` is
    /// not enough (it runs nothing on the other CPUs).  May sleep or spin.
    fn barrier(&self, slots: &Self::Slots);

    /// Read every slot of the set once (for the sum and `calls`) and pass
    /// its `(count, enters)` to `f`: `count` with an **acquire** load (it
    /// pairs with the leave's release −1, so a sum that sees the −1 sees
    /// everything the call did), `enters` relaxed.
    fn for_each_slot(&self, slots: &Self::Slots, f: &mut dyn FnMut(i64, u64));

    /// Make a lock holding `v`.  `name` is for the kernel's lock debugging.
    /// `None` when memory is short.
    fn lock_new<T: Send>(&self, name: &'static str, v: T) -> Option<Self::Lock<T>>;

    /// Run `f` with the lock held.  `f` must not sleep (other than through
    /// the platform's own lock), and may call [`Platform::notify_all`] on
    /// the same lock.
    fn with_lock<T: Send, R>(&self, l: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R;

    /// Take the lock and sleep on it until `done` returns true, the
    /// monotonic clock passes `deadline_ns` (`None`: no deadline), or a
    /// signal arrives; release the lock and return why (`Interrupted` or
    /// `Restart` for a signal).
    ///
    /// `done` is evaluated with the lock held, first before any sleep and
    /// again after every wakeup (wakeups may be spurious), and the sleep
    /// releases the lock atomically (msleep's interlock, a condvar), so a
    /// [`Platform::notify_all`] issued under the lock after `done` returned
    /// false is never lost.  `done` returning true wins over an expired
    /// deadline or a pending signal: `Done` is returned whenever the last
    /// evaluation returned true, otherwise `done` returned false on its last
    /// evaluation.  Interruptible (PCATCH): a signal pending at entry
    /// returns `Interrupted` after one evaluation of `done`.  `done` must
    /// not sleep.
    fn wait_until<T: Send>(
        &self,
        l: &Self::Lock<T>,
        deadline_ns: Option<u64>,
        done: &mut dyn FnMut(&mut T) -> bool,
    ) -> WaitOutcome;

    /// Wake every waiter of `l`.  Called with the lock held.
    fn notify_all<T: Send>(&self, l: &Self::Lock<T>);

    /// Monotonic clock, nanoseconds.
    fn now_ns(&self) -> u64;
}
