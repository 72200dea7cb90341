//! What the protocol needs from a kernel.
//!
//! devref's logic is written once, against this trait, and runs on three
//! platforms: the FreeBSD kernel (devref.ko, through the C shim), the Linux
//! host (tests, stress, benchmarks) and loom (model checking).  The trait is
//! deliberately small: a no-migration section with a per-slot store, an
//! asymmetric barrier, a lock with an interruptible timed wait, and a clock.
//!
//! A *slot* is the unit that only one thread at a time can touch without
//! atomic read-modify-write: a CPU inside a critical section in the kernel,
//! a thread on the Linux host (userland has no no-migration section).
//!
//! The ordering argument that ties [`Platform::entry_fence`] and
//! [`Platform::barrier`] together is in docs/design.md ("Why the sum is
//! exact").  In one line: the fast path is `store in_entry; entry_fence;
//! load closing`, the closer is `store closing; barrier`, and the pair must
//! forbid the store-buffering outcome where both sides miss the other's
//! store.

use crate::sync::{AtomicBool, AtomicU64};

/// One gate's state on one slot.  Only the thread that currently owns the
/// slot (see [`Platform::pin`]) writes `in_entry` and `calls`, and writes
/// `count` while the gate is open; the closer reads them after the barrier
/// and zeroes `count` while the gate is closed (nobody else writes it then).
/// Padded to a cache line so that slots never share one.
///
/// All-zero bytes are a valid, empty `Slot` (false, 0, 0): a platform may
/// hand out zeroed per-CPU memory (e.g. `uma_zalloc_pcpu(..., M_ZERO)`) as
/// slots without running a constructor.
#[repr(C, align(64))]
#[derive(Default)]
pub struct Slot {
    /// Set while the owner is between its "in entry" store and the end of
    /// its count update.  The barrier waits for it to clear.
    pub in_entry: AtomicBool,
    /// Calls that entered on this slot (wraps).  Updated with a relaxed
    /// load and store (single writer), never an atomic RMW.
    pub enters: AtomicU64,
    /// Fast-path leaves on this slot (wraps).  A call can enter on one CPU
    /// and leave on another, so a slot's `enters - leaves` may be negative;
    /// only the sum over all slots means anything.  Kept apart from
    /// `enters` so that an enter and the next leave do not form one chain
    /// of store-to-load forwarding on the same word.
    pub leaves: AtomicU64,
}

impl Slot {
    /// An empty slot (the same as all-zero bytes).
    pub fn new() -> Self {
        Self::default()
    }
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

/// The kernel services the protocol is built on.
///
/// # Safety
///
/// Implementations must provide exactly the guarantees documented on each
/// method; the gate's correctness argument (docs/design.md) rests on them.
/// In particular [`Platform::pin`] must really exclude every other writer
/// of the returned slot, and [`Platform::entry_fence`] and
/// [`Platform::barrier`] together must forbid the store-buffering outcome
/// described on `barrier`.
pub unsafe trait Platform: Send + Sync + 'static {
    /// One [`Slot`] per CPU (kernel) or per thread (host), for one gate.
    type Slots: Send + Sync;

    /// A lock protecting a `T`, with a wait queue attached to it.
    type Lock<T: Send>: Send + Sync;

    /// Allocate a zeroed slot set.  `None` when memory is short.
    fn slots_new(&self) -> Option<Self::Slots>;

    /// Enter a no-migration section and return the current slot.  Until the
    /// matching [`Platform::unpin`], no other thread writes this slot
    /// (`in_entry`, `count`, `calls`), and the caller runs on it alone.
    /// Must not sleep.  Sections do not nest (in particular, never call the
    /// gate from an interrupt filter that can preempt a section).  The
    /// returned reference must not be used after `unpin`.
    ///
    /// Handing a slot from one owner to the next (a thread leaving a CPU, a
    /// host thread exiting and its slot index being reused) must order the
    /// old owner's stores before the new owner's accesses (same-CPU program
    /// order in the kernel; a mutex on the host).
    fn pin<'a>(&self, slots: &'a Self::Slots) -> &'a Slot;

    /// Leave the section entered by [`Platform::pin`].
    fn unpin(&self);

    /// The fence between the slot's `in_entry` store and the load of the
    /// gate's closing flag on the fast path (enter and leave).
    ///
    /// On FreeBSD and on the Linux host with `membarrier`, a compiler
    /// (interrupt) fence: it only keeps the two accesses in program order,
    /// and the barrier supplies the hardware ordering (the IPI lands between
    /// two instructions of the section, or before or after it).  A platform
    /// whose barrier cannot interrupt the section (the host fallback without
    /// `membarrier`, and loom) must make this a real `fence(SeqCst)`.
    fn entry_fence(&self);

    /// The asymmetric barrier.  Called by the closer, with the gate's lock
    /// held, after it stored the closing flag (with a relaxed store: the
    /// barrier is responsible for ordering that store before its own reads).
    ///
    /// Returns only when, for every slot and every fast-path section
    /// (`store in_entry = true; entry_fence; load closing; ...; store
    /// in_entry = false`) on it, either
    /// (a) the section's load of the closing flag returns the closer's
    ///     store (it sees the gate closing), or
    /// (b) the section has finished: its `in_entry = false` release store,
    ///     and therefore its `count` and `calls` stores, happen before the
    ///     barrier returns (the barrier reads `in_entry` false with an
    ///     acquire load, or runs on the slot's CPU after the section).
    ///
    /// Equivalently: no execution may have both the section miss the closing
    /// flag and the closer miss the section (the store-buffering outcome).
    /// FreeBSD: `smp_rendezvous_cpus_retry` whose action runs on each CPU
    /// and checks that CPU's own `in_entry` (as `vfs_op_barrier_wait`).
    /// `quiesce_all_critical` alone is not enough.  Linux host:
    /// `membarrier(PRIVATE_EXPEDITED)` then acquire loads of every
    /// `in_entry` until false.  May sleep or spin; it is called with the
    /// gate's lock held (a sleep mutex on FreeBSD, as `vfs_op_enter` calls
    /// `vfs_op_barrier_wait` under MNT_ILOCK).
    fn barrier(&self, slots: &Self::Slots);

    /// Visit every slot (for the fold).  Only meaningful after [`barrier`].
    ///
    /// [`barrier`]: Platform::barrier
    fn for_each_slot(&self, slots: &Self::Slots, f: &mut dyn FnMut(&Slot));

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
