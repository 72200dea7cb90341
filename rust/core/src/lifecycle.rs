//! A device's life on top of its [`Gate`]: Alive → Closing → Drained → Dead.
//!
//! ```text
//!          destroy()             drain saw 0          finish(teardown)
//!  Alive ─────────────▶ Closing ─────────────▶ Drained ─────────────▶ Dead
//!                        │   ▲
//!                        └───┘ destroy() timed out / interrupted:
//!                              stays Closing; a later destroy() goes on
//! ```
//!
//! `destroy` closes the gate (entries fail from then on), runs the caller's
//! purge hook (wake the driver's sleepers so they return ENXIO), and waits
//! for the calls inside to leave, woken by the last one.  `finish` runs the
//! caller's teardown once the device is Drained and only then marks it
//! Dead.  `revive` brings a Dead device back (Dead → Alive) for a node that
//! outlives its devices (devref's eternal nodes): its `attach` runs while
//! the gate is drained, so nothing inside can see the change half done.
//! The dispatch layer (`dev`) builds on this; it is deliberately small.

use crate::gate::{DrainError, Gate, GateGuard, Gone, Phase};
use crate::platform::{Platform, WaitOutcome};

/// Where a device is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevState {
    /// Calls go in.
    Alive,
    /// The gate is closed (calls fail); calls that got in may still be
    /// inside.
    Closing,
    /// Closed and no call inside: safe to tear down.
    Drained,
    /// Torn down.
    Dead,
}

/// Why [`Lifecycle::destroy`] or [`Lifecycle::finish`] refused or stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleError {
    /// The drain gave up (timeout, signal); the state stays Closing.
    Drain(DrainError),
    /// The operation is not allowed in this state (e.g. `finish` before
    /// Drained, `destroy` once Dead).
    BadState(DevState),
    /// Another thread is already running `finish`.
    Busy,
    /// The life the call was about is over: the device was torn down and
    /// revived since (see [`Lifecycle::generation`]).
    Stale,
}

/// What [`Lifecycle::close_gen`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closing {
    /// This call closed it: Alive → Closing.
    Now,
    /// It was already closing (another destroy, or a timed-out one).
    Already,
    /// It is drained already: nothing to close or wait for.
    Drained,
}

/// A snapshot of a device's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LifecycleStats {
    /// Calls that entered so far.
    pub calls: u64,
    /// Calls inside now (exact once Closing).
    pub inside: usize,
    /// Completed drains (Closing → Drained transitions).
    pub drains: u64,
    /// Drain attempts that timed out or were interrupted.
    pub failed_drains: u64,
    /// How long the last completed drain took, from the first `destroy` of
    /// that drain (the close) to Drained, in ns; 0 if none completed yet.
    pub last_drain_ns: u64,
}

struct Inner {
    state: DevState,
    /// Bumped by every revive: names one life of the device.
    generation: u64,
    /// When this drain's first destroy closed the gate.
    close_ns: u64,
    tearing_down: bool,
    drains: u64,
    failed_drains: u64,
    last_drain_ns: u64,
}

/// A device's gate and lifecycle state.
pub struct Lifecycle<P: Platform> {
    gate: Gate<P>,
    inner: P::Lock<Inner>,
}

impl<P: Platform> Lifecycle<P> {
    /// A new, Alive device.  `None` when memory is short.
    pub fn new(platform: P) -> Option<Self> {
        let inner = platform.lock_new(
            "devref lifecycle",
            Inner {
                state: DevState::Alive,
                generation: 0,
                close_ns: 0,
                tearing_down: false,
                drains: 0,
                failed_drains: 0,
                last_drain_ns: 0,
            },
        )?;
        let gate = Gate::new(platform)?;
        Some(Lifecycle { gate, inner })
    }

    /// A Dead device whose gate is drained: [`Lifecycle::revive`] brings it
    /// to life.  `None` when memory is short.
    pub fn new_dead(platform: P) -> Option<Self> {
        let l = Self::new(platform)?;
        l.gate.close();
        l.gate.close_and_drain(Some(0)).ok()?;
        l.gate
            .platform()
            .with_lock(&l.inner, |i| i.state = DevState::Dead);
        Some(l)
    }

    /// Dead → Alive.  `attach` runs with the gate drained (no call inside,
    /// none can enter), then the gate reopens; an entry that gets in sees
    /// everything `attach` wrote (the reopen is a release store, entry an
    /// acquire load).  Refused unless Dead.  Returns the new generation.
    pub fn revive(&self, attach: impl FnOnce()) -> Result<u64, LifecycleError> {
        let p = self.gate.platform();
        p.with_lock(&self.inner, |i| {
            if i.tearing_down {
                return Err(LifecycleError::Busy);
            }
            if i.state != DevState::Dead || self.gate.phase() != Phase::Drained {
                return Err(LifecycleError::BadState(i.state));
            }
            attach();
            self.gate
                .reopen()
                .map_err(|_| LifecycleError::BadState(DevState::Dead))?;
            i.state = DevState::Alive;
            i.generation = i.generation.wrapping_add(1);
            Ok(i.generation)
        })
    }

    /// The current life's generation: pass it to the `_gen` operations so
    /// that a slow caller cannot act on a later life of the device.
    pub fn generation(&self) -> u64 {
        self.gate
            .platform()
            .with_lock(&self.inner, |i| i.generation)
    }

    /// The first half of [`Lifecycle::destroy_gen`]: Alive → Closing and
    /// close the gate, atomically with the state check (under the lock: a
    /// revive cannot slip in between and have its fresh gate closed).
    /// Does not wait and runs nothing of the caller's.
    pub fn close_gen(&self, generation: u64) -> Result<Closing, LifecycleError> {
        self.close_gen_with(generation, |_| ())
    }

    /// [`Lifecycle::close_gen`], running `seen` under the same lock once
    /// the outcome is known (for the owner to read the state of exactly
    /// the life it closed: no revive can come between).  `seen` must not
    /// sleep.
    pub fn close_gen_with(
        &self,
        generation: u64,
        seen: impl FnOnce(Closing),
    ) -> Result<Closing, LifecycleError> {
        let p = self.gate.platform();
        let now = p.now_ns();
        p.with_lock(&self.inner, |i| {
            if i.generation != generation {
                return Err(LifecycleError::Stale);
            }
            let c = match i.state {
                DevState::Alive => {
                    i.state = DevState::Closing;
                    i.close_ns = now;
                    self.gate.close();
                    Closing::Now
                }
                DevState::Closing => Closing::Already,
                DevState::Drained => Closing::Drained,
                DevState::Dead => return Err(LifecycleError::BadState(DevState::Dead)),
            };
            seen(c);
            Ok(c)
        })
    }

    /// Wait (interruptibly, until `deadline_ns`) while another thread runs
    /// [`Lifecycle::finish`]; then the state.
    pub fn wait_finished(&self, deadline_ns: Option<u64>) -> Result<DevState, LifecycleError> {
        let p = self.gate.platform();
        let mut state = DevState::Alive;
        match p.wait_until(&self.inner, deadline_ns, &mut |i| {
            state = i.state;
            !i.tearing_down
        }) {
            WaitOutcome::Done => Ok(state),
            WaitOutcome::TimedOut => Err(LifecycleError::Drain(DrainError::TimedOut { inside: 0 })),
            WaitOutcome::Interrupted | WaitOutcome::Restart => {
                Err(LifecycleError::Drain(DrainError::Interrupted { inside: 0 }))
            }
        }
    }

    /// The device's gate.
    pub fn gate(&self) -> &Gate<P> {
        &self.gate
    }

    /// Enter a call (see [`Gate::enter`]).
    #[inline]
    pub fn enter(&self) -> Result<GateGuard<'_, P>, Gone> {
        self.gate.enter()
    }

    /// The current state.
    pub fn state(&self) -> DevState {
        self.gate.platform().with_lock(&self.inner, |i| i.state)
    }

    /// Close the device and wait for the calls inside to leave.
    ///
    /// Alive → Closing (the gate closes: new calls fail), then `purge` runs
    /// (once per call of `destroy`, after the close and before the wait:
    /// it must wake the driver's sleepers and make them, and any later
    /// sleeper, return at once, like a `d_purge`), then the wait: `Ok` and
    /// Drained when no call is inside; on timeout or signal the state stays
    /// Closing and the error carries the count left inside; calling
    /// `destroy` again continues.  `Ok` at once when already Drained.
    ///
    /// Never call it from inside a call on the same device.
    pub fn destroy(
        &self,
        timeout_ns: Option<u64>,
        purge: &mut dyn FnMut(),
    ) -> Result<(), LifecycleError> {
        self.destroy_gen(self.generation(), timeout_ns, purge)
    }

    /// [`Lifecycle::destroy`] of the life `generation`: `Stale` if that life
    /// is over (someone else destroyed it and the device was revived).
    pub fn destroy_gen(
        &self,
        generation: u64,
        timeout_ns: Option<u64>,
        purge: &mut dyn FnMut(),
    ) -> Result<(), LifecycleError> {
        let p = self.gate.platform();
        if self.close_gen(generation)? == Closing::Drained {
            return Ok(());
        }
        purge();
        // The gate was closed under the lock; only wait here.  A gate found
        // open again was drained, finished and revived by someone else.
        let r = self.gate.drain(timeout_ns);
        let end = p.now_ns();
        p.with_lock(&self.inner, |i| {
            if i.generation != generation {
                return Err(LifecycleError::Stale);
            }
            match r {
                // Reopened with the same generation: another destroyer
                // drained it first (a revive would have changed it).
                Ok(()) | Err(DrainError::Reopened) => {
                    if i.state == DevState::Closing {
                        i.state = DevState::Drained;
                        i.drains = i.drains.wrapping_add(1);
                        i.last_drain_ns = end.saturating_sub(i.close_ns);
                    }
                    Ok(())
                }
                Err(e) => {
                    i.failed_drains = i.failed_drains.wrapping_add(1);
                    Err(LifecycleError::Drain(e))
                }
            }
        })
    }

    /// Drained → Dead: run `teardown` (outside any lock: it may sleep),
    /// then mark the device Dead.  Refused unless Drained.
    pub fn finish(&self, teardown: impl FnOnce()) -> Result<(), LifecycleError> {
        self.finish_gen(self.generation(), teardown)
    }

    /// [`Lifecycle::finish`] of the life `generation` (`Stale` if over).
    pub fn finish_gen(
        &self,
        generation: u64,
        teardown: impl FnOnce(),
    ) -> Result<(), LifecycleError> {
        let p = self.gate.platform();
        p.with_lock(&self.inner, |i| {
            if i.generation != generation {
                return Err(LifecycleError::Stale);
            }
            if i.tearing_down {
                return Err(LifecycleError::Busy);
            }
            if i.state != DevState::Drained {
                return Err(LifecycleError::BadState(i.state));
            }
            i.tearing_down = true;
            Ok(())
        })?;
        teardown();
        p.with_lock(&self.inner, |i| {
            i.state = DevState::Dead;
            i.tearing_down = false;
            p.notify_all(&self.inner);
        });
        Ok(())
    }

    /// The device's counters.
    pub fn stats(&self) -> LifecycleStats {
        let p = self.gate.platform();
        let (drains, failed_drains, last_drain_ns) = p.with_lock(&self.inner, |i| {
            (i.drains, i.failed_drains, i.last_drain_ns)
        });
        LifecycleStats {
            calls: self.gate.calls(),
            inside: self.gate.inside(),
            drains,
            failed_drains,
            last_drain_ns,
        }
    }
}
