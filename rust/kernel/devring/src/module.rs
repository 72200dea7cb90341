//! Module events: register with devref, create the devices, and on unload
//! give devref a bounded time to drain them.

#![allow(unsafe_code)] // the one place devring touches raw module state

use core::cell::UnsafeCell;

use devref::{Client, Mode, Perms};

use crate::ring::Ring;

/// How long MOD_UNLOAD waits for calls running in devring's code.
const UNLOAD_TIMEOUT_MS: i32 = 5000;

/// The registered client.  Touched only from module events, which the
/// kernel serialises (Giant is held across them).
struct ModuleState(UnsafeCell<Option<Client<Ring>>>);

// SAFETY: module events are serialised by the kernel (see above).
unsafe impl Sync for ModuleState {}

static STATE: ModuleState = ModuleState(UnsafeCell::new(None));

fn state() -> &'static mut Option<Client<Ring>> {
    // SAFETY: only module events call this, one at a time (Giant).
    unsafe { &mut *STATE.0.get() }
}

#[no_mangle]
pub extern "C" fn devring_rs_load() -> i32 {
    let mut client = match Client::<Ring>::register() {
        Ok(c) => c,
        Err(e) => return e.to_errno(),
    };
    let perms = Perms {
        uid: 0,
        gid: 0,
        mode: 0o666,
    };
    let made = match client.create(c"devring", Mode::Pcpu, perms, Ring::new(0)) {
        Ok(_) => client
            .create(c"devring_counted", Mode::Counted, perms, Ring::new(1))
            .map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = made {
        // A failed MOD_LOAD is followed by MOD_UNLOAD whose answer the
        // kernel ignores, and the file is freed: nothing of ours may stay
        // registered.  The devices are brand new, so waiting (without a
        // timeout, still interruptible) only waits for calls already in.
        return match client.unregister(-1) {
            Ok(()) => e.to_errno(),
            Err((c, _)) => {
                // Cannot get out cleanly: stay loaded, without devices
                // serving, rather than leave devref pointing at freed text.
                *state() = Some(c);
                0
            }
        };
    }
    *state() = Some(client);
    devref::console!("devring: loaded: /dev/devring (pcpu), /dev/devring_counted (counted)");
    0
}

#[no_mangle]
pub extern "C" fn devring_rs_unload() -> i32 {
    let Some(client) = state().take() else {
        return 0;
    };
    match client.unregister(UNLOAD_TIMEOUT_MS) {
        Ok(()) => {
            devref::console!("devring: unloaded");
            0
        }
        Err((c, e)) => {
            // devref said why on the console; our text must stay.
            devref::console!(
                "devring: unload refused (error {}): calls still inside",
                e.to_errno()
            );
            *state() = Some(c);
            16 // EBUSY
        }
    }
}
