//! Giving freed heap memory back to the operating system once the server
//! is at rest (after a burst, such as thousands of clients joining one room,
//! left large output buffers freed but still resident).

/// Asks the allocator to return free heap pages to the OS. Only does
/// something with glibc's allocator; elsewhere it is a no-op.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims glibc's own heap; it takes no
    // pointers from us and is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
