//! Device lifecycle on the host platform: Alive → Closing → Drained → Dead,
//! the purge hook, the counters and every refusal.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::Duration;

use devref_core::gate::{DrainError, Gone};
use devref_core::lifecycle::{DevState, Lifecycle, LifecycleError};
use devref_host::HostPlatform;

mod support;
use support::wait_for;

const MS: u64 = 1_000_000;
const WATCHDOG: Option<u64> = Some(30_000 * MS);

#[test]
fn full_life_with_a_timed_out_destroy() {
    let dev = Lifecycle::new(HostPlatform::new()).expect("device");
    assert_eq!(dev.state(), DevState::Alive);
    assert_eq!(
        dev.finish(|| ()),
        Err(LifecycleError::BadState(DevState::Alive))
    );

    let guard = dev.enter().expect("alive device admits");
    let purges = AtomicU32::new(0);
    let r = dev.destroy(Some(10 * MS), &mut || {
        purges.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(
        r,
        Err(LifecycleError::Drain(DrainError::TimedOut { inside: 1 }))
    );
    assert_eq!(dev.state(), DevState::Closing);
    assert_eq!(dev.enter().err(), Some(Gone));
    assert_eq!(
        dev.finish(|| ()),
        Err(LifecycleError::BadState(DevState::Closing))
    );
    let st = dev.stats();
    assert_eq!(
        (st.calls, st.inside, st.drains, st.failed_drains),
        (1, 1, 0, 1)
    );

    drop(guard);
    assert_eq!(dev.stats().inside, 0);
    // A later destroy finishes the job (and purges again).
    assert_eq!(
        dev.destroy(None, &mut || {
            purges.fetch_add(1, Ordering::SeqCst);
        }),
        Ok(())
    );
    assert_eq!(purges.load(Ordering::SeqCst), 2);
    assert_eq!(dev.state(), DevState::Drained);
    let st = dev.stats();
    assert_eq!((st.drains, st.failed_drains, st.inside), (1, 1, 0));
    assert!(
        st.last_drain_ns >= 10 * MS,
        "drain time counts from the first close"
    );
    // Destroying a drained device succeeds at once without purging.
    assert_eq!(
        dev.destroy(Some(0), &mut || panic!("no purge once drained")),
        Ok(())
    );

    let torn = AtomicBool::new(false);
    assert_eq!(dev.finish(|| torn.store(true, Ordering::SeqCst)), Ok(()));
    assert!(torn.load(Ordering::SeqCst));
    assert_eq!(dev.state(), DevState::Dead);
    assert_eq!(dev.enter().err(), Some(Gone));
    assert_eq!(
        dev.destroy(None, &mut || ()),
        Err(LifecycleError::BadState(DevState::Dead))
    );
    assert_eq!(
        dev.finish(|| ()),
        Err(LifecycleError::BadState(DevState::Dead))
    );
    assert_eq!(dev.stats().drains, 1);
}

/// A "driver" whose calls sleep until the device dies: the purge hook must
/// wake them so that they return ENXIO, and the drain then completes.
#[test]
fn purge_wakes_sleepers_inside_the_driver() {
    struct Driver {
        dying: Mutex<bool>,
        cv: Condvar,
    }
    const ENXIO: i32 = 6;
    let drv = Driver {
        dying: Mutex::new(false),
        cv: Condvar::new(),
    };
    let dev = Lifecycle::new(HostPlatform::new()).expect("device");
    let asleep = AtomicU32::new(0);
    thread::scope(|s| {
        let sleepers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| -> Result<(), i32> {
                    let _call = dev.enter().map_err(|Gone| ENXIO)?;
                    let mut dying = drv.dying.lock().expect("lock");
                    asleep.fetch_add(1, Ordering::SeqCst);
                    while !*dying {
                        dying = drv.cv.wait(dying).expect("wait");
                    }
                    Err(ENXIO)
                })
            })
            .collect();
        wait_for("sleepers asleep", || asleep.load(Ordering::SeqCst) == 3);
        assert_eq!(dev.stats().inside, 3);
        let r = dev.destroy(WATCHDOG, &mut || {
            assert!(dev.gate().is_closed(), "purge runs after the gate closed");
            *drv.dying.lock().expect("lock") = true;
            drv.cv.notify_all();
        });
        assert_eq!(r, Ok(()));
        for t in sleepers {
            assert_eq!(t.join().expect("sleeper"), Err(ENXIO));
        }
    });
    assert_eq!(dev.state(), DevState::Drained);
    assert_eq!(dev.stats().inside, 0);
    assert_eq!(dev.stats().calls, 3);
    assert_eq!(dev.finish(|| ()), Ok(()));
}

#[test]
fn interrupted_destroy_stays_closing() {
    let p = HostPlatform::new();
    let dev = Lifecycle::new(p.clone()).expect("device");
    let guard = dev.enter().expect("enter");
    p.interrupt();
    assert_eq!(
        dev.destroy(None, &mut || ()),
        Err(LifecycleError::Drain(DrainError::Interrupted { inside: 1 }))
    );
    assert_eq!(dev.state(), DevState::Closing);
    drop(guard);
    assert_eq!(dev.destroy(None, &mut || ()), Ok(()));
    assert_eq!(dev.state(), DevState::Drained);
}

#[test]
fn concurrent_destroys_both_succeed_once() {
    let dev = Lifecycle::new(HostPlatform::new()).expect("device");
    let guard = dev.enter().expect("enter");
    thread::scope(|s| {
        let a = s.spawn(|| dev.destroy(WATCHDOG, &mut || ()));
        let b = s.spawn(|| dev.destroy(WATCHDOG, &mut || ()));
        wait_for("closing", || dev.gate().is_closed());
        thread::sleep(Duration::from_millis(10));
        drop(guard);
        assert_eq!(a.join().expect("a"), Ok(()));
        assert_eq!(b.join().expect("b"), Ok(()));
    });
    assert_eq!(dev.state(), DevState::Drained);
    assert_eq!(dev.stats().drains, 1, "one Closing → Drained transition");
}
