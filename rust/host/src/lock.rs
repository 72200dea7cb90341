//! The host's lock (a mutex and a condition variable) and simulated
//! signals, so that interrupted drains (PCATCH) are testable.

use std::cell::UnsafeCell;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use devref_core::platform::WaitOutcome;

use crate::slots::lock_ignoring_poison;

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

/// Simulated signals for the waits of one platform value (and its clones).
pub(crate) struct Signals {
    st: Mutex<SigState>,
}

impl Signals {
    pub(crate) fn new() -> Self {
        Signals {
            st: Mutex::new(SigState {
                pending: None,
                next_id: 0,
                waiters: Vec::new(),
            }),
        }
    }

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

    /// Make `why` pending and wake every registered waiter.
    pub(crate) fn signal(&self, why: WaitOutcome) {
        let waiters: Vec<Arc<LockSync>> = {
            let mut st = lock_ignoring_poison(&self.st);
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

    /// Drop a pending signal.
    pub(crate) fn clear(&self) {
        lock_ignoring_poison(&self.st).pending = None;
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

/// A mutex holding a `T`, with a condition variable.  The mutex itself
/// guards `()` so that a simulated signal can take it (to wake a waiter
/// without losing the wakeup) without knowing `T`.
pub struct HostLock<T> {
    sync: Arc<LockSync>,
    val: UnsafeCell<T>,
}

// SAFETY: `val` is only accessed with `sync.m` held (with, wait_until),
// exactly like `std::sync::Mutex<T>`, which is Sync when T: Send.
unsafe impl<T: Send> Sync for HostLock<T> {}

impl<T> HostLock<T> {
    pub(crate) fn new(v: T) -> Self {
        HostLock {
            sync: Arc::new(LockSync {
                m: Mutex::new(()),
                cv: Condvar::new(),
            }),
            val: UnsafeCell::new(v),
        }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let _g = lock_ignoring_poison(&self.sync.m);
        // SAFETY: we hold sync.m, which guards every access to val, and
        // the reference does not outlive the guard (f returns first).
        f(unsafe { &mut *self.val.get() })
    }

    /// `Platform::wait_until`, with `now` the platform's clock.
    pub(crate) fn wait_until(
        &self,
        sig: &Signals,
        deadline_ns: Option<u64>,
        now: impl Fn() -> u64,
        done: &mut dyn FnMut(&mut T) -> bool,
    ) -> WaitOutcome {
        // Register before checking `pending` (under the mutex, below), so an
        // interrupt either is seen by that check or finds us registered.
        let _reg = Registration {
            sig,
            id: sig.register(&self.sync),
        };
        let mut g = lock_ignoring_poison(&self.sync.m);
        loop {
            // SAFETY: we hold sync.m (g), which guards val; the reference
            // ends before g is given to the condvar.
            if done(unsafe { &mut *self.val.get() }) {
                return WaitOutcome::Done;
            }
            if let Some(why) = sig.take_pending() {
                return why;
            }
            match deadline_ns {
                None => g = self.sync.cv.wait(g).unwrap_or_else(PoisonError::into_inner),
                Some(d) => {
                    let t = now();
                    if t >= d {
                        return WaitOutcome::TimedOut;
                    }
                    g = match self.sync.cv.wait_timeout(g, Duration::from_nanos(d - t)) {
                        Ok((g, _)) => g,
                        Err(e) => e.into_inner().0,
                    };
                }
            }
        }
    }

    pub(crate) fn notify_all(&self) {
        self.sync.cv.notify_all();
    }
}
