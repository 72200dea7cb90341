//! Per-thread slots: every thread's static TLS block holds one cell per gate
//! index, so a gate's slot on this thread is one `%fs`-relative access away
//! (the gate as an offset into a per-thread block, like a zpcpu item in the
//! kernel).
//!
//! * A thread registers its block in [`REGISTRY`] at its first add (the
//!   fast path tests one TLS byte for it); the drainer's sum walks the
//!   registry under its lock.
//! * A dying thread's cells are folded into [`CENTRAL`] under the registry
//!   lock by a pthread-key destructor.  glibc runs those after every
//!   Rust/C++ thread-local destructor, so a thread-local whose destructor
//!   drops a guard still finds its block registered.  Anything that adds
//!   even later (another library's pthread-key destructor) goes straight to
//!   `CENTRAL` with an atomic read-modify-write.
//! * Gate indices are reused and their cells never reset: a new gate
//!   records the index's current sums as its base (see `alloc_index`).

use std::cell::Cell as StdCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use devref_core::platform::Field;

/// How many gates may exist at the same time (cells per thread block).
pub const MAX_GATES: usize = 2048;
const MASK: usize = MAX_GATES - 1;
const _: () = assert!(MAX_GATES.is_power_of_two());
/// A cell's byte offset in a block's `cells`, masked in range: the fast
/// path adds at `cells + (offset & OFFSET_MASK)`, no multiply, no bounds
/// branch.
const OFFSET_MASK: usize = MASK * core::mem::size_of::<Cell>();
const _: () = assert!(core::mem::size_of::<Cell>().is_power_of_two());

/// The byte offset of gate index `index`'s cell (what [`add`] takes).
pub(crate) const fn offset_of_index(index: usize) -> usize {
    (index & MASK) * core::mem::size_of::<Cell>()
}

/// One gate's counters on one thread (the host's `devref_core::platform::
/// Slot`, with std atomics so that it can live in a const-initialised TLS
/// block).
#[repr(C)]
pub(crate) struct Cell {
    count: AtomicI64,
    enters: AtomicU64,
}

impl Cell {
    const fn new() -> Self {
        Cell {
            count: AtomicI64::new(0),
            enters: AtomicU64::new(0),
        }
    }

    fn read(&self) -> (i64, u64) {
        // Acquire on count: pairs with the leave's release −1.
        (
            self.count.load(Ordering::Acquire),
            self.enters.load(Ordering::Relaxed),
        )
    }
}

/// A thread's cells, one per gate index, and where the thread is in its
/// life (next to the cells: one base address for both).
#[repr(C, align(128))]
struct Block {
    /// NEW, LIVE or FOLDED; only the owning thread touches it (a plain
    /// Cell, so the compiler can share one check between adjacent adds).
    state: StdCell<u8>,
    cells: [Cell; MAX_GATES],
}

/// Where this thread's block is in its life.
const NEW: u8 = 0;
const LIVE: u8 = 1;
const FOLDED: u8 = 2;

thread_local! {
    /// Const-initialised, no destructor: every access is a plain
    /// thread-pointer-relative address, with no lazy-initialisation check.
    static BLOCK: Block = const {
        Block {
            state: StdCell::new(NEW),
            cells: [const { Cell::new() }; MAX_GATES],
        }
    };
}

/// This thread's block.
#[inline(always)]
fn block() -> &'static Block {
    // A trivial closure, so that `with` inlines to the thread pointer plus
    // a constant.
    let b: *const Block = BLOCK.with(std::ptr::from_ref);
    // SAFETY: this thread's own block: it outlives every use on this
    // thread (the reference never leaves the thread; `visit` reads other
    // threads' blocks through BlockPtr under the registry lock instead).
    unsafe { &*b }
}

fn state() -> u8 {
    block().state.get()
}

fn set_state(v: u8) {
    block().state.set(v);
}

/// A registered block (a pointer into a live thread's TLS).
struct BlockPtr(*const Block);

// SAFETY: the pointer is only dereferenced under REGISTRY's lock, while
// the block's thread is alive (it unregisters under the same lock before
// its TLS goes away), and only its cells (atomics) are read through it.
unsafe impl Send for BlockPtr {}

struct Registry {
    blocks: Vec<BlockPtr>,
    free: Vec<usize>,
    next: usize,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    blocks: Vec::new(),
    free: Vec::new(),
    next: 0,
});

/// The cells of threads that exited, and the adds of threads past their
/// exit fold.
static CENTRAL: [Cell; MAX_GATES] = [const { Cell::new() }; MAX_GATES];

pub(crate) fn lock_ignoring_poison<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Add `delta` to this thread's cell at byte offset `offset`
/// ([`offset_of_index`]): one read-modify-write instruction on the thread's
/// own block (the compiler folds the relaxed load and the store into one
/// `add`; only this thread writes the cell).
#[inline(always)]
pub(crate) fn add(offset: usize, field: Field, delta: i64, order: Ordering) {
    let b = block();
    if b.state.get() == LIVE {
        // SAFETY: the masked offset is a multiple of size_of::<Cell>() below
        // MAX_GATES cells: a cell of the array.
        let c = unsafe {
            &*b.cells
                .as_ptr()
                .cast::<u8>()
                .add(offset & OFFSET_MASK)
                .cast::<Cell>()
        };
        match field {
            Field::Count => c
                .count
                .store(c.count.load(Ordering::Relaxed).wrapping_add(delta), order),
            Field::Enters => c.enters.store(
                c.enters.load(Ordering::Relaxed).wrapping_add(delta as u64),
                order,
            ),
        }
    } else {
        add_slow(offset, field, delta);
    }
}

/// First add on this thread (register, then add), or an add after the
/// thread's exit fold (straight to CENTRAL, atomically).
#[cold]
#[inline(never)]
fn add_slow(offset: usize, field: Field, delta: i64) {
    if state() == NEW {
        register();
        add(offset, field, delta, Ordering::Release);
        return;
    }
    let c = &CENTRAL[(offset & OFFSET_MASK) / core::mem::size_of::<Cell>()];
    match field {
        Field::Count => {
            c.count.fetch_add(delta, Ordering::AcqRel);
        }
        Field::Enters => {
            c.enters.fetch_add(delta as u64, Ordering::AcqRel);
        }
    }
}

fn exit_key() -> libc::pthread_key_t {
    static KEY: OnceLock<libc::pthread_key_t> = OnceLock::new();
    *KEY.get_or_init(|| {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: key is a valid out-pointer; the destructor is an
        // extern "C" fn that never unwinds.
        let r = unsafe { libc::pthread_key_create(&mut key, Some(on_thread_exit)) };
        assert_eq!(r, 0, "devref-host: pthread_key_create failed");
        key
    })
}

fn register() {
    let key = exit_key();
    {
        let mut r = lock_ignoring_poison(&REGISTRY);
        r.blocks.push(BlockPtr(std::ptr::from_ref(block())));
        // Under the lock: a sum that does not see the block cannot see
        // any of its adds either (they all come after this).
        set_state(LIVE);
    }
    // Any non-null value: it only makes the destructor run at exit.
    // SAFETY: key was created by pthread_key_create; the value is never
    // dereferenced.
    let r = unsafe { libc::pthread_setspecific(key, std::ptr::dangling::<u8>().cast()) };
    assert_eq!(r, 0, "devref-host: pthread_setspecific failed");
}

/// The pthread-key destructor: fold this thread's cells into CENTRAL and
/// unregister the block, in one critical section of the registry lock (a
/// sum sees the counts in exactly one of the two places).
extern "C" fn on_thread_exit(_: *mut c_void) {
    let mut r = lock_ignoring_poison(&REGISTRY);
    {
        let b = block();
        r.blocks.retain(|p| !std::ptr::eq(p.0, b));
        for (c, central) in b.cells.iter().zip(CENTRAL.iter()) {
            let (count, enters) = (
                c.count.load(Ordering::Relaxed),
                c.enters.load(Ordering::Relaxed),
            );
            if count != 0 {
                central.count.fetch_add(count, Ordering::Relaxed);
            }
            if enters != 0 {
                central.enters.fetch_add(enters, Ordering::Relaxed);
            }
        }
    }
    set_state(FOLDED);
}

/// Visit every place index `index` counts in (live blocks and CENTRAL),
/// under the registry lock.
pub(crate) fn visit(index: usize, f: &mut dyn FnMut(i64, u64)) {
    let r = lock_ignoring_poison(&REGISTRY);
    for p in &r.blocks {
        // SAFETY: registered blocks are live (see BlockPtr); only the
        // cells (atomics) are reached, never the owner's `state`.
        let cells = unsafe { &*std::ptr::addr_of!((*p.0).cells) };
        let (c, e) = cells[index & MASK].read();
        f(c, e);
    }
    let (c, e) = CENTRAL[index & MASK].read();
    f(c, e);
}

/// A free gate index and its current sums (the cells are never reset: the
/// new gate subtracts these).  `None` when MAX_GATES gates exist.
pub(crate) fn alloc_index() -> Option<(usize, i64, u64)> {
    let i = {
        let mut r = lock_ignoring_poison(&REGISTRY);
        match r.free.pop() {
            Some(i) => i,
            None if r.next < MAX_GATES => {
                r.next += 1;
                r.next - 1
            }
            None => return None,
        }
    };
    // Nobody adds to a free index; the previous gate's adds happen before
    // its drop, which freed the index under the lock we took above.
    let (mut count, mut enters) = (0i64, 0u64);
    visit(i, &mut |c, e| {
        count = count.wrapping_add(c);
        enters = enters.wrapping_add(e);
    });
    Some((i, count, enters))
}

/// Give an index back (its gate is gone).
pub(crate) fn free_index(i: usize) {
    lock_ignoring_poison(&REGISTRY).free.push(i);
}
