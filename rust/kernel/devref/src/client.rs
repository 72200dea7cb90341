//! Registration with devref and device creation.

use alloc::boxed::Box;
use core::ffi::{c_void, CStr};
use core::ptr;

use devref_sys::kpi;

use crate::error::{check, Error, Result};
use crate::ops::Ops;
use crate::Device;

const EINPROGRESS: i32 = 36;

/// How devref protects a device's entry points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Eternal node, per-CPU gate: no lock or shared atomic per call.
    Pcpu,
    /// Ordinary cdev, devfs's si_threadcount (the baseline).
    Counted,
}

/// Owner and permissions of a device node.
#[derive(Clone, Copy, Debug)]
pub struct Perms {
    pub uid: u32,
    pub gid: u32,
    pub mode: i32,
}

impl Perms {
    /// root:wheel 0600.
    pub const ROOT_ONLY: Perms = Perms {
        uid: 0,
        gid: 0,
        mode: 0o600,
    };
}

/// A device created by this client: notify pollers, sleep on it.  It
/// borrows what keeps the device alive (the [`Client`] that created it, or
/// the call an op is running in), so it cannot be used after the client's
/// unregister.
pub struct DeviceRef<'a> {
    pub(crate) raw: *mut kpi::devref_dev,
    _alive: core::marker::PhantomData<&'a ()>,
}

// SAFETY: devref's device functions may be called from any thread.
unsafe impl Send for DeviceRef<'_> {}
// SAFETY: as above; DeviceRef has no interior state of its own.
unsafe impl Sync for DeviceRef<'_> {}

impl DeviceRef<'_> {
    pub(crate) fn new(raw: *mut kpi::devref_dev) -> Self {
        DeviceRef {
            raw,
            _alive: core::marker::PhantomData,
        }
    }

    /// Tell devref that readiness changed: wakes poll/select/kqueue waiters.
    pub fn notify(&self) {
        if !self.raw.is_null() {
            // SAFETY: raw is a device of a registered client (see Client).
            unsafe { kpi::devref_notify(self.raw) }
        }
    }

    /// Take a sleep ticket *before* checking the condition to wait for.
    pub fn sleep_ticket(&self) -> SleepTicket {
        if self.raw.is_null() {
            return SleepTicket(0);
        }
        // SAFETY: as in notify.
        SleepTicket(unsafe { kpi::devref_sleep_prepare(self.raw) })
    }

    /// Sleep until a [`DeviceRef::wakeup`] after `ticket` was taken (`Ok`),
    /// the timeout ([`Error::Again`]; `None`: no timeout), a signal
    /// ([`Error::Interrupted`]) or the device closing ([`Error::NoDevice`]:
    /// return to the caller at once).
    pub fn sleep(&self, ticket: SleepTicket, timeout_ms: Option<u32>) -> Result<()> {
        if self.raw.is_null() {
            return Err(Error::NoDevice);
        }
        let ms = timeout_ms.map_or(-1, |m| i32::try_from(m).unwrap_or(i32::MAX));
        // SAFETY: as in notify.
        check(unsafe { kpi::devref_sleep(self.raw, ticket.0, ms) })
    }

    /// Wake every sleeper of the device.
    pub fn wakeup(&self) {
        if !self.raw.is_null() {
            // SAFETY: as in notify.
            unsafe { kpi::devref_wakeup(self.raw) }
        }
    }
}

/// See [`DeviceRef::sleep_ticket`].
#[derive(Clone, Copy, Debug)]
pub struct SleepTicket(core::ffi::c_ulong);

/// What devref holds as a device's softc: the driver's device and the
/// devref handle of the node it serves (set once create returns; an op
/// that runs earlier sees a null one and cannot sleep).
pub(crate) struct Softc<D> {
    pub(crate) dev: core::sync::atomic::AtomicPtr<kpi::devref_dev>,
    pub(crate) device: D,
    /// The client's list of its devices (under [`Client::devices`]' lock).
    next: *mut Softc<D>,
}

impl<D> Softc<D> {
    /// For an op: valid for the call (the caller's borrow of the softc).
    pub(crate) fn dev_ref(&self) -> DeviceRef<'_> {
        DeviceRef::new(self.dev.load(core::sync::atomic::Ordering::Acquire))
    }
}

/// A registered devref client whose devices are all of type `D`.
///
/// `create` and `destroy` take `&self`: a driver may make and remove
/// devices from inside an op of another of its devices (devring's control
/// node) while its module events hold the client too.
pub struct Client<D: Device> {
    raw: *mut kpi::devref_client,
    /// The softcs of the devices alive, a list through `Softc::next`.  A
    /// spin lock held only to link or unlink one (no allocation, no
    /// sleep under it).
    devices: spin::Mutex<*mut Softc<D>>,
}

// SAFETY: the raw handles may be used from any thread; the list is under
// its lock.
unsafe impl<D: Device> Send for Client<D> {}
// SAFETY: as above: every method takes the lock for the list, and devref's
// functions may be called concurrently.
unsafe impl<D: Device> Sync for Client<D> {}

/// A device made by [`Client::create`], to destroy it with
/// [`Client::destroy`] (or let it go with the client's unregister).
pub struct Created<D: Device> {
    softc: *mut Softc<D>,
}

// SAFETY: a token for a softc the client owns; no access through it.
unsafe impl<D: Device> Send for Created<D> {}
// SAFETY: as above.
unsafe impl<D: Device> Sync for Created<D> {}

impl<D: Device> Client<D> {
    /// Register with devref.
    pub fn register() -> Result<Self> {
        // A promoted constant: the annotation makes the compiler prove it
        // is 'static (devref keeps the pointer until unregister).
        let table: &'static kpi::devref_ops = &Ops::<D>::TABLE;
        let mut raw = ptr::null_mut();
        // SAFETY: the table is 'static; raw is a valid out pointer.
        check(unsafe { kpi::devref_client_register(table, &mut raw) })?;
        Ok(Client {
            raw,
            devices: spin::Mutex::new(ptr::null_mut()),
        })
    }

    /// Create a device node /dev/`name` served by `dev`.
    pub fn create(&self, name: &CStr, mode: Mode, perms: Perms, dev: D) -> Result<Created<D>> {
        let softc = Box::into_raw(Box::new(Softc {
            dev: core::sync::atomic::AtomicPtr::new(ptr::null_mut()),
            device: dev,
            next: ptr::null_mut(),
        }));
        let mode = match mode {
            Mode::Pcpu => kpi::DEVREF_MODE_PCPU,
            Mode::Counted => kpi::DEVREF_MODE_COUNTED,
        };
        let mut raw = ptr::null_mut();
        // SAFETY: self.raw is registered; name is NUL-terminated; softc
        // stays alive until unregister succeeds.
        let e = unsafe {
            kpi::devref_dev_create(
                self.raw,
                name.as_ptr(),
                mode as i32,
                perms.uid,
                perms.gid,
                perms.mode,
                softc.cast::<c_void>(),
                &mut raw,
            )
        };
        if let Err(err) = check(e) {
            // SAFETY: devref refused the device and kept no reference.
            drop(unsafe { Box::from_raw(softc) });
            return Err(err);
        }
        // SAFETY: softc is ours until unregister.
        unsafe {
            (*softc)
                .dev
                .store(raw, core::sync::atomic::Ordering::Release)
        };
        let mut head = self.devices.lock();
        // SAFETY: softc is ours and not on the list yet.
        unsafe { (*softc).next = *head };
        *head = softc;
        Ok(Created { softc })
    }

    /// Destroy a device made by this client (`timeout_ms` < 0: no
    /// timeout, still interruptible): 0 from devref_dev_destroy and its
    /// softc is freed.  On error the device stays closed and is given
    /// back, to try again (or to go with the unregister).  Not from inside
    /// an op of the same device (devref would finish it later, with the
    /// softc still in use: `Busy` here, nothing done).
    pub fn destroy(
        &self,
        dev: Created<D>,
        timeout_ms: i32,
    ) -> core::result::Result<(), (Created<D>, Error)> {
        // SAFETY: the softc is alive until this succeeds.
        let raw = unsafe { &*dev.softc }
            .dev
            .load(core::sync::atomic::Ordering::Acquire);
        // SAFETY: raw is a device of this registered client; its destroy
        // has not returned 0 or EINPROGRESS yet (we own its token).
        let e = unsafe { kpi::devref_dev_destroy(raw, timeout_ms) };
        match check(e) {
            Ok(()) => {}
            // From inside its own op: destroyed later, on a taskqueue,
            // with ops possibly still running.  Leave the softc to the
            // unregister (it is still on the list).
            Err(Error::Errno(EINPROGRESS)) => return Ok(()),
            Err(err) => return Err((dev, err)),
        }
        {
            let mut head = self.devices.lock();
            let mut at: *mut *mut Softc<D> = &mut *head;
            // SAFETY: the list's nodes are live softcs, linked under this
            // lock.
            unsafe {
                while !(*at).is_null() {
                    if *at == dev.softc {
                        *at = (*dev.softc).next;
                        break;
                    }
                    at = &mut (**at).next;
                }
            }
        }
        // SAFETY: devref calls no op of the device any more (destroy
        // returned 0), and it is off the list.
        drop(unsafe { Box::from_raw(dev.softc) });
        Ok(())
    }

    /// A handle on a created device, to notify or wake it from outside
    /// its ops (for as long as the token is borrowed).
    pub fn device<'a>(&'a self, dev: &'a Created<D>) -> DeviceRef<'a> {
        // SAFETY: the softc lives until its destroy or the unregister,
        // which need the token or the client by value.
        DeviceRef::new(
            unsafe { &*dev.softc }
                .dev
                .load(core::sync::atomic::Ordering::Acquire),
        )
    }

    /// Destroy every device and unregister (`timeout_ms` < 0: no timeout,
    /// still interruptible).  On error the client stays registered (give
    /// it back to the caller, whose MOD_UNLOAD must then answer EBUSY); on
    /// success no op runs any more.
    pub fn unregister(self, timeout_ms: i32) -> core::result::Result<(), (Self, Error)> {
        // SAFETY: self.raw is registered.
        let e = unsafe { kpi::devref_client_unregister(self.raw, timeout_ms) };
        if let Err(err) = check(e) {
            return Err((self, err));
        }
        let mut p = *self.devices.lock();
        while !p.is_null() {
            // SAFETY: devref guarantees no op runs after a successful
            // unregister, so nothing references the softc any more.
            let s = unsafe { Box::from_raw(p) };
            p = s.next;
        }
        Ok(())
    }
}
