//! Kernel symbols that exist only in debug kernels (options INVARIANTS,
//! INVARIANT_SUPPORT or WITNESS).  FreeBSD release kernels (GENERIC on a
//! releng branch) are built without them, and our modules are built without
//! INVARIANTS/WITNESS, so a reference to any of these means a header was
//! used with the wrong options or a prototype was written by hand.  kldload
//! would fail with "undefined symbol" on the kernels we target, even though
//! a -CURRENT debug kernel would accept the module.
//!
//! Sources (FreeBSD 15 headers and kern_*.c):
//! - `__mtx_assert` (sys/mutex.h), `_sx_assert` (sys/sx.h), `__rw_assert`
//!   (sys/rwlock.h), `_rm_assert` (sys/rmlock.h), `_lockmgr_assert`
//!   (sys/lockmgr.h), `_rangelock_cookie_assert` (sys/rangelock.h): declared
//!   only `#if defined(INVARIANTS) || defined(INVARIANT_SUPPORT)` and defined
//!   in kern_mutex.c/kern_sx.c/kern_rwlock.c/kern_rmlock.c/kern_lock.c/
//!   kern_rangelock.c under `#ifdef INVARIANT_SUPPORT`.
//! - `_mtx_assert`, `_rw_assert`: the same helpers under their older
//!   function names (now macros over `__mtx_assert`/`__rw_assert`); a
//!   reference to them comes from a stale hand-written binding.
//! - `kassert_panic`: declared in sys/kassert.h only for WITNESS or
//!   INVARIANT_SUPPORT kernels with KASSERT_PANIC_OPTIONAL; what KASSERT
//!   calls when INVARIANTS is on.
//! - `witness_*`: sys/lock.h declares them unconditionally, but
//!   subr_witness.c is compiled only with `options WITNESS`, so the header
//!   check alone would let them through.

/// Exact names, each with the kernel option that provides it.
const EXACT: &[(&str, &str)] = &[
    (
        "__mtx_assert",
        "INVARIANT_SUPPORT (mtx_assert under INVARIANTS)",
    ),
    (
        "_mtx_assert",
        "INVARIANT_SUPPORT (old name of __mtx_assert)",
    ),
    (
        "_sx_assert",
        "INVARIANT_SUPPORT (sx_assert under INVARIANTS)",
    ),
    (
        "__rw_assert",
        "INVARIANT_SUPPORT (rw_assert under INVARIANTS)",
    ),
    ("_rw_assert", "INVARIANT_SUPPORT (old name of __rw_assert)"),
    (
        "_rm_assert",
        "INVARIANT_SUPPORT (rm_assert under INVARIANTS)",
    ),
    (
        "_lockmgr_assert",
        "INVARIANT_SUPPORT (lockmgr_assert under INVARIANTS)",
    ),
    (
        "_rangelock_cookie_assert",
        "INVARIANT_SUPPORT (rangelock_cookie_assert under INVARIANTS)",
    ),
    (
        "kassert_panic",
        "INVARIANTS/WITNESS with KASSERT_PANIC_OPTIONAL (KASSERT)",
    ),
];

/// Name prefixes, each with the kernel option that provides the family.
const PREFIXES: &[(&str, &str)] = &[("witness_", "WITNESS (subr_witness.c)")];

/// Why `name` must not be referenced, or `None` if it is not debug-only.
pub fn reason(name: &str) -> Option<&'static str> {
    EXACT
        .iter()
        .find(|(exact, _)| *exact == name)
        .or_else(|| PREFIXES.iter().find(|(prefix, _)| name.starts_with(prefix)))
        .map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::reason;

    #[test]
    fn lists_assert_helpers_and_witness() {
        assert!(reason("_mtx_assert").is_some());
        assert!(reason("__mtx_assert").is_some());
        assert!(reason("witness_warn").is_some());
        assert!(reason("mtx_lock_flags").is_none());
        assert!(reason("panic").is_none());
    }
}
