//! A pipe node: /dev/devring-pipe/<name>, two ends, netmap-style rings in
//! one region of devref's revocable memory.
//!
//! An open file binds one end (DEVRING_IOC_PIPE_BIND, like NIOCREGIF),
//! maps the region and syncs: TXSYNC moves what its TX ring holds into the
//! other end's RX ring (buffer indices swapped, no copy), RXSYNC publishes
//! what arrived and gives back what user space released.  The two ends
//! never share a lock: each direction is a single-producer single-consumer
//! link (devring-rings' `pipe`), and each ring has a busy flag taken with
//! try-lock only: a second sync of the same ring at the same moment
//! sleeps until the first one ends (as netmap's nm_kr_tryget for an
//! ioctl); nobody spins on it.
//!
//! Wakeups: a sync that made room or delivered slots wakes the device's
//! sleepers (blocking syncs, read, write) if one counted itself, and its
//! pollers if a poll found nothing ready; both are Dekker pairs with the
//! state (a SeqCst fence on each side), so a wakeup is never lost and a
//! sync with nobody waiting takes no lock.  A poll arms flags of its own
//! end (always: kqueue's EV_CLEAR needs the next change notified even
//! after a "ready"), which only the other end's progress, or the release
//! of a ring a poll found busy, clears; so the sync a poll does (as
//! netmap's) never clears its own arming.
//!
//! The region is allocated by the first bind (devref's regions are made
//! from inside an op of their device) and goes with the device: on destroy
//! or kldunload every mapping is revoked (SIGBUS), sleepers get ENXIO.

use alloc::sync::Arc;
use core::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering::Relaxed, Ordering::SeqCst};

use devref::{poll, DeviceRef, Error, IoctlArg, Region, Result, SleepLock, Uio, IO_NDELAY};
use devring_rings::kring::{dist, prev};
use devring_rings::pipe::{rxsync, txsync, Link, Pool, Synced};
use devring_rings::shared::{RING_RX, RING_TX};
use devring_rings::{Dir, KRing, PipeLayout, RingRef};

use devring_rings::ctl::{decode_end, decode_sync};

use crate::abi::{PipeBind, PipeSync};

/// No end bound (PipeOpen::end).
const UNBOUND: u32 = u32::MAX;
/// sys/fcntl.h FREAD, FWRITE: d_open's flags.
const FREAD: i32 = 0x0001;
const FWRITE: i32 = 0x0002;
/// EBADF, EMSGSIZE.
const EBADF: i32 = 9;
const EMSGSIZE: i32 = 40;

/// One ring's kernel state, taken with try-lock only.  A thread that
/// finds it taken marks it contended and may go to sleep waiting for it;
/// the holder, on release, wakes the device's sleepers if so: it is the
/// only one who knows the ring came free.  (A poll that finds it taken
/// does not wait: it answers from the published indices.)
struct RingLock {
    k: spin::Mutex<KRing>,
    contended: AtomicBool,
    /// The kernel's hwcur and head as of the last sync, for poll, which
    /// reads them without the lock (a TX ring's readiness needs them).
    hwcur: AtomicU32,
    rhead: AtomicU32,
}

impl RingLock {
    fn new(dir: Dir, n: u32) -> Option<RingLock> {
        Some(RingLock {
            k: spin::Mutex::new(KRing::new(dir, n)?),
            contended: AtomicBool::new(false),
            hwcur: AtomicU32::new(0),
            rhead: AtomicU32::new(0),
        })
    }

    /// Run `f` on the ring (end `end`'s `which` ring) if nobody else is
    /// (else `Busy`).
    fn with<R>(
        &self,
        pipe: &Pipe,
        dev: &DeviceRef<'_>,
        (end, which): (usize, Which),
        f: impl FnOnce(&mut KRing) -> R,
    ) -> Result<R> {
        let mut g = match self.k.try_lock() {
            Some(g) => g,
            None => {
                // Mark, fence, try once more: paired with the release's
                // fence below, either this try sees the ring free or the
                // holder sees the mark (for every Busy answer, so a
                // waiter that finds a second holder is not forgotten).
                self.contended.store(true, SeqCst);
                fence(SeqCst);
                self.k.try_lock().ok_or(Error::Busy)?
            }
        };
        let r = f(&mut g);
        self.hwcur.store(g.hwcur(), SeqCst);
        self.rhead.store(g.head(), SeqCst);
        drop(g);
        // Pairs with a waiter's store above and its fence before it
        // tries again (sync_until): either it sees the ring free, or we
        // see its mark.
        fence(SeqCst);
        if self.contended.load(SeqCst) && self.contended.swap(false, SeqCst) {
            // A sleeper waits for the ring, a poller (of this end, which
            // answered from the published indices) may have misjudged it.
            pipe.kick(dev, end, which);
        }
        Ok(r)
    }
}

/// The pipe's memory, once the first bind made it.
struct Mem {
    region: Region,
}

pub struct Pipe {
    layout: PipeLayout,
    /// The first bind allocates the region under this lock (it sleeps).
    init: SleepLock<()>,
    mem: spin::Once<Mem>,
    /// Kernel state of each end's TX and RX ring.
    tx: [RingLock; 2],
    rx: [RingLock; 2],
    /// links[e]: into end e's RX ring, from end 1 - e's TX ring.
    links: [Link; 2],
    /// Which ends an open file holds (shared with the open files, which
    /// give theirs back when they close).
    claims: Arc<[AtomicBool; 2]>,
    /// Threads about to sleep in a blocking sync, read or write.
    sleepers: AtomicU32,
    /// armed[2 * e + d]: a poll of end e found nothing ready for reading
    /// (d = 0) or writing (d = 1); the next change of that notifies.
    /// Only the other end's progress changes them, so a poll's own sync
    /// never clears its own arming.
    armed: [AtomicBool; 4],
}

/// One open file of a pipe: the end it bound, if any.
pub struct PipeOpen {
    end: AtomicU32,
    /// Opened for reading and writing (FREAD | FWRITE): only such a file
    /// may bind an end.
    rdwr: bool,
    claims: Arc<[AtomicBool; 2]>,
}

impl Drop for PipeOpen {
    fn drop(&mut self) {
        // close(2) or destroy: the end is free for another open file.
        if let Some(c) = self.claims.get(self.end.load(Relaxed) as usize) {
            c.store(false, SeqCst);
        }
    }
}

impl PipeOpen {
    fn end(&self) -> Result<usize> {
        match self.end.load(Relaxed) {
            UNBOUND => Err(Error::Invalid),
            e => Ok(e as usize),
        }
    }
}

/// Which ring a sync works on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Tx,
    Rx,
}

impl Pipe {
    /// A pipe of `layout`'s shape (checked by the caller), no memory yet.
    pub fn new(layout: PipeLayout) -> Option<Pipe> {
        let n = layout.slots;
        let k = |d| RingLock::new(d, n);
        Some(Pipe {
            layout,
            init: SleepLock::new(()),
            mem: spin::Once::new(),
            tx: [k(Dir::Tx)?, k(Dir::Tx)?],
            rx: [k(Dir::Rx)?, k(Dir::Rx)?],
            links: [Link::new(n), Link::new(n)],
            claims: Arc::new([AtomicBool::new(false), AtomicBool::new(false)]),
            sleepers: AtomicU32::new(0),
            armed: [const { AtomicBool::new(false) }; 4],
        })
    }

    /// `oflags`: the file's FREAD/FWRITE flags (d_open's).
    pub fn open(&self, oflags: i32) -> PipeOpen {
        PipeOpen {
            end: AtomicU32::new(UNBOUND),
            rdwr: oflags & (FREAD | FWRITE) == FREAD | FWRITE,
            claims: self.claims.clone(),
        }
    }

    fn pool(&self) -> Pool {
        Pool {
            buffers: self.layout.buffers,
            buf_size: self.layout.buf_size,
        }
    }

    /// The region, made (and its rings written) by the first bind; the
    /// caller holds `init`.  Also says whether it was made just now.
    fn memory(&self, dev: &DeviceRef<'_>) -> Result<(&Mem, bool)> {
        if let Some(m) = self.mem.get() {
            return Ok((m, false));
        }
        let len = usize::try_from(self.layout.total).map_err(|_| Error::Invalid)?;
        let region = dev.region_alloc(len, true)?;
        if let Err(e) = self.reset_rings(dev, &region) {
            let _ = dev.region_free(region);
            return Err(e);
        }
        Ok((self.mem.call_once(|| Mem { region }), true))
    }

    /// Start the pipe afresh: the four rings' headers and slots as a new
    /// pipe has them (each slot with a buffer of its own), the kernel's
    /// state and the links empty.  Only with no end bound (the caller
    /// holds `init`, and no sync runs without a bound end).
    fn reset_rings(&self, dev: &DeviceRef<'_>, region: &Region) -> Result<()> {
        let words = dev.region(region).ok_or(Error::Invalid)?;
        let l = &self.layout;
        let rings = [
            (l.ends[0].tx, RING_TX, &self.tx[0]),
            (l.ends[0].rx, RING_RX, &self.rx[0]),
            (l.ends[1].tx, RING_TX, &self.tx[1]),
            (l.ends[1].rx, RING_RX, &self.rx[1]),
        ];
        for (r, (off, dir, k)) in (0u32..).zip(rings) {
            let ring = RingRef::from_words(words, off, l.slots).ok_or(Error::Invalid)?;
            ring.hdr.num_slots.store(l.slots, Relaxed);
            ring.hdr.buf_size.store(l.buf_size, Relaxed);
            ring.hdr.dir.store(dir, Relaxed);
            for (s, slot) in (0u32..).zip(ring.slots) {
                slot.buf_idx.store(l.initial_buffer(r, s), Relaxed);
                slot.len.store(0, Relaxed);
            }
            // No end is bound, so no sync holds it.
            let mut g = k.k.try_lock().ok_or(Error::Busy)?;
            let d = if dir == RING_TX { Dir::Tx } else { Dir::Rx };
            *g = KRing::new(d, l.slots).ok_or(Error::Invalid)?;
            g.reset(&ring);
            k.hwcur.store(g.hwcur(), SeqCst);
            k.rhead.store(g.head(), SeqCst);
        }
        for link in &self.links {
            link.reset();
        }
        Ok(())
    }

    /// This end's ring and the ring it talks to, in the region.
    fn rings<'a>(
        &self,
        words: &'a [core::sync::atomic::AtomicU32],
        end: usize,
        which: Which,
    ) -> Result<(RingRef<'a>, RingRef<'a>)> {
        let l = &self.layout;
        let me = l.ends.get(end).ok_or(Error::Invalid)?;
        let peer = l.ends.get(1 - end).ok_or(Error::Invalid)?;
        let (a, b) = match which {
            Which::Tx => (me.tx, peer.rx),
            Which::Rx => (me.rx, me.rx),
        };
        let r = |off| RingRef::from_words(words, off, l.slots).ok_or(Error::Invalid);
        Ok((r(a)?, r(b)?))
    }

    /// The memory and the two rings `rings` names, for this call (the
    /// memory the first bind made; `Invalid` before it).
    fn view<'a>(
        &'a self,
        dev: &'a DeviceRef<'_>,
        end: usize,
        which: Which,
    ) -> Result<(&'a Mem, RingRef<'a>, RingRef<'a>)> {
        let mem = self.mem.get().ok_or(Error::Invalid)?;
        let words = dev.region(&mem.region).ok_or(Error::Invalid)?;
        let (a, b) = self.rings(words, end, which)?;
        Ok((mem, a, b))
    }

    /// One sync of this end's TX or RX ring, then the wakeups it owes:
    /// only for progress the other side may wait for (slots delivered to
    /// the peer, slots released to it), never for a sync that changed
    /// nothing, which would wake the caller itself when it syncs once
    /// more before it sleeps.
    fn sync(&self, dev: &DeviceRef<'_>, end: usize, which: Which) -> Result<Synced> {
        let (_, ring, other) = self.view(dev, end, which)?;
        let s = match which {
            Which::Tx => {
                let link = self.links.get(1 - end).ok_or(Error::Invalid)?;
                let pool = self.pool();
                let k = self.tx.get(end).ok_or(Error::Invalid)?;
                k.with(self, dev, (end, which), |k| {
                    txsync(k, &ring, link, &other, pool)
                })?
            }
            Which::Rx => {
                let link = self.links.get(end).ok_or(Error::Invalid)?;
                let k = self.rx.get(end).ok_or(Error::Invalid)?;
                k.with(self, dev, (end, which), |k| rxsync(k, &ring, link))?
            }
        };
        let peer = 1 - end;
        match s {
            Ok(s) => {
                if which == Which::Tx && s.moved > 0 {
                    self.kick(dev, peer, Which::Rx);
                }
                if s.released > 0 {
                    self.kick(dev, peer, Which::Tx);
                }
                Ok(s)
            }
            Err(_) => {
                // A TX sync that failed may have moved slots before the
                // bad one.
                if which == Which::Tx {
                    self.kick(dev, peer, Which::Rx);
                }
                Err(Error::Invalid)
            }
        }
    }

    /// End `end`'s readiness for `which` may have changed: wake whoever
    /// counted itself (sleepers) or armed itself for it (pollers).
    fn kick(&self, dev: &DeviceRef<'_>, end: usize, which: Which) {
        self.wake_sleepers(dev);
        let d = usize::from(which == Which::Tx);
        if let Some(a) = self.armed.get(2 * end + d) {
            if a.load(SeqCst) && a.swap(false, SeqCst) {
                dev.notify();
            }
        }
    }

    fn wake_sleepers(&self, dev: &DeviceRef<'_>) {
        fence(SeqCst);
        if self.sleepers.load(SeqCst) > 0 {
            dev.wakeup();
        }
    }

    /// Sync until `ready` holds (or once, without `wait`), sleeping on the
    /// device in between: ENXIO when it closes, EINTR/ERESTART on a signal.
    fn sync_until(
        &self,
        dev: &DeviceRef<'_>,
        end: usize,
        which: Which,
        wait: bool,
        ready: impl Fn(&Synced) -> bool,
    ) -> Result<Synced> {
        let mut moved = 0u32;
        loop {
            // Another thread syncing this ring right now (Busy): wait for
            // it; that sync wakes the sleepers when it ends (RingLock).
            match self.sync(dev, end, which) {
                Ok(mut s) => {
                    moved = moved.saturating_add(s.moved);
                    if !wait || ready(&s) {
                        s.moved = moved;
                        return Ok(s);
                    }
                }
                // Even without WAIT: as netmap's nm_kr_tryget for an
                // ioctl, a busy ring is waited for, not an error.
                Err(Error::Busy) => {}
                Err(e) => return Err(e),
            }
            self.sleepers.fetch_add(1, SeqCst);
            let ticket = dev.sleep_ticket();
            // Pairs with RingLock::with's fence: a Busy answer above
            // marked the ring; its holder wakes us, or we see it free.
            fence(SeqCst);
            let again = self.sync(dev, end, which);
            if let Ok(s) = &again {
                moved = moved.saturating_add(s.moved);
            }
            let r = match again {
                // Without WAIT, the sync once done is the answer (the
                // first try only found the ring busy).
                Ok(mut s) if !wait || ready(&s) => {
                    s.moved = moved;
                    Ok(Some(s))
                }
                Ok(_) | Err(Error::Busy) => dev.sleep(ticket, None).map(|()| None),
                Err(e) => Err(e),
            };
            self.sleepers.fetch_sub(1, SeqCst);
            if let Some(s) = r? {
                return Ok(s);
            }
        }
    }

    pub fn ioctl(
        &self,
        dev: &DeviceRef<'_>,
        open: &PipeOpen,
        arg: &mut IoctlArg<'_>,
    ) -> Result<()> {
        match arg.cmd() {
            crate::abi::DEVRING_IOC_PIPE_BIND => {
                let mut b: PipeBind = arg.read()?;
                let end = decode_end(b.end).map_err(|_| Error::Invalid)?;
                let claim = self.claims.get(end).ok_or(Error::Invalid)?;
                if !open.rdwr {
                    // An end sends and receives: as netmap wants O_RDWR.
                    return Err(Error::Errno(EBADF));
                }
                if open.end.load(Relaxed) != UNBOUND {
                    return Err(Error::Busy);
                }
                // Binds one at a time: whether the pipe starts afresh
                // depends on the other end's claim.
                let _g = self.init.lock(dev)?;
                if claim.compare_exchange(false, true, SeqCst, SeqCst).is_err() {
                    return Err(Error::Busy);
                }
                let other = self.claims.get(1 - end).ok_or(Error::Invalid)?;
                let mem = match self.memory(dev) {
                    // The other end unbound: nobody holds a view of the
                    // rings; what a former binder left (scribbled slots,
                    // packets in flight) goes.
                    Ok((m, false)) if !other.load(SeqCst) => {
                        self.reset_rings(dev, &m.region).map(|()| m)
                    }
                    Ok((m, _)) => Ok(m),
                    Err(e) => Err(e),
                };
                let mem = match mem {
                    Ok(m) => m,
                    Err(e) => {
                        claim.store(false, SeqCst);
                        return Err(e);
                    }
                };
                if open
                    .end
                    .compare_exchange(UNBOUND, b.end, SeqCst, SeqCst)
                    .is_err()
                {
                    // Another thread bound this file meanwhile.
                    claim.store(false, SeqCst);
                    return Err(Error::Busy);
                }
                let l = &self.layout;
                let e = l.ends.get(end).ok_or(Error::Invalid)?;
                b.slots = l.slots;
                b.buf_size = l.buf_size;
                b.buffers = l.buffers;
                b.offset = mem.region.cookie();
                b.size = mem.region.len() as u64;
                b.tx_ofs = e.tx;
                b.rx_ofs = e.rx;
                b.buf_ofs = l.bufs;
                arg.write(&b)
            }
            crate::abi::DEVRING_IOC_TXSYNC | crate::abi::DEVRING_IOC_RXSYNC => {
                let mut r: PipeSync = arg.read()?;
                let wait = decode_sync(r.flags, r.pad).map_err(|_| Error::Invalid)?;
                let end = open.end()?;
                let which = if arg.cmd() == crate::abi::DEVRING_IOC_TXSYNC {
                    Which::Tx
                } else {
                    Which::Rx
                };
                let s = self.sync_until(dev, end, which, wait, |s| s.beyond_cur > 0)?;
                r.slots = s.user;
                r.moved = s.moved;
                arg.write(&r)
            }
            _ => Err(Error::NotTty),
        }
    }

    /// poll(2), select(2) and kqueue: sync the rings asked about, as
    /// netmap's poll does (an RX sync also gives back what user space
    /// consumed, which the sender may be waiting for), and report slots
    /// beyond cur.  poll also runs as the kqueue filter, in any thread
    /// (the waker's, inside devref_notify), where it may not sleep: a ring
    /// another thread holds is not waited for, its readiness is computed
    /// from the published indices instead.
    pub fn poll(&self, dev: &DeviceRef<'_>, open: &PipeOpen, events: i32) -> i32 {
        let Ok(end) = open.end() else {
            return poll::POLLERR;
        };
        let rd = events & (poll::POLLIN | poll::POLLRDNORM);
        let wr = events & (poll::POLLOUT | poll::POLLWRNORM);
        let ask = || {
            let mut ready = 0;
            for (bits, which) in [(rd, Which::Rx), (wr, Which::Tx)] {
                if bits == 0 {
                    continue;
                }
                let ok = match self.sync(dev, end, which) {
                    Ok(s) => s.beyond_cur > 0,
                    Err(Error::Busy) => match which {
                        Which::Rx => self.rx_ready(dev, end),
                        Which::Tx => self.tx_ready(dev, end),
                    }
                    .unwrap_or(true),
                    Err(_) => {
                        ready |= poll::POLLERR;
                        false
                    }
                };
                if ok {
                    ready |= bits;
                }
            }
            ready
        };
        // Arm first, whatever the answer, then look (see the module doc):
        // kqueue calls this filter again just before it reports an event
        // (kqueue_scan), and with EV_CLEAR or EV_DISPATCH the knote then
        // waits for the next KNOTE, so the next change must notify even
        // if this look found something ready.  It costs at most one
        // notify per poll.
        for (bits, d) in [(rd, 0), (wr, 1)] {
            if let (true, Some(a)) = (bits != 0, self.armed.get(2 * end + d)) {
                a.store(true, SeqCst);
            }
        }
        fence(SeqCst);
        ask()
    }

    /// RX: an RX sync would publish `filled` as tail; ready unless cur is
    /// there already.  A bad cur is "ready": the sync will say EINVAL.
    fn rx_ready(&self, dev: &DeviceRef<'_>, end: usize) -> Result<bool> {
        let (_, ring, _) = self.view(dev, end, Which::Rx)?;
        let link = self.links.get(end).ok_or(Error::Invalid)?;
        Ok(ring.hdr.cur.load(Relaxed) != link.filled())
    }

    /// TX: a TX sync would move min(pending, room) slots and leave tail
    /// just before the new hwcur; ready unless cur is there already.
    fn tx_ready(&self, dev: &DeviceRef<'_>, end: usize) -> Result<bool> {
        let (_, ring, _) = self.view(dev, end, Which::Tx)?;
        let link = self.links.get(1 - end).ok_or(Error::Invalid)?;
        let k = self.tx.get(end).ok_or(Error::Invalid)?;
        let n = self.layout.slots;
        let (hwcur, rhead) = (k.hwcur.load(SeqCst), k.rhead.load(SeqCst));
        let (head, cur) = (ring.hdr.head.load(Relaxed), ring.hdr.cur.load(Relaxed));
        if head >= n || cur >= n || hwcur >= n || rhead >= n {
            return Ok(true);
        }
        if dist(n, rhead, head) > dist(n, rhead, prev(n, hwcur)) {
            return Ok(true);
        }
        let moved = dist(n, hwcur, head).min(link.room());
        let tail = prev(n, (hwcur + moved) % n);
        Ok(cur != tail)
    }

    /// read(2): one packet (one RX slot) per call, truncated to the
    /// caller's buffer, the rest of it dropped (a datagram); EAGAIN when
    /// empty and non-blocking.
    pub fn read(
        &self,
        dev: &DeviceRef<'_>,
        open: &PipeOpen,
        uio: &mut Uio<'_>,
        ioflag: i32,
    ) -> Result<()> {
        let end = open.end()?;
        let wait = ioflag & IO_NDELAY == 0;
        loop {
            // Busy: another thread is reading or syncing this ring; wait
            // for it as for data.
            match self.read_one(dev, end, uio) {
                Ok(true) => return Ok(()),
                Ok(false) | Err(Error::Busy) => {}
                Err(e) => return Err(e),
            }
            if !wait {
                return Err(Error::Again);
            }
            self.sync_until(dev, end, Which::Rx, true, |s| s.user > 0)?;
        }
    }

    /// Take the first arrived slot, if any: copy it out, release it.
    fn read_one(&self, dev: &DeviceRef<'_>, end: usize, uio: &mut Uio<'_>) -> Result<bool> {
        let (mem, ring, _) = self.view(dev, end, Which::Rx)?;
        let link = self.links.get(end).ok_or(Error::Invalid)?;
        let layout = &self.layout;
        let k = self.rx.get(end).ok_or(Error::Invalid)?;
        let mut released = 0u32;
        let r = k.with(self, dev, (end, Which::Rx), |k| -> Result<bool> {
            let s = rxsync(k, &ring, link).map_err(|_| Error::Invalid)?;
            // Slots user space gave back through the mapping, if any.
            released = s.released;
            if s.user == 0 {
                return Ok(false);
            }
            let head = k.head();
            let slot = ring.slot(head).ok_or(Error::Invalid)?;
            let (buf, len) = (slot.buf_idx.load(Relaxed), slot.len.load(Relaxed));
            let off = layout.buffer(buf).ok_or(Error::Invalid)?;
            if len > layout.buf_size {
                return Err(Error::Invalid);
            }
            let off = usize::try_from(off).map_err(|_| Error::Invalid)?;
            uio.move_region(dev, &mem.region, off, len as usize)?;
            let next = k.next(head);
            ring.publish(next, next, k.tail());
            let s = rxsync(k, &ring, link).map_err(|_| Error::Invalid)?;
            released = released.saturating_add(s.released);
            Ok(true)
        })?;
        if released > 0 {
            // Slots went back to the sender, whatever became of the copy.
            self.kick(dev, 1 - end, Which::Tx);
        }
        r
    }

    /// write(2): one packet per call, at most buf_size bytes (EMSGSIZE
    /// above, as a datagram socket), sent at once; EAGAIN (non-blocking)
    /// or a sleep while the peer's RX ring is full.
    pub fn write(
        &self,
        dev: &DeviceRef<'_>,
        open: &PipeOpen,
        uio: &mut Uio<'_>,
        ioflag: i32,
    ) -> Result<()> {
        let end = open.end()?;
        if uio.resid() > self.layout.buf_size as usize {
            return Err(Error::Errno(EMSGSIZE));
        }
        let wait = ioflag & IO_NDELAY == 0;
        loop {
            match self.write_one(dev, end, uio) {
                Ok(true) => return Ok(()),
                Ok(false) | Err(Error::Busy) => {}
                Err(e) => return Err(e),
            }
            if !wait {
                return Err(Error::Again);
            }
            let link = self.links.get(1 - end).ok_or(Error::Invalid)?;
            self.sync_until(dev, end, Which::Tx, true, |s| s.user > 0 && link.room() > 0)?;
        }
    }

    /// Fill the first free TX slot from the caller and send it, if there
    /// is a free slot.
    fn write_one(&self, dev: &DeviceRef<'_>, end: usize, uio: &mut Uio<'_>) -> Result<bool> {
        let (mem, ring, peer) = self.view(dev, end, Which::Tx)?;
        let link = self.links.get(1 - end).ok_or(Error::Invalid)?;
        let pool = self.pool();
        let layout = &self.layout;
        let mut moved = 0u32;
        let k = self.tx.get(end).ok_or(Error::Invalid)?;
        let r = k.with(self, dev, (end, Which::Tx), |k| -> Result<bool> {
            let s = txsync(k, &ring, link, &peer, pool).map_err(|_| Error::Invalid)?;
            moved = s.moved;
            // Only when the packet goes through at once: write(2) leaves
            // nothing pending in the TX ring, which only a later sync of
            // this end would push (a reader could wait for it forever).
            if s.user == 0 || link.room() == 0 {
                return Ok(false);
            }
            let head = k.head();
            let slot = ring.slot(head).ok_or(Error::Invalid)?;
            let off = layout
                .buffer(slot.buf_idx.load(Relaxed))
                .ok_or(Error::Invalid)?;
            let off = usize::try_from(off).map_err(|_| Error::Invalid)?;
            let n = uio.move_region(dev, &mem.region, off, layout.buf_size as usize)?;
            slot.len.store(n as u32, Relaxed);
            let next = k.next(head);
            ring.publish(next, next, k.tail());
            let s = txsync(k, &ring, link, &peer, pool).map_err(|_| Error::Invalid)?;
            moved = moved.saturating_add(s.moved);
            Ok(true)
        })?;
        if moved > 0 || r.is_err() {
            // Delivered to the peer (or a bad ring, maybe after some).
            self.kick(dev, 1 - end, Which::Rx);
        }
        r
    }
}
