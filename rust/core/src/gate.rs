//! The gate: call-granularity unload safety with per-slot counts.
//!
//! A [`Gate`] counts the calls inside a device.  While it is open, entering
//! and leaving touch only the current slot (a CPU in the kernel): a flag, a
//! compiler fence, a load of the shared closing flag (read-mostly, so it
//! stays in every CPU's cache), and a relaxed load + store of the slot's
//! count.  No lock, no atomic read-modify-write on a shared line.
//!
//! Closing sets the closing flag under the gate's lock, runs the platform's
//! asymmetric barrier, and folds the per-slot counts into one central count.
//! From then on entries fail and leaves take the slow path (the lock, a
//! decrement of the central count, the last one out wakes the drainer).
//! The protocol is FreeBSD's `vfs_op_thread_enter` / `vfs_op_enter`
//! (sys/sys/mount.h, sys/kern/vfs_mount.c); docs/design.md has the argument.
//!
//! ```text
//!            close()/close_and_drain()              drain sees 0
//!   Open  ─────────────────────────────▶  Closed  ───────────────▶  Drained
//!    ▲                                   (fold done,                  │
//!    │                                    central count)              │
//!    └──────────────────────── reopen() ─────────────────────────────┘
//! ```

use crate::platform::{Platform, Slot, WaitOutcome};
use crate::sync::{AtomicBool, AtomicU64, Ordering};

/// The gate is closed: the call must not go into the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gone;

/// Why [`Gate::close_and_drain`] returned before the gate drained.  In
/// every case the gate stays closed (entries keep failing) and a later
/// `close_and_drain` may finish the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainError {
    /// The timeout passed; `inside` calls were still inside.
    TimedOut {
        /// Calls still inside when the wait gave up.
        inside: usize,
    },
    /// A signal interrupted the wait; `inside` calls were still inside.
    Interrupted {
        /// Calls still inside when the wait gave up.
        inside: usize,
    },
    /// Another thread drained and reopened the gate while this one waited:
    /// the gate did drain, but it is open again now.
    Reopened,
}

impl DrainError {
    /// Calls still inside when the wait gave up (0 for `Reopened`).
    pub fn inside(&self) -> usize {
        match *self {
            DrainError::TimedOut { inside } | DrainError::Interrupted { inside } => inside,
            DrainError::Reopened => 0,
        }
    }
}

/// Why [`Gate::reopen`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReopenError {
    /// The gate is open.
    NotClosed,
    /// No drain has seen the count reach zero since the gate closed.
    /// `inside` calls are inside now (may be 0 if the last one just left
    /// and nobody drained since: drain again, it returns at once).
    NotDrained {
        /// Calls inside now.
        inside: usize,
    },
}

/// Where the gate is (see the module doc).  Changed only under the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Entries succeed; counts live in the slots.
    Open,
    /// Entries fail; the slots were folded into the central count.
    Closed,
    /// Closed, and a drain saw the central count at zero.
    Drained,
}

/// State behind the gate's lock.
struct Central {
    phase: Phase,
    /// Calls inside; exact while `phase != Open`.
    inside: usize,
    /// Bumped by every close (fold): lets a waiting drainer notice that the
    /// gate was reopened (and maybe closed again) behind its back.
    epoch: u64,
    /// Leaves that found nothing to leave (a raw leave without an enter),
    /// or a fold whose sum was negative.  Always 0 unless misused.
    unbalanced: u64,
    /// Leaves that took the slow path, ever (they are not in the slots).
    slow_leaves: u64,
}

/// Per-slot call counting with a closing protocol.  See the module doc.
pub struct Gate<P: Platform> {
    platform: P,
    /// Read by every entry and leave; written only under `state`'s lock.
    closing: AtomicBool,
    slots: P::Slots,
    state: P::Lock<Central>,
}

/// One call inside the gate.  Dropping it leaves (on whatever slot the
/// dropping thread is on: the guard may move to another thread).
#[must_use = "dropping the guard leaves the gate at once"]
pub struct GateGuard<'a, P: Platform> {
    gate: &'a Gate<P>,
}

impl<P: Platform> Drop for GateGuard<'_, P> {
    fn drop(&mut self) {
        self.gate.leave_inner();
    }
}

impl<'a, P: Platform> GateGuard<'a, P> {
    /// The gate this guard is inside.
    pub fn gate(&self) -> &'a Gate<P> {
        self.gate
    }

    /// Forget the guard without leaving: the caller now owes one
    /// [`Gate::leave_raw`] on this gate.
    pub fn into_raw(self) {
        core::mem::forget(self);
    }
}

impl<P: Platform> core::fmt::Debug for GateGuard<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("GateGuard")
    }
}

impl<P: Platform> Gate<P> {
    /// A new, open gate.  `None` when the slots or the lock cannot be
    /// allocated.
    pub fn new(platform: P) -> Option<Self> {
        let slots = platform.slots_new()?;
        let state = platform.lock_new(
            "devref gate",
            Central {
                phase: Phase::Open,
                inside: 0,
                epoch: 0,
                unbalanced: 0,
                slow_leaves: 0,
            },
        )?;
        Some(Gate {
            platform,
            closing: AtomicBool::new(false),
            slots,
            state,
        })
    }

    /// The platform this gate runs on.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Enter: `Ok` with a guard that leaves when dropped, or `Err(Gone)`
    /// when the gate is closing or closed.  Never sleeps, never blocks.
    #[inline]
    pub fn enter(&self) -> Result<GateGuard<'_, P>, Gone> {
        if self.enter_fast() {
            Ok(GateGuard { gate: self })
        } else {
            Err(Gone)
        }
    }

    /// Enter without a guard (for FFI paths that cannot hold one).  On `Ok`
    /// the caller owes exactly one [`Gate::leave_raw`] on this gate, from
    /// any thread; until then no drain of this gate can complete.
    #[inline]
    pub fn enter_raw(&self) -> Result<(), Gone> {
        if self.enter_fast() {
            Ok(())
        } else {
            Err(Gone)
        }
    }

    /// Leave a call entered with [`Gate::enter_raw`] (or a guard passed to
    /// [`GateGuard::into_raw`]).
    ///
    /// # Safety
    ///
    /// Each call must match exactly one earlier successful `enter_raw` (or
    /// `into_raw`) on this same gate that has not been left yet.  A leave
    /// without an enter would let a drain finish while a call is inside,
    /// which is the use-after-unload this crate exists to prevent.
    #[inline]
    pub unsafe fn leave_raw(&self) {
        self.leave_inner();
    }

    /// The fast path of entry: see the module doc and docs/design.md.
    #[inline]
    fn enter_fast(&self) -> bool {
        self.section(|slot| bump(&slot.enters))
    }

    /// Leave: the same section on the slot we are on *now* (the thread may
    /// have migrated or slept since it entered: never reuse the slot of the
    /// entry).  Slow path when the gate is closing.
    #[inline]
    fn leave_inner(&self) {
        if !self.section(|slot| bump(&slot.leaves)) {
            self.leave_slow();
        }
    }

    /// One fast-path section (the `vfs_op_thread_enter` dance): flag this
    /// slot in entry, fence, and if the gate is open run `update` on the
    /// slot.  Returns whether it was open.
    #[inline(always)]
    fn section(&self, update: impl FnOnce(&Slot)) -> bool {
        let p = &self.platform;
        let slot = p.pin(&self.slots);
        slot.in_entry.store(true, Ordering::Relaxed);
        p.entry_fence();
        // Acquire pairs with reopen's release store: the fold's reads of the
        // slots (and whatever the gate's owner wrote while it was drained,
        // e.g. devref's incarnation data) happen before our update below.
        let open = !self.closing.load(Ordering::Acquire);
        if open {
            update(slot);
        }
        // Release: the counter store is visible to whoever reads this
        // `false` with an acquire load (the barrier).
        slot.in_entry.store(false, Ordering::Release);
        p.unpin();
        open
    }

    /// A leave that found the gate closing.  The closer set the flag under
    /// the lock and folded before releasing it, so holding the lock here
    /// means the fold is done and our call is in the central count.
    #[cold]
    fn leave_slow(&self) {
        let p = &self.platform;
        p.with_lock(&self.state, |st| {
            if st.inside > 0 {
                st.inside -= 1;
                st.slow_leaves = st.slow_leaves.wrapping_add(1);
                if st.inside == 0 {
                    p.notify_all(&self.state);
                }
            } else {
                st.unbalanced = st.unbalanced.wrapping_add(1);
            }
        });
    }

    /// With the lock held: close if open (set the flag, barrier, fold).
    /// Closing twice does not fold twice.
    fn close_locked(&self, st: &mut Central) {
        if st.phase != Phase::Open {
            return;
        }
        let p = &self.platform;
        // Relaxed: the barrier orders it before its reads (its contract).
        self.closing.store(true, Ordering::Relaxed);
        p.barrier(&self.slots);
        // Every section either saw the flag (and left the slot alone) or
        // finished before the barrier returned: the slots are quiescent
        // and their sums are exact.  Nobody writes them until reopen.  The
        // counters are never reset: calls that left through the slow path
        // in earlier epochs are subtracted instead.
        let sum = self.slot_balance().wrapping_sub(st.slow_leaves) as i64;
        st.inside = match usize::try_from(sum) {
            Ok(n) => n,
            Err(_) => {
                // Only a raw leave without its enter gets here.
                st.unbalanced = st.unbalanced.wrapping_add(1);
                0
            }
        };
        st.phase = Phase::Closed;
        st.epoch = st.epoch.wrapping_add(1);
    }

    /// Close the gate without waiting: from return on, every entry fails
    /// and the central count is exact.  Idempotent.
    pub fn close(&self) {
        self.platform
            .with_lock(&self.state, |st| self.close_locked(st));
    }

    /// Close the gate (if open) and wait until no call is inside.
    ///
    /// New entries fail from the moment the closing flag is set.  The wait
    /// is woken by the last call out (no polling), is interruptible, and
    /// gives up after `timeout_ns` (`None`: no timeout; `Some(0)`: check
    /// once).  On `TimedOut`/`Interrupted` the gate stays closed and the
    /// error says how many calls are still inside; calling this again
    /// continues the drain (it does not fold again).
    ///
    /// Never call it from inside a call on the same gate (it would wait for
    /// itself until the timeout).
    pub fn close_and_drain(&self, timeout_ns: Option<u64>) -> Result<(), DrainError> {
        let p = &self.platform;
        let deadline = timeout_ns.map(|t| p.now_ns().saturating_add(t));
        let epoch = p.with_lock(&self.state, |st| {
            self.close_locked(st);
            st.epoch
        });
        self.wait_drained(epoch, deadline)
    }

    /// Wait for a gate that is already closed to drain, without closing it:
    /// a gate found open (reopened since whoever closed it) answers
    /// [`DrainError::Reopened`] at once.  For owners that close the gate
    /// under a lock of their own and wait after releasing it.
    pub fn drain(&self, timeout_ns: Option<u64>) -> Result<(), DrainError> {
        let p = &self.platform;
        let deadline = timeout_ns.map(|t| p.now_ns().saturating_add(t));
        let epoch = p.with_lock(&self.state, |st| {
            (st.phase != Phase::Open).then_some(st.epoch)
        });
        match epoch {
            Some(e) => self.wait_drained(e, deadline),
            None => Err(DrainError::Reopened),
        }
    }

    fn wait_drained(&self, epoch: u64, deadline: Option<u64>) -> Result<(), DrainError> {
        let p = &self.platform;
        let mut left = 0usize;
        let mut reopened = false;
        let outcome = p.wait_until(&self.state, deadline, &mut |st| {
            if st.epoch != epoch || st.phase == Phase::Open {
                // Drained and reopened (and maybe closed again) by someone
                // else meanwhile.
                reopened = true;
                return true;
            }
            left = st.inside;
            if st.inside == 0 {
                st.phase = Phase::Drained;
                true
            } else {
                false
            }
        });
        match outcome {
            WaitOutcome::Done if reopened => Err(DrainError::Reopened),
            WaitOutcome::Done => Ok(()),
            WaitOutcome::TimedOut => Err(DrainError::TimedOut { inside: left }),
            WaitOutcome::Interrupted | WaitOutcome::Restart => {
                Err(DrainError::Interrupted { inside: left })
            }
        }
    }

    /// Open the gate again.  Allowed only once a drain has seen the count
    /// reach zero ([`Phase::Drained`]).
    pub fn reopen(&self) -> Result<(), ReopenError> {
        self.platform.with_lock(&self.state, |st| match st.phase {
            Phase::Open => Err(ReopenError::NotClosed),
            Phase::Closed => Err(ReopenError::NotDrained { inside: st.inside }),
            Phase::Drained => {
                // Nobody wrote the slots since the fold.  Release: an entry
                // that reads `false` (with acquire) comes after the fold's
                // reads and after whatever the owner did while drained.
                st.phase = Phase::Open;
                self.closing.store(false, Ordering::Release);
                Ok(())
            }
        })
    }

    /// Calls inside now: exact while the gate is closed, a best-effort sum
    /// of the slots while it is open (slots are read without a barrier).
    pub fn inside(&self) -> usize {
        self.platform.with_lock(&self.state, |st| {
            if st.phase != Phase::Open {
                return st.inside;
            }
            let sum = self.slot_balance().wrapping_sub(st.slow_leaves) as i64;
            usize::try_from(sum).unwrap_or(0)
        })
    }

    /// Calls that entered so far (sum of the per-slot counters; exact when
    /// nothing is entering, wraps at 2^64).
    pub fn calls(&self) -> u64 {
        let mut sum: u64 = 0;
        self.platform.for_each_slot(&self.slots, &mut |s| {
            sum = sum.wrapping_add(s.enters.load(Ordering::Relaxed));
        });
        sum
    }

    /// Σ enters − Σ leaves over the slots (wrapping).
    fn slot_balance(&self) -> u64 {
        let mut sum: u64 = 0;
        self.platform.for_each_slot(&self.slots, &mut |s| {
            sum = sum
                .wrapping_add(s.enters.load(Ordering::Relaxed))
                .wrapping_sub(s.leaves.load(Ordering::Relaxed));
        });
        sum
    }

    /// Whether entries fail now (closing, closed or drained).
    pub fn is_closed(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// The gate's phase.
    pub fn phase(&self) -> Phase {
        self.platform.with_lock(&self.state, |st| st.phase)
    }

    /// Leaves without a matching enter seen so far (raw API misuse); 0 in
    /// a correct program.
    pub fn unbalanced(&self) -> u64 {
        self.platform.with_lock(&self.state, |st| st.unbalanced)
    }
}

impl<P: Platform> core::fmt::Debug for Gate<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gate")
            .field("closing", &self.closing.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// `c += 1` by its single writer: a relaxed load and store, no atomic RMW.
#[inline(always)]
fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}
