//! A mutex whose waiters sleep through devref, so that destroying the
//! device wakes them (ENXIO) instead of leaving them asleep in the driver.
//!
//! For a driver's slow paths (device creation and removal from a control
//! node): holding it across a sleep (M_WAITOK, destroy) is allowed, which
//! a spin lock would turn into spinning.  The lock itself is a flag taken
//! with try-lock only, so nobody ever spins on it; a waiter counts itself,
//! takes a sleep ticket and tries once more before it sleeps, and the
//! holder wakes the device's sleepers on release only when one counted
//! itself (a Dekker pair of SeqCst accesses: either the waiter sees the
//! lock free, or the holder sees the waiter).

use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{fence, AtomicU32, Ordering::SeqCst};

use crate::client::DeviceRef;
use crate::error::Result;

pub struct SleepLock<T> {
    inner: spin::Mutex<T>,
    waiters: AtomicU32,
}

impl<T> SleepLock<T> {
    pub const fn new(v: T) -> Self {
        SleepLock {
            inner: spin::Mutex::new(v),
            waiters: AtomicU32::new(0),
        }
    }

    /// Take the lock, sleeping on `dev` while another thread holds it.
    /// Fails as [`DeviceRef::sleep`] does: `NoDevice` when the device
    /// closes, `Interrupted`/`Restart` on a signal.  Call from inside an
    /// op of `dev` (it sleeps).
    pub fn lock<'a>(&'a self, dev: &'a DeviceRef<'a>) -> Result<SleepLockGuard<'a, T>> {
        loop {
            if let Some(g) = self.inner.try_lock() {
                return Ok(SleepLockGuard {
                    g: ManuallyDrop::new(g),
                    lock: self,
                    dev,
                });
            }
            self.waiters.fetch_add(1, SeqCst);
            let ticket = dev.sleep_ticket();
            // Pairs with the fence on release.
            fence(SeqCst);
            if let Some(g) = self.inner.try_lock() {
                self.waiters.fetch_sub(1, SeqCst);
                return Ok(SleepLockGuard {
                    g: ManuallyDrop::new(g),
                    lock: self,
                    dev,
                });
            }
            let r = dev.sleep(ticket, None);
            self.waiters.fetch_sub(1, SeqCst);
            r?;
        }
    }
}

/// The held lock; dropping it releases the lock and wakes a waiter.
pub struct SleepLockGuard<'a, T> {
    g: ManuallyDrop<spin::MutexGuard<'a, T>>,
    lock: &'a SleepLock<T>,
    dev: &'a DeviceRef<'a>,
}

impl<T> Deref for SleepLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.g
    }
}

impl<T> DerefMut for SleepLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.g
    }
}

impl<T> Drop for SleepLockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; not used after.
        unsafe { ManuallyDrop::drop(&mut self.g) };
        fence(SeqCst);
        if self.lock.waiters.load(SeqCst) > 0 {
            self.dev.wakeup();
        }
    }
}
