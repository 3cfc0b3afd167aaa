// Allocator tuning for training loops.
//
// Every training step allocates and frees the same set of multi-megabyte arrays
// (activations, gradients, im2col workspaces). With glibc's defaults, blocks above the
// dynamic mmap threshold are mmap'd and unmapped each time and the heap top is trimmed
// back to the OS, so each step page-faults its memory in again (17% of a VGG-style step
// in the kernel, measured with perf). tune_allocator() raises the mmap threshold to
// 32 MiB, keeps up to 256 MiB of freed heap top (M_TRIM_THRESHOLD) and grows the heap in
// 64 MiB steps (M_TOP_PAD; untouched pad costs no resident memory).
//
// It runs once when dlx._core is imported. It does nothing when DLX_MALLOC_TUNING=0, when
// any of glibc's MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_
// variables is set (the user chose), or on a non-glibc C library. Returns whether it
// changed the settings.
#pragma once

namespace dlx {

bool tune_allocator();

}  // namespace dlx
