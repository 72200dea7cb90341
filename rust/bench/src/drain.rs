//! Drain latency: how long a destroy request (`close_and_drain`) takes to
//! return, with nothing running, and with calls running that finish after
//! a known delay.  Compared with devfs's destroy_devl, which polls
//! si_threadcount with msleep(hz / 10) and is never woken.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use devref_core::gate::Gate;
use devref_host::HostPlatform;

use crate::schemes::{PcpuScheme, PercdevScheme};

/// One drain measurement.
#[derive(Clone, Copy, Debug)]
pub struct DrainRun {
    /// From the destroy request to its return.
    pub destroy_ns: u64,
    /// From the last call's leave to the destroy's return (0 when no call
    /// was running).
    pub after_last_leave_ns: u64,
}

/// An open file on the device: per-open state (cdevpriv) holding a
/// reference to the device.  It exists, but no call is inside.
#[allow(dead_code)]
struct OpenHandle<D> {
    dev: Arc<D>,
    priv_data: Box<[u64; 8]>,
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// (a) devref: nothing running, `handles` idle open handles (each opened
/// through a call on the gate, then left alone).
pub fn pcpu_idle(handles: usize) -> Result<DrainRun, String> {
    let dev = Arc::new(PcpuScheme::new()?);
    let mut open = Vec::with_capacity(handles);
    for i in 0..handles {
        let g = dev
            .gate
            .enter()
            .map_err(|_| "open refused on an open gate")?;
        open.push(OpenHandle {
            dev: Arc::clone(&dev),
            priv_data: Box::new([i as u64; 8]),
        });
        drop(g);
    }
    let t = Instant::now();
    let r = dev.gate.close_and_drain(None);
    let destroy_ns = ns(t.elapsed());
    r.map_err(|e| format!("close_and_drain with nothing running: {e:?}"))?;
    if dev.gate.enter().is_ok() {
        return Err("the gate admitted a call after close_and_drain".into());
    }
    if open.len() != handles || Arc::strong_count(&dev) != handles + 1 {
        return Err("idle handles changed during the drain".into());
    }
    drop(open);
    Ok(DrainRun {
        destroy_ns,
        after_last_leave_ns: 0,
    })
}

/// (a) devfs model: nothing running, `handles` idle handles.
pub fn devfs_idle(handles: usize, poll: Duration) -> Result<DrainRun, String> {
    let dev = Arc::new(PercdevScheme::default());
    let mut open = Vec::with_capacity(handles);
    for i in 0..handles {
        if !dev.enter() {
            return Err("open refused on a live device".into());
        }
        open.push(OpenHandle {
            dev: Arc::clone(&dev),
            priv_data: Box::new([i as u64; 8]),
        });
        dev.leave();
    }
    let t = Instant::now();
    dev.kill();
    dev.drain_polling(poll);
    let destroy_ns = ns(t.elapsed());
    drop(open);
    Ok(DrainRun {
        destroy_ns,
        after_last_leave_ns: 0,
    })
}

/// Where a running call is: holds the device until `release` (ns since
/// `base`, 0 = not set yet), then leaves and records when.
fn hold_until(base: Instant, release: &AtomicU64) -> Instant {
    let mut r = release.load(Ordering::Acquire);
    while r == 0 {
        std::thread::yield_now();
        r = release.load(Ordering::Acquire);
    }
    let until = base + Duration::from_nanos(r);
    // Sleep most of the way, then spin: the call ends at `until`, not at
    // the sleep's wakeup jitter.
    let now = Instant::now();
    if until > now + Duration::from_micros(500) {
        std::thread::sleep(until - now - Duration::from_micros(500));
    }
    while Instant::now() < until {
        std::thread::yield_now();
    }
    Instant::now()
}

/// The part common to both schemes' (b) cases: `k` threads enter, the
/// destroy starts, the calls end `delay` after the request.
fn with_calls_running<'a>(
    k: usize,
    delay: Duration,
    enter: &(dyn Fn() -> Result<Box<dyn FnOnce() + 'a>, String> + Sync),
    destroy: &dyn Fn() -> Result<(), String>,
) -> Result<DrainRun, String> {
    let base = Instant::now();
    let release = AtomicU64::new(0);
    let entered = Barrier::new(k + 1);
    let (t0, t1, leaves) = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..k)
            .map(|_| {
                sc.spawn(|| {
                    let r = enter();
                    entered.wait();
                    let leave = r?;
                    let at = hold_until(base, &release);
                    leave();
                    Ok::<Instant, String>(at)
                })
            })
            .collect();
        entered.wait();
        let t0 = Instant::now();
        release.store(ns(t0 - base + delay).max(1), Ordering::Release);
        let d = destroy();
        let t1 = Instant::now();
        let leaves: Vec<_> = hs.into_iter().map(|h| h.join()).collect();
        (t0, d.map(|()| t1), leaves)
    });
    let t1 = t1?;
    let mut last = t0;
    for l in leaves {
        let at = l.map_err(|_| "a call thread panicked".to_string())??;
        last = last.max(at);
    }
    if t1 < last {
        return Err(format!(
            "destroy returned {:?} before the last call left",
            last - t1
        ));
    }
    Ok(DrainRun {
        destroy_ns: ns(t1 - t0),
        after_last_leave_ns: ns(t1 - last),
    })
}

/// (b) devref: `k` calls inside the gate, ending `delay` after the
/// destroy request.
pub fn pcpu_running(k: usize, delay: Duration) -> Result<DrainRun, String> {
    let dev = PcpuScheme::new()?;
    let gate: &Gate<HostPlatform> = &dev.gate;
    let enter = || -> Result<Box<dyn FnOnce() + '_>, String> {
        let g = gate.enter().map_err(|_| "entry refused on an open gate")?;
        Ok(Box::new(move || drop(g)))
    };
    let destroy = || -> Result<(), String> {
        gate.close_and_drain(Some(30_000_000_000))
            .map_err(|e| format!("close_and_drain with {k} calls running: {e:?}"))
    };
    let r = with_calls_running(k, delay, &enter, &destroy)?;
    if gate.inside() != 0 || gate.enter().is_ok() {
        return Err("gate not drained after close_and_drain".into());
    }
    Ok(r)
}

/// (b) devfs model: `k` calls counted in si_threadcount, ending `delay`
/// after the destroy request; destroy polls every `poll`.
pub fn devfs_running(k: usize, delay: Duration, poll: Duration) -> Result<DrainRun, String> {
    let dev = PercdevScheme::default();
    let enter = || -> Result<Box<dyn FnOnce() + '_>, String> {
        if !dev.enter() {
            return Err("entry refused on a live device".into());
        }
        Ok(Box::new(|| dev.leave()))
    };
    let destroy = || -> Result<(), String> {
        dev.kill();
        dev.drain_polling(poll);
        Ok(())
    };
    with_calls_running(k, delay, &enter, &destroy)
}
