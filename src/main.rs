use std::process::ExitCode;

fn main() -> ExitCode {
    tune_allocator();
    fwlog::cli::main()
}

/// Keep freed memory in the process instead of handing it back to the kernel after every batch.
///
/// Readers decode and build batches of tens of MiB in turn. glibc's defaults return such blocks to the kernel
/// on free (mmap/munmap, heap trimming), so every batch faulted its pages in again and other threads took TLB
/// flushes: on 10M legacy rows a third of the page faults (333k -> 240k) and ~0.1 s of 2.6 s. Blocks up to
/// 32 MiB now come from the heap and freed memory is kept (peak memory +~70 MiB). Other platforms and libcs
/// keep their defaults.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc malloc parameters; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
