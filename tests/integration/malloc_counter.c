// SPDX-License-Identifier: MIT
// LD_PRELOAD shim for test_allocations: counts every heap allocation of the process (malloc,
// calloc, realloc, reallocarray, posix_memalign, aligned_alloc, memalign, valloc, pvalloc;
// libstdc++'s operator new calls malloc) into the first 8 bytes of the file named by
// WSPUSH_MALLOC_COUNT_FILE, mapped shared: the test reads the running count between phases,
// while the daemon runs, and the final one after it exits. glibc's own calls to malloc go
// through the symbols interposed here too. Frees are not counted.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* block, size_t size);
extern void* __libc_memalign(size_t alignment, size_t size);
extern void* __libc_valloc(size_t size);
extern void* __libc_pvalloc(size_t size);

// Allocations before the constructor ran (the dynamic loader's, libc's start) land here
// and are carried over into the file.
static uint64_t earlyCount;
static uint64_t* counter = &earlyCount;

static void countAllocation(void)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void mapCounter(void)
{
    const char* path = getenv("WSPUSH_MALLOC_COUNT_FILE");
    if (path == NULL)
        return;
    const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (ftruncate(fd, sizeof(uint64_t)) == 0) {
        void* mapped = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mapped != MAP_FAILED) {
            uint64_t* shared = mapped;
            *shared = __atomic_load_n(&earlyCount, __ATOMIC_RELAXED);
            __atomic_store_n(&counter, shared, __ATOMIC_RELEASE);
        }
    }
    close(fd);
}

void* malloc(size_t size)
{
    countAllocation();
    return __libc_malloc(size);
}

void* calloc(size_t count, size_t size)
{
    countAllocation();
    return __libc_calloc(count, size);
}

// realloc(p, 0) frees; every other call may allocate.
void* realloc(void* block, size_t size)
{
    if (block == NULL || size != 0)
        countAllocation();
    return __libc_realloc(block, size);
}

void* reallocarray(void* block, size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(block, bytes);
}

void* memalign(size_t alignment, size_t size)
{
    countAllocation();
    return __libc_memalign(alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size)
{
    countAllocation();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void** result, size_t alignment, size_t size)
{
    if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0)
        return EINVAL;
    countAllocation();
    void* block = __libc_memalign(alignment, size);
    if (block == NULL)
        return ENOMEM;
    *result = block;
    return 0;
}

void* valloc(size_t size)
{
    countAllocation();
    return __libc_valloc(size);
}

void* pvalloc(size_t size)
{
    countAllocation();
    return __libc_pvalloc(size);
}
