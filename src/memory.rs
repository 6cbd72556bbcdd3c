//! How the process asks glibc for memory.
//!
//! glibc serves blocks of 128 KiB and more from their own mappings, returned to the system when
//! freed, but it raises that threshold to the size of any such block freed (up to 32 MiB). The
//! first password hash (Argon2id, 19 MiB of working memory) lifts it to 19 MiB, and from then on
//! every block below that (response bodies, rendered PDFs, connection buffers) comes from the
//! per-thread arenas, which the runtime's workers fragment under load and seldom give back:
//! `catalog_load` peaked at 148.8 MiB with the moving threshold and at 40.1 MiB with it fixed,
//! at the same request rate.

/// Fixes glibc's mmap threshold at its default (128 KiB). Call once, first thing in `main`,
/// before any thread starts. Other C libraries keep their own policy.
pub fn keep_large_blocks_out_of_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const THRESHOLD: nix::libc::c_int = 128 * 1024;
        // SAFETY: `mallopt` only changes allocator parameters; it is called before any other
        // thread exists, so no allocation races with it. A zero return (refused) leaves glibc's
        // default behaviour, which is correct, only larger.
        let _ = unsafe { nix::libc::mallopt(nix::libc::M_MMAP_THRESHOLD, THRESHOLD) };
    }
}
