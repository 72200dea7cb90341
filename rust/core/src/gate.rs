//! The gate: call-granularity unload safety with per-slot counts.
//!
//! A [`Gate`] counts the calls inside a device in per-CPU (kernel) or
//! per-thread (host) slots.  Entering is a load of the shared closing flag
//! (read-mostly: it stays in every CPU's cache), one add to the current
//! slot, and the same load again; leaving is one subtract and one load.
//! Each add is a single instruction ([`Platform::slot_add`]), so it needs no
//! critical section: a thread may migrate between any two steps.  No lock,
//! no atomic read-modify-write, no shared write on the fast path.
//!
//! Closing sets the flag under the gate's lock and runs the platform's
//! barrier; the drain then sums the slots under the lock, sleeps, and sums
//! again when a leave (or an undone entry) wakes it.  A refused entry that
//! had already added undoes its add *under the lock*, so that a sum sees
//! both halves of it or neither.  docs/design.md (sections 1, 3, 4) has the
//! protocol and its proof; rust/core/tests/loom_gate.rs checks it.
//!
//! ```text
//!            close()/close_and_drain()              a drain's sum is 0
//!   Open  ─────────────────────────────▶  Closed  ───────────────────▶  Drained
//!    ▲                                 (barrier done)                    │
//!    └──────────────────────── reopen(): wakes every drainer ───────────┘
//! ```

use crate::platform::{AddOrder, Field, Mutant, Platform, WaitOutcome};
use crate::sync::{AtomicBool, Ordering};

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
    /// Entries succeed.
    Open,
    /// Entries fail; calls admitted before the close may still be inside.
    Closed,
    /// Closed, and a drain saw the sum at zero.
    Drained,
}

/// State behind the gate's lock.  There is no central count: the calls
/// inside are always the sum of the slots (plus `bias`).
struct Central {
    phase: Phase,
    /// Bumped by every close: lets a waiting drainer notice that the gate
    /// was reopened (and maybe closed again) behind its back.
    epoch: u64,
    /// Added to every sum: the correction for stray raw leaves (the slots
    /// are never written back).  0 unless misused.
    bias: i64,
    /// How many leaves had no matching enter (raw API misuse); 0 in a
    /// correct program.
    unbalanced: u64,
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
    #[inline]
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

/// Whether the platform asks for the broken variant `m` (loom tests only;
/// a constant `false` everywhere else, so the checks vanish).
#[inline(always)]
fn mutant<P: Platform>(m: Mutant) -> bool {
    cfg!(loom) && P::MUTANT == m
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
                epoch: 0,
                bias: 0,
                unbalanced: 0,
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
    /// when the gate is closing or closed.  Never sleeps; blocks only on
    /// the gate's lock, when it lost a race with a close.
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

    /// The ordering of the loads of `closing` in enter and of reopen's
    /// store (design.md section 4: the owner's writes while drained).
    #[inline(always)]
    fn closing_order(acquire: Ordering) -> Ordering {
        if mutant::<P>(Mutant::RelaxedClosing) {
            Ordering::Relaxed
        } else {
            acquire
        }
    }

    /// The fast path of entry: pre-check, one add, re-check.
    #[inline(always)]
    fn enter_fast(&self) -> bool {
        let p = &self.platform;
        // Pre-check: a call refused here touches nothing, so a flood of
        // refused calls cannot keep a drain's sum above zero.  Acquire
        // pairs with reopen's release: the owner's writes while the gate
        // was drained happen before this call.
        if p.step(|| self.closing.load(Self::closing_order(Ordering::Acquire))) {
            return false;
        }
        p.slot_add(&self.slots, Field::Count, 1, AddOrder::Relaxed);
        // calls(): a separate counter, next to the +1 (on the host the two
        // adds share one registration check); a refused entry takes both
        // back in its undo, so refusals never count.
        p.slot_add(&self.slots, Field::Enters, 1, AddOrder::Relaxed);
        p.after_add();
        // Re-check: if it still reads open, this CPU reads it before the
        // barrier's point, so the +1 is in every sum after the barrier
        // (design.md lemma 1).
        if p.step(|| self.closing.load(Self::closing_order(Ordering::Acquire))) {
            self.undo_enter();
            return false;
        }
        true
    }

    /// A refused entry that had already added: take the +1 back under the
    /// lock (the thread may be on another CPU than its +1: only the lock
    /// keeps a sum from seeing the −1 without the +1), and wake the
    /// drainers, whose sum may have counted the +1.
    #[cold]
    #[inline(never)]
    fn undo_enter(&self) {
        let p = &self.platform;
        if mutant::<P>(Mutant::UndoOutsideLock) {
            p.slot_add(&self.slots, Field::Count, -1, AddOrder::Relaxed);
            p.slot_add(&self.slots, Field::Enters, -1, AddOrder::Relaxed);
            p.with_lock(&self.state, |_| p.notify_all(&self.state));
            return;
        }
        p.with_lock(&self.state, |_| {
            p.slot_add(&self.slots, Field::Count, -1, AddOrder::Relaxed);
            p.slot_add(&self.slots, Field::Enters, -1, AddOrder::Relaxed);
            p.notify_all(&self.state);
        });
    }

    /// Leave: one subtract on the slot we are on *now* (it may differ from
    /// the entry's), then wake the drainers if the gate is closing.
    #[inline(always)]
    fn leave_inner(&self) {
        let p = &self.platform;
        // Release: a sum that reads this −1 (acquire) sees the whole call.
        p.slot_add(&self.slots, Field::Count, -1, AddOrder::Release);
        p.after_add();
        // Relaxed: it only decides whether to wake.  Reading 0 means the
        // −1 is before this CPU's barrier point, so every sum sees it
        // (design.md lemma 2).
        if p.step(|| self.closing.load(Ordering::Relaxed)) {
            self.leave_wake();
        }
    }

    /// A leave while closing: wake the drainers under the lock, so that a
    /// drainer between its sum and its sleep cannot miss it.
    #[cold]
    #[inline(never)]
    fn leave_wake(&self) {
        let p = &self.platform;
        p.with_lock(&self.state, |_| {
            if !mutant::<P>(Mutant::LeaveNoWake) {
                p.notify_all(&self.state);
            }
        });
    }

    /// Σ count over the slots, wrapping, plus the bias.
    fn sum(&self, st: &Central) -> i64 {
        let mut s: i64 = 0;
        self.platform
            .for_each_slot(&self.slots, &mut |count, _| s = s.wrapping_add(count));
        s.wrapping_add(st.bias)
    }

    /// The sum while closed, with the lock held: never below the calls
    /// inside (design.md lemma 3), so a negative sum is a stray raw leave,
    /// which is counted and corrected for good.
    fn sum_closed(&self, st: &mut Central) -> usize {
        let s = self.sum(st);
        if s < 0 {
            st.bias = st.bias.wrapping_sub(s);
            st.unbalanced = st.unbalanced.wrapping_add(s.unsigned_abs());
            return 0;
        }
        usize::try_from(s).unwrap_or(usize::MAX)
    }

    /// With the lock held: close if open (set the flag, barrier).
    fn close_locked(&self, st: &mut Central) {
        if st.phase != Phase::Open {
            return;
        }
        // Relaxed: the barrier orders it (its contract, (B2)).
        self.closing.store(true, Ordering::Relaxed);
        self.platform.barrier(&self.slots);
        st.phase = Phase::Closed;
        st.epoch = st.epoch.wrapping_add(1);
    }

    /// Close the gate without waiting: from return on, every entry fails.
    /// Idempotent.
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
    /// error says how many calls may still be inside; calling this again
    /// continues the drain.
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
        if mutant::<P>(Mutant::SumOutsideLock) {
            return self.wait_drained_sum_outside_lock(epoch, deadline);
        }
        let p = &self.platform;
        let mut left = 0usize;
        let mut reopened = false;
        let mut woken = false;
        let outcome = p.wait_until(&self.state, deadline, &mut |st| {
            if st.epoch != epoch || st.phase == Phase::Open {
                // Drained and reopened (and maybe closed again) by someone
                // else meanwhile.
                reopened = true;
                return true;
            }
            if st.phase == Phase::Drained {
                // Someone drained it in this epoch.  (Do not sum: an entry
                // that lost the race may hold a +1 it is about to undo.)
                return true;
            }
            if mutant::<P>(Mutant::NoResum) && woken {
                st.phase = Phase::Drained;
                return true;
            }
            woken = true;
            left = self.sum_closed(st);
            if left == 0 {
                st.phase = Phase::Drained;
                true
            } else {
                false
            }
        });
        Self::outcome(outcome, reopened, left)
    }

    fn outcome(outcome: WaitOutcome, reopened: bool, left: usize) -> Result<(), DrainError> {
        match outcome {
            WaitOutcome::Done if reopened => Err(DrainError::Reopened),
            WaitOutcome::Done => Ok(()),
            WaitOutcome::TimedOut => Err(DrainError::TimedOut { inside: left }),
            WaitOutcome::Interrupted | WaitOutcome::Restart => {
                Err(DrainError::Interrupted { inside: left })
            }
        }
    }

    /// loom mutant: the drain reads the slots before taking the lock.
    #[cold]
    fn wait_drained_sum_outside_lock(
        &self,
        epoch: u64,
        deadline: Option<u64>,
    ) -> Result<(), DrainError> {
        let p = &self.platform;
        loop {
            let mut raw: i64 = 0;
            p.for_each_slot(&self.slots, &mut |c, _| raw = raw.wrapping_add(c));
            let mut left = 0usize;
            let mut reopened = false;
            let mut drained = false;
            let mut first = true;
            let outcome = p.wait_until(&self.state, deadline, &mut |st| {
                if st.epoch != epoch || st.phase == Phase::Open {
                    reopened = true;
                    return true;
                }
                if st.phase == Phase::Drained {
                    drained = true;
                    return true;
                }
                if !first {
                    return true;
                }
                first = false;
                left = usize::try_from(raw.wrapping_add(st.bias)).unwrap_or(0);
                if left == 0 {
                    st.phase = Phase::Drained;
                    drained = true;
                }
                drained
            });
            if drained || reopened || outcome != WaitOutcome::Done {
                return Self::outcome(outcome, reopened, left);
            }
        }
    }

    /// Open the gate again.  Allowed only once a drain has seen the sum at
    /// zero ([`Phase::Drained`]).  Wakes every drainer still asleep (they
    /// return `Reopened`: nobody else would wake them).
    pub fn reopen(&self) -> Result<(), ReopenError> {
        let p = &self.platform;
        p.with_lock(&self.state, |st| match st.phase {
            Phase::Open => Err(ReopenError::NotClosed),
            Phase::Closed => Err(ReopenError::NotDrained {
                inside: self.sum_closed(st),
            }),
            Phase::Drained => {
                st.phase = Phase::Open;
                // Release: an entry that reads `false` (acquire) comes after
                // whatever the owner did while the gate was drained.
                self.closing
                    .store(false, Self::closing_order(Ordering::Release));
                if !mutant::<P>(Mutant::ReopenNoWake) {
                    p.notify_all(&self.state);
                }
                Ok(())
            }
        })
    }

    /// Calls inside now: while closed, the sum under the lock (an upper
    /// bound: it may count an entry about to undo its add); while open, a
    /// best-effort sum of the slots.
    pub fn inside(&self) -> usize {
        self.platform.with_lock(&self.state, |st| {
            if st.phase != Phase::Open {
                return self.sum_closed(st);
            }
            usize::try_from(self.sum(st)).unwrap_or(0)
        })
    }

    /// Calls admitted so far (sum of the per-slot `enters`; exact when
    /// nothing is entering — an entry refused by its re-check counts until
    /// its undo — and wraps at 2^64).
    pub fn calls(&self) -> u64 {
        let mut sum: u64 = 0;
        self.platform
            .for_each_slot(&self.slots, &mut |_, e| sum = sum.wrapping_add(e));
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
        self.platform.with_lock(&self.state, |st| {
            if st.phase != Phase::Open {
                // A stray leave shows as a negative sum only once summed.
                self.sum_closed(st);
            }
            st.unbalanced
        })
    }
}

impl<P: Platform> core::fmt::Debug for Gate<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gate")
            .field("closing", &self.closing.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
