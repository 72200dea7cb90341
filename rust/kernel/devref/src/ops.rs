//! The C ops table devref calls, generated for each [`Device`] type.

use alloc::boxed::Box;
use core::ffi::{c_char, c_int, c_ulong, c_void};
use core::marker::PhantomData;

use devref_sys::kpi::{devref_ops, thread, uio, DEVREF_KPI_VERSION};

use crate::client::{DeviceRef, Softc};
use crate::ioctl::{ioc_len, IoctlArg};
use crate::uio::Uio;
use crate::Device;

pub(crate) struct Ops<D>(PhantomData<D>);

impl<D: Device> Ops<D> {
    pub(crate) const TABLE: devref_ops = devref_ops {
        dro_version: DEVREF_KPI_VERSION,
        dro_size: core::mem::size_of::<devref_ops>() as u32,
        dro_name: D::NAME.as_ptr(),
        dro_open: Some(open::<D>),
        dro_close: Some(close::<D>),
        dro_read: Some(read::<D>),
        dro_write: Some(write::<D>),
        dro_ioctl: Some(ioctl::<D>),
        dro_poll: Some(poll::<D>),
        dro_purge: Some(purge::<D>),
    };
}

/// # Safety
/// `softc` is the `Box<D>` given to devref_dev_create, alive while devref
/// may call an op (it is freed only after unregister returned 0).
unsafe fn device<'a, D: Device>(softc: *mut c_void) -> &'a Softc<D> {
    // SAFETY: see above.
    unsafe { &*softc.cast::<Softc<D>>() }
}

/// # Safety
/// `priv_` is what `open` stored, alive until `close` (devref calls no op
/// with a handle after its close).
unsafe fn open_state<'a, D: Device>(priv_: *mut c_void) -> &'a D::Open {
    // SAFETY: see above.
    unsafe { &*priv_.cast::<D::Open>() }
}

unsafe extern "C" fn open<D: Device>(
    softc: *mut c_void,
    oflags: c_int,
    _td: *mut thread,
    privp: *mut *mut c_void,
) -> c_int {
    // SAFETY: devref passes the softc of a live device.
    let dev = unsafe { device::<D>(softc) };
    match dev.device.open(oflags) {
        Ok(state) => {
            // SAFETY: devref passes a valid out pointer.
            unsafe { *privp = Box::into_raw(Box::new(state)).cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn close<D: Device>(_softc: *mut c_void, priv_: *mut c_void) {
    if !priv_.is_null() {
        // SAFETY: priv_ came from Box::into_raw in `open`; devref calls
        // close exactly once per successful open.
        drop(unsafe { Box::from_raw(priv_.cast::<D::Open>()) });
    }
}

unsafe extern "C" fn ioctl<D: Device>(
    softc: *mut c_void,
    priv_: *mut c_void,
    cmd: c_ulong,
    data: *mut c_char,
    _fflag: c_int,
    _td: *mut thread,
) -> c_int {
    // SAFETY: live device and open state (see `device`, `open_state`).
    let (dev, st) = unsafe { (device::<D>(softc), open_state::<D>(priv_)) };
    let len = ioc_len(cmd);
    let mut empty = [0u8; 0];
    let buf: &mut [u8] = if len == 0 || data.is_null() {
        &mut empty
    } else {
        // SAFETY: devfs copied in IOCPARM_LEN(cmd) bytes at `data` (its
        // kernel buffer), valid for the whole call.
        unsafe { core::slice::from_raw_parts_mut(data.cast::<u8>(), len) }
    };
    match dev
        .device
        .ioctl(&dev.dev_ref(), st, &mut IoctlArg::new(cmd, buf))
    {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn poll<D: Device>(
    softc: *mut c_void,
    priv_: *mut c_void,
    events: c_int,
) -> c_int {
    // SAFETY: live device and open state (see `device`, `open_state`).
    let (dev, st) = unsafe { (device::<D>(softc), open_state::<D>(priv_)) };
    dev.device.poll(&dev.dev_ref(), st, events)
}

unsafe extern "C" fn purge<D: Device>(softc: *mut c_void) {
    // SAFETY: live device (see `device`).
    unsafe { device::<D>(softc) }.device.purge()
}

/// A read or write op of `D`.
type RwOp<D> = fn(&D, &DeviceRef<'_>, &<D as Device>::Open, &mut Uio<'_>, i32) -> crate::Result<()>;

/// # Safety
/// As for the other ops: devref passes a live device, its open state and
/// the call's uio.
unsafe fn rw<D: Device>(
    softc: *mut c_void,
    priv_: *mut c_void,
    uio: *mut uio,
    ioflag: c_int,
    op: RwOp<D>,
) -> c_int {
    // SAFETY: live device and open state (see `device`, `open_state`).
    let (dev, st) = unsafe { (device::<D>(softc), open_state::<D>(priv_)) };
    match op(&dev.device, &dev.dev_ref(), st, &mut Uio::new(uio), ioflag) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn read<D: Device>(
    softc: *mut c_void,
    priv_: *mut c_void,
    uio: *mut uio,
    ioflag: c_int,
) -> c_int {
    // SAFETY: devref's arguments, passed on.
    unsafe { rw::<D>(softc, priv_, uio, ioflag, D::read) }
}

unsafe extern "C" fn write<D: Device>(
    softc: *mut c_void,
    priv_: *mut c_void,
    uio: *mut uio,
    ioflag: c_int,
) -> c_int {
    // SAFETY: devref's arguments, passed on.
    unsafe { rw::<D>(softc, priv_, uio, ioflag, D::write) }
}
