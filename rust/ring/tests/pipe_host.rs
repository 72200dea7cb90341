//! Pipes on the host: the netmap rules, and a fuzz run in which user space
//! writes anything anywhere while the kernel side keeps its invariants.
//!
//! `DEVRING_FUZZ_CASES` sets the fuzz run's size (make test: the default;
//! `make fuzz`: 10^5 cases of up to 64 steps, over 10^6 syncs).

use std::sync::atomic::Ordering::Relaxed;

use devring_rings::pipe::{rxsync, txsync, Link, Pool, Synced};
use devring_rings::{Dir, Invalid, KRing, RingHeader, RingRef, Slot};
use proptest::prelude::*;

const N: u32 = 8;

/// One ring in "shared memory", owned by the test.
struct Shm {
    hdr: RingHeader,
    slots: Vec<Slot>,
}

impl Shm {
    fn new(first_buf: u32) -> Shm {
        let slots: Vec<Slot> = (0..N).map(|_| Slot::default()).collect();
        for (i, s) in slots.iter().enumerate() {
            s.buf_idx.store(first_buf + i as u32, Relaxed);
        }
        Shm {
            hdr: RingHeader::default(),
            slots,
        }
    }
    fn r(&self) -> RingRef<'_> {
        RingRef::new(&self.hdr, &self.slots)
    }
}

/// A pipe end: the kernel's rings and their shared memory, and the link
/// the peer's TX sync fills this end's RX ring through.
struct End {
    tx: KRing,
    rx: KRing,
    txm: Shm,
    rxm: Shm,
    link: Link,
}

impl End {
    fn new(first_buf: u32) -> End {
        let e = End {
            tx: KRing::new(Dir::Tx, N).unwrap(),
            rx: KRing::new(Dir::Rx, N).unwrap(),
            txm: Shm::new(first_buf),
            rxm: Shm::new(first_buf + N),
            link: Link::new(N),
        };
        e.tx.reset(&e.txm.r());
        e.rx.reset(&e.rxm.r());
        e
    }
}

const POOL: Pool = Pool {
    buffers: 4 * N,
    buf_size: 2048,
};

fn send(a: &mut End, b: &mut End) -> Result<u32, Invalid> {
    txsync(&mut a.tx, &a.txm.r(), &b.link, &b.rxm.r(), POOL).map(|s| s.moved)
}

fn rx(e: &mut End) -> Result<Synced, Invalid> {
    rxsync(&mut e.rx, &e.rxm.r(), &e.link)
}

/// Well-behaved user space: fill `k` free TX slots with lengths from
/// `next_len`, hand them over.
fn fill(e: &End, k: u32, next_len: &mut u32) -> u32 {
    let h = &e.txm.hdr;
    let (mut head, tail) = (h.head.load(Relaxed), h.tail.load(Relaxed));
    let mut n = 0;
    if head >= N || tail >= N {
        return 0; // scribbled on: a sync will reset it
    }
    while n < k && head != tail {
        e.txm.slots[head as usize].len.store(*next_len, Relaxed);
        *next_len = (*next_len + 1) % POOL.buf_size;
        head = (head + 1) % N;
        n += 1;
    }
    h.head.store(head, Relaxed);
    h.cur.store(head, Relaxed);
    n
}

/// Well-behaved user space: read every arrived RX slot, release them.
fn drain(e: &mut End, got: &mut Vec<u32>) {
    rx(e).unwrap();
    let h = &e.rxm.hdr;
    let (mut head, tail) = (h.head.load(Relaxed), h.tail.load(Relaxed));
    assert!(head < N && tail < N);
    while head != tail {
        got.push(e.rxm.slots[head as usize].len.load(Relaxed));
        head = (head + 1) % N;
    }
    h.head.store(head, Relaxed);
    h.cur.store(head, Relaxed);
    rx(e).unwrap();
}

fn all_bufs(ends: &[&End]) -> Vec<u32> {
    let mut v: Vec<u32> = ends
        .iter()
        .flat_map(|e| e.txm.slots.iter().chain(e.rxm.slots.iter()))
        .map(|s| s.buf_idx.load(Relaxed))
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn slots_sent_arrive_in_order_and_buffers_are_swapped_not_copied() {
    let (mut a, mut b) = (End::new(0), End::new(2 * N));
    let mut len = 1;
    assert_eq!(fill(&a, 3, &mut len), 3);
    let sent_bufs: Vec<u32> = (0..3)
        .map(|i| a.txm.slots[i].buf_idx.load(Relaxed))
        .collect();
    assert_eq!(send(&mut a, &mut b), Ok(3));
    assert_eq!(a.txm.hdr.tail.load(Relaxed), 2, "tail = hwcur - 1");
    let mut got = Vec::new();
    drain(&mut b, &mut got);
    assert_eq!(got, vec![1, 2, 3]);
    let arrived: Vec<u32> = (0..3)
        .map(|i| b.rxm.slots[i].buf_idx.load(Relaxed))
        .collect();
    assert_eq!(arrived, sent_bufs, "the buffers themselves moved");
    assert_eq!(all_bufs(&[&a, &b]), (0..4 * N).collect::<Vec<_>>());
}

#[test]
fn a_full_peer_holds_the_rest_until_it_reads() {
    let (mut a, mut b) = (End::new(0), End::new(2 * N));
    let mut len = 0;
    let mut got = Vec::new();
    // N-1 in flight at most: one slot is always kept back.
    assert_eq!(fill(&a, N, &mut len), N - 1);
    assert_eq!(send(&mut a, &mut b), Ok(N - 1));
    assert_eq!(fill(&a, N, &mut len), N - 1);
    assert_eq!(send(&mut a, &mut b), Ok(0), "the peer's RX ring is full");
    assert!(!a.tx.ready(), "no room to fill until the peer reads");
    drain(&mut b, &mut got);
    assert_eq!(send(&mut a, &mut b), Ok(N - 1));
    drain(&mut b, &mut got);
    assert_eq!(got, (0..2 * (N - 1)).collect::<Vec<_>>());
    assert!(a.tx.ready());
}

#[test]
fn a_head_moved_backwards_or_out_of_range_is_einval_and_resets() {
    let (mut a, mut b) = (End::new(0), End::new(2 * N));
    let mut len = 0;
    fill(&a, 4, &mut len);
    assert_eq!(send(&mut a, &mut b), Ok(4));
    for bad in [2, N, u32::MAX] {
        a.txm.hdr.head.store(bad, Relaxed);
        assert_eq!(send(&mut a, &mut b), Err(Invalid));
        assert_eq!(
            a.txm.hdr.head.load(Relaxed),
            4,
            "reset to the kernel's view"
        );
    }
    // RX: releasing past tail.
    b.rxm.hdr.head.store(6, Relaxed);
    assert_eq!(rx(&mut b), Err(Invalid));
    assert_eq!(b.rxm.hdr.head.load(Relaxed), 0);
}

#[test]
fn a_bad_buffer_index_stops_the_sync_and_keeps_what_moved() {
    let (mut a, mut b) = (End::new(0), End::new(2 * N));
    let mut len = 0;
    fill(&a, 3, &mut len);
    a.txm.slots[1].buf_idx.store(POOL.buffers, Relaxed);
    assert_eq!(send(&mut a, &mut b), Err(Invalid));
    assert_eq!(
        a.txm.hdr.head.load(Relaxed),
        1,
        "user space gets slot 1 back"
    );
    let mut got = Vec::new();
    drain(&mut b, &mut got);
    assert_eq!(got, vec![0], "the slot before it was delivered");
    a.txm.slots[2].len.store(POOL.buf_size + 1, Relaxed);
    a.txm.slots[1].buf_idx.store(1, Relaxed);
    a.txm.hdr.head.store(3, Relaxed);
    a.txm.hdr.cur.store(3, Relaxed);
    assert_eq!(
        send(&mut a, &mut b),
        Err(Invalid),
        "a length over the buffer size"
    );
}

#[test]
fn sender_and_receiver_on_two_threads_without_a_lock() {
    // The two syncs of one direction share only the link's two indices.
    let (mut a, mut b) = (End::new(0), End::new(2 * N));
    const MSGS: u32 = 200_000;
    std::thread::scope(|sc| {
        let (tx, txm) = (&mut a.tx, &a.txm);
        let (rx, rxm, link) = (&mut b.rx, &b.rxm, &b.link);
        sc.spawn(move || {
            let mut next = 0u32;
            while next < MSGS {
                let h = &txm.hdr;
                let (mut head, tail) = (h.head.load(Relaxed), h.tail.load(Relaxed));
                while head != tail && next < MSGS {
                    txm.slots[head as usize]
                        .len
                        .store(next % POOL.buf_size, Relaxed);
                    next += 1;
                    head = (head + 1) % N;
                }
                h.head.store(head, Relaxed);
                h.cur.store(head, Relaxed);
                txsync(tx, &txm.r(), link, &rxm.r(), POOL).unwrap();
            }
            while link.in_flight() > 0 || tx.tail() != (txm.hdr.head.load(Relaxed) + N - 1) % N {
                txsync(tx, &txm.r(), link, &rxm.r(), POOL).unwrap();
                std::thread::yield_now();
            }
        });
        sc.spawn(move || {
            let mut want = 0u32;
            while want < MSGS {
                let s = rxsync(rx, &rxm.r(), link).unwrap();
                let h = &rxm.hdr;
                let mut head = h.head.load(Relaxed);
                for _ in 0..s.user {
                    assert_eq!(
                        rxm.slots[head as usize].len.load(Relaxed),
                        want % POOL.buf_size
                    );
                    want += 1;
                    head = (head + 1) % N;
                }
                h.head.store(head, Relaxed);
                h.cur.store(head, Relaxed);
            }
            rxsync(rx, &rxm.r(), link).unwrap();
        });
    });
    assert_eq!(all_bufs(&[&a, &b]), (0..4 * N).collect::<Vec<_>>());
}

#[test]
fn sync_reports_readiness_beyond_cur() {
    let (mut a, mut b) = (End::new(0), End::new(2 * N));
    let mut len = 0;
    let s = txsync(&mut a.tx, &a.txm.r(), &b.link, &b.rxm.r(), POOL).unwrap();
    assert_eq!((s.moved, s.user, s.beyond_cur), (0, N - 1, N - 1));
    fill(&a, 2, &mut len);
    let s = txsync(&mut a.tx, &a.txm.r(), &b.link, &b.rxm.r(), POOL).unwrap();
    assert_eq!((s.moved, s.user), (2, N - 1));
    let s = rx(&mut b).unwrap();
    assert_eq!((s.moved, s.user, s.beyond_cur), (2, 2, 2));
    // cur at tail: nothing beyond it, so poll would wait.
    b.rxm.hdr.cur.store(2, Relaxed);
    let s = rx(&mut b).unwrap();
    assert_eq!((s.moved, s.user, s.beyond_cur), (0, 2, 0));
    b.rxm.hdr.head.store(2, Relaxed);
    let s = rx(&mut b).unwrap();
    assert_eq!((s.released, s.user), (2, 0));
}

#[test]
fn a_receivers_bad_free_index_never_reaches_the_sender() {
    let (mut a, mut b) = (End::new(0), End::new(2 * N));
    let mut len = 0;
    // The receiver scribbles on a free slot of its RX ring (kernel-owned).
    b.rxm.slots[2].buf_idx.store(u32::MAX, Relaxed);
    fill(&a, 5, &mut len);
    assert_eq!(send(&mut a, &mut b), Ok(2), "stops before the bad slot");
    let bufs: Vec<u32> = a
        .txm
        .slots
        .iter()
        .map(|s| s.buf_idx.load(Relaxed))
        .collect();
    assert!(bufs.iter().all(|&i| i < POOL.buffers), "{bufs:?}");
    // Repaired, the rest goes through.
    b.rxm.slots[2].buf_idx.store(2 * N + N + 2, Relaxed);
    assert_eq!(send(&mut a, &mut b), Ok(3));
}

/// What a user may do to its end between syncs.
#[derive(Clone, Debug)]
enum Op {
    /// Legal: fill and send up to k slots.
    Send(u32),
    /// Legal: read and release everything that arrived.
    Recv,
    /// Scribble: any value in any header field or slot of any ring.
    Poke {
        ring: u8,
        field: u8,
        index: u8,
        value: u32,
    },
    /// Sync without doing anything.
    TxSync,
    RxSync,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..10).prop_map(Op::Send),
        3 => Just(Op::Recv),
        2 => (any::<u8>(), any::<u8>(), any::<u8>(), prop_oneof![0u32..40, any::<u32>()])
            .prop_map(|(ring, field, index, value)| Op::Poke { ring, field, index, value }),
        1 => Just(Op::TxSync),
        1 => Just(Op::RxSync),
    ]
}

fn poke(e: &End, ring: u8, field: u8, index: u8, value: u32) {
    let m = if ring.is_multiple_of(2) {
        &e.txm
    } else {
        &e.rxm
    };
    match field % 5 {
        0 => m.hdr.head.store(value, Relaxed),
        1 => m.hdr.cur.store(value, Relaxed),
        2 => m.hdr.tail.store(value, Relaxed),
        3 => m.slots[index as usize % N as usize]
            .buf_idx
            .store(value, Relaxed),
        _ => m.slots[index as usize % N as usize]
            .len
            .store(value, Relaxed),
    }
}

fn cases() -> u32 {
    std::env::var("DEVRING_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever user space writes: no panic, no index the kernel keeps
    /// ever leaves its ring, syncs answer Ok or Invalid.  Without pokes:
    /// messages arrive in order, and the buffers are a permutation of the
    /// pool (swapped, never lost or duplicated).
    #[test]
    fn no_index_escapes_the_ring(ops in proptest::collection::vec((any::<bool>(), op()), 1..64)) {
        let (mut a, mut b) = (End::new(0), End::new(2 * N));
        let poked = ops.iter().any(|(_, o)| matches!(o, Op::Poke { .. }));
        let (mut len_a, mut len_b) = (0u32, 0u32);
        let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
        for (a_side, o) in ops {
            let (me, peer, len, got) = if a_side {
                (&mut a, &mut b, &mut len_a, &mut got_a)
            } else {
                (&mut b, &mut a, &mut len_b, &mut got_b)
            };
            match o {
                Op::Send(k) => {
                    fill(me, k, len);
                    let _ = send(me, peer);
                }
                Op::Recv => {
                    if rx(me).is_ok() {
                        // After a valid sync the indices are the kernel's.
                        drain(me, got);
                    }
                }
                Op::Poke { ring, field, index, value } => poke(me, ring, field, index, value),
                Op::TxSync => { let _ = send(me, peer); }
                Op::RxSync => { let _ = rx(me); }
            }
            for e in [&a, &b] {
                for k in [&e.tx, &e.rx] {
                    prop_assert!(k.tail() < N && k.user_slots() < N);
                }
            }
            if !poked {
                prop_assert_eq!(all_bufs(&[&a, &b]), (0..4 * N).collect::<Vec<_>>());
            }
        }
        if !poked {
            // What each side received came in the order its peer sent.
            drain(&mut b, &mut got_b);
            drain(&mut a, &mut got_a);
            for got in [&got_a, &got_b] {
                prop_assert!(got.iter().enumerate().all(|(i, &l)| l == i as u32 % POOL.buf_size));
            }
        }
    }
}
